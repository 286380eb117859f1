//! Downloads with the same headers on every front end that serves them: a file of a snapshot
//! (REST's `files/content` and the dashboard's `/download`) and a snapshot's tar export
//! (REST's `export` and the dashboard's `/export`).

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

/// A 200 streaming a snapshot's tar archive as it is made, saved as `file_name` (see
/// [`service::export::export_file_name`]). No length: the archive's size is known only at
/// its end, so the body is chunked, and an error in `stream` aborts it (the client sees a
/// failed transfer, never a short archive that looks complete).
pub fn tar_download<S>(file_name: &str, stream: S) -> Response
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: Into<Bytes>,
    S::Error: Into<axum::BoxError>,
{
    (
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
