//! `snapline-bench`: the snapshot engine side by side with `cp -a`, `tar
//! --listed-incremental` and `restic` on the same tree, in one run, alternating tools.
//!
//! Each run takes a first snapshot, applies a fixed change (modify 20 files, add one 5 MiB
//! file, delete 10 files), takes an incremental snapshot, restores the first snapshot in
//! place and copies it to a new root. The table shows medians, ratios to Snapline, stored
//! bytes and peak RSS, and checks the engine's performance bars. This is a benchmark, not a
//! test: the machine is shared and noisy, so nothing here fails a build.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, bail};
use bench::XorShift;
use clap::Parser;
use engine::{ContainerId, CopySource, Engine, RootSource, SnapshotOptions};
use serde::Serialize;

/// Benchmark the snapshot engine side by side with cp -a, tar --listed-incremental and
/// restic on the same tree, and print medians and ratios.
///
/// The tree is a Debian minimal root made with debootstrap when it is installed (cached in
/// the cache directory), else a generated tree of the same shape.
#[derive(Debug, Clone, Parser)]
#[command(name = "snapline-bench", version)]
struct BenchArgs {
    /// Make the tree this many times larger (copies of the base tree side by side).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=16))]
    scale: u32,
    /// Runs per tool; the table shows medians.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    runs: u32,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Where the bench tree is cached between runs.
    #[arg(
        long,
        env = "SNAPLINE_BENCH_CACHE",
        default_value = "~/.cache/snapline-bench"
    )]
    cache_dir: String,
    /// Use this directory as the base tree instead of Debian or a generated one.
    #[arg(long)]
    tree: Option<PathBuf>,
    /// Run only these tools (comma-separated: snapline, cp, tar, restic); bars that need
    /// a tool left out are reported as not measured.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Scratch directory for the runs (needs about 8x the tree's size).
    #[arg(long, default_value = "/tmp")]
    work_dir: PathBuf,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = BenchArgs::parse();
    bench::init_logging();
    bench::exit_code(run(args).await)
}

const TOOLS: [&str; 4] = ["snapline", "cp -a", "tar", "restic"];
const MODIFIED_FILES: usize = 20;
const DELETED_FILES: usize = 10;
const MODIFY_BYTES: usize = 4096;
const ADDED_BYTES: usize = 5 << 20;

/// One tool's figures for one run.
#[derive(Debug, Clone, Default, Serialize)]
struct Measures {
    first_s: f64,
    incremental_s: f64,
    restore_s: f64,
    copy_s: f64,
    stored_after_first: u64,
    added_by_incremental: u64,
    peak_rss_kib: u64,
}

#[derive(Debug, Serialize)]
struct TreeInfo {
    path: String,
    kind: String,
    scale: u32,
    files: u64,
    logical_bytes: u64,
    changed_bytes: u64,
}

#[derive(Debug, Serialize)]
struct Bar {
    measure: String,
    bar: String,
    value: String,
    met: bool,
    /// False when a tool the bar compares with was left out (`--only`).
    measured: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    tree: TreeInfo,
    runs: u32,
    medians: BTreeMap<String, Measures>,
    bars: Vec<Bar>,
}

fn say(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

fn expand(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(rest)
        }
        None => PathBuf::from(p),
    }
}

/// Disk usage (allocated blocks) of a path.
fn du(p: &Path) -> u64 {
    let Ok(m) = fs::symlink_metadata(p) else {
        return 0;
    };
    let mut n = m.blocks() * 512;
    if m.is_dir()
        && let Ok(rd) = fs::read_dir(p)
    {
        for e in rd.flatten() {
            n += du(&e.path());
        }
    }
    n
}

fn regular_files(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, u64)>) {
    let Ok(rd) = fs::read_dir(root.join(rel)) else {
        return;
    };
    for e in rd.flatten() {
        let r = rel.join(e.file_name());
        let Ok(m) = fs::symlink_metadata(root.join(&r)) else {
            continue;
        };
        if m.is_dir() {
            regular_files(root, &r, out);
        } else if m.is_file() {
            out.push((r, m.len()));
        }
    }
}

/// A tree shaped like a minimal Debian root: ~10,000 files in ~1,500 directories, mostly
/// small, a few large, about half compressible, some symlinks.
fn generate_tree(dir: &Path) -> anyhow::Result<()> {
    let mut r = XorShift(0x5eed_1234_abcd_ef01);
    let words: Vec<&[u8]> = vec![
        b"config ",
        b"usr/share ",
        b"libc.so.6 ",
        b"# comment\n",
        b"Package: ",
        b"0x00 ",
    ];
    let mut dirs = vec![PathBuf::new()];
    for i in 0..1500 {
        let parent = dirs[(r.next_u64() as usize) % dirs.len()].clone();
        let d = parent.join(format!("d{i}"));
        fs::create_dir_all(dir.join(&d))?;
        dirs.push(d);
    }
    for i in 0..10_000u32 {
        let d = &dirs[(r.next_u64() as usize) % dirs.len()];
        let roll = r.next_u64() % 1000;
        let size = match roll {
            0..=649 => (r.next_u64() % 4096) as usize,
            650..=949 => 4096 + (r.next_u64() % 61_440) as usize,
            950..=997 => 65_536 + (r.next_u64() % 458_752) as usize,
            _ => (1 << 20) + (r.next_u64() % (3 << 20)) as usize,
        };
        let data = if r.next_u64().is_multiple_of(2) {
            r.bytes(size)
        } else {
            let mut v = Vec::with_capacity(size);
            while v.len() < size {
                v.extend_from_slice(words[(r.next_u64() as usize) % words.len()]);
            }
            v.truncate(size);
            v
        };
        fs::write(dir.join(d).join(format!("f{i}")), data)?;
        if i.is_multiple_of(40) {
            let _ = std::os::unix::fs::symlink(format!("f{i}"), dir.join(d).join(format!("l{i}")));
        }
    }
    Ok(())
}

/// The base tree: given, cached Debian, a fresh debootstrap, or a generated tree.
fn base_tree(args: &BenchArgs, cache: &Path) -> anyhow::Result<(PathBuf, String)> {
    if let Some(t) = &args.tree {
        return Ok((t.clone(), "given".into()));
    }
    fs::create_dir_all(cache)?;
    let debian = cache.join("debian-minbase");
    if debian.join("etc/debian_version").exists() {
        return Ok((debian, "debian bookworm minbase (debootstrap)".into()));
    }
    let have_debootstrap = Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_ok();
    if have_debootstrap {
        say("building a Debian minimal root with debootstrap (once; cached)");
        let tmp = cache.join("debian-minbase.tmp");
        let _ = fs::remove_dir_all(&tmp);
        let ok = Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&tmp)
            .arg("http://deb.debian.org/debian")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            fs::rename(&tmp, &debian)?;
            return Ok((debian, "debian bookworm minbase (debootstrap)".into()));
        }
        say("debootstrap failed; using a generated tree of the same shape");
    }
    let generated = cache.join("generated");
    if !generated.join(".complete").exists() {
        say("generating a tree shaped like a Debian minimal root (once; cached)");
        let _ = fs::remove_dir_all(&generated);
        generate_tree(&generated)?;
        fs::write(generated.join(".complete"), b"")?;
    }
    Ok((generated, "generated (Debian-like shape)".into()))
}

fn cp_a(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()?;
    if !st.success() {
        bail!("cp -a {} {} failed", from.display(), to.display());
    }
    Ok(())
}

/// The tree at the requested scale: `scale` copies of the base side by side.
fn scaled_tree(base: &Path, scale: u32, cache: &Path) -> anyhow::Result<PathBuf> {
    if scale == 1 {
        return Ok(base.to_path_buf());
    }
    let name = format!(
        "{}-x{scale}",
        base.file_name().and_then(|n| n.to_str()).unwrap_or("tree")
    );
    let dir = cache.join(name);
    if !dir.join(".complete").exists() {
        say(format!("building the {scale}x tree (once; cached)"));
        let _ = fs::remove_dir_all(&dir);
        for i in 0..scale {
            cp_a(base, &dir.join(format!("copy-{i}")))?;
        }
        fs::write(dir.join(".complete"), b"")?;
    }
    Ok(dir)
}

/// The fixed change, chosen deterministically from the sorted file list.
struct Change {
    modify: Vec<PathBuf>,
    delete: Vec<PathBuf>,
    changed_bytes: u64,
}

fn plan_change(tree: &Path) -> anyhow::Result<Change> {
    let mut files = Vec::new();
    regular_files(tree, Path::new(""), &mut files);
    files.sort();
    let big: Vec<&PathBuf> = files
        .iter()
        .filter(|(_, s)| *s >= MODIFY_BYTES as u64 * 2)
        .map(|(p, _)| p)
        .collect();
    if big.len() < MODIFIED_FILES || files.len() < MODIFIED_FILES + DELETED_FILES * 3 {
        bail!("the tree is too small for the bench's change");
    }
    let modify: Vec<PathBuf> = (0..MODIFIED_FILES)
        .map(|i| big[i * big.len() / MODIFIED_FILES].clone())
        .collect();
    let delete: Vec<PathBuf> = (0..DELETED_FILES)
        .map(|i| {
            files[(i * files.len() / DELETED_FILES + files.len() / 20) % files.len()]
                .0
                .clone()
        })
        .filter(|p| !modify.contains(p))
        .collect();
    Ok(Change {
        modify,
        delete,
        changed_bytes: (MODIFIED_FILES * MODIFY_BYTES + ADDED_BYTES) as u64,
    })
}

fn apply_change(live: &Path, change: &Change) -> anyhow::Result<()> {
    let mut r = XorShift(0xc0ffee);
    for p in &change.modify {
        let f = fs::OpenOptions::new().write(true).open(live.join(p))?;
        let len = f.metadata()?.len();
        std::os::unix::fs::FileExt::write_all_at(
            &f,
            &r.bytes(MODIFY_BYTES),
            len / 2 - MODIFY_BYTES as u64 / 2,
        )?;
    }
    for p in &change.delete {
        let _ = fs::remove_file(live.join(p));
    }
    fs::File::create(live.join("bench-added.bin"))?.write_all(&r.bytes(ADDED_BYTES))?;
    Ok(())
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

async fn run_snapline(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
    let data = work.join("data");
    fs::create_dir_all(&data)?;
    let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&format!(
        "sqlite://{}",
        data.join("meta.db").display()
    ))?
    .create_if_missing(true)
    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
    .synchronous(sqlx::sqlite::SqliteSynchronous::Full);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(opts)
        .await?;
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
    let t = Instant::now();
    let s1 = e.snapshot(&c, SnapshotOptions::default()).await?;
    m.first_s = t.elapsed().as_secs_f64();
    m.stored_after_first = du(&data.join("store"));
    apply_change(&root, change)?;
    let t = Instant::now();
    e.snapshot(&c, SnapshotOptions::default()).await?;
    m.incremental_s = t.elapsed().as_secs_f64();
    m.added_by_incremental = du(&data.join("store")).saturating_sub(m.stored_after_first);
    let t = Instant::now();
    e.restore(&c, &s1.name).await?;
    m.restore_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    e.copy(&c, CopySource::Snapshot(s1.name.clone()), &c2)
        .await?;
    m.copy_s = t.elapsed().as_secs_f64();
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

fn run_cp(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
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
    m.peak_rss_kib = [r1, r2, r3, r4, r5].into_iter().max().unwrap_or(0);
    Ok(m)
}

fn run_tar(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
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

fn run_restic(tree: &Path, work: &Path, change: &Change) -> anyhow::Result<Measures> {
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
    let out = Command::new("restic")
        .args(["snapshots", "--json"])
        .envs(env)
        .output()?;
    let snaps: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("restic snapshots --json")?;
    let first = snaps[0]["short_id"]
        .as_str()
        .context("no restic snapshot id")?
        .to_string();
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

/// A fresh ext4 filesystem in a sparse image, loop-mounted on a directory; unmounted and
/// deleted on drop.
struct FreshFs {
    mount: PathBuf,
    image: PathBuf,
}

impl FreshFs {
    fn available() -> bool {
        rustix::process::geteuid().is_root() && Command::new("mkfs.ext4").arg("-V").output().is_ok()
    }

    fn make(dir: &Path, bytes: u64) -> anyhow::Result<FreshFs> {
        let image = dir.with_extension("img");
        fs::File::create(&image)?.set_len(bytes)?;
        let ok = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0"])
            .arg(&image)
            .status()?
            .success()
            && Command::new("mount")
                .args(["-o", "loop"])
                .arg(&image)
                .arg(dir)
                .status()?
                .success();
        if !ok {
            let _ = fs::remove_file(&image);
            bail!(
                "cannot make a fresh filesystem for the bench in {}",
                dir.display()
            );
        }
        Ok(FreshFs {
            mount: dir.to_path_buf(),
            image,
        })
    }
}

impl Drop for FreshFs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.mount)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !unmounted {
            // Still busy: detach it now; the kernel frees it when the last user goes.
            let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
        }
        let _ = fs::remove_file(&self.image);
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn medians(all: &[Measures]) -> Measures {
    let f = |g: fn(&Measures) -> f64| median(all.iter().map(g).collect());
    let u = |g: fn(&Measures) -> u64| median(all.iter().map(|m| g(m) as f64).collect()) as u64;
    Measures {
        first_s: f(|m| m.first_s),
        incremental_s: f(|m| m.incremental_s),
        restore_s: f(|m| m.restore_s),
        copy_s: f(|m| m.copy_s),
        stored_after_first: u(|m| m.stored_after_first),
        added_by_incremental: u(|m| m.added_by_incremental),
        peak_rss_kib: u(|m| m.peak_rss_kib),
    }
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// Runs the benchmark and prints the report.
async fn run(args: BenchArgs) -> anyhow::Result<()> {
    for tool in ["cp", "tar", "restic"] {
        if Command::new(tool).arg("--version").output().is_err() {
            bail!(
                "{tool} is needed for the side-by-side benchmark; install it (apt-get install {tool})"
            );
        }
    }
    let cache = expand(&args.cache_dir);
    let (base, kind) = base_tree(&args, &cache)?;
    let tree = scaled_tree(&base, args.scale, &cache)?;
    let mut files = Vec::new();
    regular_files(&tree, Path::new(""), &mut files);
    let logical: u64 = files.iter().map(|(_, s)| s).sum();
    let change = plan_change(&tree)?;
    say(format!(
        "tree: {} ({kind}), {} files, {}",
        tree.display(),
        files.len(),
        mb(logical)
    ));

    let work_root = args
        .work_dir
        .join(format!("snapline-bench-{}", std::process::id()));
    // Every tool runs on its own freshly made ext4 filesystem (a loop-mounted image), so no
    // tool inherits another's deleted inodes or dirty journal: on ext4, creating files soon
    // after mass deletions is several times slower, which would make the order decide.
    let fs_bytes = logical * 6 + (1 << 30);
    let fresh = FreshFs::available();
    if !fresh {
        say(
            "cannot mount loop filesystems here (needs root and mkfs.ext4); tools share the work directory",
        );
    }
    let wanted =
        |tool: &str| args.only.is_empty() || args.only.iter().any(|o| tool.starts_with(o.trim()));
    let mut results: BTreeMap<&str, Vec<Measures>> = BTreeMap::new();
    for run in 0..args.runs as usize {
        for k in 0..TOOLS.len() {
            let tool = TOOLS[(k + run) % TOOLS.len()];
            if !wanted(tool) {
                continue;
            }
            let work = work_root.join(format!("{}-{run}", tool.replace(' ', "")));
            fs::create_dir_all(&work)?;
            let mounted = if fresh {
                Some(FreshFs::make(&work, fs_bytes)?)
            } else {
                None
            };
            let inner = work.join("w");
            fs::create_dir_all(&inner)?;
            say(format!("run {} of {}: {tool}", run + 1, args.runs));
            let m = match tool {
                "snapline" => run_snapline(&tree, &inner, &change).await,
                "cp -a" => run_cp(&tree, &inner, &change),
                "tar" => run_tar(&tree, &inner, &change),
                _ => run_restic(&tree, &inner, &change),
            };
            drop(mounted);
            let _ = fs::remove_dir_all(&work);
            results.entry(tool).or_default().push(m?);
        }
    }
    let _ = fs::remove_dir_all(&work_root);

    let mut med: BTreeMap<String, Measures> = results
        .iter()
        .map(|(k, v)| (k.to_string(), medians(v)))
        .collect();
    // Tools left out are zeros in the JSON, "-" in the table, and their bars "not measured".
    let ran = |t: &str| results.contains_key(t);
    for t in TOOLS {
        med.entry(t.to_string()).or_default();
    }
    let s = &med["snapline"];
    let (cp, tar) = (&med["cp -a"], &med["tar"]);
    let bar = |measure: &str, bar: &str, value: String, met: bool| Bar {
        measure: measure.into(),
        bar: bar.into(),
        value,
        met,
        measured: true,
    };
    let needs = |tool: &str, b: Bar| Bar {
        measured: ran(tool),
        met: b.met && ran(tool),
        ..b
    };
    let bars = vec![
        needs(
            "tar",
            bar(
                "incremental snapshot",
                "<= 0.10 s and <= 0.5x tar",
                format!(
                    "{:.3} s, {:.2}x tar",
                    s.incremental_s,
                    s.incremental_s / tar.incremental_s
                ),
                s.incremental_s <= 0.10 && s.incremental_s <= 0.5 * tar.incremental_s,
            ),
        ),
        bar(
            "restore of that change",
            "<= 0.15 s",
            format!("{:.3} s", s.restore_s),
            s.restore_s <= 0.15,
        ),
        needs(
            "cp -a",
            bar(
                "first snapshot",
                "<= 1.0x cp -a",
                format!("{:.2}x cp -a", s.first_s / cp.first_s),
                s.first_s <= cp.first_s,
            ),
        ),
        bar(
            "stored after first",
            "<= 0.6x logical",
            format!("{:.2}x", s.stored_after_first as f64 / logical as f64),
            (s.stored_after_first as f64) <= 0.6 * logical as f64,
        ),
        bar(
            "added by incremental",
            "<= 1.2x changed bytes",
            format!(
                "{:.2}x",
                s.added_by_incremental as f64 / change.changed_bytes as f64
            ),
            (s.added_by_incremental as f64) <= 1.2 * change.changed_bytes as f64,
        ),
        needs(
            "cp -a",
            bar(
                "copy",
                "<= 1.5x cp -a",
                format!("{:.2}x cp -a", s.copy_s / cp.copy_s),
                s.copy_s <= 1.5 * cp.copy_s,
            ),
        ),
    ];
    let report = Report {
        tree: TreeInfo {
            path: tree.display().to_string(),
            kind,
            scale: args.scale,
            files: files.len() as u64,
            logical_bytes: logical,
            changed_bytes: change.changed_bytes,
        },
        runs: args.runs,
        medians: med.clone(),
        bars,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "Tree: {} ({}), scale {}, {} files, {} logical; change: {} files modified, {} deleted, 5 MiB added ({} changed)",
        report.tree.path,
        report.tree.kind,
        args.scale,
        report.tree.files,
        mb(logical),
        MODIFIED_FILES,
        change.delete.len(),
        mb(change.changed_bytes)
    );
    println!("Medians of {} runs (ratio = tool / snapline):\n", args.runs);
    println!(
        "{:<24}{:>16}{:>22}{:>22}{:>22}",
        "measure", "snapline", "cp -a", "tar", "restic"
    );
    let row_s = |name: &str, g: fn(&Measures) -> f64| {
        let base = g(s);
        let cell = |t: &str| {
            let v = g(&med[t]);
            if ran(t) {
                format!("{v:.3} s ({:.1}x)", v / base)
            } else {
                "-".to_string()
            }
        };
        println!(
            "{:<24}{:>16}{:>22}{:>22}{:>22}",
            name,
            format!("{base:.3} s"),
            cell("cp -a"),
            cell("tar"),
            cell("restic")
        );
    };
    row_s("first snapshot", |m| m.first_s);
    row_s("incremental snapshot", |m| m.incremental_s);
    row_s("restore", |m| m.restore_s);
    row_s("copy", |m| m.copy_s);
    let row_b = |name: &str, g: fn(&Measures) -> u64| {
        let cell = |t: &str| {
            if ran(t) {
                mb(g(&med[t]))
            } else {
                "-".to_string()
            }
        };
        println!(
            "{:<24}{:>16}{:>22}{:>22}{:>22}",
            name,
            mb(g(s)),
            cell("cp -a"),
            cell("tar"),
            cell("restic")
        );
    };
    row_b("stored after first", |m| m.stored_after_first);
    row_b("added by incremental", |m| m.added_by_incremental);
    row_b("peak RSS", |m| m.peak_rss_kib * 1024);
    println!("\nBars:");
    for b in &report.bars {
        println!(
            "  [{}] {:<24} {:<28} measured {}",
            match (b.measured, b.met) {
                (false, _) => "not measured",
                (true, true) => "met",
                (true, false) => "NOT MET",
            },
            b.measure,
            b.bar,
            b.value
        );
    }
    Ok(())
}
