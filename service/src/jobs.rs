//! Background work: expiry, scheduled snapshots, keep policies and garbage collection.
//!
//! Expired snapshots already vanish from every list (the catalog filters them); the job
//! deletes their rows, then GC reclaims the space. GC holds the engine's exclusive lease, so
//! it never runs while a snapshot that may reuse existing chunks is being recorded.
//!
//! A scheduled snapshot goes when its expiry passes or its schedule's keep policy drops it,
//! whichever comes first: the expiry runs first in each pass, then the schedules take their
//! snapshots, then the policies are applied (so a fresh snapshot counts at once), then GC.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Service;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Snapshots whose expiry passed and were deleted.
    pub expired: u64,
    /// Snapshots taken by schedules.
    pub scheduled: u64,
    /// Scheduled snapshots their schedule's keep policy dropped, and deleted.
    pub pruned: u64,
    /// Bytes of packs GC deleted.
    pub reclaimed_bytes: u64,
}

impl Service {
    /// One pass of every job at time `at`. GC runs when something was deleted since the
    /// last collection (`dirty`) or when `force_gc`.
    pub async fn run_jobs_once(
        &self,
        at: DateTime<Utc>,
        force_gc: bool,
    ) -> anyhow::Result<JobReport> {
        let mut report = JobReport::default();
        for s in self.engine().expire(at).await? {
            report.expired += 1;
            self.unmark_scheduled(&s.container, &s.name).await?;
            let project: Option<String> =
                sqlx::query_scalar("SELECT project_id FROM containers WHERE id = $1")
                    .bind(s.container.as_str())
                    .fetch_optional(self.db())
                    .await?;
            if let Some(project) = project {
                self.events().publish(
                    types::EventKind::SnapshotExpired,
                    &project,
                    Some(s.container.as_str()),
                    serde_json::json!({"name": s.name, "alias": s.alias}),
                );
            }
        }
        report.scheduled = self.run_due_schedules(at).await?;
        report.pruned = self.apply_retention().await?;
        let plan = self.engine().gc_plan().await?;
        if force_gc || plan.reclaimable_bytes > 0 {
            let gc = self.engine().gc().await?;
            report.reclaimed_bytes = gc.plan.reclaimable_bytes;
        }
        Ok(report)
    }

    /// Runs the jobs every `every` until the process ends.
    pub fn spawn_jobs(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match svc.run_jobs_once(Utc::now(), false).await {
                    Ok(r) if r != JobReport::default() => {
                        tracing::info!(
                            expired = r.expired,
                            scheduled = r.scheduled,
                            pruned = r.pruned,
                            reclaimed_bytes = r.reclaimed_bytes,
                            "background jobs"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "background jobs failed"),
                }
            }
        })
    }
}
