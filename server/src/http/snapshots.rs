//! `/api/v1/containers/{id}/snapshots...`: the vendor's four calls, plus single-snapshot
//! details, diff, browse, download and verify.

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing;
use serde::Deserialize;

use super::auth::Authed;
use super::body::{Json, OptionalJson, Path, Query};
use super::{ApiError, Envelope, ErrorBody, envelope_schema};
use service::Service;
use service::parse_id;
use types::{
    CreateSnapshot, RestoreSnapshot, SnapshotCreated, SnapshotDeleted, SnapshotDiff, SnapshotFiles,
    SnapshotList, SnapshotRestored, SnapshotVerified, UpdateSnapshot,
};

/// The snapshot routes, relative to `/api/v1`.
pub(super) fn router() -> Router<Service> {
    Router::new()
        .route(
            "/containers/{id}/snapshots",
            routing::get(list).post(create),
        )
        .route(
            "/containers/{id}/snapshots/{name}",
            routing::get(get).patch(restore).delete(delete),
        )
        .route(
            "/containers/{id}/snapshots/{name}/metadata",
            routing::patch(update),
        )
        .route("/containers/{id}/snapshots/{name}/diff", routing::get(diff))
        .route(
            "/containers/{id}/snapshots/{name}/files",
            routing::get(files),
        )
        .route(
            "/containers/{id}/snapshots/{name}/files/content",
            routing::get(file_content),
        )
        .route(
            "/containers/{id}/snapshots/{name}/verify",
            routing::post(verify),
        )
}

envelope_schema!(
    SnapshotCreatedResponse,
    SnapshotCreated,
    "Snapshot created successfully"
);
envelope_schema!(
    SnapshotListResponse,
    SnapshotList,
    "Snapshots retrieved successfully"
);
envelope_schema!(
    SnapshotDetailResponse,
    SnapshotCreated,
    "Snapshot retrieved successfully"
);
envelope_schema!(
    SnapshotRestoredResponse,
    SnapshotRestored,
    "Snapshot restored successfully"
);
envelope_schema!(
    SnapshotDeletedResponse,
    SnapshotDeleted,
    "Snapshot deleted successfully"
);
envelope_schema!(
    SnapshotDiffResponse,
    SnapshotDiff,
    "Diff computed successfully"
);
envelope_schema!(
    SnapshotFilesResponse,
    SnapshotFiles,
    "Directory listed successfully"
);
envelope_schema!(
    SnapshotVerifiedResponse,
    SnapshotVerified,
    "Snapshot verified"
);

/// Takes a snapshot of the container's filesystem, running or stopped.
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/snapshots",
    tag = "Snapshots",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    request_body(content = Option<CreateSnapshot>, description = "Optional alias and expiry; an empty body is allowed"),
    responses(
        (status = 200, description = "Snapshot created", body = SnapshotCreatedResponse),
        (status = 400, description = "Alias too long, expiry out of range, unknown field or bad JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 409, description = "Another operation is running on the container, or it was deleted", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
        (status = 507, description = "Not enough free disk space", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<CreateSnapshot>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let (c, snapshot) = svc
        .create_snapshot(&caller, &id, body.alias, body.expiry)
        .await?;
    Ok(Envelope::ok(
        "Snapshot created successfully",
        SnapshotCreated {
            container_id: c.id.to_string(),
            project_id: c.project_id,
            snapshot,
        },
    )
    .into_response())
}

/// Lists the container's snapshots, newest first. Expired snapshots never appear. Works
/// after the container was deleted.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/snapshots",
    tag = "Snapshots",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    responses(
        (status = 200, description = "The snapshots", body = SnapshotListResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let (c, snapshots) = svc.list_snapshots(&caller, &id).await?;
    Ok(Envelope::ok(
        "Snapshots retrieved successfully",
        SnapshotList {
            container_id: c.id.to_string(),
            project_id: c.project_id,
            snapshots,
        },
    )
    .into_response())
}

/// One snapshot, with `exclusive_bytes`: what deleting it would free.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef"),
        ("snapshot_name" = String, Path, description = "The snapshot's name (or its alias, when exactly one snapshot has it)", example = "snap-20251109-143045"),
    ),
    responses(
        (status = 200, description = "The snapshot", body = SnapshotDetailResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container or snapshot", body = ErrorBody),
        (status = 409, description = "The alias names several snapshots", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let (c, snapshot) = svc.get_snapshot(&caller, &id, &name).await?;
    Ok(Envelope::ok(
        "Snapshot retrieved successfully",
        SnapshotCreated {
            container_id: c.id.to_string(),
            project_id: c.project_id,
            snapshot,
        },
    )
    .into_response())
}

/// Restores the container's filesystem to the snapshot, exactly. A running container is
/// stopped first and started fresh afterwards.
///
/// With `paths`, only those files and folders are restored (each made exactly as in the
/// snapshot, including deleting what the snapshot lacks below a folder) and the rest of the
/// container is untouched; a running container keeps running unless `restart` is true.
#[utoipa::path(
    patch,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef"),
        ("snapshot_name" = String, Path, description = "The snapshot's name (or its alias, when exactly one snapshot has it)", example = "snap-20251109-143045"),
    ),
    request_body(content = Option<RestoreSnapshot>, description = "Optional; an empty body is allowed"),
    responses(
        (status = 200, description = "Restored", body = SnapshotRestoredResponse),
        (status = 400, description = "Unknown field, bad JSON, or a path that is not absolute or holds `..`", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container or snapshot, or a path the snapshot lacks (named)", body = ErrorBody),
        (status = 409, description = "Another operation is running, the alias is ambiguous, the container was deleted, or a parent folder of a path is a symlink or a file in the container", body = ErrorBody),
        (status = 500, description = "The snapshot's data is damaged; nothing was changed", body = ErrorBody),
        (status = 507, description = "Not enough disk space", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn restore(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<RestoreSnapshot>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let r = svc.restore_snapshot(&caller, &id, &name, &body).await?;
    Ok(Envelope::ok("Snapshot restored successfully", SnapshotRestored::from(r)).into_response())
}

/// Changes a snapshot's alias or expiry, or pins it. Its files never change. (`PATCH` on the
/// snapshot itself restores it, as in the vendor API; its metadata has its own path.)
#[utoipa::path(
    patch,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/metadata",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef"),
        ("snapshot_name" = String, Path, description = "The snapshot's name (or its alias, when exactly one snapshot has it)", example = "snap-20251109-143045"),
    ),
    request_body(content = UpdateSnapshot, description = "The fields to change"),
    responses(
        (status = 200, description = "Updated", body = SnapshotCreatedResponse),
        (status = 400, description = "Bad alias or expiry, unknown field or bad JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container or snapshot (an expired one included)", body = ErrorBody),
        (status = 409, description = "Another operation is running, or the alias is ambiguous", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn update(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    Json(body): Json<UpdateSnapshot>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let (c, snapshot) = svc
        .update_snapshot(&caller, &id, &name, body.alias, body.expiry)
        .await?;
    Ok(Envelope::ok(
        "Snapshot updated successfully",
        SnapshotCreated {
            container_id: c.id.to_string(),
            project_id: c.project_id,
            snapshot,
        },
    )
    .into_response())
}

/// Deletes a snapshot. Its space is reclaimed by the background garbage collection.
#[utoipa::path(
    delete,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef"),
        ("snapshot_name" = String, Path, description = "The snapshot's name (or its alias, when exactly one snapshot has it)", example = "snap-20251109-143045"),
    ),
    responses(
        (status = 200, description = "Deleted", body = SnapshotDeletedResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container or snapshot", body = ErrorBody),
        (status = 409, description = "Another operation is running, or the alias is ambiguous", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let (_, d) = svc.delete_snapshot(&caller, &id, &name).await?;
    Ok(Envelope::ok(
        "Snapshot deleted successfully",
        SnapshotDeleted {
            name: d.name,
            freed_bytes: d.freed_bytes,
        },
    )
    .into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// Another snapshot's name, or `live` for the container's filesystem now.
    #[param(example = "live")]
    pub against: String,
    /// Most changes returned (1 to 10000, default 1000).
    pub limit: Option<usize>,
}

/// What changed between this snapshot and another one, or the live filesystem.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/diff",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id"),
        ("snapshot_name" = String, Path, description = "The older side"),
        DiffQuery,
    ),
    responses(
        (status = 200, description = "The changes, in path order", body = SnapshotDiffResponse),
        (status = 400, description = "Bad query", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container or snapshot", body = ErrorBody),
        (status = 409, description = "Another operation is running", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn diff(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let limit = q.limit.unwrap_or(1000);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and 10000 (got {limit})"
        )));
    }
    let d = svc
        .diff_snapshot(&caller, &id, &name, &q.against, limit)
        .await?;
    Ok(Envelope::ok("Diff computed successfully", d).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PathQuery {
    /// A path inside the snapshot, like `/etc` (default `/`). Percent-escapes are taken as
    /// bytes, so a name that is not UTF-8 is reachable: append an entry's `raw_name` (or use
    /// a change's `raw_path`) as it is, like `/data/%FF-report.txt`.
    #[param(example = "/etc")]
    pub path: Option<String>,
}

/// The `path` query parameter as bytes (form decoding: `+` is a space, `%XX` a byte), so
/// names that are not UTF-8 can be asked for; `None` when absent. Any other parameter is
/// refused, as the typed queries refuse unknown fields.
fn path_query(raw: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    let mut path = None;
    for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != "path" {
            return Err(ApiError::bad_request(format!(
                "unknown query parameter {:?}: this route takes only `path`",
                String::from_utf8_lossy(&types::raw::decode(k))
            )));
        }
        if path.is_some() {
            return Err(ApiError::bad_request("`path` is given twice: give it once"));
        }
        path = Some(types::raw::decode(&v.replace('+', " ")));
    }
    Ok(path)
}

/// Lists a directory of a snapshot.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/files",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id"),
        ("snapshot_name" = String, Path, description = "The snapshot's name"),
        PathQuery,
    ),
    responses(
        (status = 200, description = "The directory's entries, by name", body = SnapshotFilesResponse),
        (status = 400, description = "Not a directory", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container, snapshot or path", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn files(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let path = path_query(q.as_deref())?.unwrap_or_else(|| b"/".to_vec());
    let files = svc.browse_snapshot(&caller, &id, &name, &path).await?;
    Ok(Envelope::ok("Directory listed successfully", files).into_response())
}

/// Downloads one regular file of a snapshot (every chunk is hash-checked as it streams).
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/files/content",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id"),
        ("snapshot_name" = String, Path, description = "The snapshot's name"),
        PathQuery,
    ),
    responses(
        (status = 200, description = "The file's bytes", content_type = "application/octet-stream"),
        (status = 400, description = "Not a regular file", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container, snapshot or path", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn file_content(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let path = path_query(q.as_deref())?.unwrap_or_default();
    let (size, stream) = svc.snapshot_file_stream(&caller, &id, &name, &path).await?;
    Ok(super::download::file_download(
        &String::from_utf8_lossy(&path),
        size,
        stream,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    /// Re-read and re-hash all the snapshot's data, not only its structure.
    pub deep: Option<bool>,
}

/// Checks that every object the snapshot needs is present and intact.
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/verify",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id"),
        ("snapshot_name" = String, Path, description = "The snapshot's name"),
        VerifyQuery,
    ),
    responses(
        (status = 200, description = "The report (clean or not)", body = SnapshotVerifiedResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container or snapshot", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn verify(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
    Query(q): Query<VerifyQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let deep = q.deep.unwrap_or(false);
    let v = svc.verify_snapshot(&caller, &id, &name, deep).await?;
    let message = if v.clean {
        "Snapshot verified: no damage found"
    } else {
        "Snapshot verified: damage found"
    };
    Ok(Envelope::ok(message, v).into_response())
}
