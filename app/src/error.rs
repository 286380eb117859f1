//! The error type every server function returns.
//!
//! It crosses the wire as JSON with its kind intact (`{"NotFound": "..."}`), so the browser
//! can say "not found" or "an operation is already running" in words instead of showing a
//! flattened string. Its kinds are exactly [`types::ErrorKind`]'s; which HTTP status `/rpc`
//! answers for each is decided by the server's one status table, not here.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};
use types::ErrorKind;

/// The response header a server-rendered page sets when its own data failed: the error's
/// kind (`NotFound`), which the server's status layer turns into the HTTP status from its one
/// table and then removes. So a page that says "not found" is a 404 to browsers, scripts and
/// crawlers, not a 200.
pub const PAGE_ERROR_KIND_HEADER: &str = "x-snapline-page-error";

/// Declares [`AppError`] with one variant per [`ErrorKind`], and the conversions both ways
/// (a kind missing here is a compile error in [`AppError::kind`]).
macro_rules! app_error {
    ($($(#[$doc:meta])* $kind:ident => $title:literal),* $(,)?) => {
        /// What went wrong, by kind, with a sentence the user can act on.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
        pub enum AppError {
            $(
                $(#[$doc])*
                #[error("{0}")]
                $kind(String),
            )*
        }

        impl AppError {
            /// An error of `kind` with `message`.
            pub fn new(kind: ErrorKind, message: impl Into<String>) -> AppError {
                let message = message.into();
                match kind {
                    $(ErrorKind::$kind => AppError::$kind(message),)*
                }
            }

            /// The kind of this error.
            pub fn kind(&self) -> ErrorKind {
                match self {
                    $(AppError::$kind(_) => ErrorKind::$kind,)*
                }
            }

            /// The sentence that goes with it.
            pub fn message(&self) -> &str {
                match self {
                    $(AppError::$kind(m) => m,)*
                }
            }

            /// A short headline for the kind of error, for the UI.
            pub fn title(&self) -> &'static str {
                match self {
                    $(AppError::$kind(_) => $title,)*
                }
            }
        }
    };
}

app_error! {
    /// The input was refused; the message says what to change.
    BadRequest => "Check the input",
    /// Not signed in, or the session expired.
    Unauthorized => "Sign in required",
    /// Signed in, but this needs more rights (an admin token, say).
    Forbidden => "Not allowed",
    /// The object does not exist, or the user cannot see it.
    NotFound => "Not found",
    /// The operation does not apply here.
    MethodNotAllowed => "Not possible here",
    /// Another operation holds the object, or the name is taken.
    Conflict => "Conflict",
    /// The input is too large.
    PayloadTooLarge => "Too large",
    /// Too many requests with this token: retry in a moment.
    TooManyRequests => "Busy: retry in a moment",
    /// The data directory has no room left.
    InsufficientStorage => "Out of disk space",
    /// A facility the server needs is missing, or it is not ready.
    Unavailable => "Unavailable",
    /// Stored data failed its checks.
    Damaged => "Stored data is damaged",
    /// A fault on the server; details are in the server's log.
    Internal => "Server error",
    /// The request did not reach the server, or its answer could not be read.
    Transport => "Connection problem",
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
        for kind in ErrorKind::ALL {
            let err = AppError::new(kind, "snapshot running on web-1");
            let bytes = err.ser();
            let back = AppError::de(bytes);
            assert_eq!(back, err);
            assert_eq!(back.kind(), kind);
        }
    }

    #[test]
    fn undecodable_error_body_becomes_a_transport_error() {
        let decoded = AppError::de("<html>502 Bad Gateway</html>".into());
        assert!(matches!(decoded, AppError::Transport(_)), "{decoded:?}");
    }
}
