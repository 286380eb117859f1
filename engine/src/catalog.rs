//! The snapshot catalog in the metadata database: roots, snapshots and the restore journal.
//!
//! Durability: the database runs with `synchronous=FULL` (the caller's pool settings); a
//! snapshot row is inserted only after every object it references is in a durable pack.

use crate::DbPool;
use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::error::EngineError;
use crate::ids::{ContainerId, ObjectId};

/// A snapshot as the catalog records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The container it was taken of.
    pub container: ContainerId,
    /// `snap-YYYYMMDD-HHMMSS`, with `-2`, `-3`, ... when taken twice in one second.
    pub name: String,
    /// Optional human name.
    pub alias: Option<String>,
    /// When it was taken (UTC).
    pub created_at: DateTime<Utc>,
    /// When it expires, if ever.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last restored or copied from.
    pub last_used_at: Option<DateTime<Utc>>,
    /// The top tree in the object store.
    pub top_tree: ObjectId,
    /// Logical size: bytes of its regular files.
    pub size: u64,
    /// Number of regular files.
    pub file_count: u64,
    /// Bytes of objects this snapshot added to the store when it was taken.
    pub added_bytes: u64,
}

/// What to change. `None` leaves a field as it is; `Some(None)` clears the alias, or pins the
/// snapshot so it never expires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotEdit {
    /// The new alias, or `Some(None)` for none.
    pub alias: Option<Option<String>>,
    /// The new expiry, or `Some(None)` for never.
    pub expires_at: Option<Option<DateTime<Utc>>>,
}

/// Formats a time as the API and the catalog store it: RFC 3339, milliseconds, `Z`.
///
/// The one format of `types::time`, so the catalog, the API and the dashboard agree.
pub fn fmt_time(t: DateTime<Utc>) -> String {
    types::time::format_millis(t.timestamp_millis())
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, EngineError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| EngineError::Invalid(format!("bad timestamp {s:?} in the catalog: {e}")))
}

fn opt_time(s: Option<String>) -> Result<Option<DateTime<Utc>>, EngineError> {
    s.as_deref().map(parse_time).transpose()
}

fn row_to_info(row: &crate::DbRow) -> Result<SnapshotInfo, EngineError> {
    let container: String = row.try_get("container_id")?;
    let top: String = row.try_get("top_tree")?;
    Ok(SnapshotInfo {
        container: container
            .parse()
            .map_err(|e| EngineError::Invalid(format!("bad container id in the catalog: {e}")))?,
        name: row.try_get("name")?,
        alias: row.try_get("alias")?,
        created_at: parse_time(&row.try_get::<String, _>("created_at")?)?,
        expires_at: opt_time(row.try_get("expires_at")?)?,
        last_used_at: opt_time(row.try_get("last_used_at")?)?,
        top_tree: ObjectId::from_hex(&top)
            .map_err(|e| EngineError::Invalid(format!("bad tree id in the catalog: {e}")))?,
        size: row.try_get::<i64, _>("size")?.max(0) as u64,
        file_count: row.try_get::<i64, _>("file_count")?.max(0) as u64,
        added_bytes: row.try_get::<i64, _>("added_bytes")?.max(0) as u64,
    })
}

/// The catalog over a database pool.
#[derive(Clone)]
pub struct Catalog {
    db: DbPool,
}

impl Catalog {
    /// Wraps a pool whose schema is migrated.
    pub fn new(db: DbPool) -> Self {
        Catalog { db }
    }

    /// The database.
    pub(crate) fn db(&self) -> &DbPool {
        &self.db
    }

    /// Records a new live root.
    pub async fn add_root(&self, c: &ContainerId, now: DateTime<Utc>) -> Result<(), EngineError> {
        sqlx::query(
            "INSERT INTO engine_roots (container_id, created_at) VALUES ($1, $2) \
             ON CONFLICT (container_id) DO UPDATE SET created_at = excluded.created_at, deleted_at = NULL",
        )
        .bind(c.as_str())
        .bind(fmt_time(now))
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// Whether the container has a live root.
    pub async fn root_exists(&self, c: &ContainerId) -> Result<bool, EngineError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM engine_roots WHERE container_id = $1 AND deleted_at IS NULL",
        )
        .bind(c.as_str())
        .fetch_one(&self.db)
        .await?;
        Ok(n > 0)
    }

    /// Marks a root deleted (its snapshots stay).
    pub async fn mark_root_deleted(
        &self,
        c: &ContainerId,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        sqlx::query("UPDATE engine_roots SET deleted_at = $1 WHERE container_id = $2")
            .bind(fmt_time(now))
            .bind(c.as_str())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// The first free snapshot name for a creation time in this container.
    pub async fn free_name(
        &self,
        c: &ContainerId,
        at: DateTime<Utc>,
    ) -> Result<String, EngineError> {
        let base = at.format("snap-%Y%m%d-%H%M%S").to_string();
        let taken: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM engine_snapshots WHERE container_id = $1 AND (name = $2 OR name LIKE $3)",
        )
        .bind(c.as_str())
        .bind(&base)
        .bind(format!("{base}-%"))
        .fetch_all(&self.db)
        .await?;
        if !taken.contains(&base) {
            return Ok(base);
        }
        let mut n = 2;
        loop {
            let candidate = format!("{base}-{n}");
            if !taken.contains(&candidate) {
                return Ok(candidate);
            }
            n += 1;
        }
    }

    /// Records a root that never had live files and its one snapshot `s` (an image published
    /// from a snapshot), in one transaction: either both rows exist or neither.
    pub async fn insert_published(
        &self,
        s: &SnapshotInfo,
        now: DateTime<Utc>,
        op: Option<&str>,
    ) -> Result<(), EngineError> {
        let mut tx = crate::db::begin_write(&self.db).await?;
        end_op(&mut tx, op).await?;
        let r = sqlx::query(
            "INSERT INTO engine_roots (container_id, created_at, deleted_at) VALUES ($1, $2, $3)",
        )
        .bind(s.container.as_str())
        .bind(fmt_time(now))
        .bind(fmt_time(now))
        .execute(&mut *tx)
        .await;
        if let Err(sqlx::Error::Database(d)) = &r
            && d.is_unique_violation()
        {
            return Err(EngineError::RootExists(s.container));
        }
        r?;
        insert_row(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Inserts a snapshot row.
    /// With a shared store, `op` is the snapshot's registered operation: the row is written
    /// only if the operation still exists, in the same transaction that ends it, so a
    /// fenced operation commits nothing ([`EngineError::Fenced`]).
    pub async fn insert(&self, s: &SnapshotInfo, op: Option<&str>) -> Result<(), EngineError> {
        let mut tx = crate::db::begin_write(&self.db).await?;
        end_op(&mut tx, op).await?;
        insert_row(&mut tx, s).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The container's snapshots that have not expired at `now`, newest first.
    pub async fn list(
        &self,
        c: &ContainerId,
        now: DateTime<Utc>,
    ) -> Result<Vec<SnapshotInfo>, EngineError> {
        let rows = sqlx::query(
            "SELECT * FROM engine_snapshots WHERE container_id = $1 \
             AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, name DESC",
        )
        .bind(c.as_str())
        .bind(fmt_time(now))
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(row_to_info).collect()
    }

    /// Every snapshot row, expired or not.
    pub async fn all_snapshots(&self) -> Result<Vec<SnapshotInfo>, EngineError> {
        let rows = sqlx::query("SELECT * FROM engine_snapshots ORDER BY container_id, created_at")
            .fetch_all(&self.db)
            .await?;
        rows.iter().map(row_to_info).collect()
    }

    /// Every snapshot row, expired or not (for GC marking: an expired snapshot keeps its
    /// objects until its row is gone).
    pub async fn all_top_trees(&self) -> Result<Vec<ObjectId>, EngineError> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT top_tree FROM engine_snapshots")
            .fetch_all(&self.db)
            .await?;
        rows.iter()
            .map(|h| {
                ObjectId::from_hex(h)
                    .map_err(|e| EngineError::Invalid(format!("bad tree id in the catalog: {e}")))
            })
            .collect()
    }

    /// Finds a live (unexpired) snapshot by name, or by alias when no name matches and
    /// exactly one snapshot has that alias.
    pub async fn resolve(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
        now: DateTime<Utc>,
    ) -> Result<SnapshotInfo, EngineError> {
        let live = self.list(c, now).await?;
        if let Some(s) = live.iter().find(|s| s.name == name_or_alias) {
            return Ok(s.clone());
        }
        let by_alias: Vec<&SnapshotInfo> = live
            .iter()
            .filter(|s| s.alias.as_deref() == Some(name_or_alias))
            .collect();
        match by_alias.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(EngineError::NoSuchSnapshot {
                container: *c,
                name: name_or_alias.to_string(),
            }),
            many => Err(EngineError::AmbiguousAlias {
                container: *c,
                alias: name_or_alias.to_string(),
                names: many.iter().map(|s| s.name.clone()).collect(),
            }),
        }
    }

    /// Sets `last_used_at`.
    pub async fn touch(
        &self,
        c: &ContainerId,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        sqlx::query(
            "UPDATE engine_snapshots SET last_used_at = $1 WHERE container_id = $2 AND name = $3",
        )
        .bind(fmt_time(now))
        .bind(c.as_str())
        .bind(name)
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// Applies an edit to a row that is unexpired at `now`; returns whether one matched.
    pub async fn update_meta(
        &self,
        c: &ContainerId,
        name: &str,
        edit: &SnapshotEdit,
        now: DateTime<Utc>,
    ) -> Result<bool, EngineError> {
        // A flag per field (0 or 1, an integer: PostgreSQL compares no boolean with 1) says
        // whether to set it, so NULL can be written. The casts give PostgreSQL the flags'
        // type where nothing else in the statement does.
        let r = sqlx::query(
            "UPDATE engine_snapshots SET \
             alias = CASE WHEN CAST($1 AS BIGINT) = 1 THEN $2 ELSE alias END, \
             expires_at = CASE WHEN CAST($3 AS BIGINT) = 1 THEN $4 ELSE expires_at END \
             WHERE container_id = $5 AND name = $6 AND (expires_at IS NULL OR expires_at > $7)",
        )
        .bind(i64::from(edit.alias.is_some()))
        .bind(edit.alias.clone().flatten())
        .bind(i64::from(edit.expires_at.is_some()))
        .bind(edit.expires_at.flatten().map(fmt_time))
        .bind(c.as_str())
        .bind(name)
        .bind(fmt_time(now))
        .execute(&self.db)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Deletes one snapshot row; returns whether it existed.
    pub async fn delete(&self, c: &ContainerId, name: &str) -> Result<bool, EngineError> {
        let r = sqlx::query("DELETE FROM engine_snapshots WHERE container_id = $1 AND name = $2")
            .bind(c.as_str())
            .bind(name)
            .execute(&self.db)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Deletes every snapshot that expired at or before `now`; returns them.
    pub async fn delete_expired(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<SnapshotInfo>, EngineError> {
        // One statement that deletes and says what it deleted: when several nodes expire at
        // once, each row is returned by exactly one of them (on PostgreSQL the second DELETE
        // waits on the row lock, then finds the row gone), so each expiry is reported once.
        let rows = sqlx::query(
            "DELETE FROM engine_snapshots WHERE expires_at IS NOT NULL AND expires_at <= $1 \
             RETURNING *",
        )
        .bind(fmt_time(now))
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(row_to_info).collect()
    }

    /// Records that a restore is about to change the live tree: of the whole tree, or of
    /// `paths` only (absolute, as [`crate::Selection::raw`] gives them). The column holds a
    /// JSON array of strings when every path is UTF-8 (as rows written before non-UTF-8
    /// names were kept), else an array of byte arrays.
    pub async fn journal_begin(
        &self,
        c: &ContainerId,
        name: &str,
        top: &ObjectId,
        paths: Option<&[Vec<u8>]>,
        now: DateTime<Utc>,
    ) -> Result<(), EngineError> {
        let paths = paths
            .map(|p| {
                let text: Option<Vec<&str>> =
                    p.iter().map(|b| std::str::from_utf8(b).ok()).collect();
                match text {
                    Some(t) => serde_json::to_string(&t),
                    None => serde_json::to_string(p),
                }
            })
            .transpose()
            .map_err(|e| EngineError::Invalid(format!("cannot encode the restore paths: {e}")))?;
        sqlx::query(
            "INSERT INTO engine_restore_journal (container_id, snapshot_name, top_tree, paths, started_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (container_id) DO UPDATE SET \
             snapshot_name = excluded.snapshot_name, top_tree = excluded.top_tree, \
             paths = excluded.paths, started_at = excluded.started_at, failed = NULL",
        )
        .bind(c.as_str())
        .bind(name)
        .bind(top.to_hex())
        .bind(paths)
        .bind(fmt_time(now))
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// Records why the journaled restore of a container failed; its row stays.
    pub async fn journal_fail(&self, c: &ContainerId, reason: &str) -> Result<(), EngineError> {
        sqlx::query("UPDATE engine_restore_journal SET failed = $1 WHERE container_id = $2")
            .bind(reason)
            .bind(c.as_str())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// Clears the journal of a container after its restore completed.
    pub async fn journal_end(&self, c: &ContainerId) -> Result<(), EngineError> {
        sqlx::query("DELETE FROM engine_restore_journal WHERE container_id = $1")
            .bind(c.as_str())
            .execute(&self.db)
            .await?;
        Ok(())
    }

    /// The pending restore of a container, if any.
    pub async fn journal_get(&self, c: &ContainerId) -> Result<Option<JournalEntry>, EngineError> {
        let row = sqlx::query(
            "SELECT container_id, snapshot_name, top_tree, paths, failed \
             FROM engine_restore_journal WHERE container_id = $1",
        )
        .bind(c.as_str())
        .fetch_optional(&self.db)
        .await?;
        row.as_ref().map(journal_entry).transpose()
    }

    /// Every pending restore.
    pub async fn journal_all(&self) -> Result<Vec<JournalEntry>, EngineError> {
        let rows = sqlx::query(
            "SELECT container_id, snapshot_name, top_tree, paths, failed \
             FROM engine_restore_journal",
        )
        .fetch_all(&self.db)
        .await?;
        rows.iter().map(journal_entry).collect()
    }
}

fn journal_entry(r: &crate::DbRow) -> Result<JournalEntry, EngineError> {
    let c: String = r.try_get("container_id")?;
    let top: String = r.try_get("top_tree")?;
    let paths: Option<String> = r.try_get("paths")?;
    Ok(JournalEntry {
        container: c
            .parse()
            .map_err(|e| EngineError::Invalid(format!("bad container id in the journal: {e}")))?,
        snapshot: r.try_get("snapshot_name")?,
        top: ObjectId::from_hex(&top)
            .map_err(|e| EngineError::Invalid(format!("bad tree id in the journal: {e}")))?,
        paths: paths
            .map(|p| {
                serde_json::from_str::<Vec<String>>(&p)
                    .map(|t| t.into_iter().map(String::into_bytes).collect())
                    .or_else(|_| serde_json::from_str::<Vec<Vec<u8>>>(&p))
            })
            .transpose()
            .map_err(|e| EngineError::Invalid(format!("bad paths in the journal: {e}")))?,
        failed: r.try_get("failed")?,
    })
}

/// A restore that has not completed: interrupted by a crash (recovery finishes it), or
/// failed while applying (it waits for a restore that covers it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    /// The container whose live tree was being changed.
    pub container: ContainerId,
    /// The snapshot being restored.
    pub snapshot: String,
    /// Its top tree.
    pub top: ObjectId,
    /// The paths of a partial restore (bytes: names need not be UTF-8); `None` for the
    /// whole tree.
    pub paths: Option<Vec<Vec<u8>>>,
    /// Why the last attempt failed; `None` when it was interrupted (or never failed).
    pub failed: Option<String>,
}

/// Ends a registered operation inside a commit's transaction; fails with
/// [`EngineError::Fenced`] when GC already removed it (its lease lapsed).
async fn end_op(conn: &mut sqlx::AnyConnection, op: Option<&str>) -> Result<(), EngineError> {
    let Some(op) = op else { return Ok(()) };
    let r = sqlx::query("DELETE FROM store_ops WHERE id = $1")
        .bind(op)
        .execute(conn)
        .await?;
    if r.rows_affected() == 0 {
        return Err(EngineError::Fenced(op.to_string()));
    }
    Ok(())
}

async fn insert_row(conn: &mut sqlx::AnyConnection, s: &SnapshotInfo) -> Result<(), EngineError> {
    sqlx::query(
        "INSERT INTO engine_snapshots (container_id, name, alias, created_at, expires_at, \
         last_used_at, top_tree, size, file_count, added_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(s.container.as_str())
    .bind(&s.name)
    .bind(&s.alias)
    .bind(fmt_time(s.created_at))
    .bind(s.expires_at.map(fmt_time))
    .bind(s.last_used_at.map(fmt_time))
    .bind(s.top_tree.to_hex())
    .bind(i64::try_from(s.size).unwrap_or(i64::MAX))
    .bind(i64::try_from(s.file_count).unwrap_or(i64::MAX))
    .bind(i64::try_from(s.added_bytes).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}
