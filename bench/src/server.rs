//! A real `snapline serve` for the benchmarks that measure a server.
//!
//! The benchmarks start the `snapline` executable as a child process rather than linking the
//! server: they measure exactly what ships, and this crate stays independent of the server's
//! internals.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

/// Which `snapline` binary a benchmark starts.
#[derive(Debug, Clone, Args)]
pub struct SnaplineArgs {
    /// The `snapline` binary to run `snapline serve` from. Default: the `snapline` beside
    /// this program (target/release/snapline after `cargo build --release -p snapline -p
    /// bench`).
    #[arg(long = "snapline", env = "SNAPLINE_BIN", value_name = "PATH")]
    pub snapline: Option<PathBuf>,
}

impl SnaplineArgs {
    /// The binary to start: the one given, else the `snapline` in this program's directory.
    pub fn binary(&self) -> anyhow::Result<PathBuf> {
        let path = match &self.snapline {
            Some(given) => given.clone(),
            None => std::env::current_exe()
                .context("cannot find this program's own path")?
                .parent()
                .context("this program's path has no directory")?
                .join("snapline"),
        };
        if !path.is_file() {
            bail!(
                "no snapline binary at {}: build it beside the benchmarks with \
                 `cargo build --release -p snapline -p bench` (or `cargo leptos build --release` \
                 then `cargo build --release -p bench`), or give its path with --snapline PATH \
                 or SNAPLINE_BIN",
                path.display()
            );
        }
        Ok(path)
    }
}

/// A server started for a benchmark, stopped (and its data removed) on drop.
pub struct Server {
    /// The `snapline serve` process.
    pub child: std::process::Child,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Holds its data directory (`data/`) and its log (`server.log`).
    pub dir: tempfile::TempDir,
}

impl Server {
    /// The first `n` error lines of the server's log.
    pub fn errors(&self, n: usize) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("server.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("ERROR"))
            .take(n)
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `snapline serve` from `snapline` on a free port with a temporary data directory,
/// `token` as its admin token and no rate limit (benchmarks send as fast as they can); `env`
/// adds settings. Returns once the server says it is serving.
pub fn start(snapline: &Path, token: &str, env: &[(&str, &str)]) -> anyhow::Result<Server> {
    let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = dir.path().join("server.log");
    let mut child = std::process::Command::new(snapline)
        .args([
            "serve",
            "--no-demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("SNAPLINE_ADMIN_TOKEN", token)
        // The benchmark sends requests as fast as it can; the rate limit is not measured.
        .env("SNAPLINE_RATE_LIMIT", "100000")
        .env("SNAPLINE_RATE_BURST", "1000000")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        // The server's log, for a benchmark that reports a failure (`Server::errors`).
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("cannot start {} serve", snapline.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.contains("Snapline is serving"));
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        let said = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = said.lines().rev().take(10).collect();
        bail!(
            "{} serve did not start; the end of its log:\n{}",
            snapline.display(),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(Server {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir,
    })
}
