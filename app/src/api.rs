//! Server functions and the data they carry.
//!
//! Each server function is a thin call into the [`crate::backend::Backend`]. They live under
//! `/rpc/` so that `/api/` stays the REST API's alone.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

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

/// Reads the node's status.
#[server(prefix = "/rpc", endpoint = "system_status")]
pub async fn load_system_status() -> Result<SystemStatus, AppError> {
    crate::backend::backend()?.system_status().await
}

/// Runs a self-check and records it.
#[server(prefix = "/rpc", endpoint = "run_system_check")]
pub async fn run_system_check() -> Result<SystemCheck, AppError> {
    crate::backend::backend()?.run_system_check().await
}

/// One operation of the REST API, as the OpenAPI document describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSummary {
    /// Group of the operation (its first OpenAPI tag).
    pub tag: String,
    /// HTTP method in capitals.
    pub method: String,
    /// Path template, for example `/api/v1/health`.
    pub path: String,
    /// One line on what it does.
    pub summary: String,
    /// Longer description, possibly empty.
    pub description: String,
}

/// Lists the REST API's operations, read from the served OpenAPI document.
#[server(prefix = "/rpc", endpoint = "api_endpoints")]
pub async fn api_endpoints() -> Result<Vec<EndpointSummary>, AppError> {
    crate::backend::backend()?.api_endpoints().await
}
