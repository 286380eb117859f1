//! The one door from server functions to the rest of Snapline.
//!
//! The server crate provides an `Arc<dyn Backend>` through Leptos context. Server functions are
//! a few lines over it, so the same pages can later run against the embedded engine or a
//! remote Snapline API (proxy mode) without changing.

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::api::{EndpointSummary, SystemCheck, SystemStatus};
use crate::error::AppError;
use crate::model::{ContainerView, Identity, Overview, RestoreOutcome, SnapshotView, Timeline};

/// Everything the dashboard's server functions may ask of the service.
#[async_trait::async_trait]
pub trait Backend: Send + Sync + 'static {
    /// The node's version and its most recent self-checks, newest first.
    async fn system_status(&self) -> Result<SystemStatus, AppError>;
    /// Runs and records a self-check: a database write and read, and the data directory's
    /// free space.
    async fn run_system_check(&self) -> Result<SystemCheck, AppError>;
    /// The REST API's operations, from the same OpenAPI document `/api/v1/openapi.json` serves.
    async fn api_endpoints(&self) -> Result<Vec<EndpointSummary>, AppError>;

    // Everything below acts as the holder of `token` (the signed-in user's own API token)
    // and sees exactly what that token sees.

    /// Checks a token; `Unauthorized` when it is unknown or revoked.
    async fn identity(&self, token: &str) -> Result<Identity, AppError>;
    /// Containers (live and deleted), images and the caller's projects.
    async fn overview(&self, token: &str) -> Result<Overview, AppError>;
    /// Creates a container from an image in a project.
    async fn create_container(
        &self,
        token: &str,
        project: &str,
        name: &str,
        image: &str,
    ) -> Result<ContainerView, AppError>;
    /// `start`, `stop` or `delete`.
    async fn container_action(&self, token: &str, id: &str, action: &str) -> Result<(), AppError>;
    /// A container and its snapshots.
    async fn timeline(&self, token: &str, id: &str) -> Result<Timeline, AppError>;
    /// Takes a snapshot.
    async fn create_snapshot(
        &self,
        token: &str,
        id: &str,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<SnapshotView, AppError>;
    /// Restores a snapshot, optionally snapshotting the current state first.
    async fn restore_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        safety: bool,
    ) -> Result<RestoreOutcome, AppError>;
    /// Deletes a snapshot.
    async fn delete_snapshot(&self, token: &str, id: &str, name: &str) -> Result<(), AppError>;
    /// Copies a snapshot into a new container.
    async fn copy_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        project: &str,
        new_name: &str,
    ) -> Result<ContainerView, AppError>;
}

/// The backend as it travels through Leptos context.
pub type SharedBackend = Arc<dyn Backend>;

/// The backend of the current request.
pub fn backend() -> Result<SharedBackend, AppError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| AppError::Internal("the dashboard backend is not configured".into()))
}
