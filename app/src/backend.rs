//! The one door from server functions to the rest of Snapline.
//!
//! The server crate provides an `Arc<dyn Backend>` through Leptos context. Server functions are
//! a few lines over it, so the same pages can later run against the embedded engine or a
//! remote Snapline API (proxy mode) without changing.

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::api::{EndpointSummary, SystemCheck, SystemStatus};
use crate::error::AppError;

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
}

/// The backend as it travels through Leptos context.
pub type SharedBackend = Arc<dyn Backend>;

/// The backend of the current request.
pub fn backend() -> Result<SharedBackend, AppError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| AppError::Internal("the dashboard backend is not configured".into()))
}
