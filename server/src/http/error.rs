//! REST errors: a service error answered with its kind's status (from [`super::status`]) in
//! the vendor's envelope, `{"statusCode": 404, "message": "...", "error": "Not Found"}`.
//! Where the service hints at a next step, the REST answer names its route.

use axum::Json;
use axum::response::{IntoResponse, Response};
use service::ServiceError;
use types::ErrorKind;

pub use types::ErrorBody;

/// An error answered by the REST API: a [`ServiceError`], or one the HTTP edge found itself
/// (a malformed body, an unknown route).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ApiError(pub ServiceError);

macro_rules! constructors {
    ($($name:ident),* $(,)?) => {
        impl ApiError {
            $(
                #[doc = concat!("A `", stringify!($name), "` error with `message`.")]
                pub fn $name(message: impl Into<String>) -> Self {
                    ApiError(ServiceError::$name(message))
                }
            )*
        }
    };
}

constructors!(
    bad_request,
    unauthorized,
    forbidden,
    not_found,
    conflict,
    payload_too_large,
    too_many_requests,
    insufficient_storage,
    unavailable,
    damaged,
);

impl ApiError {
    /// `MethodNotAllowed` with `message`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError(ServiceError::new(ErrorKind::MethodNotAllowed, message))
    }

    /// `Transport` with `message`: a server this one relays to could not be reached (502).
    pub fn transport(message: impl Into<String>) -> Self {
        ApiError(ServiceError::new(ErrorKind::Transport, message))
    }

    /// A fault on our side; the cause goes to the log only.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        ApiError(ServiceError::internal(cause))
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError(e.into())
    }
}

impl From<engine::EngineError> for ApiError {
    fn from(e: engine::EngineError) -> Self {
        ApiError(e.into())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError(e.into())
    }
}

/// The sentence a REST client reads: internal details never leave the server.
pub fn public_message(e: &ServiceError) -> String {
    match e.kind {
        ErrorKind::Internal => {
            // The cause chain goes to the log; the client gets a sentence without internals.
            tracing::error!(error = %e.message, "internal error");
            "Something went wrong on the server; the details are in its log.".to_string()
        }
        _ => e.message.clone(),
    }
}

impl ApiError {
    /// The error answer's body (also one item's error in a list answer) and its status.
    pub fn body(&self) -> (axum::http::StatusCode, ErrorBody) {
        let status = super::status::status_of(self.0.kind);
        let mut message = public_message(&self.0);
        if let Some(h) = &self.0.hint {
            message.push_str(&h.rest_words());
        }
        let body = ErrorBody {
            status_code: status.as_u16(),
            message,
            error: status.canonical_reason().unwrap_or("Error").to_string(),
            hint: self.0.hint.clone(),
        };
        (status, body)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        (status, Json(body)).into_response()
    }
}
