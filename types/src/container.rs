//! Containers as the REST API shows them, their schedules, and what the container routes
//! accept and answer.

use serde::{Deserialize, Serialize};

/// Where a container is in its life. Written in lower case on the wire (`"running"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// Its root filesystem is being made (from an image or a snapshot).
    Creating,
    /// Its command runs.
    Running,
    /// Its processes are frozen until resumed (its snapshots are consistent at once).
    Paused,
    /// Its command is not running; snapshots and restores are safest here.
    Stopped,
    /// A restore is rewriting its root filesystem; it cannot start meanwhile.
    Restoring,
    /// Its creation or its command failed.
    Failed,
    /// Deleted; its snapshots remain until they expire or are deleted.
    Deleted,
    /// A status this side does not know (a newer server's, or a Hoody upstream's).
    #[serde(other)]
    Unknown,
}

impl ContainerStatus {
    /// The word on the wire and in the database (`running`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContainerStatus::Creating => "creating",
            ContainerStatus::Running => "running",
            ContainerStatus::Paused => "paused",
            ContainerStatus::Stopped => "stopped",
            ContainerStatus::Restoring => "restoring",
            ContainerStatus::Failed => "failed",
            ContainerStatus::Deleted => "deleted",
            ContainerStatus::Unknown => "unknown",
        }
    }

    /// Reads one of the seven known words ([`ContainerStatus::Unknown`] is never stored, so
    /// `unknown` reads as `None`).
    pub fn parse(s: &str) -> Option<ContainerStatus> {
        [
            ContainerStatus::Creating,
            ContainerStatus::Running,
            ContainerStatus::Paused,
            ContainerStatus::Stopped,
            ContainerStatus::Restoring,
            ContainerStatus::Failed,
            ContainerStatus::Deleted,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ContainerStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one container may use, enforced by its cgroup. In a create body every field is
/// optional (the default below stands in); a value out of bounds is refused with a message
/// that names it and the range.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"memory_mb": 512, "pids": 256, "cpus": 1.0})))]
pub struct ContainerLimits {
    /// Memory in MiB, swap included (no swap beyond it); a process that needs more is
    /// killed by the kernel's OOM killer. Default 1024.
    #[serde(default = "ContainerLimits::default_memory_mb")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 16, maximum = 1048576, example = 512)
    )]
    pub memory_mb: u64,
    /// Processes and threads at once; a fork beyond it fails (EAGAIN). Default 1024.
    #[serde(default = "ContainerLimits::default_pids")]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 8, maximum = 4194304, example = 256)
    )]
    pub pids: u64,
    /// CPU time, in CPUs (1.5: one and a half cores' worth per 100 ms), from 0.01 to the
    /// server's CPU count (the served document states this server's as `maximum`).
    /// Default 1.0.
    #[serde(default = "ContainerLimits::default_cpus")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.01, example = 1.0))]
    pub cpus: f64,
}

// Never NaN: JSON has no NaN, and the service bounds every value it stores.
impl Eq for ContainerLimits {}

impl ContainerLimits {
    fn default_memory_mb() -> u64 {
        1024
    }
    fn default_pids() -> u64 {
        1024
    }
    fn default_cpus() -> f64 {
        1.0
    }
}

impl Default for ContainerLimits {
    fn default() -> Self {
        ContainerLimits {
            memory_mb: Self::default_memory_mb(),
            pids: Self::default_pids(),
            cpus: Self::default_cpus(),
        }
    }
}

/// A container, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Container {
    #[cfg_attr(feature = "openapi", schema(example = "890abcdef12345678901cdef"))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(example = "67e89abc123def456789abcd"))]
    pub project_id: String,
    #[cfg_attr(feature = "openapi", schema(example = "web"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "demo"))]
    pub image: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub command: Vec<String>,
    /// `creating`, `running`, `paused`, `stopped`, `restoring`, `failed` or `deleted`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "running"))]
    pub status: ContainerStatus,
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-09T14:30:45.000Z"))]
    pub created_at: String,
    /// Logical bytes of its live filesystem (0 once deleted).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub size: u64,
    /// Snapshots that have not expired.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub snapshot_count: u64,
    /// The node it lives on.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub server_id: String,
    /// What it may use (an upstream that has no limits answers none: the defaults show).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub limits: ContainerLimits,
    /// Present when the container needs a person: its last restore did not finish (say, a
    /// file made immutable on the host), so its files are partly restored and it will not
    /// start. Says what failed, why, and what to do. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    pub attention: Option<String>,
}

/// Body of `POST /api/v1/containers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"project_id": "67e89abc123def456789abcd", "name": "web", "image": "demo"})))]
pub struct CreateContainer {
    /// The project (id or name).
    #[cfg_attr(feature = "openapi", schema(example = "67e89abc123def456789abcd"))]
    pub project_id: String,
    /// 1 to 63 letters, digits, `.`, `_` or `-`, starting with a letter or digit; unique in
    /// the project. Also the hostname.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 63,
            pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$",
            example = "web"
        )
    )]
    pub name: String,
    /// An image name from `GET /api/v1/images`.
    #[cfg_attr(feature = "openapi", schema(example = "demo"))]
    pub image: String,
    /// What `start` runs; the image's default when absent. 1 to 256 arguments of at most
    /// 4096 bytes each, no NUL; the first not empty.
    #[cfg_attr(feature = "openapi", schema(
        min_items = 1, max_items = 256,
        example = json!(["/bin/sh", "-c", "httpd -f -p 8080"])
    ))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Memory, processes and CPU it may use; each field left out takes its default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<ContainerLimits>,
}

/// Body of `POST /api/v1/containers/{id}/exec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"command": ["cat", "/etc/os-release"], "timeout_s": 10})))]
pub struct ExecRequest {
    /// The program and its arguments: 1 to 256 of at most 4096 bytes each, no NUL; the
    /// first not empty.
    #[cfg_attr(feature = "openapi", schema(
        min_items = 1, max_items = 256, example = json!(["cat", "/etc/os-release"])
    ))]
    pub command: Vec<String>,
    /// Seconds before the command is killed (1 to 600, default 30).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 600, example = 10))]
    pub timeout_s: Option<u64>,
}

/// What an exec returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExecOutput {
    /// The command's exit code; `null` when it was killed by a signal or timed out.
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Whether stdout or stderr was cut at the size limit.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub truncated: bool,
    /// Whether the command was killed at its timeout.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub timed_out: bool,
}

/// Body of `POST /api/v1/containers/{id}/copy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"target_project_id": "67e89abc123def456789abcd", "name": "restored-copy", "source_snapshot": "snap-20251109-143045"})))]
pub struct CopyRequest {
    /// The project of the new container (id or name).
    #[cfg_attr(feature = "openapi", schema(example = "67e89abc123def456789abcd"))]
    pub target_project_id: String,
    /// The new container's name, as in a create (1 to 63 letters, digits, `.`, `_` or `-`,
    /// starting with a letter or digit); with `count`, short enough for the `-N` suffix.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 63,
            pattern = "^[A-Za-z0-9][A-Za-z0-9._-]*$",
            example = "restored-copy"
        )
    )]
    pub name: String,
    /// A snapshot of the source (name or unambiguous alias); the live state when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "snap-20251109-143045"))]
    pub source_snapshot: Option<String>,
    /// Fork: make this many containers (1 to 50), named `name-1` … `name-N`, from one read
    /// of the source, filled in parallel. The answer then lists each (`ContainersCopied`),
    /// with its own error when it alone failed (a taken name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 50, example = 10))]
    pub count: Option<u32>,
    /// The node to build the new container(s) on: a server id from `GET /api/v1/servers`
    /// (several nodes on one database and S3 store). Absent, the copy lands on the source
    /// container's node. Another node than the source's builds from the shared store, so it
    /// needs `source_snapshot`, and works while the source's node is down (disaster
    /// recovery). An unknown id is a 404; an offline node a 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "5f0c8e2a9b7d4c61a3e2f0b9"))]
    pub target_server: Option<String>,
}

/// One container of a fork (`count` in a copy): the container, or why it alone failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CopyItem {
    #[cfg_attr(feature = "openapi", schema(example = "sandbox-3"))]
    pub name: String,
    /// Present when it was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// Present when it was not: the same shape as an error answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::ErrorBody>,
}

/// The answer of a copy with `count`: every requested container, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainersCopied {
    /// How many were made.
    pub copied: u32,
    /// How many failed.
    pub failed: u32,
    pub results: Vec<CopyItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerData {
    pub container: Container,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContainerList {
    pub containers: Vec<Container>,
}

/// A schedule as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Schedule {
    pub container_id: String,
    /// Five-field cron (`0 3 * * *`) or `@hourly`, `@daily`, `@weekly`; UTC.
    #[cfg_attr(feature = "openapi", schema(example = "@daily"))]
    pub schedule: String,
    /// Days until each scheduled snapshot expires; `null` keeps them.
    #[cfg_attr(feature = "openapi", schema(example = 7))]
    pub expiry: Option<i64>,
    /// strftime pattern of the snapshots' aliases (UTC).
    #[cfg_attr(feature = "openapi", schema(example = "auto-%Y%m%d-%H%M"))]
    pub alias_pattern: String,
    /// Whether a stopped container is snapshotted too.
    pub include_stopped: bool,
    pub next_run_at: String,
    pub last_run_at: Option<String>,
    /// Why the last run failed, if it did.
    pub last_error: Option<String>,
    /// How many of its snapshots are kept (restic's `forget --keep-*`, UTC calendar
    /// buckets); `null`: no policy, each is kept until its `expiry`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub keep: Option<crate::KeepPolicy>,
}

/// The body of `PUT /api/v1/containers/{id}/schedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Five-field cron (`0 3 * * *`) or `@hourly`, `@daily`, `@weekly`; UTC. At most 100
    /// characters.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 100, example = "@daily")
    )]
    pub schedule: String,
    /// Days until each scheduled snapshot expires (1 to 3650); absent or `null` keeps them.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650, example = 7))]
    pub expiry: Option<i64>,
    pub alias_pattern: Option<String>,
    pub include_stopped: Option<bool>,
    /// Which of the schedule's snapshots to keep (each count 0 to 10000); absent, `{}` or
    /// all zero: no policy. A PUT replaces the whole schedule, so leaving `keep` out removes
    /// the policy. It applies to this schedule's snapshots only, never to snapshots taken
    /// by hand or pinned; a snapshot goes when its expiry passes or the policy drops it,
    /// whichever comes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<crate::KeepPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScheduleData {
    pub schedule: Schedule,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Empty {}

/// Compares with the word on the wire (`status == "running"`).
impl PartialEq<&str> for ContainerStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
