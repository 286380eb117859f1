//! The tools `snapline-bench` compares: each runs the same sequence (first snapshot, the
//! change, incremental snapshot, restore of the first in place, copy to a new root, a fork
//! into ten, ten single copies) on its own work directory and reports its timings, stored
//! bytes and peak memory.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use engine::{ContainerId, CopySource, Engine, RootSource, SnapshotOptions};
use serde::Serialize;

use crate::tree::{Change, apply_change, cp_a, du};

/// How many containers the fork measure makes.
pub const FORKS: u8 = 10;

/// The tools compared, in the order of the table; the runs rotate this order.
pub const TOOLS: [&str; 4] = ["snapline", "cp -a", "tar", "restic"];

/// One tool's figures for one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Measures {
    /// Seconds for the first snapshot.
    pub first_s: f64,
    /// Seconds for the incremental snapshot after the change.
    pub incremental_s: f64,
    /// Seconds to restore the first snapshot in place (for the other tools, removing the
    /// live tree included).
    pub restore_s: f64,
    /// Seconds to copy the first snapshot to a new root.
    pub copy_s: f64,
    /// Seconds to fork the first snapshot into [`FORKS`] new roots in one call (Snapline's
    /// `count`: one read of the snapshot); for `cp -a`, [`FORKS`] copies one after another.
    /// Not measured (0) for tar and restic.
    pub fork_s: f64,
    /// Seconds for [`FORKS`] single copies one after another (what a user without `count`
    /// does).
    pub copies_s: f64,
    /// Seconds the first snapshot read the live tree: what a running container is frozen
    /// for (runc's pause and resume add about 10 to 25 ms each on the test machine). Only
    /// Snapline freezes; the other tools read a running tree as it changes (0 here).
    pub first_frozen_s: f64,
    /// The same for the incremental snapshot.
    pub incremental_frozen_s: f64,
    /// Bytes on disk (allocated blocks) that the first snapshot stored.
    pub stored_after_first: u64,
    /// Bytes on disk that the incremental snapshot added.
    pub added_by_incremental: u64,
    /// Peak resident memory in KiB (0 when it could not be measured).
    pub peak_rss_kib: u64,
}

/// Runs a command, returning (seconds, peak RSS KiB) with GNU time when it is installed.
fn timed(
    cmd: &str,
    args: &[&std::ffi::OsStr],
    envs: &[(&str, &str)],
) -> anyhow::Result<(f64, u64)> {
    let gnu_time = Path::new("/usr/bin/time").exists();
    let mut c = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "BENCH_RSS_KIB %M", cmd]);
        c
    } else {
        Command::new(cmd)
    };
    c.args(args)
        .envs(envs.iter().copied())
        .stdout(std::process::Stdio::null());
    let t = Instant::now();
    let out = c.output().with_context(|| format!("cannot run {cmd}"))?;
    let secs = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{cmd} failed: {stderr}");
    }
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("BENCH_RSS_KIB "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    Ok((secs, rss))
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

fn peak_rss_self() -> u64 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .map(|v| v.trim().trim_end_matches("kB").trim().to_string())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Snapline's engine in this process, on a fresh data directory under `work`.
/// Times the engine's reading of the live tree (its [`engine::ReadHooks`]), the window a
/// running container is frozen for.
#[derive(Default)]
struct ReadTimer {
    started: std::sync::Mutex<Option<Instant>>,
    took: std::sync::Mutex<f64>,
}

impl engine::ReadHooks for ReadTimer {
    fn before_read(&self) -> Result<(), String> {
        *self.started.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Ok(())
    }
    fn after_read(&self) {
        if let Some(t) = *self.started.lock().unwrap_or_else(|p| p.into_inner()) {
            *self.took.lock().unwrap_or_else(|p| p.into_inner()) = t.elapsed().as_secs_f64();
        }
    }
}

impl ReadTimer {
    fn options(self: &std::sync::Arc<Self>) -> SnapshotOptions {
        SnapshotOptions {
            read_hooks: Some(self.clone()),
            ..Default::default()
        }
    }
    fn seconds(&self) -> f64 {
        *self.took.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub async fn run_snapline(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
    let data = work.join("data");
    fs::create_dir_all(&data)?;
    let pool = engine::db::open(&format!("sqlite://{}", data.join("meta.db").display())).await?;
    let e = Engine::open(&data, pool.clone()).await?;
    let (c, c2) = (
        ContainerId::from_bytes([1; 12]),
        ContainerId::from_bytes([2; 12]),
    );
    e.create_root(&c, RootSource::Empty).await?;
    let root = e.root_path(&c);
    cp_a(tree, &root)?;
    let _ = fs::write("/proc/self/clear_refs", b"5");
    let mut m = Measures::default();
    let timer = std::sync::Arc::new(ReadTimer::default());
    let t = Instant::now();
    let s1 = e.snapshot(&c, timer.options()).await?;
    m.first_s = t.elapsed().as_secs_f64();
    m.first_frozen_s = timer.seconds();
    m.stored_after_first = du(&data.join("store"));
    apply_change(&root, change)?;
    let timer = std::sync::Arc::new(ReadTimer::default());
    let t = Instant::now();
    e.snapshot(&c, timer.options()).await?;
    m.incremental_s = t.elapsed().as_secs_f64();
    m.incremental_frozen_s = timer.seconds();
    m.added_by_incremental = du(&data.join("store")).saturating_sub(m.stored_after_first);
    let t = Instant::now();
    e.restore(&c, &s1.name).await?;
    m.restore_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    e.copy(&c, CopySource::Snapshot(s1.name.clone()), &c2)
        .await?;
    m.copy_s = t.elapsed().as_secs_f64();
    e.delete_root(&c2).await?;
    let forks: Vec<ContainerId> = (0..FORKS)
        .map(|i| ContainerId::from_bytes([10 + i; 12]))
        .collect();
    let t = Instant::now();
    e.copy_many(&c, CopySource::Snapshot(s1.name.clone()), &forks, None)
        .await?;
    m.fork_s = t.elapsed().as_secs_f64();
    for f in &forks {
        e.delete_root(f).await?;
    }
    let singles: Vec<ContainerId> = (0..FORKS)
        .map(|i| ContainerId::from_bytes([40 + i; 12]))
        .collect();
    let t = Instant::now();
    for f in &singles {
        e.copy(&c, CopySource::Snapshot(s1.name.clone()), f).await?;
    }
    m.copies_s = t.elapsed().as_secs_f64();
    for f in &singles {
        e.delete_root(f).await?;
    }
    m.peak_rss_kib = peak_rss_self();
    // Close everything on the bench filesystem so that it can be unmounted.
    drop(e);
    pool.close().await;
    sqlx_close(&data).await;
    Ok(m)
}

/// Waits until no SQLite connection to the bench database remains open (the pool closes its
/// connections in the background).
async fn sqlx_close(data: &Path) {
    for _ in 0..50 {
        let busy = fs::read_dir("/proc/self/fd")
            .map(|fds| {
                fds.flatten()
                    .filter_map(|f| fs::read_link(f.path()).ok())
                    .any(|t| t.starts_with(data))
            })
            .unwrap_or(false);
        if !busy {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Full copies with `cp -a` as snapshots.
pub fn run_cp(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
    let live = work.join("live");
    cp_a(tree, &live)?;
    let mut m = Measures::default();
    let (a, b, copy) = (work.join("snap-a"), work.join("snap-b"), work.join("copy"));
    let (s, r1) = timed("cp", &[os("-a"), live.as_os_str(), a.as_os_str()], &[])?;
    m.first_s = s;
    m.stored_after_first = du(&a);
    apply_change(&live, change)?;
    let (s, r2) = timed("cp", &[os("-a"), live.as_os_str(), b.as_os_str()], &[])?;
    m.incremental_s = s;
    m.added_by_incremental = du(&b);
    let (s1, r3) = timed("rm", &[os("-rf"), live.as_os_str()], &[])?;
    let (s2, r4) = timed("cp", &[os("-a"), a.as_os_str(), live.as_os_str()], &[])?;
    m.restore_s = s1 + s2;
    let (s, r5) = timed("cp", &[os("-a"), a.as_os_str(), copy.as_os_str()], &[])?;
    m.copy_s = s;
    // cp has no fork: the same ten copies one after another. All ten exist at the end, as
    // the forks do (removing each at once would let its writes never reach the disk).
    let mut r6 = 0;
    let forks: Vec<_> = (0..FORKS).map(|i| work.join(format!("fork-{i}"))).collect();
    for to in &forks {
        let (s, r) = timed("cp", &[os("-a"), a.as_os_str(), to.as_os_str()], &[])?;
        m.copies_s += s;
        r6 = r6.max(r);
    }
    for to in &forks {
        fs::remove_dir_all(to)?;
    }
    m.fork_s = m.copies_s;
    m.peak_rss_kib = [r1, r2, r3, r4, r5, r6].into_iter().max().unwrap_or(0);
    Ok(m)
}

/// `tar --listed-incremental`: a full archive, then an incremental one.
pub fn run_tar(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
    let live = work.join("live");
    cp_a(tree, &live)?;
    let mut m = Measures::default();
    let (snar, full, inc, copy) = (
        work.join("snar"),
        work.join("full.tar"),
        work.join("inc.tar"),
        work.join("copy"),
    );
    let snar_arg = format!("--listed-incremental={}", snar.display());
    let (s, r1) = timed(
        "tar",
        &[
            os(&snar_arg),
            os("-cf"),
            full.as_os_str(),
            os("-C"),
            live.as_os_str(),
            os("."),
        ],
        &[],
    )?;
    m.first_s = s;
    m.stored_after_first = du(&full);
    apply_change(&live, change)?;
    let (s, r2) = timed(
        "tar",
        &[
            os(&snar_arg),
            os("-cf"),
            inc.as_os_str(),
            os("-C"),
            live.as_os_str(),
            os("."),
        ],
        &[],
    )?;
    m.incremental_s = s;
    m.added_by_incremental = du(&inc);
    let (s1, r3) = timed("rm", &[os("-rf"), live.as_os_str()], &[])?;
    fs::create_dir(&live)?;
    let (s2, r4) = timed(
        "tar",
        &[
            os("--listed-incremental=/dev/null"),
            os("-xf"),
            full.as_os_str(),
            os("-C"),
            live.as_os_str(),
        ],
        &[],
    )?;
    m.restore_s = s1 + s2;
    fs::create_dir(&copy)?;
    let (s, r5) = timed(
        "tar",
        &[os("-xf"), full.as_os_str(), os("-C"), copy.as_os_str()],
        &[],
    )?;
    m.copy_s = s;
    m.peak_rss_kib = [r1, r2, r3, r4, r5].into_iter().max().unwrap_or(0);
    Ok(m)
}

/// `restic backup` into a new local repository, and `restic restore`.
pub fn run_restic(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
    let live = work.join("live");
    cp_a(tree, &live)?;
    let repo = work.join("repo");
    let cache = work.join("restic-cache");
    let (repo_s, cache_s) = (repo.display().to_string(), cache.display().to_string());
    let env = [
        ("RESTIC_REPOSITORY", repo_s.as_str()),
        ("RESTIC_PASSWORD", "bench"),
        ("RESTIC_CACHE_DIR", cache_s.as_str()),
    ];
    timed("restic", &[os("init"), os("--quiet")], &env)?;
    let mut m = Measures::default();
    let (s, r1) = timed(
        "restic",
        &[os("backup"), os("--quiet"), live.as_os_str()],
        &env,
    )?;
    m.first_s = s;
    m.stored_after_first = du(&repo);
    let first = first_restic_snapshot(Command::new("restic").arg("snapshots").envs(env))?;
    apply_change(&live, change)?;
    let (s, r2) = timed(
        "restic",
        &[os("backup"), os("--quiet"), live.as_os_str()],
        &env,
    )?;
    m.incremental_s = s;
    m.added_by_incremental = du(&repo).saturating_sub(m.stored_after_first);
    let (s1, r3) = timed("rm", &[os("-rf"), live.as_os_str()], &[])?;
    let restored = work.join("restored");
    let (s2, r4) = timed(
        "restic",
        &[
            os("restore"),
            os("--quiet"),
            os(&first),
            os("--target"),
            restored.as_os_str(),
        ],
        &env,
    )?;
    m.restore_s = s1 + s2;
    let copy = work.join("copy");
    let (s, r5) = timed(
        "restic",
        &[
            os("restore"),
            os("--quiet"),
            os(&first),
            os("--target"),
            copy.as_os_str(),
        ],
        &env,
    )?;
    m.copy_s = s;
    m.peak_rss_kib = [r1, r2, r3, r4, r5].into_iter().max().unwrap_or(0);
    Ok(m)
}

/// The short id of the first snapshot `snapshots` (a prepared `restic snapshots` command,
/// with its repository and options) lists, asking for `--json`.
pub(crate) fn first_restic_snapshot(snapshots: &mut Command) -> anyhow::Result<String> {
    let out = snapshots.arg("--json").output()?;
    let snaps: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("restic snapshots --json")?;
    Ok(snaps[0]["short_id"]
        .as_str()
        .context("no restic snapshot id")?
        .to_string())
}
