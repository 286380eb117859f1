//! `GET /api/v1/containers/{id}/snapshots/{name}/export`: a snapshot's whole root as a tar
//! stream.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing;

use super::auth::Authed;
use super::body::Path;
use super::{ApiError, ErrorBody};
use service::Service;
use service::parse_id;

/// The export route, relative to `/api/v1`.
pub(super) fn router() -> Router<Service> {
    Router::new().route(
        "/containers/{id}/snapshots/{name}/export",
        routing::get(export),
    )
}

/// Exports a snapshot's whole root filesystem as a tar stream.
///
/// A POSIX tar (pax headers) with numeric owners, modes, nanosecond times, xattrs
/// (`SCHILY.xattr.*`), hard links, devices, FIFOs, symlinks, and sparse files as GNU sparse
/// entries. GNU tar unpacks it (`tar --xattrs --xattrs-include='*' --numeric-owner -xpf
/// web.tar`) and `POST /api/v1/images` imports it. It streams as it is made (no length);
/// every chunk is hash-checked on the way: damage aborts the transfer, so an archive that
/// arrives complete is the snapshot. Example:
/// `curl -f -o web.tar -H "Authorization: Bearer $HOODY_TOKEN" $URL/api/v1/containers/890abcdef12345678901cdef/snapshots/snap-20251109-143045/export`.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/export",
    tag = "Snapshots",
    params(
        ("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef"),
        ("snapshot_name" = String, Path, description = "The snapshot's name (or its alias, when exactly one snapshot has it)", example = "snap-20251109-143045"),
    ),
    responses(
        (status = 200, description = "The tar stream (chunked; saved as `<container>-<snapshot>.tar`)", content_type = "application/x-tar",
            headers(("Content-Disposition" = String, description = "attachment; filename=\"web-snap-20251109-143045.tar\""))),
        (status = 400, description = "Malformed container id", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects, or no such snapshot", body = ErrorBody),
        (status = 409, description = "The alias names several snapshots", body = ErrorBody),
        (status = 500, description = "The snapshot's data is damaged", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn export(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path((id, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let x = svc.export_snapshot(&caller, &id, &name).await?;
    Ok(super::download::tar_download(&x.file_name, x.stream))
}
