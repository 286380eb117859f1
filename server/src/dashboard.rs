//! The dashboard's server side: Leptos SSR routes, server functions under `/rpc`, static
//! assets, and the embedded [`app::backend::Backend`] they call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use app::AppError;
use app::api::{EndpointSummary, SystemCheck, SystemStatus};
use app::backend::{Backend, SharedBackend};
use app::backend::{ByteStream, EventStream};
use app::model::{
    AxisPoint, ContainerView, DamageView, DiffChangeView, DiffView, FileView, Identity, Listing,
    LiveEvent, Overview, ProjectView, RestoreOutcome, RunRequest, RunResult, ScheduleSpecView,
    ScheduleView, SnapshotChange, SnapshotView, Timeline, VerifyView, human_bytes,
};
use futures_util::StreamExt;

use crate::api::ApiError;
use crate::service::containers::Container;
use crate::service::snapshots::Snapshot;
use crate::service::{Caller, Service, auth};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use sqlx::{Row, SqlitePool};
use utoipa::OpenApi;

use crate::AppState;

/// Free space below which the self-check reports a warning.
const LOW_SPACE_BYTES: u64 = 512 * 1024 * 1024;
/// How many self-checks are kept; older ones are pruned so the table cannot grow unbounded.
const KEEP_CHECKS: i64 = 100;
/// How many self-checks the dashboard lists.
const LIST_CHECKS: i64 = 10;

/// The backend that runs in the same process as the server: the service itself, acting as
/// the holder of the signed-in user's token.
pub struct EmbeddedBackend {
    db: SqlitePool,
    data_dir: Arc<PathBuf>,
    service: Service,
    api: crate::ApiSlot,
}

impl EmbeddedBackend {
    pub fn new(
        db: SqlitePool,
        data_dir: Arc<PathBuf>,
        service: Service,
        api: crate::ApiSlot,
    ) -> Self {
        EmbeddedBackend {
            db,
            data_dir,
            service,
            api,
        }
    }

    /// The caller a session token stands for, rate limited like the REST API.
    async fn caller(&self, token: &str) -> Result<Caller, AppError> {
        let caller = auth::authenticate(self.service.db(), token)
            .await
            .map_err(app_error)?
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "Your token is unknown or was revoked; sign in again.".into(),
                )
            })?;
        self.service
            .rate()
            .check(&caller.token_id)
            .map_err(app_error)?;
        Ok(caller)
    }

    async fn projects(&self, caller: &Caller) -> Result<Vec<ProjectView>, AppError> {
        Ok(self
            .service
            .list_projects(caller)
            .await
            .map_err(app_error)?
            .into_iter()
            .map(|p| ProjectView {
                id: p.id,
                name: p.name,
            })
            .collect())
    }

    async fn container_view(
        &self,
        c: Container,
        projects: &[ProjectView],
    ) -> Result<ContainerView, AppError> {
        let last = self
            .service
            .engine()
            .list(&crate::service::parse_id("container id", &c.id).map_err(app_error)?)
            .await
            .map_err(|e| app_error(e.into()))?
            .first()
            .map(|s| crate::service::fmt_time(s.created_at));
        Ok(ContainerView {
            project_name: projects
                .iter()
                .find(|p| p.id == c.project_id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| c.project_id.clone()),
            id: c.id,
            project_id: c.project_id,
            name: c.name,
            image: c.image,
            status: c.status,
            created_at: c.created_at,
            size: c.size,
            snapshot_count: c.snapshot_count,
            last_snapshot_at: last,
        })
    }
}

/// The service's errors, kept by kind for the dashboard.
fn app_error(e: ApiError) -> AppError {
    match e {
        ApiError::BadRequest(m) | ApiError::PayloadTooLarge(m) => AppError::BadRequest(m),
        ApiError::TooManyRequests(m) | ApiError::Unavailable(m) => AppError::Busy(m),
        ApiError::Unauthorized(m) | ApiError::Forbidden(m) => AppError::Unauthorized(m),
        ApiError::NotFound(m) | ApiError::MethodNotAllowed(m) => AppError::NotFound(m),
        ApiError::Conflict(m) => AppError::Conflict(m),
        ApiError::InsufficientStorage(m) => AppError::OutOfDisk(m),
        ApiError::Damaged(m) => AppError::Internal(m),
        ApiError::Internal(e) => internal(format!("{e:#}")),
    }
}

fn snapshot_view(s: &Snapshot) -> SnapshotView {
    SnapshotView {
        name: s.name.clone(),
        alias: s.alias.clone(),
        created_at: s.created_at.clone(),
        expires_at: s.expires_at.clone(),
        last_used_at: s.last_used_at.clone(),
        size: s.size,
        added_bytes: s.added_bytes,
        exclusive_bytes: s.exclusive_bytes,
    }
}

/// Response headers as the Run widget lists them.
pub fn header_list(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn axis_point(s: &SnapshotView) -> AxisPoint {
    AxisPoint {
        name: s.name.clone(),
        created_at: s.created_at.clone(),
        added_bytes: s.added_bytes,
        exclusive_bytes: s.exclusive_bytes,
        stored_bytes: None,
    }
}

fn schedule_view(s: crate::service::schedules::Schedule) -> ScheduleView {
    ScheduleView {
        schedule: s.schedule,
        expiry: s.expiry,
        alias_pattern: s.alias_pattern,
        include_stopped: s.include_stopped,
        next_run_at: s.next_run_at,
        last_run_at: s.last_run_at,
        last_error: s.last_error,
    }
}

/// The fields of a service event the browser needs to refresh and show progress.
fn live_event(e: &crate::service::events::Event) -> LiveEvent {
    let field = |k: &str| e.data.get(k);
    LiveEvent {
        kind: e.kind.clone(),
        container_id: e.container_id.clone(),
        operation: field("operation")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        phase: field("phase").and_then(|v| v.as_str()).map(str::to_string),
        files: field("files").and_then(|v| v.as_u64()),
        bytes: field("bytes").and_then(|v| v.as_u64()),
    }
}

fn internal(e: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %e, "dashboard backend error");
    AppError::Internal("The server could not complete this; the details are in its log.".into())
}

fn row_to_check(row: &sqlx::sqlite::SqliteRow) -> Result<SystemCheck, sqlx::Error> {
    Ok(SystemCheck {
        id: row.try_get("id")?,
        checked_at: row.try_get("checked_at")?,
        database_ms: row.try_get("database_ms")?,
        free_bytes: row.try_get::<i64, _>("free_bytes")?.max(0) as u64,
        ok: row.try_get::<i64, _>("ok")? != 0,
        summary: row.try_get("summary")?,
    })
}

#[async_trait::async_trait]
impl Backend for EmbeddedBackend {
    async fn system_status(&self) -> Result<SystemStatus, AppError> {
        let total: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM system_checks")
            .fetch_one(&self.db)
            .await
            .map_err(internal)?;
        let rows = sqlx::query("SELECT * FROM system_checks ORDER BY id DESC LIMIT ?")
            .bind(LIST_CHECKS)
            .fetch_all(&self.db)
            .await
            .map_err(internal)?;
        let recent = rows
            .iter()
            .map(row_to_check)
            .collect::<Result<_, _>>()
            .map_err(internal)?;
        Ok(SystemStatus {
            version: env!("CARGO_PKG_VERSION").to_string(),
            total_checks: total,
            recent,
        })
    }

    async fn run_system_check(&self) -> Result<SystemCheck, AppError> {
        let dir = self.data_dir.clone();
        let free_bytes = tokio::task::spawn_blocking(move || fs4::available_space(&*dir))
            .await
            .map_err(internal)?
            .map_err(internal)?;
        let started = Instant::now();
        let checked_at = crate::api::now_rfc3339();
        let mut tx = self
            .db
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(internal)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO system_checks (checked_at, database_ms, free_bytes, ok, summary) \
             VALUES (?, 0, ?, 0, '') RETURNING id",
        )
        .bind(&checked_at)
        .bind(i64::try_from(free_bytes).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await
        .map_err(internal)?;
        let read_back: String =
            sqlx::query_scalar("SELECT checked_at FROM system_checks WHERE id = ?")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(internal)?;
        let database_ms = started.elapsed().as_secs_f64() * 1000.0;
        let db_ok = read_back == checked_at;
        let space_ok = free_bytes >= LOW_SPACE_BYTES;
        let summary = match (db_ok, space_ok) {
            (true, true) => format!(
                "passed. Database write and read-back took {database_ms:.1} ms; {} free in the data directory.",
                human_bytes(free_bytes)
            ),
            (true, false) => format!(
                "warning. The database works ({database_ms:.1} ms), but only {} is free in the data directory: free some space before taking snapshots.",
                human_bytes(free_bytes)
            ),
            (false, _) => {
                "failed. The database returned something other than what was written.".to_string()
            }
        };
        sqlx::query("UPDATE system_checks SET database_ms = ?, ok = ?, summary = ? WHERE id = ?")
            .bind(database_ms)
            .bind(db_ok && space_ok)
            .bind(&summary)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        sqlx::query("DELETE FROM system_checks WHERE id <= ?")
            .bind(id - KEEP_CHECKS)
            .execute(&mut *tx)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(SystemCheck {
            id,
            checked_at,
            database_ms,
            free_bytes,
            ok: db_ok && space_ok,
            summary,
        })
    }

    async fn api_endpoints(&self) -> Result<Vec<EndpointSummary>, AppError> {
        Ok(endpoints_of(&crate::api::ApiDoc::openapi()))
    }

    async fn identity(&self, token: &str) -> Result<Identity, AppError> {
        let caller = self.caller(token).await?;
        Ok(Identity {
            admin: caller.admin,
            projects: self.projects(&caller).await?,
        })
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
            let view = self.container_view(c, &projects).await?;
            if view.status == "deleted" {
                if view.snapshot_count > 0 {
                    let (_, snaps) = self
                        .service
                        .list_snapshots(&caller, &view.id)
                        .await
                        .map_err(app_error)?;
                    deleted.push((view, snaps.iter().map(snapshot_view).collect()));
                }
            } else {
                containers.push(view);
            }
        }
        let images = self
            .service
            .list_images()
            .await
            .map_err(app_error)?
            .into_iter()
            .map(|i| i.name)
            .collect();
        Ok(Overview {
            identity: Identity {
                admin: caller.admin,
                projects,
            },
            containers,
            deleted,
            images,
            now: crate::service::fmt_time(crate::service::now()),
        })
    }

    async fn create_container(
        &self,
        token: &str,
        project: &str,
        name: &str,
        image: &str,
    ) -> Result<ContainerView, AppError> {
        let caller = self.caller(token).await?;
        let c = self
            .service
            .create_container(&caller, project, name, image, None)
            .await
            .map_err(app_error)?;
        let projects = self.projects(&caller).await?;
        self.container_view(c, &projects).await
    }

    async fn container_action(&self, token: &str, id: &str, action: &str) -> Result<(), AppError> {
        let caller = self.caller(token).await?;
        match action {
            "start" => self.service.start_container(&caller, id).await.map(|_| ()),
            "stop" => self.service.stop_container(&caller, id).await.map(|_| ()),
            "delete" => self.service.delete_container(&caller, id).await,
            other => Err(ApiError::BadRequest(format!("unknown action {other:?}"))),
        }
        .map_err(app_error)
    }

    async fn timeline(&self, token: &str, id: &str) -> Result<Timeline, AppError> {
        let caller = self.caller(token).await?;
        let projects = self.projects(&caller).await?;
        let c = self
            .service
            .get_container(&caller, id)
            .await
            .map_err(app_error)?;
        let container = self.container_view(c, &projects).await?;
        let (row, snaps) = self
            .service
            .list_snapshots(&caller, id)
            .await
            .map_err(app_error)?;
        // "Frees X if deleted" for every snapshot, in one pass over the store. It is
        // advisory: if the pass fails the cards simply leave it out.
        let exclusive = self
            .service
            .engine()
            .exclusive_bytes_all(&row.id)
            .await
            .unwrap_or_default();
        let snapshots: Vec<SnapshotView> = snaps
            .iter()
            .map(|s| SnapshotView {
                exclusive_bytes: exclusive.get(&s.name).copied(),
                ..snapshot_view(s)
            })
            .collect();
        let stored: std::collections::HashMap<String, u64> = self
            .service
            .engine()
            .stored_history(&row.id)
            .await
            .unwrap_or_default()
            .into_iter()
            .collect();
        let axis = snapshots
            .iter()
            .map(|s| AxisPoint {
                stored_bytes: stored.get(&s.name).copied(),
                ..axis_point(s)
            })
            .collect();
        Ok(Timeline {
            container,
            total: snapshots.len(),
            axis,
            snapshots,
            projects,
            now: crate::service::fmt_time(crate::service::now()),
            schedule: None,
        })
    }

    async fn create_snapshot(
        &self,
        token: &str,
        id: &str,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<SnapshotView, AppError> {
        let caller = self.caller(token).await?;
        let (_, s) = self
            .service
            .create_snapshot(&caller, id, alias, expiry_days)
            .await
            .map_err(app_error)?;
        Ok(snapshot_view(&s))
    }

    async fn restore_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        safety: bool,
    ) -> Result<RestoreOutcome, AppError> {
        let caller = self.caller(token).await?;
        let r = self
            .service
            .restore_snapshot(&caller, id, name, safety)
            .await
            .map_err(app_error)?;
        Ok(RestoreOutcome {
            restored: snapshot_view(&r.snapshot),
            safety: r.safety_snapshot.as_ref().map(snapshot_view),
        })
    }

    async fn delete_snapshot(&self, token: &str, id: &str, name: &str) -> Result<(), AppError> {
        let caller = self.caller(token).await?;
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
    ) -> Result<ContainerView, AppError> {
        let caller = self.caller(token).await?;
        let c = self
            .service
            .copy_container(&caller, id, project, new_name, Some(name))
            .await
            .map_err(app_error)?;
        let projects = self.projects(&caller).await?;
        self.container_view(c, &projects).await
    }

    async fn update_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        change: SnapshotChange,
    ) -> Result<SnapshotView, AppError> {
        let caller = self.caller(token).await?;
        let (_, s) = self
            .service
            .update_snapshot(&caller, id, name, change.alias, change.expiry_days)
            .await
            .map_err(app_error)?;
        Ok(snapshot_view(&s))
    }

    async fn diff_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        against: &str,
    ) -> Result<DiffView, AppError> {
        let caller = self.caller(token).await?;
        let d = self
            .service
            .diff_snapshot(&caller, id, name, against, app::model::DIFF_LIMIT)
            .await
            .map_err(app_error)?;
        Ok(DiffView {
            from: name.to_string(),
            against: against.to_string(),
            changes: d
                .changes
                .into_iter()
                .map(|c| DiffChangeView {
                    path: c.path,
                    kind: crate::api::snapshots::change_kind(&c.kind).into(),
                    entry_type: c.entry_type.into(),
                })
                .collect(),
            truncated: d.truncated,
        })
    }

    async fn browse_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<Listing, AppError> {
        let caller = self.caller(token).await?;
        let entries = self
            .service
            .browse_snapshot(&caller, id, name, path)
            .await
            .map_err(app_error)?
            .into_iter()
            .map(|e| FileView {
                name: e.name,
                entry_type: e.entry_type.into(),
                size: e.size,
                mode: format!("{:04o}", e.mode),
                uid: e.uid,
                gid: e.gid,
                mtime: crate::service::fmt_time(e.mtime),
                link_target: e.link_target,
            })
            .collect();
        Ok(Listing {
            path: path.to_string(),
            entries,
        })
    }

    async fn read_file(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<(u64, ByteStream), AppError> {
        let caller = self.caller(token).await?;
        let (size, stream) = self
            .service
            .snapshot_file_stream(&caller, id, name, path)
            .await
            .map_err(app_error)?;
        Ok((size, stream.boxed()))
    }

    async fn verify_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        deep: bool,
    ) -> Result<VerifyView, AppError> {
        let caller = self.caller(token).await?;
        let r = self
            .service
            .verify_snapshot(&caller, id, name, deep)
            .await
            .map_err(app_error)?;
        let damaged: Vec<DamageView> = crate::service::snapshots::damage_list(&r)
            .into_iter()
            .map(|(object, reason)| DamageView { object, reason })
            .collect();
        Ok(VerifyView {
            clean: damaged.is_empty(),
            deep,
            trees: r.trees,
            chunks: r.chunks,
            damaged,
        })
    }

    async fn schedule(&self, token: &str, id: &str) -> Result<Option<ScheduleView>, AppError> {
        let caller = self.caller(token).await?;
        match self.service.get_schedule(&caller, id).await {
            Ok(s) => Ok(Some(schedule_view(s))),
            // The container exists (checked first) but has no schedule.
            Err(ApiError::NotFound(_)) => {
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
        spec: ScheduleSpecView,
    ) -> Result<ScheduleView, AppError> {
        let caller = self.caller(token).await?;
        let spec = crate::service::schedules::ScheduleSpec {
            schedule: spec.schedule,
            expiry: spec.expiry,
            alias_pattern: spec.alias_pattern,
            include_stopped: spec.include_stopped,
        };
        self.service
            .set_schedule(&caller, id, spec)
            .await
            .map(schedule_view)
            .map_err(app_error)
    }

    async fn delete_schedule(&self, token: &str, id: &str) -> Result<(), AppError> {
        let caller = self.caller(token).await?;
        self.service
            .delete_schedule(&caller, id)
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
        let rx = self.service.events().subscribe();
        let stream = tokio_stream::wrappers::BroadcastStream::new(rx).filter_map(move |e| {
            let out = match e {
                Ok(e) if e.project_id.is_empty() || caller.sees(&e.project_id) => {
                    Some(live_event(&e))
                }
                Ok(_) => None,
                // Fell behind: the page reloads its data, as after any change.
                Err(_) => Some(LiveEvent {
                    kind: "lagged".into(),
                    container_id: None,
                    operation: None,
                    phase: None,
                    files: None,
                    bytes: None,
                }),
            };
            std::future::ready(out)
        });
        Ok(stream.boxed())
    }
}

/// Flattens an OpenAPI document into one summary per operation, in document order.
pub fn endpoints_of(doc: &utoipa::openapi::OpenApi) -> Vec<EndpointSummary> {
    serde_json::to_value(doc)
        .map(|v| endpoints_of_json(&v))
        .unwrap_or_default()
}

/// Flattens an OpenAPI document read as plain JSON (ours, or a Hoody-compatible server's that
/// the typed model may not read): one summary per operation, with its parameters, request
/// example and schema, and answers.
pub fn endpoints_of_json(doc: &serde_json::Value) -> Vec<EndpointSummary> {
    use serde_json::Value;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let pretty = |v: &Value| serde_json::to_string_pretty(v).ok();
    // `{"$ref": "#/components/schemas/X"}` → the schema X itself, with every reference in it
    // inlined too, so the schema shown is whole and the Run widget can validate a body
    // against it alone; an optional body (`oneOf: [null, {"$ref": ...}]`) → the referenced
    // schema.
    let resolve = |v: &Value| -> Value {
        let optional = v["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|alt| alt["$ref"].is_string());
        inline_refs(optional.unwrap_or(v), doc, 0)
    };
    let mut out = Vec::new();
    let Some(paths) = doc["paths"].as_object() else {
        return out;
    };
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let op = &item[method];
            if !op.is_object() {
                continue;
            }
            let parameters = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| app::api::ParamDoc {
                    name: text(&p["name"]),
                    location: text(&p["in"]),
                    required: p["required"].as_bool().unwrap_or(false),
                    description: text(&p["description"]),
                    example: match &p["example"] {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        other => Some(other.to_string()),
                    },
                })
                .collect();
            let json_body = &op["requestBody"]["content"]["application/json"];
            let schema = resolve(&json_body["schema"]);
            let example = [&json_body["example"], &schema["example"]]
                .into_iter()
                .find(|e| !e.is_null())
                .and_then(pretty);
            let responses = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(status, r)| (status.clone(), text(&r["description"])))
                .collect();
            let response_schemas = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(status, r)| {
                    let schema = &r["content"]["application/json"]["schema"];
                    (!schema.is_null())
                        .then(|| pretty(&resolve(schema)))
                        .flatten()
                        .map(|s| (status.clone(), s))
                })
                .collect();
            out.push(EndpointSummary {
                tag: op["tags"][0].as_str().unwrap_or("Other").to_string(),
                method: method.to_uppercase(),
                path: path.clone(),
                summary: text(&op["summary"]),
                description: text(&op["description"]),
                parameters,
                request_example: example,
                request_schema: (!schema.is_null()).then(|| pretty(&schema)).flatten(),
                responses,
                response_schemas,
                secured: op["security"].as_array().is_some_and(|s| !s.is_empty()),
            });
        }
    }
    out
}

/// `v` with every `#/components/schemas/...` reference replaced by the schema it names.
/// Nesting deeper than 16 references (only a recursive type gets there) becomes `{}`,
/// which accepts anything: the API itself still checks such a body.
fn inline_refs(v: &serde_json::Value, doc: &serde_json::Value, depth: u8) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if depth >= 16 {
                    return Value::Object(Default::default());
                }
                return inline_refs(&doc["components"]["schemas"][name], doc, depth + 1);
            }
            Value::Object(
                map.iter()
                    .map(|(k, x)| (k.clone(), inline_refs(x, doc, depth)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|x| inline_refs(x, doc, depth)).collect())
        }
        other => other.clone(),
    }
}

/// Sends a Content-Security-Policy without inline script: the hydration scripts carry a
/// fresh per-response nonce, and nothing else may run.
fn content_security_policy() {
    use leptos::prelude::use_context;
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::Nonce::new();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        &*nonce
    );
    if let Ok(v) = http::HeaderValue::from_str(&policy) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
    }
    provide_context(nonce);
}

/// An error of the dashboard's plain routes, as a short text the browser shows.
fn plain_error(e: AppError) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = http::StatusCode::from_u16(e.status_code())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    (status, format!("{}: {e}\n", e.title())).into_response()
}

fn session_token(headers: &http::HeaderMap) -> Result<String, AppError> {
    app::session::token_from_headers(headers)
        .ok_or_else(|| AppError::Unauthorized("Sign in to Snapline first.".into()))
}

#[derive(serde::Deserialize)]
struct DownloadQuery {
    path: String,
}

/// `GET /download/{id}/{name}?path=/etc/hostname`: one file of a snapshot, for the browse
/// page's download links. The session cookie authenticates (SameSite=Strict: another site
/// cannot make the browser send it), and nothing changes, so a plain GET is right.
async fn download(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: http::HeaderMap,
    axum::extract::Path((id, name)): axum::extract::Path<(String, String)>,
    query: Result<axum::extract::Query<DownloadQuery>, axum::extract::rejection::QueryRejection>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Ok(axum::extract::Query(q)) = query else {
        return plain_error(AppError::BadRequest(
            "Say which file: add ?path=/some/file to the address.".into(),
        ));
    };
    let result = async {
        let token = session_token(&headers)?;
        state.backend.read_file(&token, &id, &name, &q.path).await
    }
    .await;
    match result {
        Ok((size, stream)) => (
            [
                (
                    http::header::CONTENT_TYPE,
                    "application/octet-stream".to_string(),
                ),
                (http::header::CONTENT_LENGTH, size.to_string()),
                (
                    http::header::CONTENT_DISPOSITION,
                    format!(
                        "attachment; filename=\"{}\"",
                        crate::service::snapshots::download_name(&q.path)
                    ),
                ),
                (http::header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            axum::body::Body::from_stream(stream),
        )
            .into_response(),
        Err(e) => plain_error(e),
    }
}

/// `GET /live/events`: the events the signed-in user may see, as Server-Sent Events whose
/// data is a [`LiveEvent`]. The browser's `EventSource` cannot send a bearer token, so the
/// dashboard serves its own stream over the session, from whichever backend is in use.
async fn live_events(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
    let stream = match session_token(&headers) {
        Ok(token) => state.backend.events(&token).await,
        Err(e) => Err(e),
    };
    match stream {
        Ok(stream) => Sse::new(stream.map(|e| {
            Ok::<_, std::convert::Infallible>(SseEvent::default().json_data(&e).unwrap_or_default())
        }))
        .keep_alive(KeepAlive::default())
        .into_response(),
        Err(e) => plain_error(e),
    }
}

/// SSR pages, server functions and static assets.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let backend: SharedBackend = state.backend.clone();
    let docs = state.docs.clone();
    let context = move || {
        provide_context(backend.clone());
        provide_context(docs.clone());
        content_security_policy();
    };
    let options = state.leptos_options.clone();
    let rpc_guard = axum::middleware::from_fn(crate::csrf::refuse_cross_site);
    Router::new()
        .route("/live/events", axum::routing::get(live_events))
        .route("/download/{id}/{name}", axum::routing::get(download))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .layer(axum::middleware::from_fn(crate::rpc_status::error_status))
        .layer(rpc_guard)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_is_listed() {
        let list = endpoints_of(&crate::api::ApiDoc::openapi());
        assert!(
            list.iter()
                .any(|e| e.method == "GET" && e.path == "/api/v1/health" && e.tag == "System")
        );
        assert!(list.iter().all(|e| !e.summary.is_empty()), "{list:?}");
        let create = list
            .iter()
            .find(|e| e.method == "POST" && e.path == "/api/v1/containers/{container_id}/snapshots")
            .expect("create snapshot is documented");
        assert!(create.secured);
        assert!(
            create
                .parameters
                .iter()
                .any(|p| p.name == "container_id" && p.location == "path" && p.required)
        );
        assert!(
            create
                .request_example
                .as_deref()
                .is_some_and(|e| e.contains("alias")),
            "{create:?}"
        );
        assert!(
            create
                .request_schema
                .as_deref()
                .is_some_and(|s| s.contains("expiry")),
            "{create:?}"
        );
        assert!(
            create.responses.iter().any(|(s, _)| s == "401"),
            "{create:?}"
        );
    }
}
