//! Snapshots: the vendor API's heart, plus diff, browse, download and verify.

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use engine::{DiffTarget, SnapshotInfo, SnapshotOptions};

use super::containers::ContainerRecord;
use super::events::ProgressEvents;
use super::runtime::{Bundle, FreezeHooks};
use super::{Caller, Service, fmt_time};
use crate::error::ServiceError;
use engine::ContainerId;
use types::ContainerStatus;

/// A snapshot file's bytes, as [`Service::snapshot_file_stream`] reads them.
pub type FileStream = tokio_stream::wrappers::ReceiverStream<Result<bytes::Bytes, std::io::Error>>;

/// The plain ASCII file name of a download (the header's `filename`, for clients that do
/// not read the exact name in `filename*`): the path's last part, with anything but
/// letters, digits, `.`, `-` and `_` replaced by `_`.
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

/// The API's word for a kind of change.
fn change_kind(k: &engine::ChangeKind) -> types::ChangeKind {
    match k {
        engine::ChangeKind::Added => types::ChangeKind::Added,
        engine::ChangeKind::Removed => types::ChangeKind::Removed,
        engine::ChangeKind::Modified => types::ChangeKind::Modified,
        engine::ChangeKind::MetadataOnly => types::ChangeKind::MetadataOnly,
        engine::ChangeKind::TypeChanged => types::ChangeKind::TypeChanged,
    }
}

/// What a verify found, as the API shows it: damaged objects, then damaged packs (named
/// `pack <id>`); `clean` when there are none.
fn verified(r: &engine::VerifyReport, deep: bool) -> types::SnapshotVerified {
    let objects = r.damaged.iter().map(|d| types::DamageInfo {
        object: d.object.to_string(),
        reason: d.reason.clone(),
    });
    let packs = r.damaged_packs.iter().map(|(p, why)| types::DamageInfo {
        object: format!("pack {p}"),
        reason: why.clone(),
    });
    let damaged: Vec<_> = objects.chain(packs).collect();
    types::SnapshotVerified {
        clean: damaged.is_empty(),
        deep,
        trees: r.trees,
        chunks: r.chunks,
        damaged,
    }
}

/// Longest expiry, in days (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;

pub use types::Snapshot;

/// A snapshot as the API shows it, from the engine's catalog row.
pub fn snapshot_of(s: &SnapshotInfo) -> Snapshot {
    {
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
            frozen_ms: None,
            scheduled: false,
        }
    }
}

/// Checks an expiry in days.
pub fn validate_expiry(days: i64) -> Result<(), ServiceError> {
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(ServiceError::bad_request(format!(
            "expiry is a number of days from 1 to {MAX_EXPIRY_DAYS} (got {days}); omit it for \
             a snapshot that never expires"
        )));
    }
    Ok(())
}

/// Storage figures of a container's snapshots, by snapshot name, in bytes.
#[derive(Debug, Clone, Default)]
pub struct SnapshotStorage {
    /// What deleting the snapshot would free.
    pub exclusive: std::collections::HashMap<String, u64>,
    /// What the snapshot and the older ones reach together.
    pub stored: std::collections::HashMap<String, u64>,
}

pub use crate::restores::Restored;

impl Service {
    /// Takes a snapshot of a container, running or stopped.
    pub async fn create_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<(ContainerRecord, Snapshot), ServiceError> {
        if let Some(a) = &alias {
            engine::snapshot::validate_alias(a)?;
        }
        if let Some(d) = expiry_days {
            validate_expiry(d)?;
        }
        let c = self.live_for_snapshot(caller, id).await?;
        let _guard = self.lock(id).await?;
        // Checked under the container's lock: two creates with one alias cannot both pass.
        if let Some(a) = &alias
            && let Some(holder) = self.alias_holder(&c.id, a).await?
        {
            return Err(crate::aliases::alias_taken(a, &holder));
        }
        let snap = self.snapshot_locked(&c, alias, expiry_days).await?;
        Ok((c, snap))
    }

    async fn live_for_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<ContainerRecord, ServiceError> {
        let c = self.container_row(caller, id).await?;
        match c.status {
            ContainerStatus::Deleted => Err(ServiceError::conflict(format!(
                "container {id} was deleted, so there is nothing live to snapshot; its earlier \
                 snapshots remain"
            ))),
            ContainerStatus::Creating => Err(ServiceError::conflict(format!(
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
    ) -> Result<Snapshot, ServiceError> {
        self.check_free_space(0, "a snapshot")?;
        let progress = ProgressEvents {
            bus: Arc::new(self.clone()),
            project_id: c.project_id.clone(),
            container_id: c.id.to_string(),
            operation: types::Operation::Snapshot,
        };
        // Frozen only while the engine reads the tree, with its locks already held; the packs
        // are synced and the row written while the container runs again.
        let hooks = Arc::new(FreezeHooks::new(
            self.runtime().clone(),
            c.id.as_str(),
            Bundle::of_root(&self.engine().root_path(&c.id)),
        ));
        let opts = SnapshotOptions {
            alias,
            expires_after: expiry_days.map(ChronoDuration::days),
            progress: Some(Arc::new(progress)),
            read_hooks: Some(hooks.clone()),
            ..Default::default()
        };
        let info = if crate::test_fault("capture") {
            // As a capture that fails while the container is frozen.
            let hooks: &dyn engine::ReadHooks = &*hooks;
            hooks
                .before_read()
                .map_err(|e| ServiceError::internal(anyhow::anyhow!(e)))?;
            hooks.after_read();
            Err(ServiceError::internal(anyhow::anyhow!(
                "test fault: the capture failed"
            )))
        } else {
            self.engine()
                .snapshot(&c.id, opts)
                .await
                .map_err(ServiceError::from)
        };
        let window = hooks.window();
        let info = info?;
        // The snapshot counted the tree as it was captured: that is its size now.
        self.record_size(&c.id, info.size).await?;
        let mut snap = snapshot_of(&info);
        snap.frozen_ms = window.map(|w| w.as_millis() as u64);
        if let Some(ms) = snap.frozen_ms {
            tracing::info!(container = %c.id, snapshot = %snap.name, frozen_ms = ms, "snapshot of a running container");
        }
        self.events().publish(
            types::EventKind::SnapshotCreated,
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
        id: &ContainerId,
    ) -> Result<(ContainerRecord, Vec<Snapshot>), ServiceError> {
        let c = self.container_row(caller, id).await?;
        let list = self.engine().list(&c.id).await?;
        let scheduled = self.scheduled_names(&c.id).await?;
        let list = list
            .iter()
            .map(|i| Snapshot {
                scheduled: scheduled.contains(&i.name),
                ..snapshot_of(i)
            })
            .collect();
        Ok((c, list))
    }

    /// When the container's newest snapshot was taken; `None` when it has none.
    pub async fn last_snapshot_at(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<Option<String>, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let list = self.engine().list(&c.id).await?;
        Ok(list.first().map(|s| fmt_time(s.created_at)))
    }

    /// The storage figures of a container's snapshots, by name: what deleting each would free
    /// (exclusive bytes), and what each and the older ones reach together (stored bytes). One
    /// pass over the store each; advisory, so a failed pass gives empty maps, not an error.
    pub async fn snapshot_storage(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<SnapshotStorage, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let exclusive = self
            .engine()
            .exclusive_bytes_all(&c.id)
            .await
            .unwrap_or_default();
        let stored = self
            .engine()
            .stored_history(&c.id)
            .await
            .unwrap_or_default()
            .into_iter()
            .collect();
        Ok(SnapshotStorage { exclusive, stored })
    }

    /// One snapshot, with the bytes deleting it would free.
    pub async fn get_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
        name: &str,
    ) -> Result<(ContainerRecord, Snapshot), ServiceError> {
        let c = self.container_row(caller, id).await?;
        let info = self.engine().get(&c.id, name).await?;
        let mut snap = snapshot_of(&info);
        snap.exclusive_bytes = Some(self.engine().exclusive_bytes(&c.id, &info.name).await?);
        snap.scheduled = self.scheduled_names(&c.id).await?.contains(&info.name);
        Ok((c, snap))
    }

    /// Deletes a snapshot. Works after the container was deleted. Returns its name and the
    /// stored bytes the background GC will free.
    pub async fn delete_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
        name: &str,
    ) -> Result<(ContainerRecord, engine::Deleted), ServiceError> {
        let c = self.container_row(caller, id).await?;
        let _guard = self.lock(id).await?;
        let deleted = self.delete_snapshot_locked(&c, name).await?;
        Ok((c, deleted))
    }

    /// Deletes a snapshot of `c`; the caller holds the container lock. The one delete path:
    /// the REST and dashboard deletes and the retention job all come through here.
    pub(crate) async fn delete_snapshot_locked(
        &self,
        c: &ContainerRecord,
        name: &str,
    ) -> Result<engine::Deleted, ServiceError> {
        let deleted = self.engine().delete(&c.id, name).await?;
        self.unmark_scheduled(&c.id, &deleted.name).await?;
        self.events().publish(
            types::EventKind::SnapshotDeleted,
            &c.project_id,
            Some(c.id.as_str()),
            serde_json::json!({"name": deleted.name, "freed_bytes": deleted.freed_bytes}),
        );
        Ok(deleted)
    }

    /// Edits a snapshot's alias and expiry: `None` leaves a field, `Some(None)` clears the
    /// alias or pins the snapshot, `Some(Some(days))` expires it that many days from now.
    pub async fn update_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
        name: &str,
        alias: Option<Option<String>>,
        expiry_days: Option<Option<i64>>,
    ) -> Result<(ContainerRecord, Snapshot), ServiceError> {
        if let Some(Some(d)) = expiry_days {
            validate_expiry(d)?;
        }
        // An empty alias means "no alias", as in the dashboard's form.
        let alias = alias.map(|a| a.filter(|a| !a.is_empty()));
        let c = self.container_row(caller, id).await?;
        // An alias names one snapshot: another snapshot's is refused (its own is no change).
        if let Some(Some(a)) = &alias
            && let Some(holder) = self.alias_holder(&c.id, a).await?
        {
            let target = self.engine().get(&c.id, name).await?;
            if holder != target.name {
                return Err(crate::aliases::alias_taken(a, &holder));
            }
        }
        let edit = engine::SnapshotEdit {
            alias,
            expires_at: expiry_days.map(|d| d.map(|d| super::now() + ChronoDuration::days(d))),
        };
        // Setting the expiry to never pins a scheduled snapshot (no keep policy deletes it
        // then), giving it an expiry unpins it; recorded before the edit (see
        // `pin_before_edit`) and put back if the edit fails.
        let pin = match expiry_days {
            Some(expiry) => Some(self.pin_before_edit(&c.id, name, expiry.is_none()).await?),
            None => None,
        };
        let info = match self.engine().edit(&c.id, name, edit).await {
            Ok(info) => info,
            Err(e) => {
                if let Some(pin) = pin {
                    self.undo_pin(&c.id, pin).await?;
                }
                return Err(e.into());
            }
        };
        let mut snap = snapshot_of(&info);
        snap.scheduled = self.scheduled_names(&c.id).await?.contains(&info.name);
        self.events().publish(
            types::EventKind::SnapshotUpdated,
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
        id: &ContainerId,
        name: &str,
        against: &str,
        limit: usize,
    ) -> Result<types::SnapshotDiff, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let target = if against == "live" {
            if c.deleted() {
                return Err(ServiceError::conflict(format!(
                    "container {id} was deleted, so there is no live filesystem to compare with"
                )));
            }
            DiffTarget::Live
        } else {
            DiffTarget::Snapshot(against.to_string())
        };
        // Against `live`: one instant of it, frozen while it is read.
        let hooks = Arc::new(FreezeHooks::new(
            self.runtime().clone(),
            c.id.as_str(),
            Bundle::of_root(&self.engine().root_path(&c.id)),
        ));
        let d = self
            .engine()
            .diff_with_hooks(&c.id, name, target, limit, Some(hooks))
            .await?;
        Ok(types::SnapshotDiff {
            from: name.to_string(),
            against: against.to_string(),
            changes: d
                .changes
                .into_iter()
                .map(|c| types::DiffChange {
                    raw_path: types::raw::encode_if_not_utf8(&c.path_bytes),
                    path: c.path,
                    kind: change_kind(&c.kind),
                    entry_type: c.entry_type.into(),
                    previous_type: c.previous_type.map(str::to_string),
                    hard_links: c.hard_links,
                })
                .collect(),
            truncated: d.truncated,
        })
    }

    /// A directory of a snapshot.
    pub async fn browse_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
        name: &str,
        path: &[u8],
    ) -> Result<types::SnapshotFiles, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let entries = self
            .engine()
            .list_dir(&c.id, name, path)
            .await?
            .into_iter()
            .map(|e| types::FileEntry {
                raw_name: types::raw::encode_if_not_utf8(&e.name_bytes),
                name: e.name,
                entry_type: e.entry_type.into(),
                size: e.size,
                mode: format!("{:04o}", e.mode),
                uid: e.uid,
                gid: e.gid,
                mtime: super::fmt_time(e.mtime),
                link_target: e.link_target,
            })
            .collect();
        Ok(types::SnapshotFiles {
            path: String::from_utf8_lossy(path).into_owned(),
            entries,
        })
    }

    /// A file of a snapshot, as a reader (each chunk hash-checked as it is read). `path` is
    /// bytes: names need not be UTF-8.
    pub async fn read_snapshot_file(
        &self,
        caller: &Caller,
        id: &ContainerId,
        name: &str,
        path: &[u8],
    ) -> Result<(u64, engine::FileReader), ServiceError> {
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
        id: &ContainerId,
        name: &str,
        path: &[u8],
    ) -> Result<(u64, FileStream), ServiceError> {
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
        id: &ContainerId,
        name: &str,
        deep: bool,
    ) -> Result<types::SnapshotVerified, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let r = self.engine().verify_snapshot(&c.id, name, deep).await?;
        Ok(verified(&r, deep))
    }
}
