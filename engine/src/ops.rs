//! Operations registered in the database, so that garbage collection on one node never
//! deletes a pack that an operation on another node relies on (`docs/SCALE-OUT.md`, the GC
//! protocol). Only for a store several nodes share (S3); a local store's GC has the
//! process's own lease ([`crate::engine::Engine`]'s `gc_lease`).
//!
//! The protocol:
//! - Every operation that may rely on stored objects (snapshot, restore, copy, browse,
//!   export…) registers a row in `store_ops` at its start, stamped with the store's current
//!   epoch, and keeps its lease (`lease_until`) renewed while its engine lives. The row goes
//!   when the operation ends.
//! - GC condemns unused packs in one transaction that also bumps the epoch to `E`. A pack
//!   condemned at `E` is deleted by a later run only when no registered operation started
//!   before `E` (one that might have chosen to reuse it), a fresh mark still finds it
//!   unused, and a minimum age has passed. A pack found in use again is recovered.
//! - An operation that registers at `E` or later reads the condemned packs after
//!   registering, and never reuses their objects: it writes them again.
//! - A read-only operation (an export) pins the tree it reads in its row instead
//!   (`OpRow::pin_tree`): GC marks from pinned trees, and pinned rows do not hold back
//!   deletions, so a long export never stalls collection on the other nodes.
//! - An operation whose lease lapsed (its node paused or died) is fenced: GC deletes its
//!   row, and its commit, which inserts the snapshot row only if the operation's row still
//!   exists (one statement), fails with [`EngineError::Fenced`]. Nothing is lost: the
//!   packs it wrote are unreferenced, and GC reclaims them.

use std::time::Duration;

use chrono::Utc;

use crate::catalog::fmt_time;
use crate::db::DbPool;
use crate::error::EngineError;

/// How long a registered operation's lease lasts without renewal, by default. Renewal runs
/// every third of it. Node clocks must agree to well within this (NTP does).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// A registered operation: its row is deleted when this is dropped.
pub struct OpRow {
    pub(crate) id: String,
    db: DbPool,
}

impl OpRow {
    /// Registers an operation of `owner` (an engine instance), stamped with the store's
    /// current epoch, with a lease of `lease`.
    pub(crate) async fn register(
        db: &DbPool,
        owner: &str,
        lease: Duration,
    ) -> Result<OpRow, EngineError> {
        let id = random_id()?;
        let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
        sqlx::query(
            "INSERT INTO store_ops (id, owner, started_epoch, lease_until) \
             SELECT $1, $2, epoch, $3 FROM store_epoch WHERE singleton = 1",
        )
        .bind(&id)
        .bind(owner)
        .bind(fmt_time(until))
        .execute(db)
        .await?;
        Ok(OpRow { id, db: db.clone() })
    }
}

impl OpRow {
    /// Turns this operation into a pin of tree `top` (hex object id in `pinned_tree`): from
    /// now on every node's GC marks from `top` as from a snapshot's tree, and this operation
    /// no longer holds back the deletion of packs condemned after it started (it reuses
    /// nothing; it only reads `top`). Its lease is renewed as before and its row goes when
    /// the pin is dropped. The caller must check afterwards that what it read `top` from
    /// still exists: a collection that marked before this row was written saw `top` only
    /// through it.
    ///
    /// Errors: [`EngineError::Fenced`] when GC already removed the row (its lease lapsed).
    pub(crate) async fn pin_tree(&self, top: &crate::ids::ObjectId) -> Result<(), EngineError> {
        let r = sqlx::query("UPDATE store_ops SET pinned_tree = $1 WHERE id = $2")
            .bind(top.to_hex())
            .bind(&self.id)
            .execute(&self.db)
            .await?;
        if r.rows_affected() == 0 {
            return Err(EngineError::Fenced(self.id.clone()));
        }
        Ok(())
    }
}

/// The trees that registered operations of every node pin ([`OpRow::pin_tree`]).
pub(crate) async fn pinned_trees(db: &DbPool) -> Result<Vec<crate::ids::ObjectId>, EngineError> {
    let rows: Vec<String> =
        sqlx::query_scalar("SELECT pinned_tree FROM store_ops WHERE pinned_tree IS NOT NULL")
            .fetch_all(db)
            .await?;
    rows.iter()
        .map(|h| {
            crate::ids::ObjectId::from_hex(h).map_err(|_| {
                EngineError::Invalid(format!("store_ops pins a malformed tree id {h:?}"))
            })
        })
        .collect()
}

impl Drop for OpRow {
    fn drop(&mut self) {
        // An operation ends: its row goes in the background. If the process dies first,
        // the lease lapses and GC removes the row.
        let (db, id) = (self.db.clone(), std::mem::take(&mut self.id));
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = sqlx::query("DELETE FROM store_ops WHERE id = $1")
                    .bind(id)
                    .execute(&db)
                    .await;
            });
        }
    }
}

/// Renews the leases of `owner`'s operations.
pub(crate) async fn renew(db: &DbPool, owner: &str, lease: Duration) -> Result<(), EngineError> {
    let until = Utc::now() + chrono::Duration::from_std(lease).unwrap_or_default();
    sqlx::query("UPDATE store_ops SET lease_until = $1 WHERE owner = $2")
        .bind(fmt_time(until))
        .bind(owner)
        .execute(db)
        .await?;
    Ok(())
}

/// Fences every operation whose lease lapsed: deletes its row, so that its commit fails.
/// Returns how many were fenced.
pub(crate) async fn fence_lapsed(db: &DbPool) -> Result<u64, EngineError> {
    let r = sqlx::query("DELETE FROM store_ops WHERE lease_until < $1")
        .bind(fmt_time(Utc::now()))
        .execute(db)
        .await?;
    Ok(r.rows_affected())
}

/// A condemned pack's row.
pub(crate) struct Condemned {
    pub(crate) id: crate::ids::ObjectId,
    /// The epoch of its condemnation.
    pub(crate) epoch: i64,
    /// When (RFC 3339).
    pub(crate) at: String,
    /// Deleted already: a tombstone, kept a day so no writer reuses it.
    pub(crate) deleted: bool,
}

/// The store's epoch now, then the condemned packs, tombstones included. The epoch is read
/// first, so the packs are at least as new as it.
pub(crate) async fn condemned_packs(db: &DbPool) -> Result<(i64, Vec<Condemned>), EngineError> {
    let epoch: i64 = sqlx::query_scalar("SELECT epoch FROM store_epoch WHERE singleton = 1")
        .fetch_one(db)
        .await?;
    let rows: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
        "SELECT id, condemned_epoch, condemned_at, deleted_at FROM packs \
         WHERE condemned_epoch IS NOT NULL",
    )
    .fetch_all(db)
    .await?;
    Ok((
        epoch,
        rows.into_iter()
            .filter_map(|(id, epoch, at, deleted)| {
                Some(Condemned {
                    id: crate::ids::ObjectId::from_hex(&id).ok()?,
                    epoch,
                    at,
                    deleted: deleted.is_some(),
                })
            })
            .collect(),
    ))
}

/// Removes tombstones older than a day: every node's index is rebuilt at least hourly
/// (`ObjectStore::reload_if_changed`), so none still places an object in those packs.
pub(crate) async fn purge_tombstones(db: &DbPool) -> Result<(), EngineError> {
    let cutoff = Utc::now() - chrono::Duration::days(1);
    sqlx::query("DELETE FROM packs WHERE deleted_at IS NOT NULL AND deleted_at < $1")
        .bind(fmt_time(cutoff))
        .execute(db)
        .await?;
    Ok(())
}

/// A new random id: 32 hex digits.
pub(crate) fn random_id() -> Result<String, EngineError> {
    use std::io::Read;
    let mut seed = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(EngineError::io("cannot read /dev/urandom"))?;
    Ok(seed.iter().map(|b| format!("{b:02x}")).collect())
}
