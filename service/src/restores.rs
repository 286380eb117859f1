//! Restores: a whole container or some of its paths, made exactly as in a snapshot, and
//! what a person must know when one did not finish.

use engine::ContainerId;
use types::ContainerStatus;

use super::containers::ContainerRecord;
use super::snapshots::snapshot_of;
use super::{Caller, Service, fmt_time};
use crate::error::{Hint, ServiceError};
use types::Snapshot;

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub container: ContainerRecord,
    pub snapshot: Snapshot,
    pub safety_snapshot: Option<Snapshot>,
    /// The paths of a partial restore, normalized; `None` for a whole restore.
    pub paths: Option<Vec<String>>,
}

/// The answer every front end gives for a restore (REST's `data`, the dashboard's outcome).
impl From<Restored> for types::SnapshotRestored {
    fn from(r: Restored) -> Self {
        types::SnapshotRestored {
            container_id: r.container.id.to_string(),
            project_id: r.container.project_id,
            snapshot: r.snapshot,
            safety_snapshot: r.safety_snapshot,
            paths: r.paths,
        }
    }
}

impl Service {
    /// Restores the container's filesystem to a snapshot, or only `req.paths` of it. A whole
    /// restore stops a running container first and starts it fresh afterwards; while it
    /// runs the status is `restoring` and `start` is refused. A partial restore leaves a
    /// running container running unless `req.restart` is true.
    ///
    /// Refused before anything changes: a deleted container (409), an unknown snapshot or a
    /// path the snapshot lacks (404 naming it), a malformed path (400), `restart: false`
    /// without paths (400: a whole restore always restarts), a live parent folder that is a
    /// symlink or a file (409).
    pub async fn restore_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
        name: &str,
        req: &types::RestoreSnapshot,
    ) -> Result<Restored, ServiceError> {
        let c = self.container_row(caller, id).await?;
        if c.deleted() {
            return Err(ServiceError::conflict(format!(
                "container {id} was deleted, so there is no filesystem to restore into; copy the \
                 snapshot into a new container instead"
            ))
            .with_hint(Hint::CopySnapshotInstead {
                container: id.to_string(),
            }));
        }
        // `paths` as text, `raw_paths` percent-encoded (names that are not UTF-8): one list
        // of byte paths.
        let requested: Option<Vec<Vec<u8>>> = match (&req.paths, &req.raw_paths) {
            (None, None) => None,
            (p, r) => Some(
                p.iter()
                    .flatten()
                    .map(|s| s.as_bytes().to_vec())
                    .chain(r.iter().flatten().map(|s| types::raw::decode(s)))
                    .collect(),
            ),
        };
        let sel = match &requested {
            Some(p) => engine::Selection::parse(p)?,
            None => None,
        };
        // A whole restore always stops a running container and starts it again: asking it
        // not to cannot be honoured, so it is refused rather than ignored.
        if requested.is_none() && req.restart == Some(false) {
            return Err(ServiceError::bad_request(
                "\"restart\": false needs \"paths\": a whole restore always stops a running \
                 container and starts it again; to keep it running, restore only some paths",
            ));
        }
        let _guard = self.lock(id).await?;
        // Resolve first: an unknown name or path is a 404 before anything stops.
        let target = self.engine().get(&c.id, name).await?;
        if let Some(sel) = &sel {
            self.engine().check_paths(&c.id, &target.name, sel).await?;
        }
        // `["/"]` is the whole tree, asked for as paths: it keeps a running container running
        // as any partial restore does, and the answer says `/`.
        let paths = match (&sel, &requested) {
            (Some(sel), _) => Some(sel.display()),
            (None, Some(_)) => Some(vec!["/".to_string()]),
            (None, None) => None,
        };
        let safety_snapshot = if req.safety_snapshot.unwrap_or(false) {
            let alias = self
                .free_alias(&c.id, format!("before-restore-{}", target.name))
                .await?;
            Some(self.snapshot_locked(&c, Some(alias), Some(7)).await?)
        } else {
            None
        };
        let was_running = self.runtime().is_running(id.as_str());
        let stops = requested.is_none() || req.restart.unwrap_or(false);
        // Every process of the container ends before the tree changes: its own (stopping it
        // ends whatever `runc exec` added, which shares its pid namespace) and commands run
        // on its stopped tree in one-off containers, which are kept out until the end.
        let _execs_closed = if stops {
            self.stop_locked(&c, ContainerStatus::Restoring).await?;
            match self
                .runtime()
                .end_execs(id.as_str(), "being restored")
                .await
            {
                Ok(closed) => Some(closed),
                Err(e) => {
                    // Nothing changed: the container stays stopped, as a failed restore
                    // leaves it.
                    self.set_status(&c.id, ContainerStatus::Stopped).await?;
                    return Err(e);
                }
            }
        } else {
            None
        };
        let progress_event = |phase: types::Phase| {
            self.events().publish(
                types::EventKind::Progress,
                &c.project_id,
                Some(id.as_str()),
                serde_json::json!({"operation": types::Operation::Restore, "phase": phase, "snapshot": target.name, "paths": paths}),
            )
        };
        progress_event(types::Phase::Started);
        let result = self
            .engine()
            .restore_paths(&c.id, &target.name, sel.as_ref())
            .await;
        progress_event(types::Phase::of(&result));
        let after = if stops {
            // Whatever happened, the container leaves `restoring`: a failed restore changed
            // nothing (it fails before touching the tree) or was finished by recovery.
            // A container comes back as it was: running, or paused (started, then frozen
            // again, so its processes see the restored tree from their first instruction).
            let after = match (&result, was_running) {
                (Ok(_), true) => self.start_again(&c).await,
                // A restore that failed half-way leaves the journal: the container needs
                // attention (its answers say why) and does not start on that tree.
                (Err(_), _) if self.engine().restore_pending(&c.id).await? => {
                    Ok(ContainerStatus::Failed)
                }
                _ => Ok(ContainerStatus::Stopped),
            };
            match after {
                Ok(ContainerStatus::Running | ContainerStatus::Paused) => {}
                Ok(ContainerStatus::Failed) => {
                    self.set_status(&c.id, ContainerStatus::Failed).await?;
                }
                _ => self.set_status(&c.id, ContainerStatus::Stopped).await?,
            }
            after.map(|_| ())
        } else {
            Ok(())
        };
        // A restore that failed half-way is a state of the container a person must deal
        // with, not a hidden server fault: the answer says what happened and what to do.
        let (info, _) = match result {
            Ok(r) => r,
            Err(e) => {
                return Err(match self.unfinished_restore(&c.id).await? {
                    Some(why) => {
                        tracing::error!(container = %id, snapshot = %target.name, error = %why, "a restore failed half-way; the container needs attention");
                        ServiceError::conflict(format!("container {id}: {why}"))
                    }
                    None => e.into(),
                });
            }
        };
        // After a partial restore the tree's size is known again at the next snapshot.
        if sel.is_none() {
            self.record_size(&c.id, info.size).await?;
        }
        after?;
        let mut snapshot = snapshot_of(&info);
        snapshot.last_used_at = Some(fmt_time(super::now()));
        self.events().publish(
            types::EventKind::SnapshotRestored,
            &c.project_id,
            Some(id.as_str()),
            serde_json::json!({"snapshot": &snapshot, "safety_snapshot": &safety_snapshot, "paths": &paths}),
        );
        Ok(Restored {
            container: c,
            snapshot,
            safety_snapshot,
            paths,
        })
    }

    /// What a person must know when the container's last restore did not finish (it failed
    /// while applying, or a crash interrupted it and recovery failed): what, why, and what
    /// to do. `None` when no restore is pending. Shown as the container's `attention`, and
    /// the refusal of `start` and `exec` while it lasts.
    pub(crate) async fn unfinished_restore(
        &self,
        id: &ContainerId,
    ) -> Result<Option<String>, ServiceError> {
        Ok(self.engine().pending_restore(id).await?.map(|j| {
            let what = match &j.paths {
                None => String::new(),
                Some(p) => format!(
                    " ({})",
                    p.iter()
                        .map(|b| String::from_utf8_lossy(b).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            };
            let why = j.failed.as_deref().unwrap_or("it was interrupted");
            format!(
                "the restore of {}{what} did not finish: {why}. The container's files are \
                 partly restored, so it cannot start or run commands. Fix the cause, then \
                 restore a snapshot again (the same one finishes the job)",
                j.snapshot
            )
        }))
    }

    /// Starts `c` after a restore stopped it, and pauses it again when it was paused; the
    /// caller holds the container lock. Answers the status it is left in.
    async fn start_again(&self, c: &ContainerRecord) -> Result<ContainerStatus, ServiceError> {
        self.start_locked(c).await?;
        if c.status != ContainerStatus::Paused {
            return Ok(ContainerStatus::Running);
        }
        self.runtime().pause(c.id.as_str()).await?;
        self.set_status(&c.id, ContainerStatus::Paused).await?;
        Ok(ContainerStatus::Paused)
    }
}
