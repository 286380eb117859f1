//! `/api/v1/containers...`: create, list, get, delete, start, stop, exec, copy, schedule (and
//! the route of its keep policy's preview, handled in [`super::retention`]).

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing;
use serde::Deserialize;

use super::auth::Authed;
use super::body::{Json, Path, Query};
use super::{ApiError, Envelope, ErrorBody, envelope_schema};
use service::Service;
use service::parse_id;
use types::{
    Container, ContainerData, ContainerList, ContainersCopied, CopyItem, CopyRequest,
    CreateContainer, Empty, ExecOutput, ExecRequest, ScheduleData, ScheduleSpec,
};

/// The container routes, relative to `/api/v1` (schedules are per container, so here too).
pub(super) fn router() -> Router<Service> {
    Router::new()
        .route("/containers", routing::get(list).post(create))
        .route("/containers/{id}", routing::get(get).delete(delete))
        .route("/containers/{id}/start", routing::post(start))
        .route("/containers/{id}/stop", routing::post(stop))
        .route("/containers/{id}/pause", routing::post(pause))
        .route("/containers/{id}/resume", routing::post(resume))
        .route("/containers/{id}/exec", routing::post(exec))
        .route("/containers/{id}/copy", routing::post(copy))
        .route(
            "/containers/{id}/schedule",
            routing::get(get_schedule)
                .put(put_schedule)
                .delete(delete_schedule),
        )
        .route(
            "/containers/{id}/schedule/preview",
            routing::get(super::retention::preview),
        )
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this project's containers (id or name).
    pub project_id: Option<String>,
    /// Also list deleted containers whose snapshots remain.
    pub include_deleted: Option<bool>,
}

envelope_schema!(
    ContainerResponse,
    ContainerData,
    "Container retrieved successfully"
);
envelope_schema!(
    ContainerListResponse,
    ContainerList,
    "Containers retrieved successfully"
);
envelope_schema!(ExecResponse, ExecOutput, "Command finished");
envelope_schema!(
    ScheduleResponse,
    ScheduleData,
    "Schedule saved successfully"
);
envelope_schema!(EmptyResponse, Empty, "Done");

fn container(message: &str, container: Container) -> Response {
    Envelope::ok(message, ContainerData { container }).into_response()
}

/// Lists the containers of the projects your token sees.
#[utoipa::path(
    get,
    path = "/api/v1/containers",
    tag = "Containers",
    params(ListQuery),
    responses(
        (status = 200, description = "The containers", body = ContainerListResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such project in your projects", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    let containers = svc
        .list_containers(
            &caller,
            q.project_id.as_deref(),
            q.include_deleted.unwrap_or(false),
        )
        .await?;
    Ok(Envelope::ok(
        "Containers retrieved successfully",
        ContainerList { containers },
    )
    .into_response())
}

/// Creates a container from an image. It starts `stopped`.
#[utoipa::path(
    post,
    path = "/api/v1/containers",
    tag = "Containers",
    request_body = CreateContainer,
    responses(
        (status = 200, description = "Created", body = ContainerResponse),
        (status = 400, description = "Bad name, command, unknown field or bad JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such project or image", body = ErrorBody),
        (status = 409, description = "The name is taken in the project", body = ErrorBody),
        (status = 507, description = "Not enough free disk space", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Json(body): Json<CreateContainer>,
) -> Result<Response, ApiError> {
    let c = svc
        .create_container(
            &caller,
            &body.project_id,
            &body.name,
            &body.image,
            body.command,
            body.limits,
        )
        .await?;
    Ok(container("Container created successfully", c))
}

/// One container: status, size, snapshot count.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    responses(
        (status = 200, description = "The container", body = ContainerResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let c = svc.get_container(&caller, &id).await?;
    Ok(container("Container retrieved successfully", c))
}

/// Deletes the container and its live filesystem (stopping it first). Its snapshots stay:
/// they can still be listed, copied from and deleted.
#[utoipa::path(
    delete,
    path = "/api/v1/containers/{container_id}",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    responses(
        (status = 200, description = "Deleted", body = EmptyResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 409, description = "Another operation is running, or it is already deleted", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    svc.delete_container(&caller, &id).await?;
    Ok(Envelope::ok("Container deleted successfully", Empty {}).into_response())
}

/// Starts the container's command inside its filesystem (runc: own pid, ipc, uts, mount and
/// network namespaces, and a cgroup with the container's limits).
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/start",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    responses(
        (status = 200, description = "Running", body = ContainerResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 409, description = "Being restored, deleted, or another operation is running", body = ErrorBody),
        (status = 503, description = "runc is not installed (the message says how to install it)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn start(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let c = svc.start_container(&caller, &id).await?;
    Ok(container("Container started successfully", c))
}

/// Pauses a running container: its processes are frozen (the cgroup freezer) until resumed.
/// A snapshot of a paused container is consistent at once. It stays paused across server
/// restarts.
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/pause",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    responses(
        (status = 200, description = "Paused", body = ContainerResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 409, description = "Not running, already paused, or another operation is running", body = ErrorBody),
        (status = 503, description = "runc is not installed (the message says how to install it)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn pause(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let c = svc.pause_container(&caller, &id).await?;
    Ok(container("Container paused successfully", c))
}

/// Resumes a paused container.
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/resume",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    responses(
        (status = 200, description = "Running again", body = ContainerResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 409, description = "Not paused, or another operation is running", body = ErrorBody),
        (status = 503, description = "runc is not installed (the message says how to install it)", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn resume(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let c = svc.resume_container(&caller, &id).await?;
    Ok(container("Container resumed successfully", c))
}

/// Stops the container: SIGTERM, then SIGKILL after a timeout.
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/stop",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    responses(
        (status = 200, description = "Stopped", body = ContainerResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 409, description = "Deleted, or another operation is running", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn stop(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let c = svc.stop_container(&caller, &id).await?;
    Ok(container("Container stopped successfully", c))
}

/// Runs a one-off command inside the container's filesystem and returns its exit code and
/// output (each stream at most 64 KiB).
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/exec",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The container's id", example = "890abcdef12345678901cdef")),
    request_body = ExecRequest,
    responses(
        (status = 200, description = "The command ran (whatever its exit code)", body = ExecResponse),
        (status = 400, description = "Bad command or timeout", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container in your projects", body = ErrorBody),
        (status = 409, description = "Being restored or deleted", body = ErrorBody),
        (status = 503, description = "runc is not installed", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn exec(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Json(body): Json<ExecRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let out = svc
        .exec(&caller, &id, &body.command, body.timeout_s)
        .await?;
    Ok(Envelope::ok("Command finished", out).into_response())
}

/// Makes a new, independent container from a snapshot (or the live state), in any project
/// you see. Works after the source container was deleted.
///
/// With `target_server` (a node id from `GET /api/v1/servers`) the copy is built on that
/// node, from a snapshot in the shared store: this works while the source's node is down.
///
/// With `count` (1 to 50) it forks: `name-1` … `name-N`, all filled from one read of the
/// source, and the answer lists each one (`ContainersCopied`) with its own error when it
/// alone failed. When every one failed, the answer is the first one's error.
#[utoipa::path(
    post,
    path = "/api/v1/containers/{container_id}/copy",
    tag = "Containers",
    params(("container_id" = String, Path, description = "The source container's id", example = "890abcdef12345678901cdef")),
    request_body = CopyRequest,
    responses(
        (status = 200, description = "The new container; with `count`, every one of them", body = CopyResponse),
        (status = 400, description = "Bad name or count, unknown field or bad JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container, snapshot, project or target server", body = ErrorBody),
        (status = 409, description = "Name taken, or no live state to copy", body = ErrorBody),
        (status = 503, description = "The target server is offline or did not answer", body = ErrorBody),
        (status = 507, description = "Not enough free disk space", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn copy(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Json(body): Json<CopyRequest>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    svc.check_copy_target(
        &caller,
        id.as_str(),
        body.target_server.as_deref(),
        body.source_snapshot.as_deref(),
    )
    .await?;
    let Some(count) = body.count else {
        let c = svc
            .copy_container(
                &caller,
                &id,
                &body.target_project_id,
                &body.name,
                body.source_snapshot.as_deref(),
            )
            .await?;
        return Ok(container("Container copied successfully", c));
    };
    let made = svc
        .fork_container(
            &caller,
            &id,
            &body.target_project_id,
            &body.name,
            count,
            body.source_snapshot.as_deref(),
        )
        .await?;
    if let Some((_, Err(first))) = made.iter().find(|(_, r)| r.is_err())
        && made.iter().all(|(_, r)| r.is_err())
    {
        return Err(first.clone().into());
    }
    let answer = copied(made);
    let message = if answer.failed == 0 {
        "Containers copied successfully".to_string()
    } else {
        format!(
            "Copied {} of {} containers; see each one's error",
            answer.copied,
            answer.results.len()
        )
    };
    Ok(Envelope::ok(message, answer).into_response())
}

/// A fork's results as the REST answer: each container, or its own error body (what an
/// error answer of its own would have said).
pub fn copied(made: Vec<(String, Result<Container, service::ServiceError>)>) -> ContainersCopied {
    let results: Vec<CopyItem> = made
        .into_iter()
        .map(|(name, r)| match r {
            Ok(c) => CopyItem {
                name,
                container: Some(c),
                error: None,
            },
            Err(e) => CopyItem {
                name,
                container: None,
                error: Some(ApiError::from(e).body().1),
            },
        })
        .collect();
    let copied = results.iter().filter(|r| r.container.is_some()).count() as u32;
    ContainersCopied {
        copied,
        failed: results.len() as u32 - copied,
        results,
    }
}

/// What a copy answers: one container, or with `count` every one of a fork. (A schema for
/// the OpenAPI document only: never built, so the size of its variants does not matter.)
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code, clippy::large_enum_variant)]
#[serde(untagged)]
pub enum CopyAnswer {
    One(ContainerData),
    Many(ContainersCopied),
}

envelope_schema!(CopyResponse, CopyAnswer, "Container copied successfully");

/// The container's automatic snapshot schedule.
#[utoipa::path(
    get,
    path = "/api/v1/containers/{container_id}/schedule",
    tag = "Schedules",
    params(("container_id" = String, Path, description = "The container's id")),
    responses(
        (status = 200, description = "The schedule", body = ScheduleResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container, or it has no schedule", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get_schedule(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let schedule = svc.get_schedule(&caller, &id).await?;
    Ok(Envelope::ok("Schedule retrieved successfully", ScheduleData { schedule }).into_response())
}

/// Sets or replaces the container's automatic snapshot schedule, and how many of its
/// snapshots to keep (`keep`, as restic's `forget --keep-*`: the newest snapshot of each UTC
/// hour, day, ISO week or month until N are kept, plus the `last` N; a snapshot kept by any
/// rule stays). The policy deletes only snapshots this schedule took, never manual or pinned
/// ones; with an `expiry` too, a snapshot goes at whichever comes first. A PUT replaces the
/// whole schedule: leaving `keep` out removes the policy. See what it would delete with
/// `GET .../schedule/preview`.
#[utoipa::path(
    put,
    path = "/api/v1/containers/{container_id}/schedule",
    tag = "Schedules",
    params(("container_id" = String, Path, description = "The container's id")),
    request_body(content = ScheduleSpec, example = json!({"schedule": "@daily", "expiry": 90, "alias_pattern": "auto-%Y%m%d-%H%M", "include_stopped": false, "keep": {"last": 5, "hourly": 24, "daily": 7, "weekly": 4, "monthly": 12}})),
    responses(
        (status = 200, description = "Saved", body = ScheduleResponse),
        (status = 400, description = "Bad schedule, expiry, pattern or keep count (each a whole number from 0 to 10000)", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container", body = ErrorBody),
        (status = 409, description = "The container was deleted", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn put_schedule(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
    Json(spec): Json<ScheduleSpec>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    let schedule = svc.set_schedule(&caller, &id, spec).await?;
    Ok(Envelope::ok("Schedule saved successfully", ScheduleData { schedule }).into_response())
}

/// Removes the container's automatic snapshot schedule (its snapshots stay).
#[utoipa::path(
    delete,
    path = "/api/v1/containers/{container_id}/schedule",
    tag = "Schedules",
    params(("container_id" = String, Path, description = "The container's id")),
    responses(
        (status = 200, description = "Removed", body = EmptyResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such container, or it has no schedule", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn delete_schedule(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("container id", &id)?;
    svc.delete_schedule(&caller, &id).await?;
    Ok(Envelope::ok("Schedule deleted successfully", Empty {}).into_response())
}
