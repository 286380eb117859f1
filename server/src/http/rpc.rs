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

/// Middleware for the dashboard's routes: maps `/rpc/*` 500 answers to their kind's status,
/// and gives a page whose own data failed the status of that error's kind (the page names
/// the kind in [`app::error::PAGE_ERROR_KIND_HEADER`], removed here).
pub async fn error_status(req: Request<Body>, next: Next) -> Response {
    let rpc = req.uri().path().starts_with("/rpc/");
    let mut res = next.run(req).await;
    if let Some(kind) = res.headers_mut().remove(app::error::PAGE_ERROR_KIND_HEADER) {
        let kind = kind
            .to_str()
            .ok()
            .and_then(|k| serde_json::from_value::<types::ErrorKind>(k.into()).ok());
        // Only a page that rendered fine otherwise: a redirect or another error stays.
        if let Some(kind) = kind
            && res.status() == StatusCode::OK
        {
            *res.status_mut() = crate::http::status::status_of(kind);
        }
        return res;
    }
    if !rpc || res.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, ERROR_BODY_LIMIT).await else {
        // Unreadable or too large: not one of our error bodies.
        return Response::from_parts(parts, Body::empty());
    };
    if let Some(status) = serde_json::from_slice::<app::AppError>(&bytes)
        .ok()
        .map(|e| crate::http::status::status_of(e.kind()))
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::post;
    use tower::ServiceExt;

    /// A route that answers like a failing server function: 500 and the encoded error.
    async fn status_for(e: app::AppError) -> StatusCode {
        let body = serde_json::to_string(&e).unwrap();
        let app = axum::Router::new()
            .route(
                "/rpc/x",
                post(move || async move { (StatusCode::INTERNAL_SERVER_ERROR, body) }),
            )
            .layer(axum::middleware::from_fn(error_status));
        let req = Request::post("/rpc/x").body(Body::empty()).unwrap();
        app.oneshot(req).await.unwrap().status()
    }

    #[tokio::test]
    async fn errors_answer_with_their_kinds_status() {
        for kind in types::ErrorKind::ALL {
            let e = app::AppError::new(kind, "why");
            let want = crate::http::status::status_of(kind);
            assert_eq!(status_for(e.clone()).await, want, "{e:?}");
        }
        // The table's figures, for the record: a 503 stays 503, a 403 stays 403.
        let of = |k| crate::http::status::status_of(k).as_u16();
        assert_eq!(of(types::ErrorKind::Unavailable), 503);
        assert_eq!(of(types::ErrorKind::Forbidden), 403);
        assert_eq!(of(types::ErrorKind::TooManyRequests), 429);
    }

    /// REST and `/rpc` answer every error kind with the same status (issue 13: they had
    /// drifted, a REST 503 came back on `/rpc` as 429 and a 403 as 401).
    #[tokio::test]
    async fn rest_and_rpc_give_each_kind_the_same_status() {
        use axum::response::IntoResponse;
        for kind in types::ErrorKind::ALL {
            let rest = crate::http::ApiError(service::ServiceError::new(kind, "why"))
                .into_response()
                .status();
            let rpc = status_for(app::AppError::new(kind, "why")).await;
            assert_eq!(rest, rpc, "{kind:?}");
        }
    }
}
