//! `delete` and `expire`: remove snapshot rows. Their space is reclaimed by GC.

use chrono::{DateTime, Utc};

use crate::catalog::SnapshotInfo;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ContainerId;

/// What [`Engine::delete`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// The snapshot's name (also when it was addressed by alias).
    pub name: String,
    /// Stored bytes the next GC frees because of this deletion.
    pub freed_bytes: u64,
}

impl Engine {
    /// Deletes a snapshot (by name, or unambiguous alias). Works after its container was
    /// deleted. Waits for a running operation on the container (a restore from this very
    /// snapshot, say) to finish first.
    pub async fn delete(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
    ) -> Result<Deleted, EngineError> {
        let _guard = self.lock(c).await?;
        let s = self.get(c, name_or_alias).await?;
        let freed_bytes = self.exclusive_bytes(c, &s.name).await?;
        fail::fail_point!("delete::before_row", |_| Err(EngineError::Injected(
            "delete::before_row".into()
        )));
        if !self.inner.catalog.delete(c, &s.name).await? {
            return Err(EngineError::NoSuchSnapshot {
                container: *c,
                name: name_or_alias.to_string(),
            });
        }
        Ok(Deleted {
            name: s.name,
            freed_bytes,
        })
    }

    /// Deletes every snapshot whose expiry is at or before `now`; returns them. Expired
    /// snapshots are already invisible to lists; this removes their rows so GC can reclaim
    /// their space. An operation already running from an expiring snapshot keeps its objects
    /// (it holds the GC lease) and completes.
    pub async fn expire(&self, now: DateTime<Utc>) -> Result<Vec<SnapshotInfo>, EngineError> {
        fail::fail_point!("expire::before_delete", |_| Err(EngineError::Injected(
            "expire::before_delete".into()
        )));
        self.inner.catalog.delete_expired(now).await
    }
}
