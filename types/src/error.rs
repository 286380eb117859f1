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
    /// The next step the message ends with, as data: a client that is not a REST caller
    /// (the CLI) names its own way to take it instead of the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
}

/// A next step an error points to, which each front end names in its own terms: the REST
/// API appends [`Hint::rest_words`] to the message, the CLI swaps them for
/// [`Hint::cli_words`], and the dashboard leaves them out (its pages offer the action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hint {
    /// Copy a snapshot of this deleted container into a new container.
    CopyFromDeleted { container: String },
    /// Copy this snapshot (`source_snapshot`) into a new container instead of restoring.
    CopySnapshotInstead { container: String },
    /// See the images there are, or import one.
    ListImages,
    /// See the caller's projects.
    ListProjects,
    /// See the nodes.
    ListServers,
    /// Set the container's schedule.
    SetSchedule { container: String },
    /// See the container's snapshots.
    ListSnapshots { container: String },
}

impl Hint {
    /// The REST words for the hint, appended to the message: the route that takes the step.
    pub fn rest_words(&self) -> String {
        match self {
            Hint::CopyFromDeleted { container } => {
                format!(" (POST /api/v1/containers/{container}/copy)")
            }
            Hint::CopySnapshotInstead { container } => {
                format!(" (POST /api/v1/containers/{container}/copy with source_snapshot)")
            }
            Hint::ListImages => {
                // Importing takes an admin token; a project publishes its own images.
                "; GET /api/v1/images lists them (an admin imports one with POST \
                 /api/v1/images?name=..., a project publishes one from a snapshot)"
                    .into()
            }
            Hint::ListProjects => "; GET /api/v1/projects lists them".into(),
            Hint::ListServers => "; GET /api/v1/servers lists them".into(),
            Hint::SetSchedule { container } => {
                format!("; set one with PUT /api/v1/containers/{container}/schedule")
            }
            Hint::ListSnapshots { container } => {
                format!("; list them with GET /api/v1/containers/{container}/snapshots")
            }
        }
    }

    /// The CLI's words for the hint: the `snapline` command that takes the step.
    pub fn cli_words(&self) -> String {
        match self {
            Hint::CopyFromDeleted { container } => format!(
                " (snapline containers copy {container} --target-project-id PROJECT --name NEW \
                 --source-snapshot SNAPSHOT)"
            ),
            Hint::CopySnapshotInstead { container } => format!(
                " (snapline containers copy {container} --target-project-id PROJECT --name NEW \
                 --source-snapshot SNAPSHOT)"
            ),
            Hint::ListImages => {
                "; `snapline images list` lists them (an admin imports one with `snapline images \
                 import`, a project publishes one with `snapline images publish`)"
                    .into()
            }
            Hint::ListProjects => "; `snapline projects list` lists them".into(),
            Hint::ListServers => "; `snapline servers list` lists them".into(),
            Hint::SetSchedule { container } => format!(
                "; set one with `snapline schedule set --container {container} --schedule WHEN`"
            ),
            Hint::ListSnapshots { container } => {
                format!("; list them with `snapline snapshots list --container {container}`")
            }
        }
    }

    /// `message` (a REST answer's) with the REST words for this hint swapped for the CLI's.
    /// A message that does not end with them is returned as it is.
    pub fn for_cli(&self, message: &str) -> String {
        match message.strip_suffix(&self.rest_words()) {
            Some(head) => format!("{head}{}", self.cli_words()),
            None => message.to_string(),
        }
    }
}

#[cfg(test)]
mod hint_tests {
    use super::Hint;

    #[test]
    fn the_cli_names_its_command_where_rest_names_a_route() {
        let h = Hint::ListSnapshots {
            container: "abc".into(),
        };
        let rest = format!("no snapshot named \"x\"{}", h.rest_words());
        assert_eq!(
            h.for_cli(&rest),
            "no snapshot named \"x\"; list them with `snapline snapshots list --container abc`"
        );
        // A message that does not end with the route is left alone.
        assert_eq!(h.for_cli("something else"), "something else");
        // On the wire, a hint is a tagged object.
        assert_eq!(
            serde_json::to_value(&h).unwrap(),
            serde_json::json!({"kind": "list_snapshots", "container": "abc"})
        );
    }
}
