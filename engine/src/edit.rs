//! `edit`: change a snapshot's alias and expiry. Its contents never change.

use chrono::Utc;

use crate::catalog::{SnapshotEdit, SnapshotInfo};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::snapshot::validate_alias;

impl Engine {
    /// Edits a live snapshot (by name, or unambiguous alias) and returns it as it now is.
    ///
    /// An expired snapshot cannot be revived: the update only matches a row that is still
    /// unexpired at the moment it is written, so it cannot race the expiry job into keeping
    /// a row whose objects GC is about to reclaim.
    pub async fn edit(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
        edit: SnapshotEdit,
    ) -> Result<SnapshotInfo, EngineError> {
        if let Some(Some(a)) = &edit.alias {
            validate_alias(a)?;
        }
        let now = Utc::now();
        if let Some(Some(t)) = edit.expires_at
            && t <= now
        {
            return Err(EngineError::Invalid(
                "the new expiry is in the past; choose a later time or pin the snapshot".into(),
            ));
        }
        let _guard = self.lock(c).await?;
        let s = self.get(c, name_or_alias).await?;
        let updated = self
            .inner
            .catalog
            .update_meta(c, &s.name, &edit, now)
            .await?;
        if !updated {
            return Err(EngineError::NoSuchSnapshot {
                container: *c,
                name: name_or_alias.to_string(),
            });
        }
        self.get(c, &s.name).await
    }
}
