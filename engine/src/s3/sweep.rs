//! The bucket sweep: objects under `packs/` that no row names, and the record window that
//! makes deleting them safe (see [`S3PackStorage::sweep_orphans`]).

use std::sync::atomic::Ordering;
use std::time::Duration;

use object_store::path::Path as Key;
use object_store::{ObjectStore as _, ObjectStoreExt};

use super::S3PackStorage;
use crate::error::EngineError;
use crate::ids::ObjectId;

/// How long after its upload began a pack may still be recorded in the `packs` table, by
/// default: far above any upload of one pack (16 MiB), and the bound that lets the orphan
/// sweep delete an unrecorded object without racing its writer.
pub const DEFAULT_RECORD_WITHIN: Duration = Duration::from_secs(600);

/// What one orphan sweep found and deleted ([`S3PackStorage::sweep_orphans`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanSweep {
    /// Objects listed under `packs/`.
    pub listed: u64,
    /// Objects without a row, old enough, deleted.
    pub deleted: Vec<String>,
    /// Their bytes.
    pub deleted_bytes: u64,
}

impl S3PackStorage {
    /// How long after its upload began a pack may still be recorded.
    pub fn record_within(&self) -> Duration {
        Duration::from_millis(self.record_within_ms.load(Ordering::Relaxed))
    }

    /// Sets [`S3PackStorage::record_within`] (tests shorten it; the sweep's grace follows).
    pub fn set_record_within(&self, d: Duration) {
        self.record_within_ms
            .store(d.as_millis() as u64, Ordering::Relaxed);
    }

    /// Deletes the objects under `packs/` that no row of the `packs` table names (live or
    /// tombstone) and that were last modified more than `grace` ago: uploads whose node
    /// died before recording them, and objects whose delete failed after their tombstone
    /// was purged. LIST is used here only to reclaim space, never to decide what a
    /// snapshot holds.
    ///
    /// Why it cannot delete a pack about to be recorded: a writer records a pack only
    /// before [`S3PackStorage::record_within`] of its upload's start (checked by the
    /// database's clock in the insert itself), and `grace` must exceed that window plus
    /// the clocks' disagreement. Callers pass `record_within` plus GC's minimum age.
    ///
    /// Errors: the bucket or the database unreachable (nothing deleted then, or some).
    pub async fn sweep_orphans(&self, grace: Duration) -> Result<OrphanSweep, EngineError> {
        use futures_util::TryStreamExt;
        let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
        // The listing first, then the rows: a row written in between is seen.
        let root = Key::from(format!("{}packs", self.prefix));
        let objects: Vec<object_store::ObjectMeta> =
            self.s3.list(Some(&root)).try_collect().await.map_err(|e| {
                EngineError::io("sweeping orphan packs")(self.remote_error("listing packs", e))
            })?;
        let rows: Vec<String> = sqlx::query_scalar("SELECT id FROM packs")
            .fetch_all(&self.db)
            .await?;
        let recorded: std::collections::HashSet<String> = rows.into_iter().collect();
        let mut out = OrphanSweep {
            listed: objects.len() as u64,
            ..Default::default()
        };
        for o in objects {
            let Some(name) = o.location.filename() else {
                continue;
            };
            // Only names this store writes: a foreign object is never touched.
            if ObjectId::from_hex(name).is_err() || recorded.contains(name) {
                continue;
            }
            if o.last_modified >= cutoff {
                continue;
            }
            match self.s3.delete(&o.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    self.counters.deletes.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(object = %o.location, bytes = o.size, "deleted an orphan pack object");
                    out.deleted_bytes += o.size;
                    out.deleted.push(name.to_string());
                }
                Err(e) => {
                    return Err(EngineError::io("sweeping orphan packs")(
                        self.remote_error(&format!("deleting orphan {}", o.location), e),
                    ));
                }
            }
        }
        Ok(out)
    }
}
