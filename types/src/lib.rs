//! Snapline's wire types: what the REST API answers and accepts, and what the dashboard, the
//! proxy client and the CLI read. One definition each, so a field added here reaches every
//! side without mapping code.
//!
//! - [`time`]: the one RFC 3339 format every timestamp is written in;
//! - [`error`]: the error kinds and the vendor's error envelope ([`ErrorBody`]);
//! - [`snapshot`]: snapshots, their diffs, files and verify reports, and request bodies;
//! - [`container`]: containers, their status, exec, copy and schedules;
//! - [`retention`]: the keep policy of scheduled snapshots and its preview;
//! - [`resource`]: projects, images, servers, tokens and health;
//! - [`event`]: the live event stream;
//! - [`system`]: a node's recorded self-checks;
//! - [`units`]: byte counts as people read them.
//!
//! serde only (the browser's wasm bundle uses these types); the `openapi` feature derives the
//! OpenAPI schemas with utoipa. Optional fields a Hoody-compatible upstream may leave out
//! carry `#[serde(default)]`, so the proxy reads its answers too.

pub mod container;
pub mod error;
pub mod event;
pub mod raw;
pub mod resource;
pub mod retention;
pub mod snapshot;
pub mod system;
pub mod time;
pub mod units;

pub use container::{
    Container, ContainerData, ContainerLimits, ContainerList, ContainerStatus, ContainersCopied,
    CopyItem, CopyRequest, CreateContainer, Empty, ExecOutput, ExecRequest, Schedule, ScheduleData,
    ScheduleSpec,
};
pub use error::{ErrorBody, ErrorKind, Hint};
pub use event::{Event, EventKind, Operation, Phase, ProgressData};
pub use resource::{
    CreateProject, CreateToken, Health, Image, ImageData, ImageList, ImageOrigin, Project,
    ProjectData, ProjectList, PublishImage, Server, ServerData, ServerList, TokenCreated,
    TokenInfo, TokenList,
};
pub use retention::{
    KEEP_FIELDS, KeepPolicy, MAX_KEEP, RetentionEntry, RetentionPreview, RetentionPreviewData,
};
pub use snapshot::{
    ChangeKind, CreateSnapshot, DamageInfo, DiffChange, FileEntry, RestoreSnapshot, Snapshot,
    SnapshotCreated, SnapshotDeleted, SnapshotDiff, SnapshotFiles, SnapshotList, SnapshotRestored,
    SnapshotVerified, UpdateSnapshot,
};
pub use system::{SystemCheck, SystemStatus};

/// The success envelope every REST answer comes in:
/// `{"statusCode": 200, "message": "...", "data": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Envelope<T> {
    /// Equal to the HTTP status (200).
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    /// What was done, in words ("Snapshot created successfully").
    pub message: String,
    /// The answer itself.
    pub data: T,
}
