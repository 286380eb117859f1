//! `snapline-bench-timeline`: how fast the dashboard renders a long history.
//!
//! Starts a real `snapline serve` (the `snapline` binary beside this one, or `--snapline`) on
//! 127.0.0.1 with a temporary data directory, takes N snapshots of one container through the
//! REST API, then times the server-rendered timeline page (newest 100 cards, and all of
//! them), and the REST list for comparison.
//! A benchmark, not a test: it prints figures and whether the 100 ms bar is met, and never
//! fails on a slow machine.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::{SnaplineArgs, human_bytes, percentile, start};
use clap::Parser;

/// The bar: a server-rendered timeline of 1,000 snapshots answers in under this.
const BAR_MS: f64 = 100.0;

/// Benchmark the dashboard: a real server, one container with many snapshots (1,000 by
/// default), and the time the server-rendered timeline page takes.
#[derive(Debug, Clone, Parser)]
#[command(name = "snapline-bench-timeline", version)]
struct TimelineBenchArgs {
    /// Snapshots of the container.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    snapshots: u32,
    /// Timed requests per page; the table shows percentiles.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(3..=1000))]
    runs: u32,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: SnaplineArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = TimelineBenchArgs::parse();
    bench::init_logging();
    bench::exit_code(run(args).await)
}

/// Percentiles of a set of timings, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
struct Timing {
    what: String,
    p50_ms: f64,
    p95_ms: f64,
    max_ms: f64,
    bytes: usize,
}

async fn time_get(
    client: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    bearer: Option<&str>,
    runs: u32,
    must_contain: &str,
    what: &str,
) -> anyhow::Result<Timing> {
    let mut ms = Vec::with_capacity(runs as usize);
    let mut bytes = 0;
    // One untimed request first: the same warm start every timed run has.
    for i in 0..=runs {
        let mut req = client.get(url);
        if let Some(c) = cookie {
            req = req.header(reqwest::header::COOKIE, c);
        }
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let t = Instant::now();
        let resp = req.send().await.with_context(|| format!("GET {url}"))?;
        let status = resp.status();
        let body = resp.text().await?;
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        if !status.is_success() || !body.contains(must_contain) {
            bail!("GET {url} answered {status} without {must_contain:?}");
        }
        bytes = body.len();
        if i > 0 {
            ms.push(elapsed);
        }
    }
    ms.sort_by(f64::total_cmp);
    Ok(Timing {
        what: what.to_string(),
        p50_ms: percentile(&ms, 0.5),
        p95_ms: percentile(&ms, 0.95),
        max_ms: *ms.last().unwrap_or(&0.0),
        bytes,
    })
}

/// Runs the benchmark and prints its table.
async fn run(args: TimelineBenchArgs) -> anyhow::Result<()> {
    let snapline = args.server.binary()?;
    let token = service::tokens::generate();
    let server = start(&snapline, &token, &[])?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let api = |path: &str| format!("{}{path}", server.url);
    let created: serde_json::Value = client
        .post(api("/api/v1/containers"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"project_id": "default", "name": "history", "image": "demo"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = created["data"]["container"]["id"]
        .as_str()
        .context("no container id in the answer")?
        .to_string();

    let started = Instant::now();
    let mut last_alias = String::new();
    for i in 1..=args.snapshots {
        last_alias = format!("step-{i:05}");
        client
            .post(api(&format!("/api/v1/containers/{id}/snapshots")))
            .bearer_auth(&token)
            .json(&serde_json::json!({"alias": last_alias}))
            .send()
            .await?
            .error_for_status()
            .with_context(|| format!("taking snapshot {i}"))?;
        if !args.json && i % 100 == 0 {
            eprint!("\r  {i} of {} snapshots taken", args.snapshots);
        }
    }
    if !args.json {
        eprintln!(
            "\r  {} snapshots taken in {:.1} s",
            args.snapshots,
            started.elapsed().as_secs_f64()
        );
    }

    let cookie = format!("{}={token}", "snapline_session");
    let page = api(&format!("/containers/{id}"));
    let rows = vec![
        time_get(
            &client,
            &page,
            Some(&cookie),
            None,
            args.runs,
            &last_alias,
            "timeline page, newest 100 cards (SSR)",
        )
        .await?,
        time_get(
            &client,
            &format!("{page}?all=1"),
            Some(&cookie),
            None,
            args.runs,
            "step-00001",
            "timeline page, every card (SSR)",
        )
        .await?,
        time_get(
            &client,
            &api(&format!("/api/v1/containers/{id}/snapshots")),
            None,
            Some(&token),
            args.runs,
            &last_alias,
            "REST list of the snapshots",
        )
        .await?,
    ];
    if args.json {
        println!(
            "{}",
            serde_json::json!({"snapshots": args.snapshots, "runs": args.runs, "bar_ms": BAR_MS, "results": rows})
        );
        return Ok(());
    }
    println!(
        "\nSnapline dashboard: a container with {} snapshots, {} timed requests each\n",
        args.snapshots, args.runs
    );
    println!(
        "{:<42} {:>9} {:>9} {:>9} {:>10}",
        "request", "p50 ms", "p95 ms", "max ms", "size"
    );
    for r in &rows {
        println!(
            "{:<42} {:>9.1} {:>9.1} {:>9.1} {:>10}",
            r.what,
            r.p50_ms,
            r.p95_ms,
            r.max_ms,
            human_bytes(r.bytes as u64)
        );
    }
    let page = &rows[0];
    println!(
        "\nbar: the server-rendered timeline answers in under {BAR_MS:.0} ms: p50 {:.1} ms = {:.2}x the bar, {}",
        page.p50_ms,
        page.p50_ms / BAR_MS,
        if page.p50_ms < BAR_MS {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}
