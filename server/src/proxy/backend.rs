//! The dashboard's backend in proxy mode (`snapline serve --upstream URL`): every
//! [`Backend`] call becomes calls to a remote Snapline (or Hoody-compatible) REST API, made
//! with the signed-in user's own token.
//!
//! The remote server decides everything: who sees what, limits, validation. This node only
//! turns its answers into the dashboard's views, and its errors into [`AppError`] by HTTP
//! status, so the pages can still say "not found" or "conflict" in words. Its own SQLite
//! holds nothing but the dashboard's own tables (self-checks, the API docs' runs and drafts).
//!
//! The one `impl Backend` (each method a few REST calls over the shared wire types); the
//! pages assembled from several calls are in [`super::views`], this node's own side in
//! `super::system`, the transport in [`super::client`], the upstream and its errors in
//! [`super::upstream`], the event stream in [`super::sse`].

use std::path::PathBuf;
use std::sync::Arc;

use app::AppError;
use app::backend::{Backend, ByteStream, EventStream};
use app::model::{
    ContainerOp, ContainerView, Identity, Overview, RestoreOutcome, Schedule, ScheduleSpec,
    Snapshot, SnapshotChange, SnapshotDiff, SnapshotFiles, SnapshotVerified, Timeline,
};
use app::model::{EndpointSummary, SystemCheck, SystemStatus};
use engine::DbPool;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::Method;
use serde_json::Value;

use super::client::{Ignored, OneContainer, OneSchedule, OneSnapshot};
use super::upstream::*;

/// The dashboard's backend over a remote Snapline API.
pub struct RemoteBackend {
    pub(super) http: reqwest::Client,
    pub(super) upstream: Upstream,
    /// This node's own database: the self-check table only.
    pub(super) db: DbPool,
    pub(super) data_dir: Arc<PathBuf>,
}

impl RemoteBackend {
    /// A backend over the API at `upstream`; `db` and `data_dir` are this node's own, for the
    /// self-checks.
    pub fn new(upstream: Upstream, db: DbPool, data_dir: Arc<PathBuf>) -> anyhow::Result<Self> {
        Ok(RemoteBackend {
            http: http_client()?,
            upstream,
            db,
            data_dir,
        })
    }

    /// The upstream's base URL.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The client, to share its connection pool (the `/api` forwarder uses it).
    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }
}

/// A request body from its shared wire type (which cannot fail to serialize: plain fields,
/// string keys).
fn wire(body: impl serde::Serialize) -> Value {
    serde_json::to_value(body).unwrap_or_default()
}

#[async_trait::async_trait]
impl Backend for RemoteBackend {
    async fn system_status(&self) -> Result<SystemStatus, AppError> {
        self.node_status().await
    }

    async fn run_system_check(&self) -> Result<SystemCheck, AppError> {
        self.node_check().await
    }

    async fn api_endpoints(&self) -> Result<Vec<EndpointSummary>, AppError> {
        self.upstream_endpoints().await
    }

    async fn identity(&self, token: &str) -> Result<Identity, AppError> {
        let (projects, admin) = tokio::try_join!(self.projects(token), self.is_admin(token))?;
        Ok(Identity { admin, projects })
    }

    async fn overview(&self, token: &str) -> Result<Overview, AppError> {
        self.overview_view(token).await
    }

    async fn servers(&self, token: &str) -> Result<Vec<types::Server>, AppError> {
        let url = self.upstream.api(&["servers"], &[])?;
        Ok(self.get::<types::ServerList>(token, url).await?.servers)
    }

    async fn delete_project(&self, token: &str, id: &str) -> Result<(), AppError> {
        let url = self.upstream.api(&["projects", id], &[])?;
        self.call::<Ignored>(Some(token), Method::DELETE, url, None, LONG_TIMEOUT)
            .await
            .map(|_| ())
    }

    async fn create_container(
        &self,
        token: &str,
        project: &str,
        name: &str,
        image: &str,
        limits: Option<types::ContainerLimits>,
    ) -> Result<ContainerView, AppError> {
        let body = wire(types::CreateContainer {
            project_id: project.into(),
            name: name.into(),
            image: image.into(),
            command: None,
            limits,
        });
        let (c, projects) = tokio::try_join!(
            self.call::<OneContainer>(
                Some(token),
                Method::POST,
                self.upstream.api(&["containers"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            ),
            self.projects(token),
        )?;
        self.container_view(token, c.container, &projects, None)
            .await
    }

    async fn container_action(
        &self,
        token: &str,
        id: &str,
        action: ContainerOp,
    ) -> Result<(), AppError> {
        let (method, url) = match action {
            ContainerOp::Start | ContainerOp::Stop | ContainerOp::Pause | ContainerOp::Resume => (
                Method::POST,
                self.upstream
                    .api(&["containers", id, action.as_str()], &[])?,
            ),
            ContainerOp::Delete => (Method::DELETE, self.upstream.api(&["containers", id], &[])?),
        };
        self.call::<Ignored>(Some(token), method, url, None, LONG_TIMEOUT)
            .await
            .map(|_| ())
    }

    async fn timeline(&self, token: &str, id: &str) -> Result<Timeline, AppError> {
        self.timeline_view(token, id).await
    }

    async fn list_snapshots(&self, token: &str, id: &str) -> Result<Vec<Snapshot>, AppError> {
        self.snapshots(token, id).await
    }

    async fn create_snapshot(
        &self,
        token: &str,
        id: &str,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<Snapshot, AppError> {
        let body = wire(types::CreateSnapshot {
            alias,
            expiry: expiry_days,
        });
        let s: OneSnapshot = self
            .call(
                Some(token),
                Method::POST,
                self.upstream.api(&["containers", id, "snapshots"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            )
            .await?;
        Ok(s.snapshot)
    }

    async fn restore_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        req: types::RestoreSnapshot,
    ) -> Result<RestoreOutcome, AppError> {
        let r: types::SnapshotRestored = self
            .call(
                Some(token),
                Method::PATCH,
                self.upstream
                    .api(&["containers", id, "snapshots", name], &[])?,
                Some(wire(req)),
                LONG_TIMEOUT,
            )
            .await?;
        Ok(r.into())
    }

    async fn delete_snapshot(&self, token: &str, id: &str, name: &str) -> Result<(), AppError> {
        self.call::<Ignored>(
            Some(token),
            Method::DELETE,
            self.upstream
                .api(&["containers", id, "snapshots", name], &[])?,
            None,
            LONG_TIMEOUT,
        )
        .await
        .map(|_| ())
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
        let body = wire(types::CopyRequest {
            target_project_id: project.into(),
            name: new_name.into(),
            source_snapshot: Some(name.into()),
            count: None,
            target_server: server.map(str::to_string),
        });
        let (c, projects) = tokio::try_join!(
            self.call::<OneContainer>(
                Some(token),
                Method::POST,
                self.upstream.api(&["containers", id, "copy"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            ),
            self.projects(token),
        )?;
        self.container_view(token, c.container, &projects, None)
            .await
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
        let body = wire(types::CopyRequest {
            target_project_id: project.into(),
            name: new_name.into(),
            source_snapshot: Some(name.into()),
            count: Some(count),
            target_server: server.map(str::to_string),
        });
        self.call(
            Some(token),
            Method::POST,
            self.upstream.api(&["containers", id, "copy"], &[])?,
            Some(body),
            LONG_TIMEOUT,
        )
        .await
    }

    async fn publish_image(
        &self,
        token: &str,
        id: &str,
        name: &str,
        image: &str,
    ) -> Result<types::Image, AppError> {
        let body = wire(types::PublishImage {
            name: image.into(),
            from: types::ImageOrigin {
                container_id: id.into(),
                snapshot: name.into(),
            },
        });
        let d: types::ImageData = self
            .call(
                Some(token),
                Method::POST,
                self.upstream.api(&["images"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            )
            .await?;
        Ok(d.image)
    }

    async fn update_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        change: SnapshotChange,
    ) -> Result<Snapshot, AppError> {
        // `SnapshotChange` serializes as the REST body: an absent field is left as it is,
        // `null` clears it.
        let body = wire(&change);
        let s: OneSnapshot = self
            .call(
                Some(token),
                Method::PATCH,
                self.upstream
                    .api(&["containers", id, "snapshots", name, "metadata"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            )
            .await?;
        Ok(s.snapshot)
    }

    async fn diff_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        against: &str,
    ) -> Result<SnapshotDiff, AppError> {
        let limit = app::model::DIFF_LIMIT.to_string();
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "diff"],
            &[("against", against), ("limit", &limit)],
        )?;
        self.call(Some(token), Method::GET, url, None, LONG_TIMEOUT)
            .await
    }

    async fn browse_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &[u8],
    ) -> Result<SnapshotFiles, AppError> {
        let mut url = self
            .upstream
            .api(&["containers", id, "snapshots", name, "files"], &[])?;
        // The path's bytes, percent-encoded: the upstream takes the escapes as bytes.
        url.set_query(Some(&format!("path={}", types::raw::encode(path))));
        self.get(token, url).await
    }

    /// Streams the file through as it arrives: nothing of it is buffered here.
    async fn read_file(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &[u8],
    ) -> Result<(u64, ByteStream), AppError> {
        let mut url = self.upstream.api(
            &["containers", id, "snapshots", name, "files", "content"],
            &[],
        )?;
        url.set_query(Some(&format!("path={}", types::raw::encode(path))));
        // No total timeout: a large file takes as long as it takes.
        let resp = self
            .send_streaming(token, url, "application/octet-stream")
            .await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let size = resp
            .content_length()
            .ok_or_else(|| self.unreadable("the download did not say its size"))?;
        let upstream = self.upstream.clone();
        let stream = resp.bytes_stream().map_err(move |e| {
            std::io::Error::other(format!(
                "the download from {upstream} broke off: {}",
                causes(&e)
            ))
        });
        Ok((size, stream.boxed()))
    }

    async fn export_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
    ) -> Result<(String, ByteStream), AppError> {
        self.export_tar(token, id, name).await
    }

    async fn verify_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        deep: bool,
    ) -> Result<SnapshotVerified, AppError> {
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "verify"],
            &[("deep", if deep { "true" } else { "false" })],
        )?;
        self.call(Some(token), Method::POST, url, None, LONG_TIMEOUT)
            .await
    }

    async fn schedule(&self, token: &str, id: &str) -> Result<Option<Schedule>, AppError> {
        let url = self.upstream.api(&["containers", id, "schedule"], &[])?;
        match self.get::<OneSchedule>(token, url).await {
            Ok(s) => Ok(Some(s.schedule)),
            // 404 is either "no such container" or "no schedule": asking for the container
            // tells them apart.
            Err(AppError::NotFound(_)) => {
                self.get::<OneContainer>(token, self.upstream.api(&["containers", id], &[])?)
                    .await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn set_schedule(
        &self,
        token: &str,
        id: &str,
        spec: ScheduleSpec,
    ) -> Result<Schedule, AppError> {
        let body = wire(&spec);
        let s: OneSchedule = self
            .call(
                Some(token),
                Method::PUT,
                self.upstream.api(&["containers", id, "schedule"], &[])?,
                Some(body),
                CALL_TIMEOUT,
            )
            .await?;
        Ok(s.schedule)
    }

    async fn delete_schedule(&self, token: &str, id: &str) -> Result<(), AppError> {
        self.call::<Ignored>(
            Some(token),
            Method::DELETE,
            self.upstream.api(&["containers", id, "schedule"], &[])?,
            None,
            CALL_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    async fn schedule_preview(
        &self,
        token: &str,
        id: &str,
        keep: Option<types::KeepPolicy>,
    ) -> Result<types::RetentionPreview, AppError> {
        // A policy to preview goes as the query, every count written (0 for an absent one):
        // an empty query would preview the saved policy instead.
        let counts: Vec<(&str, String)> = keep
            .map(|k| {
                types::KEEP_FIELDS
                    .iter()
                    .zip(k.counts())
                    .map(|(f, c)| (*f, c.unwrap_or(0).to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let query: Vec<(&str, &str)> = counts.iter().map(|(f, v)| (*f, v.as_str())).collect();
        let url = self
            .upstream
            .api(&["containers", id, "schedule", "preview"], &query)?;
        let d: types::RetentionPreviewData = self.get(token, url).await?;
        Ok(d.preview)
    }

    async fn run_request(
        &self,
        token: &str,
        req: app::model::RunRequest,
    ) -> Result<app::model::RunResult, AppError> {
        self.run_on_upstream(token, req).await
    }

    /// The upstream's event stream, parsed as it arrives. It ends when the upstream closes it
    /// or the connection breaks; the page then reconnects.
    async fn events(&self, token: &str) -> Result<EventStream, AppError> {
        self.event_stream(token).await
    }
}
