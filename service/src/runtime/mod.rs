//! Running containers with an OCI runtime: runc (Debian `runc`), or the binary
//! `SNAPLINE_RUNTIME` names (crun takes the same commands). What a container gets is in
//! [`spec`]; the runtime's command line is in [`runc`].
//!
//! **Monitor.** runc keeps no exit codes, and a container must outlive the server that
//! started it. So each container runs under a small monitor, a shell in its own session
//! (`setsid`): it runs `runc run` in the foreground (runc waits for the init, forwards
//! signals and deletes the container when it ends), then writes runc's exit status to
//! `exit` in the bundle. The server that started it awaits the monitor; a server started
//! later finds the running containers with `runc list` and learns of their end from a
//! pidfd on the init, then reads `exit`. Console output goes to `console.log` (a file, not
//! a pipe: a pipe would break with the server).
//!
//! **Freeze.** [`FreezeHooks`] pause a running container (the cgroup freezer) right before
//! the engine reads its tree, for a snapshot, a live copy or a diff against `live`, and
//! thaw it right after, so it is frozen for the reading only. The thaw is guaranteed: after
//! the reading whatever its outcome, when the [`Frozen`] guard drops (a panic), and after a
//! crash at the next start ([`Runtime::reattach`] resumes any container left frozen with
//! its `freeze` marker). A pause the user asked for has no marker and stays.

mod exec;
mod freeze;
pub mod runc;
pub mod spec;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::Command;
use tokio::sync::watch;

pub use self::freeze::{FreezeHooks, Frozen};
use self::runc::{Runc, State, find_in_path, read_small};
use crate::error::ServiceError;
pub use types::{ContainerLimits, ExecOutput};

/// How to install the runtime, said whenever it is missing.
pub const INSTALL_HINT: &str = "runc is not installed on this server, so containers cannot \
    run; install it (Debian/Ubuntu: `apt-get install runc tini`) and restart Snapline. \
    Snapshots, restores and copies work without it";

/// What the monitor runs: `$1` the runtime, `$2` its state directory, `$3` the bundle,
/// `$4` the container id. Its exit status is runc's (the init's code, 128 + a signal's
/// number, or 255 when runc itself failed).
const MONITOR: &str = r#"runc="$1"; root="$2"; bundle="$3"; id="$4"
"$runc" --root "$root" run --bundle "$bundle" "$id"
code=$?
printf '%s\n' "$code" > "$bundle/exit.tmp" && mv -f "$bundle/exit.tmp" "$bundle/exit"
exit "$code""#;

/// How long a start may take before it is called failed.
const START_WAIT: Duration = Duration::from_secs(20);

/// How a container's command ended: its exit code, or `None` for a signal (runc reports
/// 128 + n, so 129 to 192 read as signals, as shells do; 255 stays a code: a command's, or
/// runc's own failure, which its stderr then explains).
pub type Exit = Option<i32>;

fn exit_of(status: i32) -> Exit {
    (!(129..=192).contains(&status)).then_some(status)
}

/// What one container's files are: its bundle (`config.json`, `console.log`, `exit`,
/// `freeze`) and its root inside it.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub root: PathBuf,
}

impl Bundle {
    /// The bundle of a container whose live tree is `root` (its parent directory).
    pub fn of_root(root: &Path) -> Bundle {
        Bundle {
            dir: root.parent().unwrap_or(root).to_path_buf(),
            root: root.to_path_buf(),
        }
    }
    fn exit_file(&self) -> PathBuf {
        self.dir.join("exit")
    }
    fn freeze_marker(&self) -> PathBuf {
        self.dir.join("freeze")
    }
    /// The console log (stdout and stderr of the command, and runc's own errors).
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }
}

/// The runtime: which containers run, and how to start, stop, exec into, pause and freeze
/// them.
pub struct Runtime {
    runc: Option<Arc<Runc>>,
    /// A static init to run as pid 1 (Debian `tini`: `/usr/bin/tini-static`).
    init: Option<PathBuf>,
    setsid: PathBuf,
    nofile_hard: u64,
    /// Test-only: snapshots of running containers without freezing them, to show that
    /// the consistency test catches torn snapshots (`SNAPLINE_TEST_NO_FREEZE=1`).
    freeze: bool,
    /// The containers watched for their end; `Some(exit)` once ended.
    watched: Arc<Mutex<HashMap<String, watch::Receiver<Option<Exit>>>>>,
    /// Commands running in one-off containers on stopped containers' trees.
    one_offs: exec::OneOffs,
}

/// What [`Runtime::reattach`] found of one container at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Its command still runs (a container left frozen by a crash was thawed).
    Running,
    /// Paused by a user's request; it stays so.
    Paused,
}

impl Runtime {
    /// Finds the runtime (`SNAPLINE_RUNTIME` overrides the `runc` found in `PATH`; an
    /// empty value disables containers) and the init; runc's state directory is
    /// `data_dir/runc`.
    pub fn detect(data_dir: &Path) -> Self {
        let bin = match std::env::var_os("SNAPLINE_RUNTIME") {
            Some(v) if v.is_empty() => None,
            Some(v) => {
                let p = PathBuf::from(&v);
                if p.is_absolute() {
                    Some(p).filter(|p| p.is_file())
                } else {
                    find_in_path(&p.to_string_lossy())
                }
            }
            None => find_in_path("runc"),
        };
        if bin.is_none() {
            tracing::warn!("{INSTALL_HINT}");
        }
        let init = find_in_path("tini-static");
        if bin.is_some() && init.is_none() {
            tracing::warn!(
                "tini-static is not installed (`apt-get install tini`): a container's command \
                 runs as pid 1, which ignores SIGTERM unless it handles it, so stops wait for \
                 the timeout"
            );
        }
        let nofile_hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .maximum
            .unwrap_or(1 << 20);
        Runtime {
            runc: bin.map(|bin| {
                Arc::new(Runc {
                    bin,
                    root: data_dir.join("runc"),
                })
            }),
            init,
            setsid: find_in_path("setsid").unwrap_or_else(|| "setsid".into()),
            nofile_hard,
            freeze: std::env::var_os("SNAPLINE_TEST_NO_FREEZE").is_none_or(|v| v != "1"),
            watched: Arc::default(),
            one_offs: exec::OneOffs::default(),
        }
    }

    /// Whether the runtime was found.
    pub fn available(&self) -> bool {
        self.runc.is_some()
    }

    fn runc(&self) -> Result<&Arc<Runc>, ServiceError> {
        self.runc
            .as_ref()
            .ok_or_else(|| ServiceError::unavailable(format!("{INSTALL_HINT}.")))
    }

    /// Writes the bundle's `config.json` for `argv` (atomically: a crash leaves the old
    /// one or the new one).
    fn write_config(
        &self,
        dir: &Path,
        cgroup: &str,
        root: &Path,
        hostname: &str,
        argv: &[String],
        limits: &ContainerLimits,
    ) -> Result<(), ServiceError> {
        let spec = spec::container_spec(&spec::SpecInput {
            cgroup,
            root,
            hostname,
            argv,
            limits,
            init: self.init.as_deref(),
            nofile_hard: self.nofile_hard,
        })
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("cannot build config.json: {e}")))?;
        let json = serde_json::to_vec_pretty(&spec).map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("cannot write config.json: {e}"))
        })?;
        let tmp = dir.join("config.json.tmp");
        std::fs::write(&tmp, json)
            .and_then(|()| std::fs::rename(&tmp, dir.join("config.json")))
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("cannot write config.json: {e}")))
    }

    /// The containers whose command runs now (paused ones included), sorted.
    pub fn running_ids(&self) -> Vec<String> {
        let watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        let mut ids: Vec<String> = watched
            .iter()
            .filter(|(_, r)| r.borrow().is_none())
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Whether the container's command runs (paused counts: its processes exist).
    pub fn is_running(&self, id: &str) -> bool {
        let watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        watched.get(id).is_some_and(|r| r.borrow().is_none())
    }

    /// The runtime's word for the container (`running`, `paused`, ...), `None` when it has
    /// no such container or no runtime is installed.
    pub async fn status(&self, id: &str) -> Option<String> {
        let runc = self.runc.as_ref()?;
        runc.state(id).await.ok().flatten().map(|s| s.status)
    }

    /// Starts the container's command and returns once it runs. `on_exit` runs when it
    /// ends by itself or is stopped, with its exit code (`None` for a signal).
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        &self,
        id: &str,
        bundle: &Bundle,
        hostname: &str,
        argv: &[String],
        limits: &ContainerLimits,
        on_exit: impl FnOnce(Exit) + Send + 'static,
    ) -> Result<(), ServiceError> {
        let runc = self.runc()?.clone();
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
        // A leftover the runtime still knows (a container that ended while no server
        // watched it): gone first, or runc refuses the id.
        if let Some(s) = runc.state(id).await? {
            if s.status != "stopped" {
                return Err(ServiceError::conflict(format!(
                    "container {id} is already {} in the runtime",
                    s.status
                )));
            }
            runc.delete_force(id).await?;
        }
        self.write_config(&bundle.dir, id, &bundle.root, hostname, argv, limits)?;
        let _ = std::fs::remove_file(bundle.exit_file());
        let _ = std::fs::remove_file(bundle.freeze_marker());
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(bundle.console_log())
            .map_err(|e| {
                ServiceError::internal(anyhow::anyhow!("cannot open the console log: {e}"))
            })?;
        let log2 = log.try_clone().map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("cannot open the console log: {e}"))
        })?;
        let log_len = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut monitor = Command::new(&self.setsid)
            .args(["sh", "-c", MONITOR, "snapline-monitor"])
            .arg(&runc.bin)
            .arg(&runc.root)
            .arg(&bundle.dir)
            .arg(id)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            // The container outlives the server: dropping the handle must not kill it.
            .kill_on_drop(false)
            .spawn()
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("cannot run the monitor: {e}")))?;

        // Running once runc says so; a monitor that ends first means the start failed.
        let began = Instant::now();
        loop {
            if let Ok(Some(status)) = monitor.try_wait() {
                let said = read_small(&bundle.console_log())
                    .map(|t| t.get(log_len as usize..).unwrap_or("").trim().to_string())
                    .unwrap_or_default();
                return Err(ServiceError::conflict(format!(
                    "the container's command did not start (runc exited with {}): {}",
                    status.code().unwrap_or(-1),
                    last_lines(&said, 5)
                )));
            }
            if let Some(s) = runc.state(id).await?
                && (s.status == "running" || s.status == "paused")
            {
                break;
            }
            if began.elapsed() > START_WAIT {
                let _ = runc.delete_force(id).await;
                return Err(ServiceError::unavailable(format!(
                    "container {id} did not start within {} s",
                    START_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let (tx, rx) = watch::channel(None);
        self.watched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), rx);
        let (watched, id) = (self.watched.clone(), id.to_string());
        tokio::spawn(async move {
            let exit = match monitor.wait().await {
                Ok(s) => s.code().and_then(exit_of),
                Err(_) => None,
            };
            ended(&watched, &id, &tx, exit, on_exit);
        });
        Ok(())
    }

    /// At server start: what the runtime still runs of `known` (the containers this node
    /// has), watched again so their end is reported to `on_exit(id, exit)`. Containers
    /// left frozen by a crash are thawed; stopped leftovers are deleted from the runtime.
    /// Unknown ids (another program's, in our state directory) are left alone.
    pub async fn reattach(
        &self,
        known: &[(String, Bundle)],
        on_exit: impl Fn(String, Exit) + Send + Sync + Clone + 'static,
    ) -> Result<HashMap<String, Found>, ServiceError> {
        let Some(runc) = self.runc.clone() else {
            return Ok(HashMap::new());
        };
        let states: HashMap<String, State> = runc
            .list()
            .await?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut found = HashMap::new();
        for (id, bundle) in known {
            let Some(s) = states.get(id) else { continue };
            match s.status.as_str() {
                "running" | "paused" | "created" => {}
                _ => {
                    let _ = runc.delete_force(id).await;
                    continue;
                }
            }
            let mut state = Found::Running;
            if s.status == "paused" {
                if bundle.freeze_marker().exists() {
                    runc.resume(id).await?;
                    let _ = std::fs::remove_file(bundle.freeze_marker());
                    tracing::warn!(container = %id, "thawed a container a crash left frozen");
                } else {
                    state = Found::Paused;
                }
            }
            let (tx, rx) = watch::channel(None);
            self.watched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), rx);
            let (watched, id2, pid, bundle2, on_exit) = (
                self.watched.clone(),
                id.clone(),
                s.pid,
                bundle.clone(),
                on_exit.clone(),
            );
            tokio::spawn(async move {
                wait_for_pid(pid).await;
                // The monitor writes `exit` right after runc returns.
                let mut exit = None;
                for _ in 0..200 {
                    if let Some(t) = read_small(&bundle2.exit_file()) {
                        exit = t.trim().parse::<i32>().ok().and_then(exit_of);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                let id3 = id2.clone();
                ended(&watched, &id2, &tx, exit, move |e| on_exit(id3, e));
            });
            found.insert(id.clone(), state);
        }
        Ok(found)
    }

    /// Stops the container: SIGTERM to its init, then SIGKILL to all its processes after
    /// `timeout`. Returns once it is gone. Stopping a stopped container does nothing; a
    /// paused one is thawed first (a signal waits while frozen).
    pub async fn stop(&self, id: &str, timeout: Duration) {
        let Some(runc) = self.runc.clone() else {
            return;
        };
        let found = {
            let watched = self.watched.lock().unwrap_or_else(|p| p.into_inner());
            watched.get(id).cloned()
        };
        let Some(mut exited) = found else { return };
        if exited.borrow().is_some() {
            return;
        }
        if let Ok(Some(s)) = runc.state(id).await
            && s.status == "paused"
        {
            let _ = runc.resume(id).await;
        }
        let _ = runc.kill(id, "TERM", false).await;
        let ended = tokio::time::timeout(timeout, exited.wait_for(|c| c.is_some()))
            .await
            .is_ok();
        if !ended {
            let _ = runc.kill(id, "KILL", true).await;
            if tokio::time::timeout(Duration::from_secs(10), exited.wait_for(|c| c.is_some()))
                .await
                .is_err()
            {
                let _ = runc.delete_force(id).await;
            }
        }
    }

    /// Forgets a container that is gone for good (deleted): whatever the runtime still
    /// holds of it (state, cgroups) is removed. Best effort.
    pub async fn forget(&self, id: &str) {
        if let Some(runc) = &self.runc
            && let Ok(Some(_)) = runc.state(id).await
        {
            let _ = runc.delete_force(id).await;
        }
    }

    /// Pauses a running container at the user's request (status `paused`).
    pub async fn pause(&self, id: &str) -> Result<(), ServiceError> {
        self.runc()?.pause(id).await
    }

    /// Resumes a paused container.
    pub async fn resume(&self, id: &str) -> Result<(), ServiceError> {
        self.runc()?.resume(id).await
    }
}

/// Records that `id` ended and tells `on_exit`; forgets it first, so a start that follows
/// the notification is not refused as "already running".
fn ended(
    watched: &Mutex<HashMap<String, watch::Receiver<Option<Exit>>>>,
    id: &str,
    tx: &watch::Sender<Option<Exit>>,
    exit: Exit,
    on_exit: impl FnOnce(Exit),
) {
    watched.lock().unwrap_or_else(|p| p.into_inner()).remove(id);
    let _ = tx.send(Some(exit));
    on_exit(exit);
}

/// Waits until process `pid` (not our child, so no `wait`) ends: its pidfd becomes
/// readable then, and a pidfd cannot be fooled by a reused pid. One blocking thread per
/// container re-attached after a restart (tokio's registration of a foreign fd needs
/// `unsafe`, which this crate denies).
async fn wait_for_pid(pid: i32) {
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    let Ok(fd) = rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()) else {
        return; // Already gone.
    };
    let _ = tokio::task::spawn_blocking(move || {
        use rustix::event::{PollFd, PollFlags, poll};
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        while let Err(rustix::io::Errno::INTR) = poll(&mut fds, None) {}
    })
    .await;
}

/// The last `n` lines of `text`.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses_read_as_codes_or_signals() {
        assert_eq!(exit_of(0), Some(0));
        assert_eq!(exit_of(3), Some(3));
        assert_eq!(exit_of(137), None);
        assert_eq!(exit_of(255), Some(255));
        assert_eq!(last_lines("a\nb\nc", 2), "b / c");
    }
}
