//! The error type every server function returns.
//!
//! It crosses the wire as JSON with its variant intact, so the browser can say "not found" or
//! "an operation is already running" in words instead of showing a flattened string.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// What went wrong, by kind, with a sentence the user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// The input was refused; the message says what to change.
    #[error("{0}")]
    BadRequest(String),
    /// Not signed in, or the session expired.
    #[error("{0}")]
    Unauthorized(String),
    /// The object does not exist, or the user cannot see it.
    #[error("{0}")]
    NotFound(String),
    /// Another operation holds the object, or the name is taken.
    #[error("{0}")]
    Conflict(String),
    /// The data directory has no room left.
    #[error("{0}")]
    OutOfDisk(String),
    /// Too many requests with this token, or the server is busy: retry in a moment.
    #[error("{0}")]
    Busy(String),
    /// A fault on the server; details are in the server's log.
    #[error("{0}")]
    Internal(String),
    /// The request did not reach the server, or its answer could not be read.
    #[error("{0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status this kind of error answers with.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::BadRequest(_) => 400,
            AppError::Unauthorized(_) => 401,
            AppError::NotFound(_) => 404,
            AppError::Conflict(_) => 409,
            AppError::Busy(_) => 429,
            AppError::OutOfDisk(_) => 507,
            AppError::Internal(_) => 500,
            AppError::Transport(_) => 502,
        }
    }

    /// A short headline for the kind of error, for the UI.
    pub fn title(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "Check the input",
            AppError::Unauthorized(_) => "Sign in required",
            AppError::NotFound(_) => "Not found",
            AppError::Conflict(_) => "Conflict: an operation is running",
            AppError::OutOfDisk(_) => "Out of disk space",
            AppError::Busy(_) => "Busy: retry in a moment",
            AppError::Internal(_) => "Server error",
            AppError::Transport(_) => "Connection problem",
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Arguments that do not decode were sent by the client: its input is at fault.
            ServerFnErrorErr::Args(m) => {
                AppError::BadRequest(format!("The request could not be read: {m}"))
            }
            // Anything else is the connection or an answer that could not be read.
            other => AppError::Transport(format!(
                "The server could not be reached or its answer could not be read ({other})"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kind_survives_the_wire_encoding() {
        let err = AppError::Conflict("snapshot running on web-1".into());
        let bytes = err.ser();
        assert_eq!(AppError::de(bytes), err);
    }

    #[test]
    fn undecodable_error_body_becomes_a_transport_error() {
        let decoded = AppError::de("<html>502 Bad Gateway</html>".into());
        assert!(matches!(decoded, AppError::Transport(_)), "{decoded:?}");
    }
}
