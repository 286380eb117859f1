//! Snapshots: the vendor API's heart, plus diff, browse, download and verify.

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use engine::{DiffTarget, SnapshotInfo, SnapshotOptions};
use serde::Serialize;

use super::containers::ContainerRecord;
use super::events::ProgressEvents;
use super::{Caller, Service, fmt_time};
use crate::api::ApiError;

/// A snapshot file's bytes, as [`Service::snapshot_file_stream`] reads them.
pub type FileStream = tokio_stream::wrappers::ReceiverStream<Result<bytes::Bytes, std::io::Error>>;

/// The file name a download is saved under: the path's last part, with anything but
/// letters, digits, `.`, `-` and `_` replaced (it goes into a header).
pub fn download_name(path: &str) -> String {
    path.rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("file")
        .replace(
            |c: char| !c.is_ascii_alphanumeric() && !".-_".contains(c),
            "_",
        )
}

/// Everything a verify found wrong, as (object, reason) pairs: damaged objects, then damaged
/// packs (named `pack <id>`). Empty when the snapshot is clean.
pub fn damage_list(r: &engine::VerifyReport) -> Vec<(String, String)> {
    let objects = r
        .damaged
        .iter()
        .map(|d| (d.object.to_string(), d.reason.clone()));
    let packs = r
        .damaged_packs
        .iter()
        .map(|(p, why)| (format!("pack {p}"), why.clone()));
    objects.chain(packs).collect()
}

/// Longest expiry, in days (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;

/// A snapshot, exactly as the vendor document shows it, plus extra fields.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    #[schema(example = "snap-20251109-143045")]
    pub name: String,
    #[schema(example = "production-stable")]
    pub alias: Option<String>,
    #[schema(example = "2025-11-09T14:30:45.000Z")]
    pub created_at: String,
    #[schema(example = json!(null))]
    pub last_used_at: Option<String>,
    #[schema(example = "2026-02-07T14:30:45.000Z")]
    pub expires_at: Option<String>,
    /// Always false: snapshots are filesystem-only.
    pub stateful: bool,
    /// Logical size in bytes (the files' sizes).
    #[schema(example = 4589764321u64)]
    pub size: u64,
    /// Regular files in it.
    pub file_count: u64,
    /// Stored bytes this snapshot added when it was taken (what was new).
    pub added_bytes: u64,
    /// Stored bytes deleting it would free (only on `GET .../snapshots/{name}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclusive_bytes: Option<u64>,
}

impl From<&SnapshotInfo> for Snapshot {
    fn from(s: &SnapshotInfo) -> Self {
        Snapshot {
            name: s.name.clone(),
            alias: s.alias.clone(),
            created_at: fmt_time(s.created_at),
            last_used_at: s.last_used_at.map(fmt_time),
            expires_at: s.expires_at.map(fmt_time),
            stateful: false,
            size: s.size,
            file_count: s.file_count,
            added_bytes: s.added_bytes,
            exclusive_bytes: None,
        }
    }
}

/// Checks an expiry in days.
pub fn validate_expiry(days: i64) -> Result<(), ApiError> {
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(ApiError::BadRequest(format!(
            "expiry is a number of days from 1 to {MAX_EXPIRY_DAYS} (got {days}); omit it for \
             a snapshot that never expires"
        )));
    }
    Ok(())
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub container: ContainerRecord,
    pub snapshot: Snapshot,
    pub safety_snapshot: Option<Snapshot>,
}

impl Service {
    /// Takes a snapshot of a container, running or stopped.
    pub async fn create_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<(ContainerRecord, Snapshot), ApiError> {
        if let Some(a) = &alias {
            engine::snapshot::validate_alias(a)?;
        }
        if let Some(d) = expiry_days {
            validate_expiry(d)?;
        }
        let c = self.live_for_snapshot(caller, id).await?;
        let _guard = self.lock(id).await?;
        let snap = self.snapshot_locked(&c, alias, expiry_days).await?;
        Ok((c, snap))
    }

    async fn live_for_snapshot(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<ContainerRecord, ApiError> {
        let c = self.container_row(caller, id).await?;
        match c.status.as_str() {
            "deleted" => Err(ApiError::Conflict(format!(
                "container {id} was deleted, so there is nothing live to snapshot; its earlier \
                 snapshots remain"
            ))),
            "creating" => Err(ApiError::Conflict(format!(
                "container {id} is still being created; snapshot it when it is ready"
            ))),
            _ => Ok(c),
        }
    }

    /// Snapshots `c`; the caller holds the container lock.
    pub(crate) async fn snapshot_locked(
        &self,
        c: &ContainerRecord,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<Snapshot, ApiError> {
        self.check_free_space(0, "a snapshot")?;
        let progress = ProgressEvents {
            bus: Arc::new(self.clone()),
            project_id: c.project_id.clone(),
            container_id: c.id.to_string(),
            operation: "snapshot",
        };
        let opts = SnapshotOptions {
            alias,
            expires_after: expiry_days.map(ChronoDuration::days),
            progress: Some(Arc::new(progress)),
            ..Default::default()
        };
        let info = self.engine().snapshot(&c.id, opts).await?;
        let snap = Snapshot::from(&info);
        self.events().publish(
            "snapshot.created",
            &c.project_id,
            Some(c.id.as_str()),
            &snap,
        );
        Ok(snap)
    }

    /// The container's unexpired snapshots, newest first. Works after the container was
    /// deleted.
    pub async fn list_snapshots(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<(ContainerRecord, Vec<Snapshot>), ApiError> {
        let c = self.container_row(caller, id).await?;
        let list = self.engine().list(&c.id).await?;
        Ok((c, list.iter().map(Snapshot::from).collect()))
    }

    /// One snapshot, with the bytes deleting it would free.
    pub async fn get_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
    ) -> Result<(ContainerRecord, Snapshot), ApiError> {
        let c = self.container_row(caller, id).await?;
        let info = self.engine().get(&c.id, name).await?;
        let mut snap = Snapshot::from(&info);
        snap.exclusive_bytes = Some(self.engine().exclusive_bytes(&c.id, &info.name).await?);
        Ok((c, snap))
    }

    /// Restores the container's filesystem to a snapshot. A running container is stopped
    /// first and started fresh afterwards; while it runs the status is `restoring` and
    /// `start` is refused.
    pub async fn restore_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        safety: bool,
    ) -> Result<Restored, ApiError> {
        let c = self.container_row(caller, id).await?;
        if c.deleted() {
            return Err(ApiError::Conflict(format!(
                "container {id} was deleted, so there is no filesystem to restore into; copy the \
                 snapshot into a new container instead (POST /api/v1/containers/{id}/copy with \
                 source_snapshot)"
            )));
        }
        let _guard = self.lock(id).await?;
        // Resolve first: an unknown name is a 404 before anything stops.
        let target = self.engine().get(&c.id, name).await?;
        let safety_snapshot = if safety {
            let alias = format!("before-restore-{}", target.name);
            Some(self.snapshot_locked(&c, Some(alias), Some(7)).await?)
        } else {
            None
        };
        let was_running = self.runtime().is_running(id);
        self.stop_locked(&c, "restoring").await?;
        let progress_event = |phase: &str| {
            self.events().publish(
                "progress",
                &c.project_id,
                Some(id),
                serde_json::json!({"operation": "restore", "phase": phase, "snapshot": target.name}),
            )
        };
        progress_event("started");
        let result = self.engine().restore(&c.id, &target.name).await;
        progress_event(if result.is_ok() { "finished" } else { "failed" });
        // Whatever happened, the container leaves `restoring`: a failed restore changed
        // nothing (it fails before touching the tree) or was finished by recovery.
        let after = match (&result, was_running) {
            (Ok(_), true) => self.start_locked(&c).await.map(|_| "running"),
            _ => Ok("stopped"),
        };
        if !matches!(after, Ok("running")) {
            self.set_status(&c.id, "stopped").await?;
        }
        let (info, _) = result?;
        after?;
        let mut snapshot = Snapshot::from(&info);
        snapshot.last_used_at = Some(fmt_time(super::now()));
        self.events().publish(
            "snapshot.restored",
            &c.project_id,
            Some(id),
            serde_json::json!({"snapshot": &snapshot, "safety_snapshot": &safety_snapshot}),
        );
        Ok(Restored {
            container: c,
            snapshot,
            safety_snapshot,
        })
    }

    /// Deletes a snapshot. Works after the container was deleted. Returns its name and the
    /// stored bytes the background GC will free.
    pub async fn delete_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
    ) -> Result<(ContainerRecord, engine::Deleted), ApiError> {
        let c = self.container_row(caller, id).await?;
        let _guard = self.lock(id).await?;
        let deleted = self.engine().delete(&c.id, name).await?;
        self.events().publish(
            "snapshot.deleted",
            &c.project_id,
            Some(id),
            serde_json::json!({"name": deleted.name, "freed_bytes": deleted.freed_bytes}),
        );
        Ok((c, deleted))
    }

    /// Edits a snapshot's alias and expiry: `None` leaves a field, `Some(None)` clears the
    /// alias or pins the snapshot, `Some(Some(days))` expires it that many days from now.
    pub async fn update_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        alias: Option<Option<String>>,
        expiry_days: Option<Option<i64>>,
    ) -> Result<(ContainerRecord, Snapshot), ApiError> {
        if let Some(Some(d)) = expiry_days {
            validate_expiry(d)?;
        }
        // An empty alias means "no alias", as in the dashboard's form.
        let alias = alias.map(|a| a.filter(|a| !a.is_empty()));
        let c = self.container_row(caller, id).await?;
        let edit = engine::SnapshotEdit {
            alias,
            expires_at: expiry_days.map(|d| d.map(|d| super::now() + ChronoDuration::days(d))),
        };
        let info = self.engine().edit(&c.id, name, edit).await?;
        let snap = Snapshot::from(&info);
        self.events().publish(
            "snapshot.updated",
            &c.project_id,
            Some(c.id.as_str()),
            &snap,
        );
        Ok((c, snap))
    }

    /// What changed from snapshot `name` to `against` (another snapshot, or `live`).
    pub async fn diff_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        against: &str,
        limit: usize,
    ) -> Result<engine::Diff, ApiError> {
        let c = self.container_row(caller, id).await?;
        let target = if against == "live" {
            if c.deleted() {
                return Err(ApiError::Conflict(format!(
                    "container {id} was deleted, so there is no live filesystem to compare with"
                )));
            }
            DiffTarget::Live
        } else {
            DiffTarget::Snapshot(against.to_string())
        };
        Ok(self.engine().diff(&c.id, name, target, limit).await?)
    }

    /// A directory of a snapshot.
    pub async fn browse_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<Vec<engine::EntryInfo>, ApiError> {
        let c = self.container_row(caller, id).await?;
        Ok(self.engine().list_dir(&c.id, name, path).await?)
    }

    /// A file of a snapshot, as a reader (each chunk hash-checked as it is read).
    pub async fn read_snapshot_file(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<(u64, engine::FileReader), ApiError> {
        let c = self.container_row(caller, id).await?;
        let reader = self.engine().read_file(&c.id, name, path).await?;
        Ok((reader.size(), reader))
    }

    /// A file of a snapshot as a stream of pieces read on a blocking thread. A piece that
    /// fails its hash check ends the stream with an error, so a client never mistakes damaged
    /// data for the file.
    pub async fn snapshot_file_stream(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<(u64, FileStream), ApiError> {
        use std::io::Read;
        let (size, mut reader) = self.read_snapshot_file(caller, id, name, path).await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(4);
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let piece = match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => Ok(bytes::Bytes::copy_from_slice(&buf[..n])),
                    Err(e) => Err(e),
                };
                let failed = piece.is_err();
                // A closed channel means the client went away: stop reading.
                if tx.blocking_send(piece).is_err() || failed {
                    break;
                }
            }
        });
        Ok((size, tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    /// Checks a snapshot's objects; `deep` re-reads and re-hashes all its data.
    pub async fn verify_snapshot(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        deep: bool,
    ) -> Result<engine::VerifyReport, ApiError> {
        let c = self.container_row(caller, id).await?;
        Ok(self.engine().verify_snapshot(&c.id, name, deep).await?)
    }
}
