//! The one door from server functions to the rest of Snapline.
//!
//! The server crate provides an `Arc<dyn Backend>` through Leptos context. Server functions are
//! a few lines over it, so the same pages run against the embedded engine or a remote
//! Snapline API (proxy mode) without changing.

use std::sync::Arc;

use leptos::prelude::use_context;

use crate::error::AppError;
use crate::model::{
    ContainerView, DocsState, Draft, Example, Identity, LiveEvent, Overview, RestoreOutcome,
    RunRecord, RunRequest, RunResult, Schedule, ScheduleSpec, Snapshot, SnapshotChange,
    SnapshotDiff, SnapshotFiles, SnapshotVerified, Timeline,
};
use crate::model::{EndpointSummary, SystemCheck, SystemStatus};

/// A file's bytes as they arrive, each piece checked by the store before it is sent on.
pub type ByteStream =
    futures_util::stream::BoxStream<'static, Result<bytes::Bytes, std::io::Error>>;

/// The live events a token may see, in order. The stream ends when the source closes.
pub type EventStream = futures_util::stream::BoxStream<'static, LiveEvent>;

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
    /// Every node serving from the database (`GET /api/v1/servers`), this one first.
    async fn servers(&self, token: &str) -> Result<Vec<types::Server>, AppError>;
    async fn identity(&self, token: &str) -> Result<Identity, AppError>;
    /// Containers (live and deleted), images and the caller's projects.
    async fn overview(&self, token: &str) -> Result<Overview, AppError>;
    /// Deletes a project (admin only): refused, naming what it still holds, while it has
    /// containers, snapshots of deleted containers or published images, and for the last
    /// project.
    async fn delete_project(&self, token: &str, id: &str) -> Result<(), AppError>;
    /// Creates a container from an image in a project.
    async fn create_container(
        &self,
        token: &str,
        project: &str,
        name: &str,
        image: &str,
        limits: Option<types::ContainerLimits>,
    ) -> Result<ContainerView, AppError>;
    /// `start`, `stop`, `pause`, `resume` or `delete`.
    async fn container_action(
        &self,
        token: &str,
        id: &str,
        action: crate::model::ContainerOp,
    ) -> Result<(), AppError>;
    /// A container and its snapshots.
    async fn timeline(&self, token: &str, id: &str) -> Result<Timeline, AppError>;
    /// A container's snapshots, newest first (the API's own `Snapshot`s).
    async fn list_snapshots(&self, token: &str, id: &str) -> Result<Vec<Snapshot>, AppError>;
    /// Takes a snapshot.
    async fn create_snapshot(
        &self,
        token: &str,
        id: &str,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<Snapshot, AppError>;
    /// Restores a snapshot, or some paths of it (`req` is the REST body, passed through
    /// as is), optionally snapshotting the current state first.
    async fn restore_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        req: types::RestoreSnapshot,
    ) -> Result<RestoreOutcome, AppError>;
    /// Deletes a snapshot.
    async fn delete_snapshot(&self, token: &str, id: &str, name: &str) -> Result<(), AppError>;
    /// Forks a snapshot into `count` new containers `new_name-1` … `new_name-N`, filled from
    /// one read (the REST answer as is: each one, or its own error), on node `server` (the
    /// REST API's `target_server`) or, when `None`, the container's.
    #[allow(clippy::too_many_arguments)]
    async fn fork_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        project: &str,
        new_name: &str,
        count: u32,
        server: Option<&str>,
    ) -> Result<types::ContainersCopied, AppError>;
    /// Publishes a snapshot as image `image` (stores nothing new).
    async fn publish_image(
        &self,
        token: &str,
        id: &str,
        name: &str,
        image: &str,
    ) -> Result<types::Image, AppError>;
    /// Copies a snapshot into a new container, on node `server` (the REST API's
    /// `target_server`) or, when `None`, the container's.
    async fn copy_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        project: &str,
        new_name: &str,
        server: Option<&str>,
    ) -> Result<ContainerView, AppError>;
    /// Edits a snapshot's alias and expiry (see [`SnapshotChange`]).
    async fn update_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        change: SnapshotChange,
    ) -> Result<Snapshot, AppError>;
    /// What changed from snapshot `name` to `against` (a snapshot name, or `live`).
    async fn diff_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        against: &str,
    ) -> Result<SnapshotDiff, AppError>;
    /// One directory of a snapshot; `path` is absolute inside it, as bytes (names need not
    /// be UTF-8).
    async fn browse_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &[u8],
    ) -> Result<SnapshotFiles, AppError>;
    /// One file of a snapshot (`path` as bytes): its size and its bytes.
    async fn read_file(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &[u8],
    ) -> Result<(u64, ByteStream), AppError>;
    /// A snapshot's whole root as a tar stream, and the file name to save it under
    /// (`<container>-<snapshot>.tar`). The stream ends with an error if the data is damaged.
    async fn export_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
    ) -> Result<(String, ByteStream), AppError>;
    /// Checks a snapshot's objects; `deep` re-reads and re-hashes its data.
    async fn verify_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        deep: bool,
    ) -> Result<SnapshotVerified, AppError>;
    /// The container's schedule, if it has one.
    async fn schedule(&self, token: &str, id: &str) -> Result<Option<Schedule>, AppError>;
    /// Sets (creates or replaces) the container's schedule.
    async fn set_schedule(
        &self,
        token: &str,
        id: &str,
        spec: ScheduleSpec,
    ) -> Result<Schedule, AppError>;
    /// Removes the container's schedule.
    async fn delete_schedule(&self, token: &str, id: &str) -> Result<(), AppError>;
    /// What a keep policy would delete and keep among the container's snapshots now, and
    /// why, deleting nothing (`GET .../schedule/preview`): `keep` previews that policy (a
    /// form's, before it is saved), `None` the saved schedule's (`NotFound` without one).
    async fn schedule_preview(
        &self,
        token: &str,
        id: &str,
        keep: Option<types::KeepPolicy>,
    ) -> Result<types::RetentionPreview, AppError>;
    /// The live events this token may see, from now on.
    async fn events(&self, token: &str) -> Result<EventStream, AppError>;
    /// Sends one request to the REST API as the holder of `token` (the API docs' "Run"),
    /// after [`crate::model::run_request_problem`] accepted it. The answer is returned
    /// whatever its status; only a request that could not be made at all is an error.
    async fn run_request(&self, token: &str, req: RunRequest) -> Result<RunResult, AppError>;
}

/// The backend as it travels through Leptos context.
pub type SharedBackend = Arc<dyn Backend>;

/// What the API docs page keeps: run history and drafts per user, examples per project.
/// It lives in the database of the node that serves the dashboard (in proxy mode, the
/// proxy's own). A user is identified by a hash of their token, which is never stored.
#[async_trait::async_trait]
pub trait DocsStore: Send + Sync + 'static {
    /// Adds a run to `token`'s history (keeping the newest [`crate::model::RUN_HISTORY`]) and
    /// returns its id. `operation` and `params` say which widget sent it, for a replay.
    /// A failure is logged and gives `None`: the request itself already ran.
    async fn record_run(
        &self,
        token: &str,
        operation: &str,
        params: &str,
        sent_body: &str,
        result: &RunResult,
    ) -> Option<i64>;
    /// One of `token`'s runs, with the whole answer while it is among the newest
    /// [`crate::model::RUN_FULL_KEPT`]; `None` when it is not theirs (or pruned).
    async fn run(&self, token: &str, id: i64) -> Result<Option<RunRecord>, AppError>;
    /// The user's history and drafts, and the examples of `projects`.
    async fn state(&self, token: &str, projects: &[String]) -> Result<DocsState, AppError>;
    /// Keeps what a widget was left with.
    async fn save_draft(&self, token: &str, draft: Draft) -> Result<(), AppError>;
    /// Creates (empty `id`) or updates an example of a project in `projects`.
    async fn save_example(
        &self,
        token: &str,
        example: Example,
        projects: &[String],
    ) -> Result<Example, AppError>;
    /// Deletes an example of a project in `projects`.
    async fn delete_example(&self, id: &str, projects: &[String]) -> Result<(), AppError>;
    /// Deletes `token`'s run history; returns how many runs went.
    async fn clear_runs(&self, token: &str) -> Result<u64, AppError>;
    /// Deletes `token`'s drafts (every widget starts from its example again); returns how
    /// many went.
    async fn clear_drafts(&self, token: &str) -> Result<u64, AppError>;
}

/// Dashboard sign-ins kept on the server: the session cookie holds a random id, never the API
/// token, so signing out (which deletes the session) ends a copied cookie too. It lives in
/// the database of the node that serves the dashboard (in proxy mode, the proxy's own).
#[async_trait::async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// Starts a session for `token` (already checked); returns its id, for the cookie.
    async fn create(&self, token: &str) -> Result<String, AppError>;
    /// The token of session `id` while the session lasts; `None` for an unknown, ended, idle
    /// or expired one.
    async fn open(&self, id: &str) -> Result<Option<String>, AppError>;
    /// Ends session `id` (sign-out).
    async fn end(&self, id: &str) -> Result<(), AppError>;
    /// Ends every session of `token` (it was refused, so it was revoked).
    async fn end_all(&self, token: &str) -> Result<(), AppError>;
}

/// The session store as it travels through Leptos context.
pub type SharedSessions = Arc<dyn Sessions>;

/// The session store of the current request.
pub fn sessions() -> Result<SharedSessions, AppError> {
    use_context::<SharedSessions>()
        .ok_or_else(|| AppError::Internal("the session store is not configured".into()))
}

/// The docs store as it travels through Leptos context.
pub type SharedDocs = Arc<dyn DocsStore>;

/// The docs store of the current request.
pub fn docs_store() -> Result<SharedDocs, AppError> {
    use_context::<SharedDocs>()
        .ok_or_else(|| AppError::Internal("the API docs store is not configured".into()))
}

/// The backend of the current request.
///
/// Server functions take it before their first `.await`: one called by a resource during
/// server rendering loses its reactive owner when the view around it is rendered again
/// meanwhile, and with the owner the context (seen through a proxy node, where answers come
/// later: the page's data then disagreed with its HTML and hydration failed).
pub fn backend() -> Result<SharedBackend, AppError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| AppError::Internal("the dashboard backend is not configured".into()))
}
