//! One-off commands in a container (`runc exec`, or a one-off container on a stopped one's
//! tree), with bounded output and a timeout that kills the whole process tree.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::runc::read_small;
use super::{Bundle, ContainerLimits, ExecOutput, Runtime, exit_of};
use crate::error::ServiceError;

/// The one-off containers (a command run on a stopped container's tree) of every container,
/// so that work which must own a tree (a whole restore) can end them and keep new ones out.
/// A `runc exec` in a running container needs none of this: it joins the container's pid
/// namespace and dies with it when the container stops.
#[derive(Default)]
pub(crate) struct OneOffs {
    by_container: Mutex<HashMap<String, Slots>>,
    /// Signalled whenever a one-off ends.
    ended: tokio::sync::Notify,
}

#[derive(Default)]
struct Slots {
    /// runc ids of the one-offs running now.
    running: HashSet<String>,
    /// How many [`ExecsClosed`] guards keep new one-offs out.
    closed: u32,
    /// What the latest of them is doing, for the refusal ("being restored").
    doing: &'static str,
    /// One-offs ended by [`Runtime::end_execs`], and why: their answer says so.
    ended: HashMap<String, &'static str>,
}

impl OneOffs {
    fn slots<T>(&self, f: impl FnOnce(&mut HashMap<String, Slots>) -> T) -> T {
        f(&mut self.by_container.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// Keeps new one-off commands out of a container's tree until dropped (see
/// [`Runtime::end_execs`]).
pub struct ExecsClosed {
    runtime: Arc<Runtime>,
    id: String,
}

impl Drop for ExecsClosed {
    fn drop(&mut self) {
        self.runtime.one_offs.slots(|m| {
            if let Some(s) = m.get_mut(&self.id) {
                s.closed = s.closed.saturating_sub(1);
                if s.closed == 0 && s.running.is_empty() {
                    m.remove(&self.id);
                }
            }
        });
    }
}

/// Unregisters a one-off when its run ends, however it ends.
struct OneOffRun<'a> {
    runtime: &'a Runtime,
    id: String,
    one_off: String,
}

impl Drop for OneOffRun<'_> {
    fn drop(&mut self) {
        self.runtime.one_offs.slots(|m| {
            if let Some(s) = m.get_mut(&self.id) {
                s.running.remove(&self.one_off);
                s.ended.remove(&self.one_off);
                if s.closed == 0 && s.running.is_empty() {
                    m.remove(&self.id);
                }
            }
        });
        self.runtime.one_offs.ended.notify_waiters();
    }
}

impl Runtime {
    /// Ends every command running on the stopped container `id`'s tree in a one-off
    /// container (SIGKILL to all its processes), waits until they are gone, and keeps new
    /// ones out until the guard is dropped; they are refused with 409 saying the container
    /// is `doing` ("being restored"). A whole restore and a delete call this after stopping
    /// the container, so that nothing writes into the tree while they change it. Waits at most 10 s; a one-off that outlives that is reported, not waited for.
    ///
    /// # Errors
    /// [`ServiceError`] 500 naming the commands that could not be ended.
    pub async fn end_execs(
        self: &Arc<Self>,
        id: &str,
        doing: &'static str,
    ) -> Result<ExecsClosed, ServiceError> {
        let running: Vec<String> = self.one_offs.slots(|m| {
            let s = m.entry(id.to_string()).or_default();
            s.closed += 1;
            s.doing = doing;
            let running: Vec<String> = s.running.iter().cloned().collect();
            for r in &running {
                s.ended.insert(r.clone(), doing);
            }
            running
        });
        let guard = ExecsClosed {
            runtime: self.clone(),
            id: id.to_string(),
        };
        if running.is_empty() {
            return Ok(guard);
        }
        if let Some(runc) = &self.runc {
            for one_off in &running {
                let _ = runc.kill(one_off, "KILL", true).await;
            }
        }
        let gone = async {
            loop {
                let ended = self.one_offs.ended.notified();
                let left = self
                    .one_offs
                    .slots(|m| m.get(id).is_some_and(|s| !s.running.is_empty()));
                if !left {
                    break;
                }
                ended.await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(10), gone)
            .await
            .is_err()
        {
            return Err(ServiceError::internal(anyhow::anyhow!(
                "commands run in container {id} ({}) could not be ended within 10 s",
                running.join(", ")
            )));
        }
        Ok(guard)
    }

    /// Runs a one-off command in the container and returns its exit code and (bounded)
    /// output. In a running container it joins its namespaces and cgroup (`runc exec`); in
    /// a stopped one it runs in a container of its own on the same tree, with the same
    /// configuration, which ends with the command.
    #[allow(clippy::too_many_arguments)]
    pub async fn exec(
        &self,
        id: &str,
        bundle: &Bundle,
        hostname: &str,
        argv: &[String],
        limits: &ContainerLimits,
        timeout: Duration,
        max_output: usize,
    ) -> Result<ExecOutput, ServiceError> {
        let runc = self.runc()?.clone();
        if argv.is_empty() || argv[0].is_empty() {
            return Err(ServiceError::bad_request(
                "command must be a non-empty array of strings, like [\"ls\", \"-l\", \"/\"]",
            ));
        }
        let running = self.is_running(id);
        if running && runc.state(id).await?.is_some_and(|s| s.status == "paused") {
            return Err(ServiceError::conflict(format!(
                "container {id} is paused; resume it to run a command"
            )));
        }
        let scratch = tempfile::Builder::new()
            .prefix("exec-")
            .tempdir_in(&bundle.dir)
            .map_err(|e| {
                ServiceError::internal(anyhow::anyhow!("cannot make the exec's bundle: {e}"))
            })?;
        let pid_file = scratch.path().join("pid");
        let one_off = format!(
            "{id}-{}",
            scratch
                .path()
                .file_name()
                .map(|n| n
                    .to_string_lossy()
                    .replace(|c: char| !c.is_ascii_alphanumeric(), ""))
                .unwrap_or_default()
        );
        // Registered before it starts: a restore that ends the tree's commands either sees
        // it, or has closed the tree first and this one is refused.
        let _registered = if running {
            None
        } else {
            let refused = self.one_offs.slots(|m| {
                let s = m.entry(id.to_string()).or_default();
                if s.closed > 0 {
                    return Some(s.doing);
                }
                s.running.insert(one_off.clone());
                None
            });
            if let Some(doing) = refused {
                return Err(ServiceError::conflict(format!(
                    "container {id} is {doing}; run the command when that finishes"
                )));
            }
            Some(OneOffRun {
                runtime: self,
                id: id.to_string(),
                one_off: one_off.clone(),
            })
        };
        let mut cmd = runc.command();
        if running {
            cmd.arg("exec")
                .arg("--pid-file")
                .arg(&pid_file)
                .arg(id)
                .args(argv);
        } else {
            self.write_config(
                scratch.path(),
                &one_off,
                &bundle.root,
                hostname,
                argv,
                limits,
            )?;
            cmd.args(["run", "--bundle"])
                .arg(scratch.path())
                .arg(&one_off);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                ServiceError::internal(anyhow::anyhow!("cannot run {}: {e}", runc.bin.display()))
            })?;
        let (out, err) = (child.stdout.take(), child.stderr.take());
        let run = async {
            tokio::join!(
                bounded_read(out, max_output),
                bounded_read(err, max_output),
                child.wait()
            )
        };
        let result = match tokio::time::timeout(timeout, run).await {
            Ok(((stdout, t1), (stderr, t2), status)) => {
                let status = status
                    .map_err(|e| ServiceError::internal(anyhow::anyhow!("exec failed: {e}")))?;
                let mut out = ExecOutput {
                    exit_code: status.code().and_then(exit_of),
                    stdout,
                    stderr,
                    truncated: t1 || t2,
                    timed_out: false,
                };
                // A command that is not there: runc exec says so with 255 and its log line,
                // tini (a stopped container's one-off run) with 127 and a FATAL line. Both
                // read as a shell says it: 127 and a sentence.
                let runc_missing = out.exit_code == Some(255)
                    && out.stderr.contains("exec failed")
                    && (out.stderr.contains("executable file not found")
                        || out.stderr.contains("no such file or directory"));
                let tini_missing = out.exit_code == Some(127)
                    && out.stderr.starts_with("[FATAL tini")
                    && out.stderr.contains("No such file or directory");
                if runc_missing || tini_missing {
                    out.exit_code = Some(127);
                    out.stderr = format!(
                        "no such command {:?} in the container (not found on its PATH)",
                        argv[0]
                    );
                }
                Ok(out)
            }
            Err(_) => {
                // The whole tree: a child of the command would keep the pipes open.
                if running {
                    if let Some(pid) =
                        read_small(&pid_file).and_then(|t| t.trim().parse::<u32>().ok())
                    {
                        for p in descendants(pid).into_iter().chain([pid]) {
                            signal(p, rustix::process::Signal::KILL);
                        }
                    }
                } else {
                    let _ = runc.kill(&one_off, "KILL", true).await;
                }
                Ok(ExecOutput {
                    exit_code: None,
                    stdout: String::new(),
                    stderr: format!("killed after {} s (timeout_s)", timeout.as_secs()),
                    truncated: false,
                    timed_out: true,
                })
            }
        };
        if !running {
            let _ = runc.delete_force(&one_off).await;
        }
        // Ended on purpose (a restore or delete of the container): the answer says so, not
        // only an empty exit code.
        let ended = self
            .one_offs
            .slots(|m| m.get_mut(id).and_then(|s| s.ended.remove(&one_off)));
        match (result, ended) {
            (Ok(mut out), Some(doing)) => {
                if !out.stderr.is_empty() && !out.stderr.ends_with('\n') {
                    out.stderr.push('\n');
                }
                out.stderr.push_str(&format!(
                    "ended by Snapline: container {id} is {doing}, and its commands end first"
                ));
                Ok(out)
            }
            (result, _) => result,
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
