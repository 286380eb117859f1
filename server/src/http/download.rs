//! A file of a snapshot as a download, with the same headers on every front end that serves
//! one (REST's `files/content` and the dashboard's `/download`).

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// A 200 with `stream`'s `size` bytes, saved as the last part of `path`
/// ([`service::snapshots::download_name`]). The type is always `application/octet-stream`
/// and `nosniff` forbids the browser to guess another: a snapshot holds whatever its
/// container wrote, and an HTML file a browser rendered from our origin would run as us.
pub fn file_download<S>(path: &str, size: u64, stream: S) -> Response
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: Into<Bytes>,
    S::Error: Into<axum::BoxError>,
{
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}\"",
                    service::snapshots::download_name(path)
                ),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
