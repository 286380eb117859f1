//! Running containers with bubblewrap: new pid, ipc, uts and network namespaces, the
//! container's root bound at `/`, a fresh `/proc` and a minimal `/dev`.
//!
//! A container's main process is `bwrap`; inside its pid namespace bwrap runs a tiny init as
//! pid 1 and the command as pid 2. `stop` sends SIGTERM to every process below bwrap (the
//! init of a pid namespace ignores signals it has no handler for, the command does not),
//! waits, then SIGKILLs bwrap, which takes the whole namespace down with it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::watch;

use crate::error::ServiceError;

/// How to install bubblewrap, said whenever it is missing.
pub const INSTALL_HINT: &str = "bubblewrap (bwrap) is not installed on this server, so \
    containers cannot run; install it (Debian/Ubuntu: `apt-get install bubblewrap`) and \
    restart Snapline. Snapshots, restores and copies work without it";

/// The environment of every container process.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A running container's main process.
struct Running {
    pid: u32,
    exited: watch::Receiver<Option<i32>>,
}

/// The runtime: which containers run, and how to start more.
pub struct Runtime {
    bwrap: Option<PathBuf>,
    running: Arc<Mutex<HashMap<String, Running>>>,
}

pub use types::ExecOutput;

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Runtime {
    /// Finds bwrap (`SNAPLINE_BWRAP` overrides the PATH lookup; an empty value disables it).
    pub fn detect() -> Self {
        let bwrap = match std::env::var_os("SNAPLINE_BWRAP") {
            Some(v) if v.is_empty() => None,
            Some(v) => Some(PathBuf::from(v)).filter(|p| p.is_file()),
            None => find_in_path("bwrap"),
        };
        if bwrap.is_none() {
            tracing::warn!("{INSTALL_HINT}");
        }
        Runtime {
            bwrap,
            running: Arc::default(),
        }
    }

    /// Whether bwrap was found.
    pub fn available(&self) -> bool {
        self.bwrap.is_some()
    }

    fn bwrap(&self) -> Result<&Path, ServiceError> {
        self.bwrap
            .as_deref()
            .ok_or_else(|| ServiceError::unavailable(format!("{INSTALL_HINT}.")))
    }

    fn command(
        &self,
        root: &Path,
        hostname: &str,
        argv: &[String],
    ) -> Result<Command, ServiceError> {
        let mut c = Command::new(self.bwrap()?);
        c.args([
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-net",
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--new-session",
            "--bind",
        ])
        .arg(root)
        .args(["/", "--proc", "/proc", "--dev", "/dev", "--hostname"])
        .arg(hostname)
        .args(["--chdir", "/", "--"])
        .args(argv)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", "/root")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .kill_on_drop(true);
        Ok(c)
    }

    /// Whether the container's main process runs.
    pub fn is_running(&self, id: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        running.get(id).is_some_and(|r| r.exited.borrow().is_none())
    }

    /// Starts the container's command. `on_exit` runs when the process ends by itself or is
    /// stopped, with its exit code (`None` for a signal).
    pub fn start(
        &self,
        id: &str,
        root: &Path,
        hostname: &str,
        argv: &[String],
        log: &Path,
        on_exit: impl FnOnce(Option<i32>) + Send + 'static,
    ) -> Result<(), ServiceError> {
        if argv.is_empty() {
            return Err(ServiceError::bad_request(
                "the container has no command to run",
            ));
        }
        if self.is_running(id) {
            return Err(ServiceError::conflict(format!(
                "container {id} is already running"
            )));
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| {
                ServiceError::internal(anyhow::anyhow!("cannot open the console log: {e}"))
            })?;
        let log2 = log.try_clone().map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("cannot open the console log: {e}"))
        })?;
        let mut child = self
            .command(root, hostname, argv)?
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("cannot run bwrap: {e}")))?;
        let pid = child.id().unwrap_or(0);
        let (tx, rx) = watch::channel(None);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), Running { pid, exited: rx });
        let (running, id) = (self.running.clone(), id.to_string());
        tokio::spawn(async move {
            let code = child.wait().await.ok().and_then(|s| s.code());
            // Forget the process before anyone is told it ended, so a start that follows
            // the notification is not refused as "already running".
            running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            let _ = tx.send(Some(code.unwrap_or(-1)));
            on_exit(code);
        });
        Ok(())
    }

    /// Stops the container: SIGTERM to its processes, then SIGKILL after `timeout`.
    /// Returns once the process is gone. Stopping a stopped container does nothing.
    pub async fn stop(&self, id: &str, timeout: Duration) {
        let found = {
            let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            running.get(id).map(|r| (r.pid, r.exited.clone()))
        };
        let Some((pid, mut exited)) = found else {
            return;
        };
        for p in descendants(pid) {
            signal(p, rustix::process::Signal::TERM);
        }
        let ended = tokio::time::timeout(timeout, exited.wait_for(|c| c.is_some()))
            .await
            .is_ok();
        if !ended {
            for p in descendants(pid).into_iter().chain([pid]) {
                signal(p, rustix::process::Signal::KILL);
            }
            let _ = tokio::time::timeout(Duration::from_secs(10), exited.wait_for(|c| c.is_some()))
                .await;
        }
    }

    /// Runs a one-off command in the container's root, the same way as `start`, and
    /// returns its exit code and (bounded) output.
    pub async fn exec(
        &self,
        root: &Path,
        hostname: &str,
        argv: &[String],
        timeout: Duration,
        max_output: usize,
    ) -> Result<ExecOutput, ServiceError> {
        if argv.is_empty() || argv[0].is_empty() {
            return Err(ServiceError::bad_request(
                "command must be a non-empty array of strings, like [\"ls\", \"-l\", \"/\"]",
            ));
        }
        let mut child = self
            .command(root, hostname, argv)?
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("cannot run bwrap: {e}")))?;
        let pid = child.id().unwrap_or(0);
        let out = child.stdout.take();
        let err = child.stderr.take();
        let read = |pipe: Option<tokio::process::ChildStdout>| async move {
            bounded_read(pipe, max_output).await
        };
        let read_err = |pipe: Option<tokio::process::ChildStderr>| async move {
            bounded_read(pipe, max_output).await
        };
        let run = async {
            let (o, e, status) = tokio::join!(read(out), read_err(err), child.wait());
            (o, e, status)
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(((stdout, t1), (stderr, t2), status)) => {
                let status = status
                    .map_err(|e| ServiceError::internal(anyhow::anyhow!("exec failed: {e}")))?;
                Ok(ExecOutput {
                    exit_code: status.code(),
                    stdout,
                    stderr,
                    truncated: t1 || t2,
                    timed_out: false,
                })
            }
            Err(_) => {
                for p in descendants(pid).into_iter().chain([pid]) {
                    signal(p, rustix::process::Signal::KILL);
                }
                Ok(ExecOutput {
                    exit_code: None,
                    stdout: String::new(),
                    stderr: format!("killed after {} s (timeout_s)", timeout.as_secs()),
                    truncated: false,
                    timed_out: true,
                })
            }
        }
    }
}

/// Reads a pipe to its end, keeping at most `max` bytes (the rest is drained, so the child
/// never blocks on a full pipe). Returns the text (lossy UTF-8) and whether it was cut.
async fn bounded_read<R: tokio::io::AsyncRead + Unpin>(
    pipe: Option<R>,
    max: usize,
) -> (String, bool) {
    let Some(mut pipe) = pipe else {
        return (String::new(), false);
    };
    let (mut kept, mut buf, mut cut) = (Vec::new(), vec![0u8; 8192], false);
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = max.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                cut |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), cut)
}

fn signal(pid: u32, sig: rustix::process::Signal) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// Every process below `pid` (children first, then theirs), from `/proc/*/stat`.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // The command name may hold spaces and parentheses: the ppid follows the last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(pp) = ppid {
                parent_of.push((p, pp));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(child, parent) in &parent_of {
            if parent == p && !out.contains(&child) {
                out.push(child);
                frontier.push(child);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_read_keeps_the_limit_and_drains_the_rest() {
        let data = vec![b'x'; 100_000];
        let (s, cut) = bounded_read(Some(&data[..]), 1000).await;
        assert_eq!(s.len(), 1000);
        assert!(cut);
        let (s, cut) = bounded_read(Some(&b"hello"[..]), 1000).await;
        assert_eq!((s.as_str(), cut), ("hello", false));
    }

    #[test]
    fn descendants_finds_a_real_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let me = std::process::id();
        assert!(descendants(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
