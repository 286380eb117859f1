//! `/api` of a proxy node (`snapline serve --upstream URL`): every request under `/api/v1` is
//! sent on to the configured upstream, and its answer streamed back, so the CLI, scripts and
//! the interactive API docs work through the proxy exactly as against the upstream itself.
//!
//! Only the configured upstream is ever contacted: the request contributes a path (which must
//! stay under `/api/v1`) and a query, never a host. Paths that could climb out of `/api/v1`
//! once someone decodes or normalises them are refused rather than cleaned up. Only the
//! headers the API uses cross in either direction: the bearer token does, this node's session
//! cookie and hop-by-hop headers do not.

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::http::ApiError;
use crate::proxy::Upstream;

/// Request headers sent on. `Accept-Encoding` is not: the answer is re-compressed for the
/// client by this node's own compression layer, so the upstream sends it plain.
const REQUEST_HEADERS: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::ACCEPT,
    HeaderName::from_static("last-event-id"),
];

/// Answer headers sent back. `Location` is not: it would name the upstream's host.
const RESPONSE_HEADERS: [HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_DISPOSITION,
    header::CACHE_CONTROL,
    header::RETRY_AFTER,
    header::WWW_AUTHENTICATE,
];

/// Where `/api` requests go, and the client that takes them there.
#[derive(Clone)]
pub struct Forwarder {
    upstream: Upstream,
    http: reqwest::Client,
}

impl Forwarder {
    /// `http` should be the proxy's shared client: no redirects, short connect timeout.
    pub fn new(upstream: Upstream, http: reqwest::Client) -> Self {
        Forwarder { upstream, http }
    }
}

/// The `/api` routes of a proxy node.
pub fn router(forwarder: Forwarder) -> Router {
    Router::new()
        .route("/api", any(forward))
        .route("/api/{*rest}", any(forward))
        .with_state(forwarder)
}

/// Why a path is not sent on, or `None` when it may be (the same rule as the API docs' Run
/// widget: [`app::model::api_path_problem`]).
pub fn refused_path(path: &str) -> Option<String> {
    if path != "/api/v1" && !path.starts_with("/api/v1/") {
        // Answered like any server's unknown route (404).
        return Some(format!(
            "There is no API route at {path}; see /api/v1/openapi.json for the routes that exist."
        ));
    }
    app::model::api_path_problem(path)
}

fn copy_headers(from: &HeaderMap, names: &[HeaderName], mut to: impl FnMut(&HeaderName, &[u8])) {
    for name in names {
        for value in from.get_all(name) {
            to(name, value.as_bytes());
        }
    }
}

async fn forward(State(f): State<Forwarder>, req: Request) -> Response {
    let path = req.uri().path();
    if let Some(why) = refused_path(path) {
        let err = if path.starts_with("/api/v1") {
            ApiError::bad_request(why)
        } else {
            ApiError::not_found(why)
        };
        return err.into_response();
    }
    match send(f.upstream.as_str(), &f.http, req, &[]).await {
        Ok(r) => r,
        Err(Unsent::BadUrl(r)) => r,
        Err(Unsent::Unreachable(e)) => bad_gateway(&f.upstream, &e),
    }
}

/// Why [`send`] got no answer.
pub enum Unsent {
    /// The path and query make no valid URL under the base: the answer to give.
    BadUrl(Response),
    /// The other server could not be reached.
    Unreachable(reqwest::Error),
}

/// Sends `req` (whose path the caller checked: under `/api/v1`) to the server at `base`
/// (validated, no query or fragment) with the API's headers and `extra` ones, and streams
/// its answer back.
pub async fn send(
    base: &str,
    http: &reqwest::Client,
    req: Request,
    extra: &[(HeaderName, axum::http::HeaderValue)],
) -> Result<Response, Unsent> {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path();
    // The base is validated and the path starts with `/api/v1/`: the result can only name
    // a resource of that server's API.
    let mut target = format!("{base}{path}");
    if let Some(q) = parts.uri.query() {
        target.push('?');
        target.push_str(q);
    }
    let url = reqwest::Url::parse(&target).map_err(|e| {
        Unsent::BadUrl(
            ApiError::bad_request(format!("The URL {path} is not valid: {e}")).into_response(),
        )
    })?;
    let mut out = http
        .request(parts.method.clone(), url)
        .header(header::ACCEPT_ENCODING, "identity");
    let mut headers = reqwest::header::HeaderMap::new();
    copy_headers(&parts.headers, &REQUEST_HEADERS, |name, value| {
        if let Ok(v) = reqwest::header::HeaderValue::from_bytes(value) {
            headers.append(name.clone(), v);
        }
    });
    for (name, value) in extra {
        if let Ok(v) = reqwest::header::HeaderValue::from_bytes(value.as_bytes()) {
            headers.insert(name.clone(), v);
        }
    }
    out = out.headers(headers);
    // A body is sent on as it arrives (image tars are gigabytes); requests that announce
    // none get none, so a GET stays a plain GET there.
    let has_body = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .is_some_and(|v| v.as_bytes() != b"0")
        || parts.headers.contains_key(header::TRANSFER_ENCODING);
    if has_body {
        out = out.body(reqwest::Body::wrap_stream(body.into_data_stream()));
    }
    // No total timeout: event streams are endless and downloads and imports long. The
    // client's connect timeout still catches a server that is down.
    let resp = out.send().await.map_err(Unsent::Unreachable)?;
    let mut answer = Response::builder().status(resp.status());
    if let Some(h) = answer.headers_mut() {
        copy_headers(resp.headers(), &RESPONSE_HEADERS, |name, value| {
            if let Ok(v) = axum::http::HeaderValue::from_bytes(value) {
                h.append(name.clone(), v);
            }
        });
    }
    Ok(answer
        .body(Body::from_stream(resp.bytes_stream()))
        .unwrap_or_else(|e| {
            ApiError::internal(anyhow::anyhow!("cannot build the forwarded answer: {e}"))
                .into_response()
        }))
}

/// 502 in the API's error envelope: the upstream could not be reached.
fn bad_gateway(upstream: &Upstream, e: &reqwest::Error) -> Response {
    let why = crate::proxy::causes(e);
    tracing::warn!(%upstream, error = %why, "the upstream could not be reached");
    ApiError::transport(format!(
        "The Snapline server at {upstream} could not be reached: {why}"
    ))
    .into_response()
}
