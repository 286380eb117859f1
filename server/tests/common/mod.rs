//! Helpers shared by the server's integration tests.
#![allow(dead_code)]

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The whole app over a fresh SQLite file in `dir`, without a socket.
pub async fn app_in(dir: &Path) -> (Router, sqlx::SqlitePool) {
    let pool = snapline_server::db::connect(&snapline_server::db::default_url(dir))
        .await
        .unwrap();
    let options = snapline_server::serve::leptos_options(
        &dir.join("site"),
        "127.0.0.1:3000".parse().unwrap(),
    );
    let state = snapline_server::AppState::build(
        options,
        pool.clone(),
        dir.to_path_buf(),
        Default::default(),
    )
    .await
    .unwrap();
    (snapline_server::app(state), pool)
}

/// Sends one request and returns the response with its body read.
pub async fn send(app: &Router, req: Request<Body>) -> (Response<()>, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (Response::from_parts(parts, ()), bytes)
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}
