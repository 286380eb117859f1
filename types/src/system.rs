//! The node's own health as the dashboard's System page shows it: its recorded self-checks.

use serde::{Deserialize, Serialize};

/// One recorded self-check of this node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemCheck {
    /// Row id in the database: proof that the check was written.
    pub id: i64,
    /// When the check ran (UTC, RFC 3339 with milliseconds).
    pub checked_at: String,
    /// Time the database write and read-back took, in milliseconds.
    pub database_ms: f64,
    /// Free bytes on the filesystem of the data directory.
    pub free_bytes: u64,
    /// Whether every part of the check passed.
    pub ok: bool,
    /// A sentence describing the outcome.
    pub summary: String,
}

/// The node's version and its recent self-checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemStatus {
    /// Snapline's version.
    pub version: String,
    /// How many self-checks have run in total.
    pub total_checks: i64,
    /// The most recent checks, newest first.
    pub recent: Vec<SystemCheck>,
}
