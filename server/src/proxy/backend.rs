//! The dashboard's backend in proxy mode (`snapline serve --upstream URL`): every
//! [`Backend`] call becomes calls to a remote Snapline (or Hoody-compatible) REST API, made
//! with the signed-in user's own token.
//!
//! The remote server decides everything: who sees what, limits, validation. This node only
//! turns its answers into the dashboard's views, and its errors into [`AppError`] by HTTP
//! status, so the pages can still say "not found" or "conflict" in words. Its own SQLite
//! holds nothing but the dashboard's own tables (self-checks, the API docs' runs and drafts).
//!
//! About 640 lines, knowingly: it is the one `impl Backend` (29 methods, each a few REST
//! calls over the shared wire types); the transport is in [`super::client`], the upstream and
//! its errors in [`super::upstream`], the event stream in [`super::sse`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use app::AppError;
use app::backend::{Backend, ByteStream, EventStream};
use app::model::{
    AxisPoint, ContainerOp, ContainerView, Identity, Overview, RestoreOutcome, Schedule,
    ScheduleSpec, Snapshot, SnapshotChange, SnapshotDiff, SnapshotFiles, SnapshotVerified,
    Timeline, human_bytes,
};
use app::model::{EndpointSummary, SystemCheck, SystemStatus};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, Url};
use serde_json::Value;
use sqlx::SqlitePool;

use super::client::{Containers, Ignored, Images, OneContainer, OneSchedule, OneSnapshot};
use super::sse::{SseParser, live_event};
use super::upstream::*;
use service::selfcheck;

/// The dashboard's backend over a remote Snapline API.
pub struct RemoteBackend {
    pub(super) http: reqwest::Client,
    pub(super) upstream: Upstream,
    /// This node's own database: the self-check table only.
    pub(super) db: SqlitePool,
    pub(super) data_dir: Arc<PathBuf>,
}

impl RemoteBackend {
    /// A backend over the API at `upstream`; `db` and `data_dir` are this node's own, for the
    /// self-checks.
    pub fn new(upstream: Upstream, db: SqlitePool, data_dir: Arc<PathBuf>) -> anyhow::Result<Self> {
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
    /// This node's version and self-checks, and the upstream's version when it answers.
    async fn system_status(&self) -> Result<SystemStatus, AppError> {
        let upstream = match self.probe().await {
            Ok((v, _)) => format!("which runs {v}"),
            Err(_) => "which does not answer".into(),
        };
        let version = format!(
            "{} (proxy for {}, {upstream})",
            env!("CARGO_PKG_VERSION"),
            self.upstream
        );
        selfcheck::status(&self.db, version)
            .await
            .map_err(Self::service_error)
    }

    /// Checks both halves of a proxy node: the upstream answers its health check, and this
    /// node's own database takes a write and reads it back. Recorded like the embedded check.
    async fn run_system_check(&self) -> Result<SystemCheck, AppError> {
        let probe = self.probe().await;
        let upstream = match &probe {
            Ok((version, ms)) => format!(
                "The Snapline server at {} answered in {ms:.1} ms (version {version})",
                self.upstream
            ),
            Err(e) => e.to_string(),
        };
        selfcheck::run(&self.db, &self.data_dir, |m| {
            let local = if m.database_ok {
                format!(
                    "this proxy's database write and read-back took {:.1} ms; {} free in its \
                     data directory.",
                    m.database_ms,
                    human_bytes(m.free_bytes)
                )
            } else {
                "this proxy's database returned something other than what was written.".into()
            };
            let ok = m.database_ok && probe.is_ok();
            let word = if ok { "passed" } else { "failed" };
            (ok, format!("{word}. {upstream}; {local}"))
        })
        .await
        .map_err(Self::service_error)
    }

    /// The upstream's own document: the docs page lists what the server behind it offers.
    async fn api_endpoints(&self) -> Result<Vec<EndpointSummary>, AppError> {
        let resp = self
            .send(
                None,
                Method::GET,
                self.upstream.api(&["openapi.json"], &[])?,
                None,
                CALL_TIMEOUT,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let bytes = self.read_bounded(resp).await?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.unreadable(format!("the OpenAPI document is not JSON ({e})")))?;
        Ok(crate::dashboard::endpoints_of_json(&doc))
    }

    async fn identity(&self, token: &str) -> Result<Identity, AppError> {
        let (projects, admin) = tokio::try_join!(self.projects(token), self.is_admin(token))?;
        Ok(Identity { admin, projects })
    }

    async fn overview(&self, token: &str) -> Result<Overview, AppError> {
        let list_url = self
            .upstream
            .api(&["containers"], &[("include_deleted", "true")])?;
        let (identity, all, images) = tokio::try_join!(
            self.identity(token),
            self.get::<Containers>(token, list_url),
            self.get::<Images>(token, self.upstream.api(&["images"], &[])?),
        )?;
        let projects = &identity.projects;
        // Each container's snapshot list gives its "last snapshot" time (and a deleted one's
        // snapshots); only containers that have snapshots are asked.
        let cards: Vec<Result<(ContainerView, Vec<Snapshot>), AppError>> =
            futures_util::stream::iter(all.containers)
                .map(|c| async move {
                    let snaps = match c.snapshot_count {
                        0 => Vec::new(),
                        // A deleted container's card is its snapshots: they must be there.
                        _ if c.status == types::ContainerStatus::Deleted => {
                            self.snapshots(token, &c.id).await?
                        }
                        // A live card only shows the newest one's time: if the list cannot
                        // be had (rate limited, say), the card goes without it rather than
                        // the whole page failing.
                        _ => self.snapshots(token, &c.id).await.unwrap_or_else(|e| {
                            tracing::warn!(container = %c.id, error = %e, "no snapshot list");
                            Vec::new()
                        }),
                    };
                    let view = self
                        .container_view(token, c, projects, Some(&snaps))
                        .await?;
                    Ok((view, snaps))
                })
                .buffered(CONCURRENT_CALLS)
                .collect()
                .await;
        let (mut containers, mut deleted) = (Vec::new(), Vec::new());
        for card in cards {
            let (view, snaps) = card?;
            if view.status == types::ContainerStatus::Deleted {
                if view.snapshot_count > 0 {
                    deleted.push((view, snaps));
                }
            } else {
                containers.push(view);
            }
        }
        Ok(Overview {
            identity,
            containers,
            deleted,
            images: images.images.into_iter().map(|i| i.name).collect(),
            now: crate::http::now_rfc3339(),
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
        let (projects, c, snaps) = tokio::try_join!(
            self.projects(token),
            self.get::<OneContainer>(token, self.upstream.api(&["containers", id], &[])?),
            self.snapshots(token, id),
        )?;
        let container = self
            .container_view(token, c.container, &projects, Some(&snaps))
            .await?;
        // Exclusive bytes come only with `GET` of one snapshot: the newest few are fetched
        // (advisory, so a failure just leaves the number out), the rest stay unknown.
        // (The names are collected first: a borrowing iterator inside the stream makes the
        // future lose `Send`.)
        let newest: Vec<String> = snaps
            .iter()
            .take(EXCLUSIVE_FOR_NEWEST)
            .map(|s| s.name.clone())
            .collect();
        let exclusive: Vec<Option<u64>> = futures_util::stream::iter(newest)
            .map(|name| async move {
                let url = self
                    .upstream
                    .api(&["containers", id, "snapshots", &name], &[])
                    .ok()?;
                let one: OneSnapshot = self.get(token, url).await.ok()?;
                one.snapshot.exclusive_bytes
            })
            .buffered(CONCURRENT_CALLS)
            .collect()
            .await;
        let snapshots: Vec<Snapshot> = snaps
            .into_iter()
            .enumerate()
            .map(|(i, s)| Snapshot {
                exclusive_bytes: exclusive.get(i).copied().flatten().or(s.exclusive_bytes),
                ..s
            })
            .collect();
        let axis = snapshots.iter().map(AxisPoint::from).collect();
        Ok(Timeline {
            container,
            total: snapshots.len(),
            axis,
            snapshots,
            projects,
            now: crate::http::now_rfc3339(),
            schedule: None,
        })
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
    ) -> Result<ContainerView, AppError> {
        let body = wire(types::CopyRequest {
            target_project_id: project.into(),
            name: new_name.into(),
            source_snapshot: Some(name.into()),
            count: None,
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
    ) -> Result<types::ContainersCopied, AppError> {
        let body = wire(types::CopyRequest {
            target_project_id: project.into(),
            name: new_name.into(),
            source_snapshot: Some(name.into()),
            count: Some(count),
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
        path: &str,
    ) -> Result<SnapshotFiles, AppError> {
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "files"],
            &[("path", path)],
        )?;
        self.get(token, url).await
    }

    /// Streams the file through as it arrives: nothing of it is buffered here.
    async fn read_file(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<(u64, ByteStream), AppError> {
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "files", "content"],
            &[("path", path)],
        )?;
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

    /// The upstream's event stream, parsed as it arrives. It ends when the upstream closes it
    /// or the connection breaks; the page then reconnects.
    async fn run_request(
        &self,
        token: &str,
        req: app::model::RunRequest,
    ) -> Result<app::model::RunResult, AppError> {
        if let Some(problem) = app::model::run_request_problem(&req) {
            return Err(AppError::BadRequest(problem));
        }
        // Only the configured upstream, only under its /api/v1: the path passed the rule,
        // and the parsed address is checked again before anything is sent.
        let url = Url::parse(&format!("{}{}", self.upstream.as_str(), req.path))
            .map_err(|e| AppError::BadRequest(format!("The path cannot be used: {e}")))?;
        let base = Url::parse(self.upstream.as_str())
            .map_err(|e| AppError::Internal(format!("the upstream address is not valid: {e}")))?;
        if url.origin() != base.origin() || !url.path().starts_with("/api/v1") {
            return Err(AppError::BadRequest(format!(
                "The path {} would leave the upstream's API; it is refused.",
                req.path
            )));
        }
        let method = Method::from_bytes(req.method.as_bytes())
            .map_err(|e| AppError::BadRequest(format!("Bad method: {e}")))?;
        let mut builder = self
            .http
            .request(method, url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .timeout(LONG_TIMEOUT);
        if let Some(b) = req.body.clone() {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let started = Instant::now();
        let resp = builder.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status().as_u16();
        let headers = crate::dashboard::header_list(resp.headers());
        let sse = crate::run::is_event_stream(
            resp.headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let (body, truncated) = crate::run::read_answer(resp.bytes_stream(), sse).await;
        Ok(app::model::RunResult {
            method: req.method,
            path: req.path,
            status,
            micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            headers,
            body,
            truncated,
        })
    }

    async fn events(&self, token: &str) -> Result<EventStream, AppError> {
        let url = self.upstream.api(&["events"], &[])?;
        let resp = self.send_streaming(token, url, "text/event-stream").await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let upstream = self.upstream.clone();
        let state = (
            resp.bytes_stream().boxed(),
            SseParser::default(),
            VecDeque::new(),
        );
        let stream = futures_util::stream::unfold(
            state,
            move |(mut bytes, mut parser, mut ready)| {
                let upstream = upstream.clone();
                async move {
                    loop {
                        if let Some(e) = ready.pop_front() {
                            return Some((e, (bytes, parser, ready)));
                        }
                        match bytes.next().await? {
                            Ok(chunk) => match parser.feed(&chunk) {
                                Ok(events) => ready.extend(events.iter().filter_map(live_event)),
                                Err(e) => {
                                    tracing::warn!(%upstream, error = %e, "event stream refused");
                                    return None;
                                }
                            },
                            Err(e) => {
                                tracing::info!(%upstream, error = %causes(&e), "event stream ended");
                                return None;
                            }
                        }
                    }
                }
            },
        );
        Ok(stream.boxed())
    }
}
