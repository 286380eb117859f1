//! Snapshots as the REST API shows them, and what the snapshot routes accept and answer.

use serde::{Deserialize, Serialize};

/// A snapshot, exactly as the vendor document shows it, plus extra fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Snapshot {
    #[cfg_attr(feature = "openapi", schema(example = "snap-20251109-143045"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(example = "production-stable"))]
    pub alias: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-09T14:30:45.000Z"))]
    pub created_at: String,
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    pub last_used_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "2026-02-07T14:30:45.000Z"))]
    pub expires_at: Option<String>,
    /// Always false: snapshots are filesystem-only.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub stateful: bool,
    /// Logical size in bytes (the files' sizes).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = 4589764321u64))]
    pub size: u64,
    /// Regular files in it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub file_count: u64,
    /// Stored bytes this snapshot added when it was taken (what was new).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub added_bytes: u64,
    /// Stored bytes deleting it would free (only on `GET .../snapshots/{name}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_bytes: Option<u64>,
    /// How long the container was frozen for this snapshot, in milliseconds: only in the
    /// answer and the event of its creation, and only when the container was running (a
    /// stopped or paused one has nothing to freeze).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen_ms: Option<u64>,
    /// Taken by the container's schedule and not pinned since (setting its expiry to never
    /// pins it): the schedule's keep policy, when it has one, may delete it. False for
    /// snapshots taken by hand, which no policy touches.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub scheduled: bool,
}

/// Body of `POST /api/v1/containers/{id}/snapshots`. Both fields are optional; an empty body
/// is allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"alias": "before-ai-refactor", "expiry": 30})))]
pub struct CreateSnapshot {
    /// A human name, at most 100 characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$",
            example = "before-ai-refactor"
        )
    )]
    pub alias: Option<String>,
    /// Days until the snapshot is deleted automatically (1 to 3650); omit it to keep the
    /// snapshot until you delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 3650, example = 30))]
    pub expiry: Option<i64>,
}

/// Body of `PATCH /api/v1/containers/{id}/snapshots/{name}` (optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"safety_snapshot": true})))]
pub struct RestoreSnapshot {
    /// First snapshot the current state (alias `before-restore-<name>`, expiry 7 days), so
    /// the restore can be undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_snapshot: Option<bool>,
    /// Restore only these absolute paths (1 to 100, each at most 4096 bytes, no `.` or `..`
    /// component): each becomes exactly as in the snapshot, including deleting what the
    /// snapshot lacks below a folder; the rest of the container is untouched. A path the
    /// snapshot lacks is a 404 that names it. Omit it to restore the whole container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(
        min_items = 1, max_items = 100,
        example = json!(["/etc/nginx", "/srv/app/config.yml"])
    ))]
    pub paths: Option<Vec<String>>,
    /// More paths, percent-encoded (`/data/%FF-report.txt`): for names that are not UTF-8,
    /// as browse's `raw_name` and diff's `raw_path` give them. Restored with `paths`, under
    /// the same rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    pub raw_paths: Option<Vec<String>>,
    /// With `paths`: stop a running container before the restore and start it after
    /// (default `false`: it keeps running while the paths are replaced, each file
    /// atomically). A whole restore always restarts a running container: `true` there
    /// changes nothing, `false` is refused (400).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<bool>,
}

/// Body of `PATCH /api/v1/containers/{id}/snapshots/{name}/metadata`. A field left out is
/// not changed; `null` clears the alias, or pins the snapshot (it never expires).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"alias": "production-stable", "expiry": null})))]
pub struct UpdateSnapshot {
    /// The new alias (at most 100 characters, no control characters); `null` or `""` for
    /// none.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(
        value_type = Option<String>, max_length = 100, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$",
        example = "production-stable"
    ))]
    pub alias: Option<Option<String>>,
    /// Days from now until the snapshot expires (1 to 3650); `null` pins it.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 1, maximum = 3650, example = 30))]
    pub expiry: Option<Option<i64>>,
}

/// A field present in the body, even as `null`, is `Some(...)`: "clear it" differs from
/// "leave it".
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotCreated {
    #[cfg_attr(feature = "openapi", schema(example = "890abcdef12345678901cdef"))]
    pub container_id: String,
    #[cfg_attr(feature = "openapi", schema(example = "67e89abc123def456789abcd"))]
    pub project_id: String,
    pub snapshot: Snapshot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotList {
    #[cfg_attr(feature = "openapi", schema(example = "890abcdef12345678901cdef"))]
    pub container_id: String,
    #[cfg_attr(feature = "openapi", schema(example = "67e89abc123def456789abcd"))]
    pub project_id: String,
    /// Newest first; expired snapshots never appear.
    pub snapshots: Vec<Snapshot>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotRestored {
    // Defaults: a Hoody upstream may answer a restore with the snapshot alone.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "890abcdef12345678901cdef", required = true)
    )]
    #[serde(default)]
    pub container_id: String,
    #[cfg_attr(
        feature = "openapi",
        schema(example = "67e89abc123def456789abcd", required = true)
    )]
    #[serde(default)]
    pub project_id: String,
    pub snapshot: Snapshot,
    /// Present when `safety_snapshot` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_snapshot: Option<Snapshot>,
    /// The paths a partial restore made exact (sorted; a path inside another one is left
    /// out); absent for a whole restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotDeleted {
    #[cfg_attr(feature = "openapi", schema(example = "snap-20251109-143045"))]
    pub name: String,
    /// Stored bytes the background GC frees because of this deletion.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = 52428800))]
    pub freed_bytes: u64,
}

/// How an entry differs between two states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Only in the newer state.
    Added,
    /// Only in the older state.
    Removed,
    /// Its contents differ.
    Modified,
    /// Same contents; mode, owner, times or extended attributes differ.
    #[serde(rename = "metadata")]
    MetadataOnly,
    /// A file became a directory, a link, ... (or the other way round).
    TypeChanged,
}

impl ChangeKind {
    /// The word on the wire (`type_changed`).
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Modified => "modified",
            ChangeKind::MetadataOnly => "metadata",
            ChangeKind::TypeChanged => "type_changed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffChange {
    /// The path as text; bytes that are not UTF-8 show as U+FFFD (see `raw_path`).
    #[cfg_attr(feature = "openapi", schema(example = "etc/nginx/nginx.conf"))]
    pub path: String,
    /// Present only when the path is not valid UTF-8: its exact bytes, percent-encoded, for
    /// a `path` query or a restore's `raw_paths`.
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_path: Option<String>,
    /// `added`, `removed`, `modified`, `metadata` or `type_changed`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "modified"))]
    pub kind: ChangeKind,
    /// `file`, `dir`, `symlink`, `char-device`, `block-device` or `fifo`.
    #[cfg_attr(feature = "openapi", schema(example = "file"))]
    pub entry_type: String,
    /// For `type_changed` only: the type in `from` (`entry_type` is the type in `against`),
    /// so a folder that became a file reads `dir` here and `file` there.
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_type: Option<String>,
    /// Present only when a file's hard links changed (it was linked, unlinked or moved to
    /// another link group): the other names that share its inode in `against`, as paths
    /// like `path`, sorted; `[]` when it stands alone there. A change of links alone has
    /// kind `metadata`.
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hard_links: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotDiff {
    #[cfg_attr(feature = "openapi", schema(example = "snap-20251108-100000"))]
    pub from: String,
    /// Another snapshot's name, or `live`.
    #[cfg_attr(feature = "openapi", schema(example = "live"))]
    pub against: String,
    pub changes: Vec<DiffChange>,
    /// More changes exist than `limit` allowed.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileEntry {
    /// The name as text; bytes that are not UTF-8 show as U+FFFD (see `raw_name`).
    #[cfg_attr(feature = "openapi", schema(example = "hostname"))]
    pub name: String,
    /// Present only when the name is not valid UTF-8: its exact bytes, percent-encoded
    /// (`%FF-report.txt`). Two names that look alike in `name` differ here; append it to the
    /// folder's path in a `path` query as it is.
    #[cfg_attr(feature = "openapi", schema(example = json!(null)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_name: Option<String>,
    #[cfg_attr(feature = "openapi", schema(example = "file"))]
    pub entry_type: String,
    pub size: u64,
    /// Permission bits, octal.
    #[cfg_attr(feature = "openapi", schema(example = "0644"))]
    pub mode: String,
    pub uid: u32,
    pub gid: u32,
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-09T14:30:45.000Z"))]
    pub mtime: String,
    pub link_target: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotFiles {
    #[cfg_attr(feature = "openapi", schema(example = "/etc"))]
    pub path: String,
    pub entries: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DamageInfo {
    pub object: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnapshotVerified {
    /// No damage found.
    pub clean: bool,
    /// Data was re-read and re-hashed (`deep=true`), not only the structure checked.
    pub deep: bool,
    pub trees: u64,
    pub chunks: u64,
    pub damaged: Vec<DamageInfo>,
}

/// Compares with the word on the wire (`kind == "added"`).
impl PartialEq<&str> for ChangeKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
