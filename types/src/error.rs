//! What can go wrong, by kind, and the envelope errors travel in.
//!
//! A kind is all a front end needs to choose its answer: the REST API and `/rpc` turn it into
//! an HTTP status through the one table in `server/src/http/status.rs`; the dashboard turns it
//! into a headline. Which status belongs to which kind is decided there and nowhere else.

use serde::{Deserialize, Serialize};

/// The kind of an error. The message that goes with it says what to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The input was refused; the message says what to change.
    BadRequest,
    /// No token, an unknown one, or a revoked one.
    Unauthorized,
    /// The token is valid but may not do this (an admin-only action, say).
    Forbidden,
    /// The object does not exist, or the caller cannot see it.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// Another operation holds the object, or the name is taken.
    Conflict,
    /// The body is larger than the route accepts.
    PayloadTooLarge,
    /// Too many requests with this token: retry in a moment.
    TooManyRequests,
    /// The data directory has no room left.
    InsufficientStorage,
    /// A host facility is missing (the container runtime, say), or the service is not ready.
    Unavailable,
    /// Stored data failed its checks; the message names what is damaged.
    Damaged,
    /// A fault on the server; details are in the server's log, not in the message.
    Internal,
    /// The request did not reach the server (or the upstream), or its answer could not be
    /// read.
    Transport,
}

impl ErrorKind {
    /// Every kind, for tables and tests that must cover them all.
    pub const ALL: [ErrorKind; 13] = [
        ErrorKind::BadRequest,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::Conflict,
        ErrorKind::PayloadTooLarge,
        ErrorKind::TooManyRequests,
        ErrorKind::InsufficientStorage,
        ErrorKind::Unavailable,
        ErrorKind::Damaged,
        ErrorKind::Internal,
        ErrorKind::Transport,
    ];
}

/// The error envelope, also used as the OpenAPI schema of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Equal to the HTTP status.
    #[serde(rename = "statusCode")]
    #[cfg_attr(feature = "openapi", schema(example = 404))]
    pub status_code: u16,
    /// What is wrong, in a sentence a user can act on.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "No container with id 890abcdef12345678901cdef exists in your projects.")
    )]
    pub message: String,
    /// The status's reason phrase.
    #[cfg_attr(feature = "openapi", schema(example = "Not Found"))]
    pub error: String,
}
