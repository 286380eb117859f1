//! The live event stream (`GET /api/v1/events`, Server-Sent Events).

use serde::{Deserialize, Serialize};

/// What happened. Written as `snapshot.created`, `progress`, ... on the wire; the SSE
/// `event:` field carries the same word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    #[serde(rename = "snapshot.created")]
    SnapshotCreated,
    #[serde(rename = "snapshot.restored")]
    SnapshotRestored,
    #[serde(rename = "snapshot.updated")]
    SnapshotUpdated,
    #[serde(rename = "snapshot.deleted")]
    SnapshotDeleted,
    #[serde(rename = "snapshot.expired")]
    SnapshotExpired,
    #[serde(rename = "container.created")]
    ContainerCreated,
    #[serde(rename = "container.started")]
    ContainerStarted,
    #[serde(rename = "container.stopped")]
    ContainerStopped,
    #[serde(rename = "container.copied")]
    ContainerCopied,
    #[serde(rename = "container.deleted")]
    ContainerDeleted,
    #[serde(rename = "image.imported")]
    ImageImported,
    /// Figures of a running snapshot, restore or copy ([`ProgressData`]).
    #[serde(rename = "progress")]
    Progress,
    /// The stream dropped events for a slow reader: reload the lists.
    #[serde(rename = "lagged")]
    Lagged,
    /// A kind this side does not know (a newer server, or a Hoody upstream).
    #[serde(other, rename = "unknown")]
    Unknown,
}

impl EventKind {
    /// The word on the wire (`snapshot.created`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::SnapshotCreated => "snapshot.created",
            EventKind::SnapshotRestored => "snapshot.restored",
            EventKind::SnapshotUpdated => "snapshot.updated",
            EventKind::SnapshotDeleted => "snapshot.deleted",
            EventKind::SnapshotExpired => "snapshot.expired",
            EventKind::ContainerCreated => "container.created",
            EventKind::ContainerStarted => "container.started",
            EventKind::ContainerStopped => "container.stopped",
            EventKind::ContainerCopied => "container.copied",
            EventKind::ContainerDeleted => "container.deleted",
            EventKind::ImageImported => "image.imported",
            EventKind::Progress => "progress",
            EventKind::Lagged => "lagged",
            EventKind::Unknown => "unknown",
        }
    }

    /// Reads a word written by [`EventKind::as_str`]; anything else is `Unknown`.
    pub fn parse(s: &str) -> EventKind {
        serde_json::from_value(serde_json::Value::String(s.to_string()))
            .unwrap_or(EventKind::Unknown)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Increasing number, unique for this server's lifetime.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub id: u64,
    /// `snapshot.created`, `snapshot.restored`, `snapshot.deleted`, `snapshot.expired`,
    /// `container.created`, `container.started`, `container.stopped`, `container.copied`,
    /// `container.deleted`, `image.imported`, `progress`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "snapshot.created"))]
    pub kind: EventKind,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub container_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-09T14:30:45.000Z"))]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub at: String,
    /// The object concerned (a snapshot, a container) or the progress figures.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub data: serde_json::Value,
}

impl Event {
    /// The progress figures of a `progress` event; `None` for other kinds.
    pub fn progress(&self) -> Option<ProgressData> {
        (self.kind == EventKind::Progress)
            .then(|| serde_json::from_value(self.data.clone()).ok())
            .flatten()
    }
}

/// The `data` of a `progress` event: how far a long operation is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressData {
    /// `snapshot`, `restore` or `copy`.
    pub operation: String,
    /// Where it is: `started`, `snapshot` (the engine's figures so far), `finished` or
    /// `failed`.
    #[serde(default)]
    pub phase: String,
    /// Files done so far.
    #[serde(default)]
    pub files: u64,
    /// Bytes done so far.
    #[serde(default)]
    pub bytes: u64,
}

/// Compares with the word on the wire (`kind == "progress"`).
impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
