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
    without_rustdoc_links(&mut doc);
    if let Some(cpus) = doc
        .pointer_mut("/components/schemas/ContainerLimits/properties/cpus")
        .and_then(serde_json::Value::as_object_mut)
    {
        cpus.insert("maximum".into(), service::limits::host_cpus().into());
    }
    doc
}

/// The doc comments utoipa copies into descriptions keep rustdoc's links to Rust items
/// (``[`Hint::rest_words`]``), which mean nothing to an API reader: each becomes its code
/// text (`` `Hint::rest_words` ``). A Markdown link with a target (`[text](url)`) stays.
fn without_rustdoc_links(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, x) in map.iter_mut() {
                match x {
                    serde_json::Value::String(text) if k == "description" || k == "summary" => {
                        *text = plain_item_links(text);
                    }
                    other => without_rustdoc_links(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(without_rustdoc_links),
        _ => {}
    }
}

/// ``[`X`]`` → `` `X` `` unless a `(` or `[` follows (then it is a real link).
fn plain_item_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("[`") {
        let Some(len) = rest[start + 2..].find("`]") else {
            break;
        };
        let end = start + 2 + len + 2;
        let linked = rest[end..].starts_with('(') || rest[end..].starts_with('[');
        out.push_str(&rest[..start]);
        if linked {
            out.push_str(&rest[start..end]);
        } else {
            out.push_str(&rest[start + 1..end - 1]);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::plain_item_links;

    #[test]
    fn rustdoc_item_links_become_code() {
        assert_eq!(
            plain_item_links("appends [`Hint::rest_words`] to it; a [`Event`]."),
            "appends `Hint::rest_words` to it; a `Event`."
        );
        assert_eq!(
            plain_item_links("see [`x`](https://e/x) and [`y`][y]"),
            "see [`x`](https://e/x) and [`y`][y]"
        );
        assert_eq!(plain_item_links("no links [here"), "no links [here");
    }
}
