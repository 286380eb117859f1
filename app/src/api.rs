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
    let token = crate::session::token()?;
    let backend = crate::backend::backend()?;
    backend.identity(&token).await?;
    backend.system_status().await
}

/// Runs a self-check and records it.
#[server(prefix = "/rpc", endpoint = "run_system_check")]
pub async fn run_system_check() -> Result<SystemCheck, AppError> {
    let token = crate::session::token()?;
    let backend = crate::backend::backend()?;
    backend.identity(&token).await?;
    backend.run_system_check().await
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

pub use crate::model::{
    ContainerView, Identity, Overview, ProjectView, RestoreOutcome, SnapshotView, Timeline,
};

/// Signs in with an API token: checks it, then keeps it in an HttpOnly session cookie.
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(token: String) -> Result<Identity, AppError> {
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(AppError::BadRequest(
            "Paste your API token (it starts with hdy_).".into(),
        ));
    }
    let identity = crate::backend::backend()?.identity(&token).await?;
    crate::session::set(Some(&token));
    leptos_axum::redirect("/");
    Ok(identity)
}

/// Signs out: the session cookie is cleared.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::session::set(None);
    leptos_axum::redirect("/signin");
    Ok(())
}

/// Who is signed in, if anyone.
#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Identity>, AppError> {
    let Some(token) = crate::session::read_token() else {
        return Ok(None);
    };
    match crate::backend::backend()?.identity(&token).await {
        Ok(i) => Ok(Some(i)),
        Err(AppError::Unauthorized(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The Containers page: live containers, deleted ones with their snapshots, images.
#[server(prefix = "/rpc", endpoint = "overview")]
pub async fn load_overview() -> Result<Overview, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?.overview(&token).await
}

/// Creates a container from an image.
#[server(prefix = "/rpc", endpoint = "create_container")]
pub async fn create_container(
    project: String,
    name: String,
    image: String,
) -> Result<ContainerView, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .create_container(&token, &project, name.trim(), &image)
        .await
}

/// Starts, stops or deletes a container (`action` is `start`, `stop` or `delete`).
#[server(prefix = "/rpc", endpoint = "container_action")]
pub async fn container_action(id: String, action: String) -> Result<String, AppError> {
    let token = crate::session::token()?;
    if !matches!(action.as_str(), "start" | "stop" | "delete") {
        return Err(AppError::BadRequest(format!(
            "Unknown action {action:?}: use start, stop or delete."
        )));
    }
    crate::backend::backend()?
        .container_action(&token, &id, &action)
        .await?;
    Ok(action)
}

/// One container's timeline.
#[server(prefix = "/rpc", endpoint = "timeline")]
pub async fn load_timeline(id: String, all: bool) -> Result<Timeline, AppError> {
    let token = crate::session::token()?;
    let mut t = crate::backend::backend()?.timeline(&token, &id).await?;
    if !all {
        t.snapshots.truncate(crate::model::CARD_LIMIT);
    }
    Ok(t)
}

/// Parses the expiry presets of the create form: `7`, `30`, `90` days or `never`.
pub fn parse_expiry(expiry: &str) -> Result<Option<i64>, AppError> {
    match expiry {
        "" | "never" => Ok(None),
        d => match d.parse::<i64>() {
            Ok(n @ 1..=3650) => Ok(Some(n)),
            _ => Err(AppError::BadRequest(format!(
                "Expiry {d:?} is not valid: choose 7, 30 or 90 days, or never."
            ))),
        },
    }
}

/// Takes a snapshot. `alias` may be empty; `expiry` is `7`, `30`, `90` or `never`.
#[server(prefix = "/rpc", endpoint = "create_snapshot")]
pub async fn create_snapshot(
    id: String,
    alias: String,
    expiry: String,
) -> Result<SnapshotView, AppError> {
    let token = crate::session::token()?;
    let alias = alias.trim().to_string();
    if let Some(problem) = crate::model::alias_problem(&alias) {
        return Err(AppError::BadRequest(problem));
    }
    let expiry = parse_expiry(&expiry)?;
    crate::backend::backend()?
        .create_snapshot(&token, &id, (!alias.is_empty()).then_some(alias), expiry)
        .await
}

/// Restores a snapshot; with `safety` (a checked checkbox sends `on`) the current state is
/// snapshotted first, so the restore can be undone.
#[server(prefix = "/rpc", endpoint = "restore_snapshot")]
pub async fn restore_snapshot(
    id: String,
    name: String,
    #[server(default)] safety: Option<String>,
) -> Result<RestoreOutcome, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .restore_snapshot(&token, &id, &name, safety.is_some_and(|s| !s.is_empty()))
        .await
}

/// Deletes a snapshot.
#[server(prefix = "/rpc", endpoint = "delete_snapshot")]
pub async fn delete_snapshot(id: String, name: String) -> Result<String, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .delete_snapshot(&token, &id, &name)
        .await?;
    Ok(name)
}

/// Copies a snapshot into a new container, in any visible project.
#[server(prefix = "/rpc", endpoint = "copy_snapshot")]
pub async fn copy_snapshot(
    id: String,
    name: String,
    project: String,
    new_name: String,
) -> Result<ContainerView, AppError> {
    let token = crate::session::token()?;
    crate::backend::backend()?
        .copy_snapshot(&token, &id, &name, &project, new_name.trim())
        .await
}
