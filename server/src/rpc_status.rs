//! Server functions answer every error with status 500 (Leptos does not know our error
//! kinds), so a script calling `/rpc/...` could not tell a typo from a crash. This layer
//! gives each error its status from its kind: the body is the encoded [`app::AppError`]
//! (`{"NotFound": "..."}`), which stays exactly as it is. The browser's server-function client
//! decodes any 4xx or 5xx the same way, and form posts (redirects) are untouched.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

/// Largest error body read to find its kind; a bigger one is passed on as it is.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// The status an error kind stands for.
pub fn status_of(kind: &str) -> Option<StatusCode> {
    Some(match kind {
        "BadRequest" => StatusCode::BAD_REQUEST,
        "Unauthorized" => StatusCode::UNAUTHORIZED,
        "NotFound" => StatusCode::NOT_FOUND,
        "Conflict" => StatusCode::CONFLICT,
        "OutOfDisk" => StatusCode::INSUFFICIENT_STORAGE,
        "Transport" => StatusCode::BAD_GATEWAY,
        "Internal" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => return None,
    })
}

/// Middleware for the dashboard's routes: maps `/rpc/*` 500 answers to their kind's status.
pub async fn error_status(req: Request<Body>, next: Next) -> Response {
    let rpc = req.uri().path().starts_with("/rpc/");
    let res = next.run(req).await;
    if !rpc || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, ERROR_BODY_LIMIT).await else {
        // Unreadable or too large: not one of our error bodies.
        return Response::from_parts(parts, Body::empty());
    };
    let kind = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()));
    if let Some(status) = kind.as_deref().and_then(status_of) {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_kind_has_a_status() {
        let kinds = [
            app::AppError::BadRequest(String::new()),
            app::AppError::Unauthorized(String::new()),
            app::AppError::NotFound(String::new()),
            app::AppError::Conflict(String::new()),
            app::AppError::OutOfDisk(String::new()),
            app::AppError::Internal(String::new()),
            app::AppError::Transport(String::new()),
        ];
        for e in kinds {
            let v = serde_json::to_value(&e).unwrap();
            let kind = v.as_object().unwrap().keys().next().unwrap().clone();
            assert!(status_of(&kind).is_some(), "{kind}");
        }
        assert_eq!(status_of("NotFound"), Some(StatusCode::NOT_FOUND));
        assert_eq!(status_of("Other"), None);
    }
}
