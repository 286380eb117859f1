//! The one place where errors become HTTP status codes and the vendor's error envelope:
//! `{"statusCode": 404, "message": "...", "error": "Not Found"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An error answered by the REST API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("{0}")]
    Forbidden(String),
    /// A host facility is missing (bubblewrap, say): the message says how to install it.
    #[error("{0}")]
    Unavailable(String),
    /// Stored data failed its checks; the message names what is damaged.
    #[error("{0}")]
    Damaged(String),
    /// A fault on our side. The detail goes to the log, not to the client.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Damaged(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<engine::EngineError> for ApiError {
    fn from(e: engine::EngineError) -> Self {
        use engine::EngineError as E;
        if e.is_out_of_space() {
            return ApiError::InsufficientStorage(e.classify("working").to_string());
        }
        match e {
            E::NoSuchRoot(c) => ApiError::Conflict(format!(
                "container {c} has no live filesystem (it was deleted); copy one of its \
                 snapshots into a new container instead"
            )),
            E::NoSuchSnapshot { container, name } => ApiError::NotFound(format!(
                "container {container} has no snapshot named {name:?} (it may have expired or \
                 been deleted); list them with GET /api/v1/containers/{container}/snapshots"
            )),
            e @ E::NoSuchPath { .. } => ApiError::NotFound(e.to_string()),
            e @ (E::AmbiguousAlias { .. } | E::Busy(_) | E::RootExists(_)) => {
                ApiError::Conflict(e.to_string())
            }
            e @ E::NoSpace(_) => ApiError::InsufficientStorage(e.to_string()),
            E::Invalid(m) => ApiError::BadRequest(m),
            E::Store(engine::store::StoreError::Damaged(d)) => ApiError::Damaged(format!(
                "stored data is damaged, nothing was changed: {d}. Run a verify to see which \
                 snapshots are affected"
            )),
            E::Store(engine::store::StoreError::Missing(id)) => ApiError::Damaged(format!(
                "object {id} is missing from the store, nothing was changed. Run a verify to \
                 see which snapshots are affected"
            )),
            other => ApiError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// The error envelope, also used as the OpenAPI schema of every error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Equal to the HTTP status.
    #[serde(rename = "statusCode")]
    #[schema(example = 404)]
    pub status_code: u16,
    /// What is wrong, in a sentence a user can act on.
    #[schema(example = "No container with id 890abcdef12345678901cdef exists in your projects.")]
    pub message: String,
    /// The status's reason phrase.
    #[schema(example = "Not Found")]
    pub error: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = match &self {
            ApiError::Internal(e) => {
                // The cause chain goes to the log; the client gets a sentence without internals.
                tracing::error!(error = %format!("{e:#}"), "internal error");
                "Something went wrong on the server; the details are in its log.".to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            status_code: status.as_u16(),
            message,
            error: status.canonical_reason().unwrap_or("Error").to_string(),
        };
        (status, Json(body)).into_response()
    }
}
