//! Retention on the service: marks on the snapshots a schedule took, the preview, and the
//! job pass that deletes what a policy drops.
//!
//! Invariants:
//! - only snapshots with a row in `scheduled_snapshots` (and `pinned = 0`, checked again
//!   right before each deletion) are ever deleted by a policy; a missing row means "taken by
//!   hand", so every doubt keeps the snapshot;
//! - a container's plan is made and executed under its operation lock, so no snapshot is
//!   taken, restored or deleted between the two;
//! - each deletion is [`Service::delete_snapshot_locked`], the path of
//!   `DELETE .../snapshots/{name}`: the same catalog delete, event and GC accounting.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use engine::ContainerId;
use sqlx::Row;
use types::{KeepPolicy, RetentionEntry, RetentionPreview};

use super::plan::{Candidate, Decision, Origin, Plan, plan};
use crate::error::ServiceError;
use crate::{Caller, Service, fmt_time};

/// Reads a stored policy (`schedules.keep_policy`).
pub(crate) fn stored_policy(json: Option<String>) -> Result<Option<KeepPolicy>, ServiceError> {
    json.map(|j| {
        serde_json::from_str::<KeepPolicy>(&j).map_err(|e| {
            ServiceError::internal(anyhow::anyhow!(
                "bad keep policy {j:?} in the database: {e}"
            ))
        })
    })
    .transpose()
    .map(|p| p.and_then(KeepPolicy::normalized))
}

/// Checks a policy from a caller and returns it as it is stored: `None` for no policy.
pub(crate) fn accepted_policy(p: Option<KeepPolicy>) -> Result<Option<KeepPolicy>, ServiceError> {
    match p {
        None => Ok(None),
        Some(p) => {
            p.check().map_err(ServiceError::bad_request)?;
            Ok(p.normalized())
        }
    }
}

/// A pin mark changed ahead of its edit: the snapshot's name and its mark before (`None`:
/// not a scheduled snapshot, nothing was changed).
pub(crate) struct PinChange {
    name: String,
    before: Option<bool>,
}

fn entries(list: Vec<Decision>) -> Vec<RetentionEntry> {
    list.into_iter()
        .map(|d| RetentionEntry {
            name: d.snapshot.name,
            alias: d.snapshot.alias,
            created_at: fmt_time(d.snapshot.created_at),
            reasons: d.reasons.iter().map(ToString::to_string).collect(),
        })
        .collect()
}

impl Service {
    /// Records that the container's schedule took snapshot `name` at `at`. The caller holds
    /// the container lock and has just recorded the snapshot.
    pub(crate) async fn mark_scheduled(
        &self,
        c: &ContainerId,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        sqlx::query(
            "INSERT INTO scheduled_snapshots (container_id, name, pinned, created_at) \
             VALUES ($1, $2, 0, $3) ON CONFLICT (container_id, name) DO UPDATE SET pinned = 0, \
             created_at = excluded.created_at",
        )
        .bind(c.as_str())
        .bind(name)
        .bind(fmt_time(at))
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// Forgets the mark of a snapshot that was deleted or expired (no-op for others).
    pub(crate) async fn unmark_scheduled(
        &self,
        c: &ContainerId,
        name: &str,
    ) -> Result<(), ServiceError> {
        sqlx::query("DELETE FROM scheduled_snapshots WHERE container_id = $1 AND name = $2")
            .bind(c.as_str())
            .bind(name)
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// The names of `c`'s snapshots that its schedule took and no one pinned since: those a
    /// keep policy may delete (`Snapshot.scheduled`).
    pub(crate) async fn scheduled_names(
        &self,
        c: &ContainerId,
    ) -> Result<std::collections::HashSet<String>, ServiceError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM scheduled_snapshots WHERE container_id = $1 AND pinned = 0",
        )
        .bind(c.as_str())
        .fetch_all(self.db())
        .await?;
        Ok(names.into_iter().collect())
    }

    /// Whether a scheduled snapshot is pinned; `None` when it has no mark (taken by hand).
    async fn scheduled_pinned(
        &self,
        c: &ContainerId,
        name: &str,
    ) -> Result<Option<bool>, ServiceError> {
        let pinned: Option<i64> = sqlx::query_scalar(
            "SELECT pinned FROM scheduled_snapshots WHERE container_id = $1 AND name = $2",
        )
        .bind(c.as_str())
        .bind(name)
        .fetch_optional(self.db())
        .await?;
        Ok(pinned.map(|p| p != 0))
    }

    /// Records that snapshot `name_or_alias` is being pinned (`pinned`, its expiry set to
    /// never) or unpinned, *before* the catalog edit that does it. Edits do not take the
    /// container lock, so a retention pass may run meanwhile: a pass that checks after this
    /// never deletes the snapshot, and one that deleted it first makes the edit fail ("no
    /// such snapshot") rather than report a pin that did not happen. Returns what to put
    /// back if the edit fails ([`Service::undo_pin`]).
    pub(crate) async fn pin_before_edit(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
        pinned: bool,
    ) -> Result<PinChange, ServiceError> {
        let target = self.engine().get(c, name_or_alias).await?;
        let before = self.scheduled_pinned(c, &target.name).await?;
        if before.is_some() {
            self.set_scheduled_pinned(c, &target.name, pinned).await?;
        }
        Ok(PinChange {
            name: target.name,
            before,
        })
    }

    /// Puts a pin mark back as it was before a failed edit.
    pub(crate) async fn undo_pin(
        &self,
        c: &ContainerId,
        change: PinChange,
    ) -> Result<(), ServiceError> {
        if let Some(was) = change.before {
            self.set_scheduled_pinned(c, &change.name, was).await?;
        }
        Ok(())
    }

    /// Pins (its expiry was set to never) or unpins (it was given an expiry) a scheduled
    /// snapshot; a pinned one is out of every policy's reach. No-op for manual snapshots.
    async fn set_scheduled_pinned(
        &self,
        c: &ContainerId,
        name: &str,
        pinned: bool,
    ) -> Result<(), ServiceError> {
        sqlx::query(
            "UPDATE scheduled_snapshots SET pinned = $1 WHERE container_id = $2 AND name = $3",
        )
        .bind(i64::from(pinned))
        .bind(c.as_str())
        .bind(name)
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// The marks of the container's snapshots, by name.
    async fn marks(&self, c: &ContainerId) -> Result<HashMap<String, Origin>, ServiceError> {
        let rows =
            sqlx::query("SELECT name, pinned FROM scheduled_snapshots WHERE container_id = $1")
                .bind(c.as_str())
                .fetch_all(self.db())
                .await?;
        rows.iter()
            .map(|r| {
                let origin = if r.try_get::<i64, _>("pinned")? != 0 {
                    Origin::Pinned
                } else {
                    Origin::Scheduled
                };
                Ok((r.try_get("name")?, origin))
            })
            .collect()
    }

    /// What `policy` does to the container's unexpired snapshots now. Also drops the marks
    /// of snapshots that no longer exist when `prune` (the job holds the lock then).
    async fn retention_plan(
        &self,
        c: &ContainerId,
        policy: Option<&KeepPolicy>,
        prune: bool,
    ) -> Result<Plan, ServiceError> {
        let list = self.engine().list(c).await?;
        let mut marks = self.marks(c).await?;
        let candidates = list
            .into_iter()
            .map(|s| Candidate {
                origin: marks.remove(&s.name).unwrap_or(Origin::Manual),
                name: s.name,
                alias: s.alias,
                created_at: s.created_at,
            })
            .collect();
        if prune {
            // What is left has no snapshot (deleted or expired outside the paths that
            // unmark, say by a crash in between): a later snapshot must not inherit it.
            for name in marks.keys() {
                self.unmark_scheduled(c, name).await?;
            }
        }
        Ok(plan(policy, candidates))
    }

    /// Which of the container's snapshots a keep policy would delete and which it keeps, and
    /// why, deleting nothing (`GET .../schedule/preview`). `policy` previews that policy
    /// (checked like a schedule's, so a form can preview before saving; it works without a
    /// schedule too); `None` previews the saved schedule's (404 when there is no schedule).
    pub async fn preview_retention(
        &self,
        caller: &Caller,
        id: &ContainerId,
        policy: Option<KeepPolicy>,
    ) -> Result<RetentionPreview, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let policy = match policy {
            Some(p) => accepted_policy(Some(p))?,
            None => self.get_schedule(caller, id).await?.keep,
        };
        let plan = self.retention_plan(&c.id, policy.as_ref(), false).await?;
        Ok(RetentionPreview {
            container_id: c.id.to_string(),
            policy,
            keep: entries(plan.keep),
            delete: entries(plan.delete),
            untouched: entries(plan.untouched),
        })
    }

    /// One pass of the retention job: each schedule's policy applied to its container's
    /// snapshots. Returns how many snapshots were deleted. A container that cannot be done
    /// now (busy past the lock wait, say) is logged and done on a later pass; the others go
    /// on.
    pub async fn apply_retention(&self) -> Result<u64, ServiceError> {
        let rows = sqlx::query(
            "SELECT container_id, keep_policy FROM schedules WHERE keep_policy IS NOT NULL",
        )
        .fetch_all(self.db())
        .await?;
        let mut deleted = 0;
        for r in &rows {
            let container: String = r.try_get("container_id")?;
            let outcome = async {
                let id = crate::parse_id("container id", &container)?;
                match stored_policy(r.try_get("keep_policy")?)? {
                    Some(p) => self.apply_retention_to(&id, &p).await,
                    None => Ok(0),
                }
            }
            .await;
            match outcome {
                Ok(n) => deleted += n,
                Err(e) => {
                    tracing::warn!(container = %container, error = %e, "retention policy not applied")
                }
            }
        }
        Ok(deleted)
    }

    async fn apply_retention_to(
        &self,
        id: &ContainerId,
        policy: &KeepPolicy,
    ) -> Result<u64, ServiceError> {
        let system = Caller {
            token_id: "retention".into(),
            admin: true,
            projects: Vec::new(),
        };
        let c = self.container_row(&system, id).await?;
        let _guard = self.lock(&c.id).await?;
        let plan = self.retention_plan(&c.id, Some(policy), true).await?;
        let mut deleted = 0;
        for d in &plan.delete {
            // Pinned since the plan was made (pins are recorded before their edit and do
            // not take the lock): keep it.
            if self.scheduled_pinned(&c.id, &d.snapshot.name).await? != Some(false) {
                continue;
            }
            let why: Vec<String> = d.reasons.iter().map(ToString::to_string).collect();
            self.delete_snapshot_locked(&c, &d.snapshot.name).await?;
            tracing::info!(container = %c.id, snapshot = %d.snapshot.name, reasons = ?why,
                "deleted by the retention policy");
            deleted += 1;
        }
        Ok(deleted)
    }
}
