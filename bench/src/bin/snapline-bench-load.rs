//! `snapline-bench-load`: one `snapline serve` on 127.0.0.1 under load, with the figures the
//! hardening report quotes (RELIABILITY.md). The server is the `snapline` binary beside this
//! one, or `--snapline`.
//!
//! Phases: N containers snapshotted in parallel; a container with 1,000 snapshots listed
//! (p50 / p99); concurrent dashboard page loads; then mixed traffic for a fixed time
//! (create, list, restore, copy, delete, verify, with the server's expiry and GC jobs running
//! every few seconds), sampling the server's memory, open files, threads and child
//! processes. At the end every snapshot is verified. A benchmark, not a test: it prints
//! what it saw and whether each pass condition held, and every loop is bounded by a count
//! or the deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bench::{SnaplineArgs, XorShift, percentile, start};
use clap::Parser;
use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// Load a real server: containers snapshotted in parallel, a long list timed, concurrent
/// page loads, then minutes of mixed traffic; prints latencies, errors, memory and open
/// files over time, and whether every snapshot verifies at the end.
#[derive(Debug, Clone, Parser)]
#[command(name = "snapline-bench-load", version)]
struct LoadBenchArgs {
    /// Containers snapshotted in parallel (and used by the mixed traffic).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    containers: u32,
    /// Snapshots of the container whose list is timed.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=20_000))]
    snapshots: u32,
    /// Concurrent dashboard page loads.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_loads: u32,
    /// Seconds of mixed traffic.
    #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    duration_s: u64,
    /// Concurrent clients of the mixed traffic.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    workers: u32,
    #[command(flatten)]
    server: SnaplineArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = LoadBenchArgs::parse();
    bench::init_logging();
    bench::exit_code(run(args).await)
}

/// One request's outcome.
struct Answer {
    status: u16,
    body: Value,
    ms: f64,
}

struct Load {
    client: reqwest::Client,
    url: String,
    token: String,
    /// The dashboard's session cookie (`snapline_session=...`), from signing in once.
    cookie: String,
}

impl Load {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let t = Instant::now();
        let mut req = self
            .client
            .request(
                method.parse().expect("a method"),
                format!("{}{path}", self.url),
            )
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, body) = match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
            // A refused or broken connection is an error like a 5xx.
            Err(_) => (599, Value::Null),
        };
        Answer {
            status,
            body,
            ms: t.elapsed().as_secs_f64() * 1000.0,
        }
    }

    async fn page(&self, path: &str) -> Answer {
        let t = Instant::now();
        let resp = self
            .client
            .get(format!("{}{path}", self.url))
            .header("cookie", &self.cookie)
            .send()
            .await;
        let status = match resp {
            Ok(r) => {
                let s = r.status().as_u16();
                let _ = r.bytes().await;
                s
            }
            Err(_) => 599,
        };
        Answer {
            status,
            body: Value::Null,
            ms: t.elapsed().as_secs_f64() * 1000.0,
        }
    }
}

/// Latencies and statuses of one kind of request.
#[derive(Default)]
struct Tally {
    ms: Vec<f64>,
    statuses: BTreeMap<u16, u32>,
    /// The first message of each unexpected status.
    said: BTreeMap<u16, String>,
}

impl Tally {
    fn add(&mut self, a: &Answer) {
        self.ms.push(a.ms);
        *self.statuses.entry(a.status).or_default() += 1;
        if !matches!(a.status, 200 | 409 | 429) {
            self.said
                .entry(a.status)
                .or_insert_with(|| a.body["message"].as_str().unwrap_or("").to_string());
        }
    }
    /// Answers other than 200 and the intended 409 (busy) and 429 (rate limit).
    fn errors(&self) -> u32 {
        self.statuses
            .iter()
            .filter(|(s, _)| !matches!(**s, 200 | 409 | 429))
            .map(|(_, n)| n)
            .sum()
    }
    fn line(&mut self, what: &str) -> String {
        self.ms.sort_by(f64::total_cmp);
        let (p50, p99) = if self.ms.is_empty() {
            (0.0, 0.0)
        } else {
            (percentile(&self.ms, 0.5), percentile(&self.ms, 0.99))
        };
        format!(
            "{what:<40} {:>7} {:>9.1} {:>9.1}   {:?}",
            self.ms.len(),
            p50,
            p99,
            self.statuses
        )
    }
}

/// The server process as the kernel sees it.
#[derive(Debug, Clone, Copy, Default)]
struct Sample {
    rss_kib: u64,
    fds: usize,
    threads: u64,
    children: usize,
}

fn sample(pid: u32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    // Processes whose parent is the server (sandboxes, exec'd commands).
    let children = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
                .filter(|stat| {
                    // `pid (comm) state ppid ...`: the comm may hold spaces, so split after ')'.
                    stat.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                        .and_then(|ppid| ppid.parse::<u32>().ok())
                        == Some(pid)
                })
                .count()
        })
        .unwrap_or(0);
    Sample {
        rss_kib: field("VmRSS:"),
        fds,
        threads: field("Threads:"),
        children,
    }
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Signs in to the dashboard as a browser does; returns the session cookie.
async fn sign_in(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<String> {
    let resp = client
        .post(format!("{url}/rpc/sign_in"))
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", token)])
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "sign-in answered {}",
        resp.status()
    );
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.split(';')
                .next()
                .filter(|kv| kv.starts_with("snapline_session="))
        })
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("sign-in set no session cookie"))
}

/// Runs the benchmark and prints its report.
async fn run(args: LoadBenchArgs) -> anyhow::Result<()> {
    let snapline = args.server.binary()?;
    let token = service::tokens::generate();
    let server = start(&snapline, &token, &[("SNAPLINE_JOB_INTERVAL_S", "5")])?;
    let pid = server.child.id();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .pool_max_idle_per_host(256)
        .build()?;
    let cookie = sign_in(&client, &server.url, &token).await?;
    let load = Arc::new(Load {
        client,
        url: server.url.clone(),
        token,
        cookie,
    });
    let data = server.dir.path().join("data");
    let mut rng = XorShift(0x10ad_5eed_0042);
    let mut report = Vec::new();
    let mut failures = Vec::new();

    // 1. Containers, each with a small tree, snapshotted all at once.
    eprintln!("making {} containers…", args.containers);
    let mut ids = Vec::new();
    for i in 0..args.containers {
        let a = load
            .call(
                "POST",
                "/api/v1/containers",
                Some(
                    json!({"project_id": "default", "name": format!("load-{i}"), "image": "demo"}),
                ),
            )
            .await;
        let id = a.body["data"]["container"]["id"]
            .as_str()
            .with_context(|| format!("creating a container answered {}", a.status))?
            .to_string();
        let root = data.join("containers").join(&id).join("root").join("srv");
        std::fs::create_dir_all(&root)?;
        for f in 0..20 {
            std::fs::write(root.join(format!("f{f}")), rng.bytes(4096))?;
        }
        ids.push(id);
    }
    let t = Instant::now();
    let mut parallel = Tally::default();
    let answers = futures_util::future::join_all(ids.iter().map(|id| {
        let load = load.clone();
        let path = format!("/api/v1/containers/{id}/snapshots");
        async move {
            load.call("POST", &path, Some(json!({"alias": "first"})))
                .await
        }
    }))
    .await;
    for a in &answers {
        parallel.add(a);
    }
    let wall = t.elapsed().as_secs_f64();
    report.push(format!(
        "{}   (wall {wall:.2} s)",
        parallel.line(&format!(
            "{} containers snapshotted at once",
            args.containers
        ))
    ));
    if parallel.errors() > 0 {
        failures.push(format!("parallel snapshots: {:?}", parallel.statuses));
    }

    // 2. A long history, listed.
    eprintln!("taking {} snapshots of one container…", args.snapshots);
    let history = load
        .call(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "history", "image": "demo"})),
        )
        .await;
    let hid = history.body["data"]["container"]["id"]
        .as_str()
        .context("no history container")?
        .to_string();
    for i in 0..args.snapshots {
        let a = load
            .call(
                "POST",
                &format!("/api/v1/containers/{hid}/snapshots"),
                Some(json!({"alias": format!("h-{i}")})),
            )
            .await;
        if a.status != 200 {
            failures.push(format!("history snapshot {i}: {}", a.status));
        }
    }
    let mut list = Tally::default();
    for _ in 0..200 {
        list.add(
            &load
                .call("GET", &format!("/api/v1/containers/{hid}/snapshots"), None)
                .await,
        );
    }
    report.push(list.line(&format!("list of {} snapshots (x200)", args.snapshots)));
    if list.errors() > 0 {
        failures.push(format!("listing: {:?}", list.statuses));
    }

    // 3. Concurrent dashboard page loads: the long timeline and the containers page.
    let mut pages = Tally::default();
    let t = Instant::now();
    let answers = futures_util::future::join_all((0..args.page_loads).map(|i| {
        let load = load.clone();
        let path = if i % 2 == 0 {
            format!("/containers/{hid}")
        } else {
            "/".to_string()
        };
        async move { load.page(&path).await }
    }))
    .await;
    for a in &answers {
        pages.add(a);
    }
    report.push(format!(
        "{}   (wall {:.2} s)",
        pages.line(&format!("{} page loads at once", args.page_loads)),
        t.elapsed().as_secs_f64()
    ));
    if pages.errors() > 0 {
        failures.push(format!("page loads: {:?}", pages.statuses));
    }

    // 4. Mixed traffic until the deadline.
    eprintln!("mixed traffic for {} s…", args.duration_s);
    let before = sample(pid);
    let deadline = Instant::now() + Duration::from_secs(args.duration_s);
    let tallies: Arc<Mutex<BTreeMap<&'static str, Tally>>> = Arc::default();
    let copies = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while Instant::now() < deadline {
            samples.push(sample(pid));
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        samples
    });
    // Time passing, for containers of its own: snapshots are taken with an expiry and then
    // aged past it in the database (as if the days had gone by), so the server's expiry and
    // GC jobs delete and reclaim them while the traffic runs.
    let db = service::db::connect(&service::db::default_url(&data)).await?;
    let mut aging = Vec::new();
    for i in 0..4 {
        let a = load
            .call(
                "POST",
                "/api/v1/containers",
                Some(
                    json!({"project_id": "default", "name": format!("aging-{i}"), "image": "demo"}),
                ),
            )
            .await;
        aging.push(
            a.body["data"]["container"]["id"]
                .as_str()
                .context("no aging container")?
                .to_string(),
        );
    }
    let ager = {
        let (load, tallies, aging, db) = (load.clone(), tallies.clone(), aging.clone(), db.clone());
        tokio::spawn(async move {
            let mut aged = 0u32;
            while Instant::now() < deadline {
                for id in &aging {
                    let a = load
                        .call(
                            "POST",
                            &format!("/api/v1/containers/{id}/snapshots"),
                            Some(json!({"expiry": 1})),
                        )
                        .await;
                    if let Some(name) = a.body["data"]["snapshot"]["name"].as_str() {
                        let done = sqlx::query(
                            "UPDATE engine_snapshots SET expires_at = '2000-01-01T00:00:00.000Z' \
                             WHERE container_id = $1 AND name = $2",
                        )
                        .bind(id)
                        .bind(name)
                        .execute(&db)
                        .await;
                        if done.is_ok() {
                            aged += 1;
                        }
                    }
                    tallies
                        .lock()
                        .await
                        .entry("create, then expire")
                        .or_default()
                        .add(&a);
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            aged
        })
    };
    let workers = (0..args.workers).map(|w| {
        let load = load.clone();
        // Each client has its own containers, so no two clients race for one snapshot
        // (such a race answers 404 or 409 correctly, but would hide real errors here).
        let ids: Vec<String> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 % args.workers == w || ids.len() < args.workers as usize)
            .map(|(_, id)| id.clone())
            .collect();
        let tallies = tallies.clone();
        let copies = copies.clone();
        async move {
            let mut rng = XorShift(0xabcdef ^ (u64::from(w) << 20) | 1);
            while Instant::now() < deadline {
                let id = &ids[(rng.next_u64() % ids.len() as u64) as usize];
                let snaps = format!("/api/v1/containers/{id}/snapshots");
                let pick = rng.next_u64() % 100;
                let (op, a): (&'static str, Answer) = if pick < 30 {
                    let expiry = 1 + rng.next_u64() % 3;
                    ("create", load.call("POST", &snaps, Some(json!({"expiry": expiry}))).await)
                } else if pick < 55 {
                    ("list", load.call("GET", &snaps, None).await)
                } else {
                    let listed = load.call("GET", &snaps, None).await;
                    let names: Vec<String> = listed.body["data"]["snapshots"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s["name"].as_str().map(str::to_string))
                        .collect();
                    let Some(name) = names
                        .get((rng.next_u64() % names.len().max(1) as u64) as usize)
                        .cloned()
                    else {
                        continue;
                    };
                    let one = format!("{snaps}/{name}");
                    if pick < 70 {
                        ("restore", load.call("PATCH", &one, None).await)
                    } else if pick < 80 {
                        let n = copies.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let a = load
                            .call(
                                "POST",
                                &format!("/api/v1/containers/{id}/copy"),
                                Some(json!({"target_project_id": "default", "name": format!("copy-{n}"), "source_snapshot": name})),
                            )
                            .await;
                        // The copy is removed again, so the run stays bounded in space.
                        if let Some(cid) = a.body["data"]["container"]["id"].as_str() {
                            let d = load.call("DELETE", &format!("/api/v1/containers/{cid}"), None).await;
                            tallies.lock().await.entry("delete copy").or_default().add(&d);
                        }
                        ("copy", a)
                    } else if pick < 93 && names.len() > 2 {
                        ("delete", load.call("DELETE", &one, None).await)
                    } else {
                        ("verify", load.call("POST", &format!("{one}/verify"), None).await)
                    }
                };
                tallies.lock().await.entry(op).or_default().add(&a);
            }
        }
    });
    futures_util::stream::iter(workers)
        .buffer_unordered(args.workers as usize)
        .collect::<Vec<()>>()
        .await;
    let samples = sampler.await.unwrap_or_default();
    let aged = ager.await.unwrap_or(0);
    // Let the background jobs (expiry, GC) run once more, idle.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let mut left = 0i64;
    for id in &aging {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM engine_snapshots WHERE container_id = $1")
                .bind(id)
                .fetch_one(&db)
                .await?;
        left += n;
    }
    report.push(format!(
        "expiry: {aged} snapshots aged past their expiry during the run, {left} left after the jobs ran"
    ));
    if left > 0 {
        failures.push(format!(
            "{left} expired snapshots were not deleted by the expiry job"
        ));
    }
    let after = sample(pid);
    let mut total = 0;
    for (op, t) in tallies.lock().await.iter_mut() {
        total += t.ms.len();
        if t.errors() > 0 {
            failures.push(format!("mixed {op}: {:?} {:?}", t.statuses, t.said));
        }
        report.push(t.line(&format!("mixed: {op}")));
    }
    report.push(format!(
        "mixed traffic: {total} requests in {} s by {} clients ({:.0} per second)",
        args.duration_s,
        args.workers,
        total as f64 / args.duration_s as f64
    ));

    // 5. Memory, files and processes over time.
    let fifth = (samples.len() / 5).max(1);
    let early = median(samples.iter().take(fifth).map(|s| s.rss_kib).collect());
    let late = median(
        samples
            .iter()
            .rev()
            .take(fifth)
            .map(|s| s.rss_kib)
            .collect(),
    );
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let growth = if early > 0 {
        (late as f64 - early as f64) / early as f64 * 100.0
    } else {
        0.0
    };
    report.push(format!(
        "server memory (RSS): first fifth {} MiB, last fifth {} MiB ({growth:+.1}%), peak {} MiB, {} samples",
        early / 1024,
        late / 1024,
        peak / 1024,
        samples.len()
    ));
    report.push(format!(
        "open files: {} before, {} after (idle); threads {} -> {}; child processes after: {}",
        before.fds, after.fds, before.threads, after.threads, after.children
    ));
    if growth > 25.0 {
        failures.push(format!("memory grew {growth:.1}% over the run"));
    }
    if after.fds > before.fds + 16 {
        failures.push(format!("open files grew {} -> {}", before.fds, after.fds));
    }
    if after.children > 0 {
        failures.push(format!("{} child processes left", after.children));
    }

    // 6. Everything verifies.
    eprintln!("verifying every snapshot…");
    let (mut clean, mut damaged) = (0u32, 0u32);
    for id in ids.iter().chain([&hid]) {
        let listed = load
            .call("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
            .await;
        for s in listed.body["data"]["snapshots"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = s["name"].as_str().unwrap_or_default();
            let v = load
                .call(
                    "POST",
                    &format!("/api/v1/containers/{id}/snapshots/{name}/verify"),
                    None,
                )
                .await;
            if v.status == 200 && v.body["data"]["clean"] == true {
                clean += 1;
            } else {
                damaged += 1;
            }
        }
    }
    report.push(format!("verify at the end: {clean} clean, {damaged} not"));
    if damaged > 0 {
        failures.push(format!("{damaged} snapshots did not verify"));
    }

    println!("\nSnapline under load (one snapline serve on 127.0.0.1)\n");
    println!(
        "{:<40} {:>7} {:>9} {:>9}   statuses",
        "requests", "count", "p50 ms", "p99 ms"
    );
    for line in &report {
        println!("{line}");
    }
    println!();
    if failures.is_empty() {
        println!(
            "pass: no errors besides 409/429, no leaked files or processes, memory flat, verify clean"
        );
    } else {
        println!("NOT passed:");
        for f in &failures {
            println!("  - {f}");
        }
        for line in server.errors(5) {
            println!("  server log: {line}");
        }
    }
    Ok(())
}
