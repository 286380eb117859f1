//! Images, projects, servers, tokens and the event stream.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use futures_util::StreamExt;
use serde::Deserialize;

use super::auth::Authed;
use super::body::{Json, Path, Query};
use super::{ApiError, Envelope, ErrorBody, envelope_schema};
use service::Service;
use types::{
    CreateProject, CreateToken, ImageData, ImageList, ProjectData, ProjectList, PublishImage,
    ServerData, ServerList, TokenCreated, TokenList,
};

/// The image, project, server, token and event routes, relative to `/api/v1`. Image tars
/// stream through their own size limit, so `/images` alone lifts the JSON body limit.
pub(super) fn router() -> Router<Service> {
    Router::new()
        .route("/projects", get(list_projects).post(create_project))
        .route("/projects/{id}", delete(delete_project))
        .route("/servers", get(list_servers))
        .route("/servers/{id}", get(get_server))
        .route("/tokens", get(list_tokens).post(create_token))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/events", get(events))
        .layer(DefaultBodyLimit::max(super::body::MAX_JSON_BODY))
        .route(
            "/images",
            get(list_images)
                .post(create_image)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/images/{name}", delete(delete_image))
}

envelope_schema!(
    ImageListResponse,
    ImageList,
    "Images retrieved successfully"
);
envelope_schema!(ImageResponse, ImageData, "Image imported successfully");
envelope_schema!(
    ImageDeletedResponse,
    ImageData,
    "Image deleted successfully"
);
envelope_schema!(
    ProjectListResponse,
    ProjectList,
    "Projects retrieved successfully"
);
envelope_schema!(ProjectResponse, ProjectData, "Project created successfully");
envelope_schema!(
    ProjectDeletedResponse,
    ProjectData,
    "Project deleted successfully"
);
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
    State(svc): State<Service>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let images = svc.list_images(&caller).await?;
    Ok(Envelope::ok("Images retrieved successfully", ImageList { images }).into_response())
}

/// A tar archive as a body: bytes, not JSON (OpenAPI `type: string, format: binary`, which
/// code generators read as a byte stream or file).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct TarArchive(#[allow(dead_code)] Vec<u8>);

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Importing a tar: the new image's name (1 to 64 of `a-z 0-9 . _ -`). Publishing a
    /// snapshot: leave it out (the name is in the JSON body).
    #[param(example = "debian-bookworm")]
    pub name: Option<String>,
}

/// Makes an image, two ways. With `?name=`, the body is a root filesystem tar stream (for
/// example `docker export`) to import; entries that would escape the root (`..`, links that
/// point out of it) are refused before anything is written, and a leading `/` is read as the
/// image's root (`/etc/hosts` lands at the image's `/etc/hosts`). Without it, the body is JSON
/// `{"name", "from": {"container_id", "snapshot"}}`: the snapshot is published as an image
/// (as Incus's `publish`) without storing anything new, and containers created from it
/// start exactly as the snapshot.
#[utoipa::path(
    post,
    path = "/api/v1/images",
    tag = "Images",
    // The name it had when it only imported: drafts and links keep working.
    operation_id = "import_image",
    params(ImportQuery),
    request_body(description = "A tar stream to import (with `?name=`), or JSON to publish a snapshot (without it)",
        content(
            (PublishImage = "application/json"),
            (TarArchive = "application/x-tar"),
        )
    ),
    responses(
        (status = 200, description = "Imported or published", body = ImageResponse),
        (status = 400, description = "Bad name, bad JSON, or a hostile or malformed tar", body = ErrorBody),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Importing: not an admin token (imported images are shared); publishing: the token sees no project", body = ErrorBody),
        (status = 404, description = "No such container or snapshot (publishing)", body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 413, description = "Larger than the image size limit", body = ErrorBody),
        (status = 507, description = "Not enough free disk space", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn create_image(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Query(q): Query<ImportQuery>,
    headers: axum::http::HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json = content_type.starts_with("application/json");
    // An archive without a name: say what is missing before reading any of it (curl's
    // `-d` JSON comes as form-urlencoded, so only archive types are told apart).
    let archive = [
        "application/x-tar",
        "application/octet-stream",
        "application/gzip",
    ]
    .iter()
    .any(|t| content_type.starts_with(t));
    if archive && q.name.is_none() {
        return Err(ApiError::bad_request(
            "to import a tar archive, name the image: POST /api/v1/images?name=NAME (to \
             publish a snapshot instead, send JSON {\"name\", \"from\"})",
        ));
    }
    if json && q.name.is_some() {
        return Err(ApiError::bad_request(
            "a JSON body with ?name= is neither: to publish a snapshot, leave out ?name= (the \
             name goes in the body); to import, send a tar stream",
        ));
    }
    let Some(name) = q.name else {
        let body = refuse_unnamed_tar(body).await?;
        let req: PublishImage = super::body::limited_json(body).await?;
        let image = svc.publish_image(&caller, &req).await?;
        return Ok(
            Envelope::ok("Image published successfully", ImageData { image }).into_response(),
        );
    };
    let stream = body
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other));
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(stream));
    let image = svc.import_image(&caller, &name, Box::new(reader)).await?;
    Ok(Envelope::ok("Image imported successfully", ImageData { image }).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteImageQuery {
    /// The project whose image to delete, when projects the token sees each have an image of
    /// that name (published image names are per project). Leave it out otherwise.
    #[param(example = "default")]
    pub project: Option<String>,
}

/// The body as it came, unless it is a tar archive (sent without an archive content type, as
/// `curl -T` sends it): that is refused with what is missing, before more than its first
/// block is read.
async fn refuse_unnamed_tar(body: Body) -> Result<Body, ApiError> {
    // A tar header block is 512 bytes with "ustar" at offset 257 (POSIX and GNU alike).
    const BLOCK: usize = 512;
    let mut stream = body.into_data_stream();
    let mut head: Vec<axum::body::Bytes> = Vec::new();
    let mut len = 0;
    while len < BLOCK {
        match stream.next().await {
            Some(Ok(chunk)) => {
                len += chunk.len();
                head.push(chunk);
            }
            Some(Err(e)) => {
                return Err(ApiError::bad_request(format!("the body was cut off: {e}")));
            }
            None => break,
        }
    }
    let first: Vec<u8> = head
        .iter()
        .flat_map(|c| c.iter().copied())
        .take(BLOCK)
        .collect();
    if first.get(257..262) == Some(b"ustar".as_slice()) {
        return Err(ApiError::bad_request(
            "this is a tar archive: to import it, name the image: POST \
             /api/v1/images?name=NAME (`snapline images import --name NAME FILE`)",
        ));
    }
    let rest = futures_util::stream::iter(head.into_iter().map(Ok::<_, axum::Error>)).chain(stream);
    Ok(Body::from_stream(rest))
}

/// Deletes an image. Containers made from it keep their files: creating a container copies
/// the image. What only the image used is freed by the next GC. A published image can be
/// deleted by any token that sees its project; a shared one (built in or imported) only by an
/// admin token. The built-in `demo` image comes back at the next start.
#[utoipa::path(
    delete,
    path = "/api/v1/images/{name}",
    tag = "Images",
    params(
        ("name" = String, Path, description = "The image's name", example = "dev-template"),
        DeleteImageQuery,
    ),
    responses(
        (status = 200, description = "Deleted; the image as it was", body = ImageDeletedResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "A shared image and a token that is not admin", body = ErrorBody),
        (status = 404, description = "No such image (or one of a project the token does not see)", body = ErrorBody),
        (status = 409, description = "Several projects the token sees have an image of that name: add ?project=", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn delete_image(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(name): Path<String>,
    Query(q): Query<DeleteImageQuery>,
) -> Result<Response, ApiError> {
    let image = svc
        .delete_image(&caller, &name, q.project.as_deref())
        .await?;
    Ok(Envelope::ok("Image deleted successfully", ImageData { image }).into_response())
}

/// Deletes an empty project (admin token). Refused while it holds containers, snapshots of
/// its deleted containers, or images published from it (the message names them), and for
/// the last project. Tokens scoped to it lose it.
#[utoipa::path(
    delete,
    path = "/api/v1/projects/{project_id}",
    tag = "Projects",
    params(("project_id" = String, Path, description = "The project's id or name", example = "staging")),
    responses(
        (status = 200, description = "Deleted; the project as it was", body = ProjectDeletedResponse),
        (status = 401, description = "No or bad token", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "The project still holds something, or is the last one", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn delete_project(
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let project = svc.delete_project(&caller, &id).await?;
    Ok(Envelope::ok("Project deleted successfully", ProjectData { project }).into_response())
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
    State(svc): State<Service>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let projects = svc.list_projects(&caller).await?;
    Ok(Envelope::ok("Projects retrieved successfully", ProjectList { projects }).into_response())
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
    State(svc): State<Service>,
    Authed(caller): Authed,
    Json(body): Json<CreateProject>,
) -> Result<Response, ApiError> {
    let project = svc.create_project(&caller, &body.name).await?;
    Ok(Envelope::ok("Project created successfully", ProjectData { project }).into_response())
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
    State(svc): State<Service>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let servers = svc.list_servers(&caller).await?;
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
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let server = svc.get_server(&caller, &id).await?;
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
    State(svc): State<Service>,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let tokens = svc.list_tokens(&caller).await?;
    Ok(Envelope::ok("Tokens retrieved successfully", TokenList { tokens }).into_response())
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
    State(svc): State<Service>,
    Authed(caller): Authed,
    Json(body): Json<CreateToken>,
) -> Result<Response, ApiError> {
    let created = svc.create_token(&caller, &body).await?;
    Ok(Envelope::ok("Token created successfully", created).into_response())
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
    State(svc): State<Service>,
    Authed(caller): Authed,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    svc.revoke_token(&caller, &id).await?;
    Ok(Envelope::ok("Token revoked successfully", types::Empty {}).into_response())
}

/// A stream of what happens in your projects (Server-Sent Events): `snapshot.created`,
/// `snapshot.restored`, `snapshot.updated`, `snapshot.deleted`, `snapshot.expired`,
/// `container.created`, `container.started`, `container.stopped`, `container.paused`,
/// `container.resumed`, `container.copied`, `container.deleted`, `image.imported`,
/// `image.published`, `image.deleted`, `progress` and `lagged`. Each event's `data` is a JSON
/// [`Event`].
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "Events",
    responses(
        (status = 200, description = "An endless text/event-stream; each event's data is an Event", content_type = "text/event-stream", body = service::events::Event),
        (status = 401, description = "No or bad token", body = ErrorBody),
    ),
    security(("bearer" = [])),
)]
pub async fn events(State(svc): State<Service>, Authed(caller): Authed) -> impl IntoResponse {
    let stream = svc.events_for(caller).map(|e| {
        Ok::<_, Infallible>(match e {
            Some(e) => SseEvent::default()
                .id(e.id.to_string())
                .event(e.kind.as_str())
                .json_data(&e)
                .unwrap_or_default(),
            // Fell behind: say so, the client reloads its lists.
            None => SseEvent::default().event("lagged").data("{}"),
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
