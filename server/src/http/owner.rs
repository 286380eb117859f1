//! Calls about a container that reach a node other than the one holding its files are
//! forwarded to that node (several nodes on one database and S3 store), so any node answers
//! for the whole cluster. The rules:
//! - A copy (`POST /api/v1/containers/{id}/copy`) that names a `target_server` goes to that
//!   node when it is another, active one; the target builds it from the shared store.
//! - Otherwise, only paths under `/api/v1/containers/{id}` whose container another node holds (its
//!   `node_id`), while that node is active (a heartbeat within 20 s) and has advertised its
//!   URL. The request goes on unchanged (method, path, query, body, bearer token) with the
//!   header [`FORWARDED`], and the answer streams back.
//! - A forwarded request is never forwarded again: the receiving node answers it itself.
//! - Only requests with a valid token are forwarded (the receiving node checks what the
//!   token may do); others are answered here, so nobody without a token learns which node
//!   holds a container or where it is.
//! - An offline owner's containers are answered here: what needs only the database and the
//!   store works (snapshots listed, browsed, verified, copied into a new container here);
//!   what needs the container's files answers 503 naming its server (`Service::lock`).
//! - An owner that is marked active but cannot be connected to (it died moments ago): the
//!   request runs here as for an offline owner, when its body was small enough to keep
//!   (every JSON call); a large streamed body, or an owner that fails mid-answer, gets a 503
//!   that says so.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::ApiError;
use crate::service::Service;

/// Marks a request one node forwarded to another; its value is the sender's node id.
pub const FORWARDED: HeaderName = HeaderName::from_static("x-snapline-forwarded-by");

/// The container id in `/api/v1/containers/{id}[/...]`, if the path is one.
fn container_in_path(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/v1/containers/")?;
    let id = rest.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

/// The middleware: see the module's rules.
pub async fn to_owner(State(svc): State<Service>, req: Request, next: Next) -> Response {
    let Some(id) = container_in_path(req.uri().path()).map(str::to_string) else {
        return next.run(req).await;
    };
    if req.headers().contains_key(&FORWARDED) {
        return next.run(req).await;
    }
    // Only a caller with a valid token learns where a container lives: anyone else is
    // answered here (401), as by a single node.
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if !matches!(
        crate::service::auth::authenticate(svc.db(), token).await,
        Ok(Some(_))
    ) {
        return next.run(req).await;
    }
    // A body of a known, small length (every JSON call) is kept, so that when the node
    // cannot be reached at all (it died moments ago and still looks active) the request
    // runs here instead: reads and copies of its snapshots work at once.
    let small = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .map(|n| n <= REPLAY_LIMIT)
        .unwrap_or(
            !req.headers()
                .contains_key(axum::http::header::TRANSFER_ENCODING),
        );
    let (req, replay, target) = if small {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, REPLAY_LIMIT).await {
            Ok(b) => b,
            Err(e) => {
                return ApiError::bad_request(format!("cannot read the request body: {e}"))
                    .into_response();
            }
        };
        // A copy with a target_server goes to that node, not to the source's; the target
        // checks it (and answers what it cannot do) when it is this node, unknown or away.
        let target = copy_target(&id, &parts.method, parts.uri.path(), &bytes);
        let copy = Request::from_parts(parts.clone(), axum::body::Body::from(bytes.clone()));
        (
            Request::from_parts(parts, axum::body::Body::from(bytes)),
            Some(copy),
            target,
        )
    } else {
        (req, None, None)
    };
    let destination = match target {
        Some(t) if t == svc.server_id() => None,
        Some(t) => match svc.node_address(&t).await {
            Ok(Some((url, true))) if !url.is_empty() => Some((t, url)),
            Ok(_) => None,
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => match svc.owner_elsewhere(&id).await {
            Ok(Some((node, url, true))) if !url.is_empty() => Some((node, url)),
            Ok(_) => None,
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let Some((node, url)) = destination else {
        return next.run(req).await;
    };
    let me = HeaderValue::from_str(svc.server_id()).unwrap_or(HeaderValue::from_static("node"));
    match crate::proxy::forward::send(&url, forward_client(), req, &[(FORWARDED, me)]).await {
        Ok(r) => r,
        Err(crate::proxy::forward::Unsent::BadUrl(r)) => r,
        Err(crate::proxy::forward::Unsent::Unreachable(e))
            if e.is_connect() && replay.is_some() =>
        {
            tracing::warn!(container = %id, %node, %url, "the container's node cannot be reached; answering here");
            match replay {
                Some(r) => next.run(r).await,
                None => unreachable_answer(&id, &node, &url, &e),
            }
        }
        Err(crate::proxy::forward::Unsent::Unreachable(e)) => {
            unreachable_answer(&id, &node, &url, &e)
        }
    }
}

/// The `target_server` of a copy request (`POST /api/v1/containers/{id}/copy` with a
/// JSON body that names one); `None` for anything else, a malformed body included (the
/// handler then says what is wrong with it).
fn copy_target(id: &str, method: &axum::http::Method, path: &str, body: &[u8]) -> Option<String> {
    if method != axum::http::Method::POST || path != format!("/api/v1/containers/{id}/copy") {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Target {
        target_server: Option<String>,
    }
    serde_json::from_slice::<Target>(body).ok()?.target_server
}

/// Largest request body kept for answering here when the container's node cannot be
/// reached (the API's JSON bodies are far smaller).
const REPLAY_LIMIT: usize = 1 << 20;

/// 503: the container's node did not answer.
fn unreachable_answer(id: &str, node: &str, url: &str, e: &reqwest::Error) -> Response {
    let why = crate::proxy::causes(e);
    tracing::warn!(container = %id, %node, %url, error = %why, "the container's node did not answer");
    ApiError::from(crate::service::ServiceError::unavailable(format!(
        "container {id} lives on server {node} at {url}, which did not answer ({why}). If that \
         server is down, it shows as offline within 20 seconds; then copy one of the \
         container's snapshots to a new container on another server"
    )))
    .into_response()
}

/// The client for forwarding: no redirects, a short connect timeout, no total timeout
/// (downloads and event streams are long).
fn forward_client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(std::time::Duration::from_secs(3))
            .build()
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_paths_name_a_container() {
        assert_eq!(
            container_in_path("/api/v1/containers/abc/snapshots"),
            Some("abc")
        );
        assert_eq!(container_in_path("/api/v1/containers/abc"), Some("abc"));
        assert_eq!(container_in_path("/api/v1/containers"), None);
        assert_eq!(container_in_path("/api/v1/containers/"), None);
        assert_eq!(container_in_path("/api/v1/servers"), None);
    }

    #[test]
    fn only_a_copy_names_a_target_server() {
        let post = axum::http::Method::POST;
        let path = "/api/v1/containers/abc/copy";
        let body = br#"{"target_project_id":"p","name":"n","target_server":"0123"}"#;
        assert_eq!(
            copy_target("abc", &post, path, body).as_deref(),
            Some("0123")
        );
        assert_eq!(copy_target("abc", &post, path, br#"{"name":"n"}"#), None);
        assert_eq!(copy_target("abc", &post, path, b"not json"), None);
        assert_eq!(
            copy_target("abc", &axum::http::Method::GET, path, body),
            None
        );
        let restore = "/api/v1/containers/abc/snapshots/s";
        assert_eq!(copy_target("abc", &post, restore, body), None);
    }
}
