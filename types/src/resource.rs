//! Projects, images, servers, tokens and health, as the REST API shows them.

use serde::{Deserialize, Serialize};

/// A project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Project {
    #[cfg_attr(feature = "openapi", schema(example = "67e89abc123def456789abcd"))]
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(example = "default"))]
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(example = "2025-11-09T14:30:45.000Z"))]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub created_at: String,
}

/// An image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Image {
    #[cfg_attr(feature = "openapi", schema(example = "demo"))]
    pub name: String,
    /// `builtin`, `import`, or `snapshot` (published from a container's snapshot).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub source: String,
    /// Default command of containers made from it.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub command: Vec<String>,
    /// Logical bytes of its files.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub size: u64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub file_count: u64,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    #[serde(default)]
    pub created_at: String,
    /// The project an image published from a snapshot belongs to: only tokens that see that
    /// project list or use it. Absent for built-in and imported images, which all see.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageList {
    pub images: Vec<Image>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImageData {
    pub image: Image,
}

/// JSON body of `POST /api/v1/images`: publish a container's snapshot as an image (as
/// Incus's `publish`). Containers created from the image start exactly as the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "dev-template", "from": {"container_id": "890abcdef12345678901cdef", "snapshot": "snap-20251109-143045"}})))]
pub struct PublishImage {
    /// The image's name: 1 to 64 of `a-z 0-9 . _ -`, starting with a letter or digit.
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "dev-template",
            min_length = 1,
            max_length = 64,
            pattern = "^[a-z0-9][a-z0-9._-]{0,63}$"
        )
    )]
    pub name: String,
    /// The snapshot to publish.
    pub from: ImageOrigin,
}

/// Which snapshot an image is published from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImageOrigin {
    #[cfg_attr(feature = "openapi", schema(example = "890abcdef12345678901cdef"))]
    pub container_id: String,
    /// The snapshot's name, or its alias when exactly one snapshot has it.
    #[cfg_attr(feature = "openapi", schema(example = "snap-20251109-143045"))]
    pub snapshot: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectData {
    pub project: Project,
}

/// Body of `POST /api/v1/projects`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "staging"})))]
pub struct CreateProject {
    /// 1 to 100 characters, no control characters; unique.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$",
            example = "staging"
        )
    )]
    pub name: String,
}

/// This node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Server {
    #[cfg_attr(feature = "openapi", schema(example = "5f0e1d2c3b4a596877665544"))]
    pub id: String,
    /// The host's name.
    pub name: String,
    /// `active`, or `offline` when its last heartbeat is over 20 seconds old.
    #[cfg_attr(feature = "openapi", schema(example = "active"))]
    pub status: String,
    pub version: String,
    /// Bytes of the snapshot store's packs: this node's data directory, or, for an S3
    /// store, the whole bucket (every node then shows the same figure).
    pub store_bytes: u64,
    /// Where the node keeps its packs: `local`, or the cluster's `s3://bucket/prefix`.
    /// (Absent from servers older than S3 stores; read as `local`.)
    #[serde(default = "local_store")]
    #[cfg_attr(feature = "openapi", schema(example = "local"))]
    pub store: String,
    /// Bytes of S3 packs this node keeps in its local cache (0 for a local store).
    #[serde(default)]
    pub cache_bytes: u64,
    /// The data directory's filesystem.
    pub disk_total_bytes: u64,
    pub disk_free_bytes: u64,
    /// Whether containers can run here (runc installed).
    pub can_run_containers: bool,
    /// Live (not deleted) containers whose roots this node holds. (Absent from servers
    /// older than nodes; read as 0.)
    #[serde(default)]
    pub container_count: u64,
    /// The node's last heartbeat (RFC 3339, UTC, by its clock); `offline` when older than
    /// 20 seconds. (Absent from servers older than nodes; read as empty.)
    #[serde(default)]
    pub last_seen_at: String,
    /// Where the other nodes reach its API (`--advertise-url`); empty until it has
    /// served. (Absent from servers older than forwarding; read as empty.)
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(example = "http://10.0.0.11:3000"))]
    pub url: String,
}

fn local_store() -> String {
    "local".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerList {
    pub servers: Vec<Server>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServerData {
    pub server: Server,
}

/// A token as `token list` shows it (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub admin: bool,
    pub projects: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// A new token: `token` is shown once, only here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenCreated {
    #[cfg_attr(
        feature = "openapi",
        schema(example = "hdy_0123456789abcdefghijABCDEFGHIJ0123456789")
    )]
    pub token: String,
    pub info: TokenInfo,
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", schema(example = json!({"name": "ci", "project_ids": ["67e89abc123def456789abcd"]})))]
pub struct CreateToken {
    /// 1 to 100 characters, no control characters.
    #[cfg_attr(
        feature = "openapi",
        schema(
            min_length = 1,
            max_length = 100,
            pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]*$",
            example = "ci"
        )
    )]
    pub name: String,
    /// The projects it sees (ids or names).
    #[serde(default)]
    pub project_ids: Vec<String>,
    /// An admin token sees every project.
    #[serde(default)]
    pub admin: bool,
}

/// What `GET /api/v1/health` carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// Snapline's version.
    #[cfg_attr(feature = "openapi", schema(example = "0.1.0"))]
    pub version: String,
}
