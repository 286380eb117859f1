//! The one table from error kinds to HTTP statuses (architecture rule 3).
//!
//! Used in both directions: [`status_of`] for every answer this server gives (REST errors
//! and `/rpc` server-function errors alike), and [`kind_of`] for the proxy client, which reads
//! an upstream's status back into a kind. No other file maps kinds and statuses.

use axum::http::StatusCode;
use types::ErrorKind;

/// Each kind with its status. Where two kinds share a status (500), the first one listed is
/// what that status reads back as.
const TABLE: [(ErrorKind, StatusCode); 13] = [
    (ErrorKind::BadRequest, StatusCode::BAD_REQUEST),
    (ErrorKind::Unauthorized, StatusCode::UNAUTHORIZED),
    (ErrorKind::Forbidden, StatusCode::FORBIDDEN),
    (ErrorKind::NotFound, StatusCode::NOT_FOUND),
    (ErrorKind::MethodNotAllowed, StatusCode::METHOD_NOT_ALLOWED),
    (ErrorKind::Conflict, StatusCode::CONFLICT),
    (ErrorKind::PayloadTooLarge, StatusCode::PAYLOAD_TOO_LARGE),
    (ErrorKind::TooManyRequests, StatusCode::TOO_MANY_REQUESTS),
    (
        ErrorKind::InsufficientStorage,
        StatusCode::INSUFFICIENT_STORAGE,
    ),
    (ErrorKind::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
    (ErrorKind::Internal, StatusCode::INTERNAL_SERVER_ERROR),
    (ErrorKind::Damaged, StatusCode::INTERNAL_SERVER_ERROR),
    (ErrorKind::Transport, StatusCode::BAD_GATEWAY),
];

/// The status an error of `kind` is answered with.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    TABLE
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| *s)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The kind an upstream's error status stands for. Statuses outside the table read as the
/// nearest kind: another 4xx as `BadRequest`, another 5xx as `Internal`.
pub fn kind_of(status: StatusCode) -> ErrorKind {
    TABLE
        .iter()
        .find(|(_, s)| *s == status)
        .map(|(k, _)| *k)
        .unwrap_or(if status.is_client_error() {
            ErrorKind::BadRequest
        } else {
            ErrorKind::Internal
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_status_and_reads_back() {
        for kind in ErrorKind::ALL {
            let rows = TABLE.iter().filter(|(k, _)| *k == kind).count();
            assert_eq!(rows, 1, "{kind:?} must be in the table exactly once");
            let back = kind_of(status_of(kind));
            // Damaged shares 500 with Internal; everything else reads back as itself.
            if kind == ErrorKind::Damaged {
                assert_eq!(back, ErrorKind::Internal);
            } else {
                assert_eq!(back, kind, "{kind:?}");
            }
        }
    }

    #[test]
    fn statuses_outside_the_table_read_as_the_nearest_kind() {
        assert_eq!(kind_of(StatusCode::IM_A_TEAPOT), ErrorKind::BadRequest);
        assert_eq!(kind_of(StatusCode::GATEWAY_TIMEOUT), ErrorKind::Internal);
    }
}
