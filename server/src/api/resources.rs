//! Images, projects, servers, tokens and the event stream.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{Json, Path, Query};
use super::{ApiError, Envelope, ErrorBody, envelope_schema};
use crate::AppState;
use crate::service::Caller;
use crate::service::auth::TokenInfo;
use crate::service::images::Image;
use crate::service::projects::Project;

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageList {
    pub images: Vec<Image>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImageData {
    pub image: Image,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectList {
    pub projects: Vec<Project>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectData {
    pub project: Project,
}

/// This node.
#[derive(Debug, Serialize, ToSchema)]
pub struct Server {
    #[schema(example = "5f0e1d2c3b4a596877665544")]
    pub id: String,
    /// The host's name.
    pub name: String,
    /// Always `active` while it answers.
    #[schema(example = "active")]
    pub status: String,
    pub version: String,
    /// Bytes of the snapshot store's packs.
    pub store_bytes: u64,
    /// The data directory's filesystem.
    pub disk_total_bytes: u64,
    pub disk_free_bytes: u64,
    /// Whether containers can run here (bubblewrap installed).
    pub can_run_containers: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerList {
    pub servers: Vec<Server>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ServerData {
    pub server: Server,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// A new token: `token` is shown once, only here.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenCreated {
    #[schema(example = "hdy_0123456789abcdefghijABCDEFGHIJ0123456789")]
    pub token: String,
    pub info: TokenInfo,
}

envelope_schema!(
    ImageListResponse,
    ImageList,
    "Images retrieved successfully"
);
envelope_schema!(ImageResponse, ImageData, "Image imported successfully");
envelope_schema!(
    ProjectListResponse,
    ProjectList,
    "Projects retrieved successfully"
);
envelope_schema!(ProjectResponse, ProjectData, "Project created successfully");
envelope_schema!(
    ServerListResponse,
    ServerList,
    "Servers retrieved successfully"
);
envelope_schema!(ServerResponse, ServerData, "Server retrieved successfully");
envelope_schema!(
    TokenListResponse,
    TokenList,
    "Tokens retrieved successfully"
);
envelope_schema!(
    TokenCreatedResponse,
    TokenCreated,
    "Token created successfully"
);

/// Lists the images containers can be created from.
#[utoipa::path(
    get,
    path = "/api/v1/images",
    tag = "Images",
    responses(
        (status = 200, description = "The images", body = ImageListResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list_images(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    let images = state.service.list_images().await?;
    Ok(Envelope::ok("Images retrieved successfully", ImageList { images }).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// The new image's name: 1 to 64 of `a-z 0-9 . _ -`.
    #[param(example = "debian-bookworm")]
    pub name: String,
}

/// Imports a root filesystem tar stream (for example `docker export`) as an image. Entries
/// that would escape the root (`..`, absolute paths, links out) are refused before anything
/// is written.
#[utoipa::path(
    post,
    path = "/api/v1/images",
    tag = "Images",
    params(ImportQuery),
    request_body(content = Vec<u8>, content_type = "application/x-tar", description = "A tar stream of a root filesystem"),
    responses(
        (status = 200, description = "Imported", body = ImageResponse),
        (status = 400, description = "Bad name, or a hostile or malformed tar", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, description = "Larger than the image size limit", body = ErrorBody),
        (status = 507, description = "Not enough free disk space", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn import_image(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ImportQuery>,
    body: Body,
) -> Result<Response, ApiError> {
    let stream = body
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other));
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let image = state
        .service
        .import_image(&caller, &q.name, Box::new(reader))
        .await?;
    Ok(Envelope::ok("Image imported successfully", ImageData { image }).into_response())
}

/// Lists the projects your token sees.
#[utoipa::path(
    get,
    path = "/api/v1/projects",
    tag = "Projects",
    responses(
        (status = 200, description = "The projects", body = ProjectListResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let projects = state.service.list_projects(&caller).await?;
    Ok(Envelope::ok("Projects retrieved successfully", ProjectList { projects }).into_response())
}

/// Body of `POST /api/v1/projects`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "staging"}))]
pub struct CreateProject {
    #[schema(example = "staging")]
    pub name: String,
}

/// Creates a project (admin tokens only).
#[utoipa::path(
    post,
    path = "/api/v1/projects",
    tag = "Projects",
    request_body = CreateProject,
    responses(
        (status = 200, description = "Created", body = ProjectResponse),
        (status = 400, description = "Bad name, unknown field or bad JSON", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateProject>,
) -> Result<Response, ApiError> {
    let project = state.service.create_project(&caller, &body.name).await?;
    Ok(Envelope::ok("Project created successfully", ProjectData { project }).into_response())
}

/// Bytes of the regular files below `dir` (symlinks are not followed).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .filter_map(|e| Some((e.path(), e.file_type().ok()?, e.metadata().ok()?)))
        .map(|(path, ty, md)| {
            if ty.is_dir() {
                dir_bytes(&path)
            } else if ty.is_file() {
                md.len()
            } else {
                0
            }
        })
        .sum()
}

async fn this_server(state: &AppState) -> Result<Server, ApiError> {
    let data = state.service.data_dir().to_path_buf();
    let store = data.join("store");
    let store_bytes = tokio::task::spawn_blocking(move || dir_bytes(&store))
        .await
        .unwrap_or(0);
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into());
    Ok(Server {
        id: state.service.server_id().to_string(),
        name,
        status: "active".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        store_bytes,
        disk_total_bytes: fs4::total_space(&data).unwrap_or(0),
        disk_free_bytes: fs4::available_space(&data).unwrap_or(0),
        can_run_containers: state.service.can_run_containers(),
    })
}

/// Lists the servers (this node).
#[utoipa::path(
    get,
    path = "/api/v1/servers",
    tag = "Servers",
    responses(
        (status = 200, description = "The servers", body = ServerListResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list_servers(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Response, ApiError> {
    let servers = vec![this_server(&state).await?];
    Ok(Envelope::ok("Servers retrieved successfully", ServerList { servers }).into_response())
}

/// One server: status and storage.
#[utoipa::path(
    get,
    path = "/api/v1/servers/{server_id}",
    tag = "Servers",
    params(("server_id" = String, Path, description = "The server's id")),
    responses(
        (status = 200, description = "The server", body = ServerResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn get_server(
    State(state): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if id != state.service.server_id() {
        return Err(ApiError::NotFound(format!(
            "no server with id {id}; GET /api/v1/servers lists them"
        )));
    }
    let server = this_server(&state).await?;
    Ok(Envelope::ok("Server retrieved successfully", ServerData { server }).into_response())
}

/// Lists tokens: every token for an admin, your own otherwise. Tokens themselves are never
/// shown again after creation.
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "Tokens",
    responses(
        (status = 200, description = "The tokens", body = TokenListResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let tokens = crate::service::auth::list_tokens(state.service.db())
        .await?
        .into_iter()
        .filter(|t| caller.admin || t.id == caller.token_id)
        .collect();
    Ok(Envelope::ok("Tokens retrieved successfully", TokenList { tokens }).into_response())
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "ci", "project_ids": ["67e89abc123def456789abcd"]}))]
pub struct CreateToken {
    #[schema(example = "ci")]
    pub name: String,
    /// The projects it sees (ids or names).
    #[serde(default)]
    pub project_ids: Vec<String>,
    /// An admin token sees every project.
    #[serde(default)]
    pub admin: bool,
}

/// Creates a token (admin tokens only). The token is in the response, once.
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "Tokens",
    request_body = CreateToken,
    responses(
        (status = 200, description = "Created", body = TokenCreatedResponse),
        (status = 400, description = "Bad name or no project", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn create_token(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<CreateToken>,
) -> Result<Response, ApiError> {
    if !caller.admin {
        return Err(ApiError::Forbidden(
            "only an admin token can create tokens".into(),
        ));
    }
    let mut projects = Vec::new();
    for p in &body.project_ids {
        projects.push(state.service.project(&caller, p).await?.id);
    }
    let (token, info) =
        crate::service::auth::create_token(state.service.db(), &body.name, body.admin, &projects)
            .await?;
    Ok(Envelope::ok("Token created successfully", TokenCreated { token, info }).into_response())
}

/// Revokes a token (an admin's, or your own).
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{token_id}",
    tag = "Tokens",
    params(("token_id" = String, Path, description = "The token's id (not the token)")),
    responses(
        (status = 200, description = "Revoked", body = super::containers::EmptyResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    if !caller.admin && id != caller.token_id {
        return Err(ApiError::NotFound(format!("no live token has id {id:?}")));
    }
    crate::service::auth::revoke_token(state.service.db(), &id).await?;
    Ok(Envelope::ok("Token revoked successfully", super::containers::Empty {}).into_response())
}

/// A stream of what happens in your projects (Server-Sent Events): `snapshot.created`,
/// `snapshot.restored`, `snapshot.deleted`, `snapshot.expired`, `container.created`,
/// `container.started`, `container.stopped`, `container.copied`, `container.deleted`,
/// `image.imported` and `progress`. Each event's `data` is a JSON [`Event`].
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "Events",
    responses(
        (status = 200, description = "An endless text/event-stream; each event's data is an Event", content_type = "text/event-stream", body = crate::service::events::Event),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn events(State(state): State<AppState>, caller: Caller) -> impl IntoResponse {
    let rx = state.service.events().subscribe();
    let stream = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |e| {
        let out = match e {
            Ok(e) if e.project_id.is_empty() || caller.sees(&e.project_id) => Some(
                SseEvent::default()
                    .id(e.id.to_string())
                    .event(e.kind.clone())
                    .json_data(&e)
                    .unwrap_or_default(),
            ),
            Ok(_) => None,
            // Fell behind: say so, the client reloads its lists.
            Err(_) => Some(SseEvent::default().event("lagged").data("{}")),
        };
        std::future::ready(out.map(Ok::<_, Infallible>))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
