//! The dashboard's server side: Leptos SSR routes, server functions under `/rpc`, static
//! assets, and the embedded [`app::backend::Backend`] they call.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use app::AppError;
use app::api::{EndpointSummary, SystemCheck, SystemStatus};
use app::backend::{Backend, SharedBackend};
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

/// The backend that runs in the same process as the server.
pub struct EmbeddedBackend {
    db: SqlitePool,
    data_dir: Arc<PathBuf>,
}

impl EmbeddedBackend {
    pub fn new(db: SqlitePool, data_dir: Arc<PathBuf>) -> Self {
        EmbeddedBackend { db, data_dir }
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

/// Bytes as a person reads them: 1.5 GB, 320 MB.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
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
        let mut tx = self.db.begin().await.map_err(internal)?;
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
}

/// Flattens an OpenAPI document into one summary per operation, in document order.
pub fn endpoints_of(doc: &utoipa::openapi::OpenApi) -> Vec<EndpointSummary> {
    let mut out = Vec::new();
    for (path, item) in doc.paths.paths.iter() {
        let ops = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            out.push(EndpointSummary {
                tag: op
                    .tags
                    .as_ref()
                    .and_then(|t| t.first().cloned())
                    .unwrap_or_else(|| "Other".into()),
                method: method.to_string(),
                path: path.clone(),
                summary: op.summary.clone().unwrap_or_default(),
                description: op.description.clone().unwrap_or_default(),
            });
        }
    }
    out
}

/// SSR pages, server functions and static assets.
pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(app::App);
    let backend: SharedBackend = state.backend.clone();
    let context = move || provide_context(backend.clone());
    let options = state.leptos_options.clone();
    let rpc_guard = axum::middleware::from_fn(crate::csrf::refuse_cross_site);
    Router::new()
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, app::shell))
        .layer(rpc_guard)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes_reads_naturally() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
        assert_eq!(human_bytes(52_100_000_000), "52.1 GB");
    }

    #[test]
    fn every_documented_operation_is_listed() {
        let list = endpoints_of(&crate::api::ApiDoc::openapi());
        assert!(
            list.iter()
                .any(|e| e.method == "GET" && e.path == "/api/v1/health" && e.tag == "System")
        );
        assert!(list.iter().all(|e| !e.summary.is_empty()), "{list:?}");
    }
}
