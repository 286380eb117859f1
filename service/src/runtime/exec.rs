//! One-off commands in a container (`runc exec`, or a one-off container on a stopped one's
//! tree), with bounded output and a timeout that kills the whole process tree.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::runc::read_small;
use super::{Bundle, ContainerLimits, ExecOutput, Runtime, exit_of};
use crate::error::ServiceError;

impl Runtime {
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
        result
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
