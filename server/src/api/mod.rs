//! The REST API under `/api/v1`, in the vendor's envelope.

pub mod error;
mod system;

use axum::Router;
use axum::http::Uri;
use axum::routing::{any, get};
use serde::Serialize;
use utoipa::OpenApi;

pub use error::{ApiError, ErrorBody};

use crate::AppState;

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

/// The OpenAPI document, generated from the handlers' annotations.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Snapline API",
        description = "Time travel for containers: snapshot, restore, copy and expire container \
                       filesystems. Compatible with the Hoody snapshots API.",
    ),
    paths(system::health, system::openapi_json),
    components(schemas(ErrorBody)),
    tags((name = "System", description = "Health and the API description itself")),
)]
pub struct ApiDoc;

/// The `/api` routes. Anything unmatched under `/api` answers in JSON, never HTML.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/health", get(system::health))
        .route("/openapi.json", get(system::openapi_json))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    Router::new()
        .nest("/api/v1", v1)
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!(
        "There is no API route at {}; see /api/v1/openapi.json for the routes that exist.",
        uri.path()
    ))
}

async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!(
        "{method} is not allowed on {}; see /api/v1/openapi.json for the methods it accepts.",
        uri.path()
    ))
}

/// Now, as the API writes timestamps: UTC, RFC 3339, milliseconds, `Z`.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
