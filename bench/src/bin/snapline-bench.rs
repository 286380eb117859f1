//! `snapline-bench`: the snapshot engine side by side with `cp -a`, `tar
//! --listed-incremental` and `restic` on the same tree, in one run, alternating tools.
//!
//! Each run takes a first snapshot, applies a fixed change (modify 20 files, add one 5 MiB
//! file, delete 10 files), takes an incremental snapshot, restores the first snapshot in
//! place, copies it to a new root, forks it into ten roots in one call, and makes ten
//! single copies. The table shows medians, ratios to Snapline, stored
//! bytes and peak RSS, and checks the engine's performance bars. This is a benchmark, not a
//! test: the machine is shared and noisy, so nothing here fails a build.
//!
//! This program parses the options and runs the main flow; the trees, the tools, the fresh
//! filesystems and the report are in the `bench` library.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;
use bench::fresh_fs::FreshFs;
use bench::report::{Report, TreeInfo};
use bench::say;
use bench::stats::mb;
use bench::tools::{Measures, TOOLS, run_cp, run_restic, run_snapline, run_tar};
use bench::tree::{base_tree, plan_change, regular_files, scaled_tree};
use clap::Parser;

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
    /// Also compare on this S3 store (s3://BUCKET[/PREFIX]): Snapline on local disk,
    /// Snapline on S3 and restic on the same S3, a copy on a new node with a cold cache,
    /// and Snapline's S3 requests and bytes per operation. The server and credentials come
    /// from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    /// AWS_ALLOW_HTTP. Each run writes under a new prefix.
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]")]
    store: Option<String>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = BenchArgs::parse();
    bench::init_logging();
    bench::exit_code(run(args).await)
}

/// A path from the options, with a leading `~/` meaning the home directory.
fn expand(p: &str) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(rest)
        }
        None => PathBuf::from(p),
    }
}

/// Runs the benchmark and prints the report.
async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(store) = &args.store {
        engine::s3::parse_url(store).map_err(anyhow::Error::msg)?;
    }
    for tool in ["cp", "tar", "restic"] {
        if Command::new(tool).arg("--version").output().is_err() {
            bail!(
                "{tool} is needed for the side-by-side benchmark; install it (apt-get install {tool})"
            );
        }
    }
    let cache = expand(&args.cache_dir);
    let (base, kind) = base_tree(args.tree.as_deref(), &cache)?;
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
    // Room for the live tree, the store, a copy and the ten forks at once.
    let fs_bytes = logical * 16 + (1 << 30);
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

    let report = Report::new(
        TreeInfo {
            path: tree.display().to_string(),
            kind,
            scale: args.scale,
            files: files.len() as u64,
            logical_bytes: logical,
            changed_bytes: change.changed_bytes,
        },
        args.runs,
        &results,
    );
    // The S3 comparison runs in the same invocation, on the same tree and change.
    let s3 = match &args.store {
        Some(store) => {
            fs::create_dir_all(&work_root)?;
            let r = bench::s3::compare(&tree, &work_root, &change, store, args.runs).await;
            let _ = fs::remove_dir_all(&work_root);
            Some(r?)
        }
        None => None,
    };
    if args.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(s3) = &s3 {
            v["s3"] = serde_json::to_value(s3)?;
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    report.print_table(change.delete.len());
    if let Some(s3) = &s3 {
        s3.print_table();
    }
    Ok(())
}
