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
    #[serde(rename = "container.paused")]
    ContainerPaused,
    #[serde(rename = "container.resumed")]
    ContainerResumed,
    #[serde(rename = "container.copied")]
    ContainerCopied,
    #[serde(rename = "container.deleted")]
    ContainerDeleted,
    #[serde(rename = "image.imported")]
    ImageImported,
    /// An image was published from a snapshot ([`crate::Image`]).
    #[serde(rename = "image.published")]
    ImagePublished,
    /// An image was deleted ([`crate::Image`], as it was).
    #[serde(rename = "image.deleted")]
    ImageDeleted,
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
            EventKind::ContainerPaused => "container.paused",
            EventKind::ContainerResumed => "container.resumed",
            EventKind::ContainerCopied => "container.copied",
            EventKind::ContainerDeleted => "container.deleted",
            EventKind::ImageImported => "image.imported",
            EventKind::ImagePublished => "image.published",
            EventKind::ImageDeleted => "image.deleted",
            EventKind::Progress => "progress",
            EventKind::Lagged => "lagged",
            EventKind::Unknown => "unknown",
        }
    }

    /// Whether it is about a snapshot (`snapshot.*`): one ended a running snapshot's
    /// progress.
    pub fn is_snapshot(self) -> bool {
        matches!(
            self,
            EventKind::SnapshotCreated
                | EventKind::SnapshotRestored
                | EventKind::SnapshotUpdated
                | EventKind::SnapshotDeleted
                | EventKind::SnapshotExpired
        )
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
    /// `snapshot.created`, `snapshot.restored`, `snapshot.updated`, `snapshot.deleted`,
    /// `snapshot.expired`, `container.created`, `container.started`, `container.stopped`,
    /// `container.paused`, `container.resumed`, `container.copied`, `container.deleted`,
    /// `image.imported`, `image.published`, `image.deleted`, `progress`, `lagged`.
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

/// A long operation that reports `progress` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Snapshot,
    Restore,
    Copy,
    /// One this side does not know (a newer server).
    #[serde(other)]
    Unknown,
}

/// Where a long operation is, as a `progress` event's `phase` says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// It began (a restore or copy says so before its one long step).
    Started,
    /// A snapshot is capturing: the event carries the engine's figures so far.
    Snapshot,
    /// It ended well.
    Finished,
    /// It ended with an error (the operation's answer says which).
    Failed,
    /// Absent, or one this side does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl Phase {
    /// Whether the operation is over (nothing more will come for it).
    pub fn is_done(self) -> bool {
        matches!(self, Phase::Finished | Phase::Failed)
    }

    /// `finished` or `failed`, from an operation's outcome.
    pub fn of<T, E>(result: &Result<T, E>) -> Phase {
        if result.is_ok() {
            Phase::Finished
        } else {
            Phase::Failed
        }
    }
}

/// The `data` of a `progress` event: how far a long operation is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressData {
    pub operation: Operation,
    #[serde(default)]
    pub phase: Phase,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The words on the wire stay the REST API's: a restore's progress as the service
    /// publishes it reads back typed, and unknown words from a newer server are `Unknown`,
    /// never an error.
    #[test]
    fn progress_reads_the_wire_words() {
        let p: ProgressData = serde_json::from_value(
            json!({"operation": "restore", "phase": "started", "snapshot": "s"}),
        )
        .unwrap();
        assert_eq!(
            (p.operation, p.phase, p.files),
            (Operation::Restore, Phase::Started, 0)
        );
        let p: ProgressData =
            serde_json::from_value(json!({"operation": "rebase", "phase": "merging"})).unwrap();
        assert_eq!((p.operation, p.phase), (Operation::Unknown, Phase::Unknown));
        assert!(!p.phase.is_done());
        for (phase, word, done) in [
            (Phase::Snapshot, "snapshot", false),
            (Phase::Finished, "finished", true),
            (Phase::Failed, "failed", true),
        ] {
            assert_eq!(serde_json::to_value(phase).unwrap(), word);
            assert_eq!(phase.is_done(), done);
        }
        assert_eq!(Phase::of(&Ok::<(), ()>(())), Phase::Finished);
        assert_eq!(Phase::of(&Err::<(), ()>(())), Phase::Failed);
        assert_eq!(serde_json::to_value(Operation::Copy).unwrap(), "copy");
    }

    /// `is_snapshot` says the same as the wire word's prefix, for every kind.
    #[test]
    fn snapshot_kinds_are_the_snapshot_words() {
        let all = [
            "snapshot.created",
            "snapshot.restored",
            "snapshot.updated",
            "snapshot.deleted",
            "snapshot.expired",
            "container.created",
            "container.started",
            "container.stopped",
            "container.paused",
            "container.resumed",
            "container.copied",
            "container.deleted",
            "image.imported",
            "image.published",
            "image.deleted",
            "progress",
            "lagged",
            "unknown",
        ];
        for word in all {
            let kind = EventKind::parse(word);
            assert_eq!(kind.as_str(), word);
            assert_eq!(kind.is_snapshot(), word.starts_with("snapshot."), "{word}");
        }
    }
}
