//! The self-check of a node: a database write and read-back, and the data directory's free
//! space, recorded in `system_checks`. Both dashboard backends run it on their own node's
//! database (a proxy node has a database but no engine), so it takes a pool, not a
//! [`crate::Service`].

use std::path::Path;
use std::time::Instant;

use engine::DbPool;
use sqlx::Row;
use types::{SystemCheck, SystemStatus};

use crate::error::ServiceError;

/// How many self-checks are kept; older ones are pruned so the table cannot grow unbounded.
const KEEP_CHECKS: i64 = 100;
/// How many self-checks a status lists.
const LIST_CHECKS: i64 = 10;

/// What a check measured, for the caller to judge and put in words.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// The database gave back what was written.
    pub database_ok: bool,
    /// Time the write and read-back took, in milliseconds.
    pub database_ms: f64,
    /// Free bytes on the data directory's filesystem.
    pub free_bytes: u64,
}

/// The version (as the caller words it) and the newest checks of `db`, newest first.
pub async fn status(db: &DbPool, version: String) -> Result<SystemStatus, ServiceError> {
    let total: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM system_checks")
        .fetch_one(db)
        .await?;
    let rows = sqlx::query("SELECT * FROM system_checks ORDER BY id DESC LIMIT $1")
        .bind(LIST_CHECKS)
        .fetch_all(db)
        .await?;
    let recent = rows
        .iter()
        .map(|row| -> Result<SystemCheck, sqlx::Error> {
            Ok(SystemCheck {
                id: row.try_get("id")?,
                checked_at: row.try_get("checked_at")?,
                database_ms: row.try_get("database_ms")?,
                free_bytes: row.try_get::<i64, _>("free_bytes")?.max(0) as u64,
                ok: row.try_get::<i64, _>("ok")? != 0,
                summary: row.try_get("summary")?,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(SystemStatus {
        version,
        total_checks: total,
        recent,
    })
}

/// Runs and records a check of `db` and of `data_dir`'s free space. `judge` turns what was
/// measured into the outcome and its sentence (a proxy adds its upstream's answer).
pub async fn run(
    db: &DbPool,
    data_dir: &Path,
    judge: impl FnOnce(&Measured) -> (bool, String),
) -> Result<SystemCheck, ServiceError> {
    let dir = data_dir.to_path_buf();
    let free_bytes = tokio::task::spawn_blocking(move || fs4::available_space(&dir))
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)?;
    let started = Instant::now();
    let checked_at = crate::now_rfc3339();
    let mut tx = engine::db::begin_write(db).await?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO system_checks (checked_at, database_ms, free_bytes, ok, summary) \
         VALUES ($1, 0, $2, 0, '') RETURNING id",
    )
    .bind(&checked_at)
    .bind(i64::try_from(free_bytes).unwrap_or(i64::MAX))
    .fetch_one(&mut *tx)
    .await?;
    let read_back: String =
        sqlx::query_scalar("SELECT checked_at FROM system_checks WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
    let measured = Measured {
        database_ok: read_back == checked_at,
        database_ms: started.elapsed().as_secs_f64() * 1000.0,
        free_bytes,
    };
    let (ok, summary) = judge(&measured);
    sqlx::query("UPDATE system_checks SET database_ms = $1, ok = $2, summary = $3 WHERE id = $4")
        .bind(measured.database_ms)
        .bind(i64::from(ok))
        .bind(&summary)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM system_checks WHERE id <= $1")
        .bind(id - KEEP_CHECKS)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(SystemCheck {
        id,
        checked_at,
        database_ms: measured.database_ms,
        free_bytes,
        ok,
        summary,
    })
}
