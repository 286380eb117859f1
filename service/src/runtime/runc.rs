//! The OCI runtime's command line (runc's, which crun shares): state, list, kill, pause,
//! resume and delete, each a short-lived process (about 5 to 30 ms). Every call names the
//! state directory (`--root`), which lives in Snapline's data directory, so two data
//! directories on one host never see each other's containers.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::process::Command;

use crate::error::ServiceError;

/// The runtime binary and its state directory.
#[derive(Debug, Clone)]
pub struct Runc {
    pub bin: PathBuf,
    pub root: PathBuf,
}

/// What `runc state` and `runc list --format json` say about one container.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct State {
    pub id: String,
    /// The host pid of its init; 0 once stopped.
    #[serde(default)]
    pub pid: i32,
    /// `created`, `running`, `paused` or `stopped`.
    pub status: String,
    #[serde(default)]
    pub bundle: String,
}

impl Runc {
    /// A command for the runtime with the state directory set; stdin closed.
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        c
    }

    /// Runs `args` and returns stdout; a failure carries the runtime's own message.
    async fn run(&self, args: &[&str]) -> Result<Vec<u8>, ServiceError> {
        let out = self.command().args(args).output().await.map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("cannot run {}: {e}", self.bin.display()))
        })?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(ServiceError::internal(anyhow::anyhow!(
                "`{} {}` failed: {}",
                self.bin.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )))
        }
    }

    /// The container's state, or `None` when the runtime does not know it.
    pub async fn state(&self, id: &str) -> Result<Option<State>, ServiceError> {
        let out = self
            .command()
            .args(["state", id])
            .output()
            .await
            .map_err(|e| {
                ServiceError::internal(anyhow::anyhow!("cannot run {}: {e}", self.bin.display()))
            })?;
        if !out.status.success() {
            // "container does not exist" is the only failure of a plain state query.
            return Ok(None);
        }
        serde_json::from_slice(&out.stdout).map(Some).map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("cannot read `runc state {id}`: {e}"))
        })
    }

    /// Every container in the state directory.
    pub async fn list(&self) -> Result<Vec<State>, ServiceError> {
        let out = self.run(&["list", "--format", "json"]).await?;
        // An empty state directory lists as `null`.
        let list: Option<Vec<State>> = serde_json::from_slice(&out)
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("cannot read `runc list`: {e}")))?;
        Ok(list.unwrap_or_default())
    }

    /// Sends `signal` (`TERM`, `KILL`) to the init, or with `all` to every process of the
    /// container.
    pub async fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), ServiceError> {
        let mut args = vec!["kill"];
        if all {
            args.push("--all");
        }
        args.extend([id, signal]);
        self.run(&args).await.map(|_| ())
    }

    /// Freezes every process of the container (the cgroup freezer).
    pub async fn pause(&self, id: &str) -> Result<(), ServiceError> {
        self.run(&["pause", id]).await.map(|_| ())
    }

    /// Thaws a frozen container.
    pub async fn resume(&self, id: &str) -> Result<(), ServiceError> {
        self.run(&["resume", id]).await.map(|_| ())
    }

    /// [`Runc::state`] without an async runtime (the engine's worker thread).
    pub fn state_blocking(&self, id: &str) -> Option<State> {
        let out = std::process::Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["state", id])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())
            .flatten()
    }

    /// [`Runc::pause`] without an async runtime; the error is runc's message.
    pub fn pause_blocking(&self, id: &str) -> Result<(), String> {
        let out = std::process::Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["pause", id])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "`runc pause {id}` failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// Thaws a frozen container without an async runtime (a guard's `Drop`).
    pub fn resume_blocking(&self, id: &str) -> bool {
        std::process::Command::new(&self.bin)
            .arg("--root")
            .arg(&self.root)
            .args(["resume", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Kills the container if it still runs and forgets it (state and cgroups).
    pub async fn delete_force(&self, id: &str) -> Result<(), ServiceError> {
        self.run(&["delete", "--force", id]).await.map(|_| ())
    }
}

/// Finds `name` in `PATH` (then `/usr/sbin`, `/usr/bin`, `/sbin`, `/bin`).
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain([
            "/usr/sbin".into(),
            "/usr/bin".into(),
            "/sbin".into(),
            "/bin".into(),
        ])
        .map(|d: PathBuf| d.join(name))
        .find(|p| p.is_file())
}

/// Reads a small file's text, if any.
pub fn read_small(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_and_state_json_read_as_runc_writes_them() {
        let one = r#"{"ociVersion":"1.0.2-dev","id":"p1","pid":4209,"status":"running",
            "bundle":"/tmp/b","rootfs":"/tmp/b/root","created":"2026-11-29T10:00:00Z","owner":"root"}"#;
        let s: State = serde_json::from_str(one).unwrap();
        assert_eq!(
            (s.id.as_str(), s.pid, s.status.as_str()),
            ("p1", 4209, "running")
        );
        let none: Option<Vec<State>> = serde_json::from_str("null").unwrap();
        assert!(none.is_none());
    }
}
