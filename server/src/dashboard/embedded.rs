//! The embedded backend: the dashboard's server functions answered by the service in the same
//! process, acting as the holder of the signed-in user's token.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use app::AppError;
use app::backend::Backend;
use app::backend::{ByteStream, EventStream};
use app::model::{
    AxisPoint, ContainerOp, ContainerView, Identity, LiveEvent, Overview, Project, RestoreOutcome,
    RunRequest, RunResult, Schedule, ScheduleSpec, Snapshot, SnapshotChange, SnapshotDiff,
    SnapshotFiles, SnapshotVerified, Timeline, human_bytes,
};
use app::model::{EndpointSummary, SystemCheck, SystemStatus};
use futures_util::StreamExt;

use super::openapi::{endpoints_of_json, header_list};

use engine::DbPool;
use service::{Caller, ErrorKind, Service, ServiceError, parse_id, selfcheck};
use types::Container;

/// Free space below which the self-check reports a warning.
const LOW_SPACE_BYTES: u64 = 512 * 1024 * 1024;

/// Where the server's `app()` leaves the REST API's router for the docs page's "Run", which calls it
/// in-process. Weak: the router's state reaches this backend, so a strong reference here
/// would be a cycle.
pub type ApiSlot = Arc<std::sync::RwLock<std::sync::Weak<axum::Router>>>;

/// The backend that runs in the same process as the server: the service itself, acting as
/// the holder of the signed-in user's token.
pub struct EmbeddedBackend {
    db: DbPool,
    data_dir: Arc<PathBuf>,
    service: Service,
    api: ApiSlot,
    /// The other nodes' APIs, by URL, for the actions this node cannot run itself (on a
    /// container another node holds, or a copy built on another node).
    nodes: std::sync::Mutex<std::collections::HashMap<String, Arc<crate::proxy::RemoteBackend>>>,
}

impl EmbeddedBackend {
    pub fn new(db: DbPool, data_dir: Arc<PathBuf>, service: Service, api: ApiSlot) -> Self {
        EmbeddedBackend {
            db,
            data_dir,
            service,
            api,
            nodes: Default::default(),
        }
    }

    /// The API of node `node` when it is another node that is active and has advertised
    /// its URL; `None` for this node, an unknown one, or one that is away (the service then
    /// answers here, and says what it cannot do).
    async fn other_node(
        &self,
        node: &str,
    ) -> Result<Option<Arc<crate::proxy::RemoteBackend>>, AppError> {
        if node == self.service.server_id() {
            return Ok(None);
        }
        match self.service.node_address(node).await.map_err(app_error)? {
            Some((url, true)) if !url.is_empty() => self.remote(&url).map(Some),
            _ => Ok(None),
        }
    }

    /// The API of the node that holds container `id`, when it is another, active one: the
    /// actions that need the container's files (start, stop, snapshot, restore, diff with
    /// its live files) run there, as the REST API forwards them (`http::owner`).
    async fn owner_of(
        &self,
        id: &str,
    ) -> Result<Option<Arc<crate::proxy::RemoteBackend>>, AppError> {
        match self.service.owner_elsewhere(id).await.map_err(app_error)? {
            Some((_, url, true)) if !url.is_empty() => self.remote(&url).map(Some),
            _ => Ok(None),
        }
    }

    fn remote(&self, url: &str) -> Result<Arc<crate::proxy::RemoteBackend>, AppError> {
        let mut nodes = self.nodes.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = nodes.get(url) {
            return Ok(r.clone());
        }
        let upstream = crate::proxy::Upstream::parse(url).map_err(internal)?;
        let r = Arc::new(
            crate::proxy::RemoteBackend::new(upstream, self.db.clone(), self.data_dir.clone())
                .map_err(internal)?,
        );
        nodes.insert(url.to_string(), r.clone());
        Ok(r)
    }

    /// The caller a session token stands for, rate limited like the REST API.
    async fn caller(&self, token: &str) -> Result<Caller, AppError> {
        self.service.caller(token).await.map_err(|e| match e.kind {
            ErrorKind::Unauthorized => AppError::Unauthorized(
                "Your token is unknown or was revoked; sign in again.".into(),
            ),
            _ => app_error(e),
        })
    }

    async fn projects(&self, caller: &Caller) -> Result<Vec<Project>, AppError> {
        self.service.list_projects(caller).await.map_err(app_error)
    }

    async fn container_view(
        &self,
        caller: &Caller,
        c: Container,
        projects: &[Project],
    ) -> Result<ContainerView, AppError> {
        let id = parse_id("container id", &c.id).map_err(app_error)?;
        let last = self
            .service
            .last_snapshot_at(caller, &id)
            .await
            .map_err(app_error)?;
        Ok(ContainerView::new(c, projects, last))
    }
}

/// The service's errors, kept by kind for the dashboard. Hints name REST routes, which the
/// dashboard's pages do not need (they offer the action), so they are left out.
fn app_error(e: impl Into<ServiceError>) -> AppError {
    let e = e.into();
    AppError::new(e.kind, crate::http::error::public_message(&e))
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "dashboard backend error");
    AppError::Internal("The server could not complete this; the details are in its log.".into())
}

#[async_trait::async_trait]
impl Backend for EmbeddedBackend {
    async fn system_status(&self) -> Result<SystemStatus, AppError> {
        let version = env!("CARGO_PKG_VERSION").to_string();
        selfcheck::status(&self.db, version)
            .await
            .map_err(app_error)
    }

    async fn run_system_check(&self) -> Result<SystemCheck, AppError> {
        selfcheck::run(&self.db, &self.data_dir, |m| {
            let space_ok = m.free_bytes >= LOW_SPACE_BYTES;
            let (ms, free) = (m.database_ms, human_bytes(m.free_bytes));
            let summary = match (m.database_ok, space_ok) {
                (true, true) => format!(
                    "passed. Database write and read-back took {ms:.1} ms; {free} free in the data directory."
                ),
                (true, false) => format!(
                    "warning. The database works ({ms:.1} ms), but only {free} is free in the data directory: free some space before taking snapshots."
                ),
                (false, _) => {
                    "failed. The database returned something other than what was written."
                        .to_string()
                }
            };
            (m.database_ok && space_ok, summary)
        })
        .await
        .map_err(app_error)
    }

    async fn api_endpoints(&self) -> Result<Vec<EndpointSummary>, AppError> {
        // The document is fixed for the life of the process: flattened (and its Markdown
        // rendered) once, not on every docs page and every snippet the page asks for.
        static ENDPOINTS: std::sync::OnceLock<Vec<EndpointSummary>> = std::sync::OnceLock::new();
        Ok(ENDPOINTS
            .get_or_init(|| endpoints_of_json(&crate::http::system::api_document()))
            .clone())
    }

    async fn identity(&self, token: &str) -> Result<Identity, AppError> {
        let caller = self.caller(token).await?;
        Ok(Identity {
            admin: caller.admin,
            projects: self.projects(&caller).await?,
        })
    }

    async fn servers(&self, token: &str) -> Result<Vec<types::Server>, AppError> {
        let caller = self.caller(token).await?;
        self.service.list_servers(&caller).await.map_err(app_error)
    }

    async fn delete_project(&self, token: &str, id: &str) -> Result<(), AppError> {
        let caller = self.caller(token).await?;
        self.service
            .delete_project(&caller, id)
            .await
            .map(|_| ())
            .map_err(app_error)
    }

    async fn overview(&self, token: &str) -> Result<Overview, AppError> {
        let caller = self.caller(token).await?;
        let projects = self.projects(&caller).await?;
        let all = self
            .service
            .list_containers(&caller, None, true)
            .await
            .map_err(app_error)?;
        let (mut containers, mut deleted) = (Vec::new(), Vec::new());
        for c in all {
            let view = self.container_view(&caller, c, &projects).await?;
            if view.status == types::ContainerStatus::Deleted {
                if view.snapshot_count > 0 {
                    let id = parse_id("container id", &view.id).map_err(app_error)?;
                    let (_, snaps) = self
                        .service
                        .list_snapshots(&caller, &id)
                        .await
                        .map_err(app_error)?;
                    deleted.push((view, snaps));
                }
            } else {
                containers.push(view);
            }
        }
        let images =
            Overview::image_choices(&self.service.list_images(&caller).await.map_err(app_error)?);
        Ok(Overview {
            identity: Identity {
                admin: caller.admin,
                projects,
            },
            containers,
            deleted,
            images,
            now: service::fmt_time(service::now()),
            servers: Vec::new(),
        })
    }

    async fn create_container(
        &self,
        token: &str,
        project: &str,
        name: &str,
        image: &str,
        limits: Option<types::ContainerLimits>,
    ) -> Result<ContainerView, AppError> {
        let caller = self.caller(token).await?;
        let c = self
            .service
            .create_container(&caller, project, name, image, None, limits)
            .await
            .map_err(app_error)?;
        let projects = self.projects(&caller).await?;
        self.container_view(&caller, c, &projects).await
    }

    async fn container_action(
        &self,
        token: &str,
        id: &str,
        action: ContainerOp,
    ) -> Result<(), AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        if let Some(node) = self.owner_of(id.as_str()).await? {
            return node.container_action(token, id.as_str(), action).await;
        }
        match action {
            ContainerOp::Start => self.service.start_container(&caller, id).await.map(|_| ()),
            ContainerOp::Stop => self.service.stop_container(&caller, id).await.map(|_| ()),
            ContainerOp::Pause => self.service.pause_container(&caller, id).await.map(|_| ()),
            ContainerOp::Resume => self.service.resume_container(&caller, id).await.map(|_| ()),
            ContainerOp::Delete => self.service.delete_container(&caller, id).await,
        }
        .map_err(app_error)
    }

    async fn timeline(&self, token: &str, id: &str) -> Result<Timeline, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        let projects = self.projects(&caller).await?;
        let c = self
            .service
            .get_container(&caller, id)
            .await
            .map_err(app_error)?;
        let container = self.container_view(&caller, c, &projects).await?;
        let (row, snaps) = self
            .service
            .list_snapshots(&caller, id)
            .await
            .map_err(app_error)?;
        // "Frees X if deleted" for every snapshot, in one pass over the store. It is
        // advisory: if the pass fails the cards simply leave it out.
        let storage = self
            .service
            .snapshot_storage(&caller, &row.id)
            .await
            .map_err(app_error)?;
        let snapshots: Vec<Snapshot> = snaps
            .iter()
            .map(|s| Snapshot {
                exclusive_bytes: storage.exclusive.get(&s.name).copied(),
                ..s.clone()
            })
            .collect();
        let axis = snapshots
            .iter()
            .map(|s| AxisPoint {
                stored_bytes: storage.stored.get(&s.name).copied(),
                ..AxisPoint::from(s)
            })
            .collect();
        Ok(Timeline {
            container,
            total: snapshots.len(),
            axis,
            snapshots,
            projects,
            now: service::fmt_time(service::now()),
            schedule: None,
            servers: Vec::new(),
        })
    }

    async fn list_snapshots(&self, token: &str, id: &str) -> Result<Vec<Snapshot>, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        let (_, list) = self
            .service
            .list_snapshots(&caller, id)
            .await
            .map_err(app_error)?;
        Ok(list)
    }

    async fn create_snapshot(
        &self,
        token: &str,
        id: &str,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<Snapshot, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        if let Some(node) = self.owner_of(id.as_str()).await? {
            return node
                .create_snapshot(token, id.as_str(), alias, expiry_days)
                .await;
        }
        let (_, s) = self
            .service
            .create_snapshot(&caller, id, alias, expiry_days)
            .await
            .map_err(app_error)?;
        Ok(s)
    }

    async fn restore_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        req: types::RestoreSnapshot,
    ) -> Result<RestoreOutcome, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        if let Some(node) = self.owner_of(id.as_str()).await? {
            return node.restore_snapshot(token, id.as_str(), name, req).await;
        }
        let r = self
            .service
            .restore_snapshot(&caller, id, name, &req)
            .await
            .map_err(app_error)?;
        Ok(types::SnapshotRestored::from(r).into())
    }

    async fn delete_snapshot(&self, token: &str, id: &str, name: &str) -> Result<(), AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        self.service
            .delete_snapshot(&caller, id, name)
            .await
            .map(|_| ())
            .map_err(app_error)
    }

    async fn copy_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        project: &str,
        new_name: &str,
        server: Option<&str>,
    ) -> Result<ContainerView, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        if let Some(node) = match server {
            Some(t) => self.other_node(t).await?,
            None => None,
        } {
            return node
                .copy_snapshot(token, id.as_str(), name, project, new_name, server)
                .await;
        }
        self.service
            .check_copy_target(&caller, id.as_str(), server, Some(name))
            .await
            .map_err(app_error)?;
        let c = self
            .service
            .copy_container(&caller, id, project, new_name, Some(name))
            .await
            .map_err(app_error)?;
        let projects = self.projects(&caller).await?;
        self.container_view(&caller, c, &projects).await
    }

    async fn fork_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        project: &str,
        new_name: &str,
        count: u32,
        server: Option<&str>,
    ) -> Result<types::ContainersCopied, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        if let Some(node) = match server {
            Some(t) => self.other_node(t).await?,
            None => None,
        } {
            return node
                .fork_snapshot(token, id.as_str(), name, project, new_name, count, server)
                .await;
        }
        self.service
            .check_copy_target(&caller, id.as_str(), server, Some(name))
            .await
            .map_err(app_error)?;
        let made = self
            .service
            .fork_container(&caller, id, project, new_name, count, Some(name))
            .await
            .map_err(app_error)?;
        Ok(crate::http::copied(made))
    }

    async fn publish_image(
        &self,
        token: &str,
        id: &str,
        name: &str,
        image: &str,
    ) -> Result<types::Image, AppError> {
        let caller = self.caller(token).await?;
        let req = types::PublishImage {
            name: image.to_string(),
            from: types::ImageOrigin {
                container_id: id.to_string(),
                snapshot: name.to_string(),
            },
        };
        self.service
            .publish_image(&caller, &req)
            .await
            .map_err(app_error)
    }

    async fn update_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        change: SnapshotChange,
    ) -> Result<Snapshot, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        let (_, s) = self
            .service
            .update_snapshot(&caller, id, name, change.alias, change.expiry)
            .await
            .map_err(app_error)?;
        Ok(s)
    }

    async fn diff_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        against: &str,
    ) -> Result<SnapshotDiff, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        if let Some(node) = self.owner_of(id.as_str()).await? {
            return node.diff_snapshot(token, id.as_str(), name, against).await;
        }
        self.service
            .diff_snapshot(&caller, id, name, against, app::model::DIFF_LIMIT)
            .await
            .map_err(app_error)
    }

    async fn browse_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &[u8],
    ) -> Result<SnapshotFiles, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        self.service
            .browse_snapshot(&caller, id, name, path)
            .await
            .map_err(app_error)
    }

    async fn read_file(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &[u8],
    ) -> Result<(u64, ByteStream), AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        let (size, stream) = self
            .service
            .snapshot_file_stream(&caller, id, name, path)
            .await
            .map_err(app_error)?;
        Ok((size, stream.boxed()))
    }

    async fn export_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
    ) -> Result<(String, ByteStream), AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        let x = self
            .service
            .export_snapshot(&caller, id, name)
            .await
            .map_err(app_error)?;
        Ok((x.file_name, x.stream.boxed()))
    }

    async fn verify_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        deep: bool,
    ) -> Result<SnapshotVerified, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        self.service
            .verify_snapshot(&caller, id, name, deep)
            .await
            .map_err(app_error)
    }

    async fn schedule(&self, token: &str, id: &str) -> Result<Option<Schedule>, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        match self.service.get_schedule(&caller, id).await {
            Ok(s) => Ok(Some(s)),
            // The container exists (checked first) but has no schedule.
            Err(e) if e.kind == ErrorKind::NotFound => {
                self.service
                    .get_container(&caller, id)
                    .await
                    .map_err(app_error)?;
                Ok(None)
            }
            Err(e) => Err(app_error(e)),
        }
    }

    async fn set_schedule(
        &self,
        token: &str,
        id: &str,
        spec: ScheduleSpec,
    ) -> Result<Schedule, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        self.service
            .set_schedule(&caller, id, spec)
            .await
            .map_err(app_error)
    }

    async fn delete_schedule(&self, token: &str, id: &str) -> Result<(), AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        self.service
            .delete_schedule(&caller, id)
            .await
            .map_err(app_error)
    }

    async fn schedule_preview(
        &self,
        token: &str,
        id: &str,
        keep: Option<types::KeepPolicy>,
    ) -> Result<types::RetentionPreview, AppError> {
        let caller = self.caller(token).await?;
        let id = &parse_id("container id", id).map_err(app_error)?;
        self.service
            .preview_retention(&caller, id, keep)
            .await
            .map_err(app_error)
    }

    async fn run_request(&self, token: &str, req: RunRequest) -> Result<RunResult, AppError> {
        use tower::ServiceExt;
        if let Some(problem) = app::model::run_request_problem(&req) {
            return Err(AppError::BadRequest(problem));
        }
        let router = self
            .api
            .read()
            .ok()
            .and_then(|w| w.upgrade())
            .ok_or_else(|| internal("the API router is not mounted"))?;
        let mut builder = http::Request::builder()
            .method(req.method.as_str())
            .uri(req.path.as_str())
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match req.body {
            Some(b) => {
                builder = builder.header(http::header::CONTENT_TYPE, "application/json");
                axum::body::Body::from(b)
            }
            None => axum::body::Body::empty(),
        };
        let request = builder
            .body(body)
            .map_err(|e| AppError::BadRequest(format!("The request could not be built: {e}")))?;
        let started = Instant::now();
        let Ok(response) = (*router).clone().oneshot(request).await;
        let (parts, body) = response.into_parts();
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let sse = crate::run::is_event_stream(content_type);
        let (text, truncated) = crate::run::read_answer(body.into_data_stream(), sse).await;
        Ok(RunResult {
            method: req.method,
            path: req.path,
            status: parts.status.as_u16(),
            micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            headers: header_list(&parts.headers),
            body: text,
            truncated,
        })
    }

    async fn events(&self, token: &str) -> Result<EventStream, AppError> {
        let caller = self.caller(token).await?;
        // The service decides what the caller sees; `None` means it fell behind, and the page
        // reloads its data, as after any change.
        let stream = self.service.events_for(caller).map(|e| match e {
            Some(e) => LiveEvent::from(&e),
            None => LiveEvent::lagged(),
        });
        Ok(stream.boxed())
    }
}
