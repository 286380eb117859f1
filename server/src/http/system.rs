//! Health and the OpenAPI document.

use axum::Json;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use super::{ApiDoc, Envelope};
use types::Health;

/// The health response, spelled out for the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    #[serde(rename = "statusCode")]
    #[schema(example = 200)]
    pub status_code: u16,
    #[schema(example = "ok")]
    pub message: String,
    pub data: Health,
}

/// Is the server up?
///
/// Answers without a token. Load balancers and the CLI use it to wait for a start.
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "System",
    responses((status = 200, description = "The server is up", body = HealthResponse)),
)]
pub async fn health() -> Json<Envelope<Health>> {
    Envelope::ok(
        "ok",
        Health {
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
    )
}

/// The OpenAPI 3.1 description of this API.
///
/// Generated from the code; the dashboard's API docs page is built from it.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "System",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")),
)]
pub async fn openapi_json() -> Json<serde_json::Value> {
    Json(api_document())
}

/// The OpenAPI document as served: the generated one, with the bounds that depend on this
/// server filled in (the CPUs a container may be given are at most this host's), so that
/// every limit the server checks is in the schema the docs page validates against.
pub fn api_document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(cpus) = doc
        .pointer_mut("/components/schemas/ContainerLimits/properties/cpus")
        .and_then(serde_json::Value::as_object_mut)
    {
        cpus.insert("maximum".into(), service::limits::host_cpus().into());
    }
    doc
}
