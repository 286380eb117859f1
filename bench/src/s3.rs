//! `snapline-bench --store s3://BUCKET[/PREFIX]`: Snapline on local disk, Snapline on S3 and
//! restic on the same S3 server, side by side in one run, plus a copy on a new node with a
//! cold cache and the S3 requests and bytes of each of Snapline's operations.
//!
//! The S3 server comes from the standard variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`), which restic reads too
//! (its region as `-o s3.region`). Every run writes under a prefix of its own.
//!
//! Goals (issue 17): an incremental snapshot on S3 within 2x the local one, and at least
//! 5x faster than restic's on the same S3.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use engine::s3::{S3Options, S3Stats};
use engine::{ContainerId, CopySource, Engine, RootSource, StoreConfig};
use serde::Serialize;

use crate::stats::{mb, median};
use crate::tree::{Change, apply_change, cp_a};

/// The columns of the S3 table, in order; the runs rotate it.
pub const S3_TOOLS: [&str; 3] = ["snapline local", "snapline S3", "restic S3"];

/// Requests and bytes one operation sent to S3.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct S3Cost {
    /// PUT, GET and DELETE requests.
    pub requests: u64,
    /// Bytes uploaded.
    pub bytes_up: u64,
    /// Bytes downloaded.
    pub bytes_down: u64,
}

impl S3Cost {
    fn between(a: S3Stats, b: S3Stats) -> S3Cost {
        S3Cost {
            requests: (b.puts + b.gets + b.deletes).saturating_sub(a.puts + a.gets + a.deletes),
            bytes_up: b.bytes_up.saturating_sub(a.bytes_up),
            bytes_down: b.bytes_down.saturating_sub(a.bytes_down),
        }
    }
}

/// One tool's figures for one run, in seconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct S3Measures {
    /// The first snapshot.
    pub first_s: f64,
    /// The incremental snapshot after the change.
    pub incremental_s: f64,
    /// Restoring the first snapshot in place: undoing the change.
    pub restore_s: f64,
    /// Copying the first snapshot to a new root on the same node.
    pub copy_s: f64,
    /// A new node (empty data directory and cache, same database and bucket) opening the
    /// store and copying the first snapshot: the disaster-recovery path. For restic, a
    /// restore with an empty cache. Not measured (0) on local disk.
    pub cold_copy_s: f64,
    /// S3 traffic per operation (Snapline on S3 only), by operation.
    pub cost: BTreeMap<String, S3Cost>,
}

/// The S3 side-by-side: every tool's medians and the goals.
#[derive(Debug, Serialize)]
pub struct S3Report {
    /// The store URL the runs wrote under (each run in a prefix of its own).
    pub store: String,
    /// Medians by tool ([`S3_TOOLS`]).
    pub medians: BTreeMap<String, S3Measures>,
    /// The goals and whether this run met them.
    pub goals: Vec<(String, String, bool)>,
}

fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

fn s3_options(url: &str, cache: &Path) -> S3Options {
    S3Options {
        url: url.to_string(),
        endpoint: None,
        region: None,
        access_key_id: None,
        secret_access_key: None,
        allow_http: None,
        cache_dir: cache.to_path_buf(),
        cache_bytes: 2 << 30,
    }
}

/// Snapline's engine on `work`, with its packs in `store` (local when `None`).
pub async fn run_snapline(
    tree: &Path,
    work: &Path,
    change: &Change,
    store: Option<&str>,
) -> anyhow::Result<S3Measures> {
    let data = work.join("data");
    fs::create_dir_all(&data)?;
    let db_url = format!("sqlite://{}", work.join("meta.db").display());
    let pool = engine::db::open(&db_url).await?;
    let config = match store {
        Some(url) => StoreConfig::S3(s3_options(url, &data.join("cache"))),
        None => StoreConfig::Local,
    };
    let e = Engine::open_with(&data, pool.clone(), &config).await?;
    let stats = |e: &Engine| e.s3_stats().unwrap_or_default();
    let mut m = S3Measures::default();
    let (c, c2, c3) = (
        ContainerId::from_bytes([1; 12]),
        ContainerId::from_bytes([2; 12]),
        ContainerId::from_bytes([3; 12]),
    );
    e.create_root(&c, RootSource::Empty).await?;
    let root = e.root_path(&c);
    cp_a(tree, &root)?;
    let mut op = |name: &str, secs: f64, before: S3Stats, after: S3Stats| {
        if store.is_some() {
            m.cost
                .insert(name.to_string(), S3Cost::between(before, after));
        }
        secs
    };
    let (b, t) = (stats(&e), Instant::now());
    let s1 = e.snapshot(&c, Default::default()).await?;
    let first_s = op("first snapshot", t.elapsed().as_secs_f64(), b, stats(&e));
    apply_change(&root, change)?;
    let (b, t) = (stats(&e), Instant::now());
    e.snapshot(&c, Default::default()).await?;
    let incremental_s = op("incremental", t.elapsed().as_secs_f64(), b, stats(&e));
    let (b, t) = (stats(&e), Instant::now());
    e.restore(&c, &s1.name).await?;
    let restore_s = op("restore", t.elapsed().as_secs_f64(), b, stats(&e));
    let (b, t) = (stats(&e), Instant::now());
    e.copy(&c, CopySource::Snapshot(s1.name.clone()), &c2)
        .await?;
    let copy_s = op("copy", t.elapsed().as_secs_f64(), b, stats(&e));
    let mut cold_copy_s = 0.0;
    if store.is_some() {
        // A second node: its own data directory and empty cache, the same database and
        // bucket. The clock runs from opening the store (footers downloaded) to the copy.
        let node = work.join("node-b");
        fs::create_dir_all(&node)?;
        let t = Instant::now();
        let other = Engine::open_with(&node, pool.clone(), &config_for(&config, &node)).await?;
        other
            .copy(&c, CopySource::Snapshot(s1.name.clone()), &c3)
            .await?;
        cold_copy_s = op(
            "new node: open + copy",
            t.elapsed().as_secs_f64(),
            S3Stats::default(),
            stats(&other),
        );
    }
    m.first_s = first_s;
    m.incremental_s = incremental_s;
    m.restore_s = restore_s;
    m.copy_s = copy_s;
    m.cold_copy_s = cold_copy_s;
    drop(e);
    pool.close().await;
    Ok(m)
}

fn config_for(config: &StoreConfig, node: &Path) -> StoreConfig {
    match config {
        StoreConfig::S3(o) => StoreConfig::S3(S3Options {
            cache_dir: node.join("cache"),
            ..o.clone()
        }),
        StoreConfig::Local => StoreConfig::Local,
    }
}

/// restic with its repository at `repo` (`s3:http://host:port/bucket/prefix`).
pub fn run_restic_s3(
    tree: &Path,
    work: &Path,
    change: &Change,
    repo: &str,
) -> anyhow::Result<S3Measures> {
    let live = work.join("live");
    cp_a(tree, &live)?;
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
    let region_opt = format!("s3.region={region}");
    let run = |cache: &Path, args: &[&std::ffi::OsStr]| -> anyhow::Result<f64> {
        let t = Instant::now();
        let out = Command::new("restic")
            .args(["-o", &region_opt])
            .args(args)
            .env("RESTIC_REPOSITORY", repo)
            .env("RESTIC_PASSWORD", "bench")
            .env("RESTIC_CACHE_DIR", cache)
            .stdout(std::process::Stdio::null())
            .output()
            .context("cannot run restic")?;
        if !out.status.success() {
            bail!("restic failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(t.elapsed().as_secs_f64())
    };
    let os = std::ffi::OsStr::new;
    let cache = work.join("restic-cache");
    run(&cache, &[os("init"), os("--quiet")])?;
    let mut m = S3Measures {
        first_s: run(&cache, &[os("backup"), os("--quiet"), live.as_os_str()])?,
        ..Default::default()
    };
    let first = crate::tools::first_restic_snapshot(
        Command::new("restic")
            .args(["-o", &region_opt, "snapshots"])
            .env("RESTIC_REPOSITORY", repo)
            .env("RESTIC_PASSWORD", "bench")
            .env("RESTIC_CACHE_DIR", &cache),
    )?;
    apply_change(&live, change)?;
    m.incremental_s = run(&cache, &[os("backup"), os("--quiet"), live.as_os_str()])?;
    let t = Instant::now();
    fs::remove_dir_all(&live)?;
    let rm = t.elapsed().as_secs_f64();
    let restored = work.join("restored");
    m.restore_s = rm
        + run(
            &cache,
            &[
                os("restore"),
                os("--quiet"),
                os(&first),
                os("--target"),
                restored.as_os_str(),
            ],
        )?;
    let copy = work.join("copy");
    m.copy_s = run(
        &cache,
        &[
            os("restore"),
            os("--quiet"),
            os(&first),
            os("--target"),
            copy.as_os_str(),
        ],
    )?;
    let cold = work.join("cold");
    m.cold_copy_s = run(
        &work.join("restic-cache-cold"),
        &[
            os("restore"),
            os("--quiet"),
            os(&first),
            os("--target"),
            cold.as_os_str(),
        ],
    )?;
    Ok(m)
}

/// restic's repository URL for the S3 `store` under `prefix`, from AWS_ENDPOINT_URL.
pub fn restic_repo(store: &str, prefix: &str) -> anyhow::Result<String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .context("set AWS_ENDPOINT_URL (restic needs the S3 endpoint's URL)")?;
    let (bucket, base) = engine::s3::parse_url(store).map_err(anyhow::Error::msg)?;
    Ok(format!(
        "s3:{}/{bucket}/{base}{prefix}",
        endpoint.trim_end_matches('/')
    ))
}

/// Runs the three tools `runs` times each, rotating their order, each in a fresh
/// directory under `work` (and a fresh prefix under `store`).
pub async fn compare(
    tree: &Path,
    work: &Path,
    change: &Change,
    store: &str,
    runs: u32,
) -> anyhow::Result<S3Report> {
    engine::s3::parse_url(store).map_err(anyhow::Error::msg)?;
    let mut all: BTreeMap<&str, Vec<S3Measures>> = BTreeMap::new();
    for run in 0..runs as usize {
        for k in 0..S3_TOOLS.len() {
            let tool = S3_TOOLS[(k + run) % S3_TOOLS.len()];
            let dir = work.join(format!("s3-{}-{run}", tool.replace(' ', "-")));
            fs::create_dir_all(&dir)?;
            crate::say(format!("S3 run {} of {runs}: {tool}", run + 1));
            let prefix = unique("bench");
            let url = format!("{}/{prefix}", store.trim_end_matches('/'));
            let m = match tool {
                "snapline local" => run_snapline(tree, &dir, change, None).await,
                "snapline S3" => run_snapline(tree, &dir, change, Some(&url)).await,
                _ => run_restic_s3(tree, &dir, change, &restic_repo(store, &prefix)?),
            };
            let _ = fs::remove_dir_all(&dir);
            all.entry(tool).or_default().push(m?);
        }
    }
    let medians: BTreeMap<String, S3Measures> = all
        .iter()
        .map(|(k, v)| (k.to_string(), medians(v)))
        .collect();
    let (local, s3, restic) = (
        &medians["snapline local"],
        &medians["snapline S3"],
        &medians["restic S3"],
    );
    let goals = vec![
        (
            "incremental on S3 <= 2x local".to_string(),
            format!("{:.2}x", s3.incremental_s / local.incremental_s),
            s3.incremental_s <= 2.0 * local.incremental_s,
        ),
        (
            "incremental on S3 >= 5x faster than restic on S3".to_string(),
            format!("{:.1}x", restic.incremental_s / s3.incremental_s),
            restic.incremental_s >= 5.0 * s3.incremental_s,
        ),
    ];
    Ok(S3Report {
        store: store.to_string(),
        medians,
        goals,
    })
}

fn medians(all: &[S3Measures]) -> S3Measures {
    let f = |g: fn(&S3Measures) -> f64| median(all.iter().map(g).collect());
    let mut cost = BTreeMap::new();
    if let Some(first) = all.first() {
        for op in first.cost.keys() {
            let pick = |g: fn(&S3Cost) -> u64| {
                median(
                    all.iter()
                        .map(|m| m.cost.get(op).map(g).unwrap_or(0) as f64)
                        .collect(),
                ) as u64
            };
            cost.insert(
                op.clone(),
                S3Cost {
                    requests: pick(|c| c.requests),
                    bytes_up: pick(|c| c.bytes_up),
                    bytes_down: pick(|c| c.bytes_down),
                },
            );
        }
    }
    S3Measures {
        first_s: f(|m| m.first_s),
        incremental_s: f(|m| m.incremental_s),
        restore_s: f(|m| m.restore_s),
        copy_s: f(|m| m.copy_s),
        cold_copy_s: f(|m| m.cold_copy_s),
        cost,
    }
}

impl S3Report {
    /// Prints the table: medians with the ratio to Snapline on S3, the S3 traffic of each
    /// of Snapline's operations, and the goals.
    pub fn print_table(&self) {
        let m = &self.medians;
        let base = &m["snapline S3"];
        println!(
            "\nOn S3 ({}), medians (ratio = tool / snapline S3):\n",
            self.store
        );
        println!(
            "{:<30}{:>22}{:>16}{:>22}",
            "measure", "snapline local", "snapline S3", "restic S3"
        );
        for (name, g) in [
            (
                "first snapshot",
                (|x: &S3Measures| x.first_s) as fn(&S3Measures) -> f64,
            ),
            ("incremental snapshot", |x| x.incremental_s),
            ("restore of the change", |x| x.restore_s),
            ("copy (same node)", |x| x.copy_s),
            ("copy on a new node (cold)", |x| x.cold_copy_s),
        ] {
            let b = g(base);
            let cell = |t: &str| {
                let v = g(&m[t]);
                if v == 0.0 {
                    "n/a".to_string()
                } else {
                    format!("{v:.3} s ({:.1}x)", v / b)
                }
            };
            println!(
                "{:<30}{:>22}{:>16}{:>22}",
                name,
                cell("snapline local"),
                format!("{b:.3} s"),
                cell("restic S3")
            );
        }
        println!("\nSnapline's S3 traffic per operation (medians):");
        for (op, c) in &base.cost {
            println!(
                "  {:<28} {:>6} requests, {:>10} up, {:>10} down",
                op,
                c.requests,
                mb(c.bytes_up),
                mb(c.bytes_down)
            );
        }
        println!("\nGoals:");
        for (goal, value, met) in &self.goals {
            println!(
                "  [{}] {:<52} measured {}",
                if *met { "met" } else { "NOT MET" },
                goal,
                value
            );
        }
    }
}
