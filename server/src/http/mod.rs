//! The HTTP edge: the REST API under `/api/v1` in the vendor's envelope, and the status of
//! `/rpc` (server function) errors. Every handler is a thin adapter over one service call.
//!
//! - one module per resource, each with its own `router()`, merged in [`router`]:
//!   [`snapshots`], [`containers`] (with the schedule routes; [`retention`] holds the keep
//!   policy's preview handler), [`resources`] and [`system`] (health, the document);
//! - [`auth`]: the `Caller` extractor ([`auth::Authed`]);
//! - [`body`]: strict JSON bodies and queries;
//! - [`download`]: a snapshot's file, or its tar export, as a download (REST and the
//!   dashboard);
//! - [`export`]: a snapshot as a tar stream;
//! - [`error`]: service errors as REST answers;
//! - [`status`]: the ONLY table from error kinds to HTTP statuses (REST and `/rpc` both);
//! - [`rpc`]: `/rpc` errors answered with their kind's status.

pub mod auth;
pub mod body;
pub mod containers;
pub mod download;
pub mod error;
mod export;
pub mod owner;
pub mod resources;
pub mod retention;
pub mod rpc;
pub mod snapshots;
pub mod status;
pub mod system;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::routing::{any, get};
use serde::Serialize;
use utoipa::OpenApi;

pub use containers::copied;
pub use error::{ApiError, ErrorBody};

use service::Service;

/// The success envelope: `{"statusCode": 200, "message": "...", "data": {...}}`.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    #[serde(rename = "statusCode")]
    pub status_code: u16,
    pub message: String,
    pub data: T,
}

impl<T: Serialize> Envelope<T> {
    /// A 200 answer.
    pub fn ok(message: impl Into<String>, data: T) -> axum::Json<Self> {
        axum::Json(Envelope {
            status_code: 200,
            message: message.into(),
            data,
        })
    }
}

/// Declares the OpenAPI schema of a success envelope around `$data`.
macro_rules! envelope_schema {
    ($name:ident, $data:ty, $message:literal) => {
        #[derive(Debug, utoipa::ToSchema)]
        #[allow(dead_code)]
        pub struct $name {
            /// Equal to the HTTP status.
            #[schema(rename = "statusCode", example = 200)]
            pub status_code: u16,
            #[schema(example = $message)]
            pub message: String,
            pub data: $data,
        }
    };
}
pub(crate) use envelope_schema;

/// Adds the bearer-token security scheme to the document.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                utoipa::openapi::security::HttpBuilder::from(Http::new(HttpAuthScheme::Bearer))
                    .bearer_format("hdy_...")
                    .build(),
            ),
        );
        // Every route behind a token can also be rate limited.
        for item in openapi.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                if op.security.is_some() {
                    op.responses
                        .responses
                        .entry("429".into())
                        .or_insert_with(|| {
                            utoipa::openapi::ResponseBuilder::new()
                                .description("Too many requests with this token")
                                .content(
                                    "application/json",
                                    utoipa::openapi::ContentBuilder::new()
                                        .schema(Some(utoipa::openapi::Ref::from_schema_name(
                                            "ErrorBody",
                                        )))
                                        .build(),
                                )
                                .into()
                        });
                }
            }
        }
    }
}

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Snapline API",
        description = "Time travel for containers: snapshot, restore, copy and expire container \
                       filesystems. Compatible with the Hoody snapshots API. Every route except \
                       health and this document needs `Authorization: Bearer hdy_...`.",
    ),
    modifiers(&BearerAuth),
    paths(
        system::health,
        system::openapi_json,
        snapshots::create,
        snapshots::list,
        snapshots::get,
        snapshots::restore,
        snapshots::delete,
        snapshots::update,
        snapshots::diff,
        snapshots::files,
        snapshots::file_content,
        snapshots::verify,
        export::export,
        containers::list,
        containers::create,
        containers::get,
        containers::delete,
        containers::start,
        containers::stop,
        containers::pause,
        containers::resume,
        containers::exec,
        containers::copy,
        containers::get_schedule,
        containers::put_schedule,
        containers::delete_schedule,
        retention::preview,
        resources::list_images,
        resources::create_image,
        resources::delete_image,
        resources::delete_project,
        resources::list_projects,
        resources::create_project,
        resources::list_servers,
        resources::get_server,
        resources::list_tokens,
        resources::create_token,
        resources::revoke_token,
        resources::events,
    ),
    components(schemas(ErrorBody)),
    tags(
        (name = "Snapshots", description = "Capture, list, restore and delete snapshots; diff, browse, download, export and verify them"),
        (name = "Containers", description = "Create, run, stop, exec into, copy and delete containers"),
        (name = "Images", description = "Root filesystems containers start from"),
        (name = "Projects", description = "Groups of containers; tokens see projects"),
        (name = "Servers", description = "The nodes and their storage"),
        (name = "Tokens", description = "API tokens (shown once, stored hashed)"),
        (name = "Schedules", description = "Automatic snapshots per container, and how many of them to keep"),
        (name = "Events", description = "A live stream of what happens"),
        (name = "System", description = "Health and the API description itself"),
    ),
)]
pub struct ApiDoc;

/// The `/api` routes: each resource's `router()` merged under `/api/v1`, over one service.
/// Anything unmatched under `/api` answers in JSON, never HTML.
pub fn router(service: Service) -> Router {
    let forwarding = service.clone();
    let v1 = Router::new()
        .route("/health", get(system::health))
        .route("/openapi.json", get(system::openapi_json))
        .merge(containers::router())
        .merge(snapshots::router())
        .merge(export::router())
        .layer(DefaultBodyLimit::max(body::MAX_JSON_BODY))
        .merge(resources::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(service);
    Router::new()
        .nest("/api/v1", v1)
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .layer(axum::middleware::from_fn_with_state(
            forwarding,
            owner::to_owner,
        ))
        .layer(axum::middleware::from_fn(close_after_refused_upload))
}

/// Refusals of a request with a body (an upload refused after its first block, say) close
/// the connection. The server does not read the rest of a refused body, so it cannot keep the
/// connection; without `Connection: close` a client may send its next request on that
/// connection as it closes, and see it fail with no answer (seen with reqwest under load).
async fn close_after_refused_upload(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut resp = next.run(req).await;
    if has_body && (resp.status().is_client_error() || resp.status().is_server_error()) {
        resp.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    resp
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "There is no API route at {}; see /api/v1/openapi.json for the routes that exist.",
        uri.path()
    ))
}

async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::method_not_allowed(format!(
        "{method} is not allowed on {}; see /api/v1/openapi.json for the methods it accepts.",
        uri.path()
    ))
}

pub use service::now_rfc3339;
