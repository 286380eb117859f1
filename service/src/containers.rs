//! Containers: rows in the database, roots in the engine, processes in the runtime.
//!
//! Status is stored, and follows the real process: the runtime's exit callback writes
//! `stopped` (or `failed` for a non-zero exit) when the command ends by itself.

use std::sync::Arc;

use engine::{ContainerId, CopySource};
use sqlx::Row;

use super::runtime::{Bundle, FreezeHooks};
use super::{Caller, Service, fmt_time, now};
use crate::error::{Hint, ServiceError};

pub use types::{Container, ContainerLimits, ContainerStatus};

/// The stored part of a container (what visibility checks and locks work from).
#[derive(Debug, Clone)]
pub struct ContainerRecord {
    pub id: ContainerId,
    pub project_id: String,
    pub name: String,
    pub image: String,
    pub command: Vec<String>,
    pub status: ContainerStatus,
    pub created_at: String,
    /// What it may use when it runs.
    pub limits: ContainerLimits,
    /// Logical bytes of the live tree as last recorded (`None`: not measured yet).
    pub size: Option<u64>,
    /// The node that holds its live root (`None` only before the first node registered).
    pub node_id: Option<String>,
}

impl ContainerRecord {
    pub fn deleted(&self) -> bool {
        self.status == ContainerStatus::Deleted
    }
}

/// At most this many containers in one fork (`count` of a copy), as E2B's and Morph's forks
/// bound theirs: each fork is a full root on disk.
pub const MAX_FORK: u32 = 50;

pub(crate) fn row(r: &engine::DbRow) -> Result<ContainerRecord, ServiceError> {
    let id: String = r.try_get("id")?;
    let command: String = r.try_get("command")?;
    Ok(ContainerRecord {
        id: super::parse_id("container id", &id)?,
        project_id: r.try_get("project_id")?,
        name: r.try_get("name")?,
        image: r.try_get("image")?,
        command: serde_json::from_str(&command).unwrap_or_default(),
        status: {
            let s: String = r.try_get("status")?;
            ContainerStatus::parse(&s).ok_or_else(|| {
                ServiceError::internal(anyhow::anyhow!(
                    "unknown container status {s:?} in the database"
                ))
            })?
        },
        created_at: r.try_get("created_at")?,
        limits: r
            .try_get::<Option<String>, _>("limits")?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
        size: r
            .try_get::<Option<i64>, _>("size")?
            .map(|n| u64::try_from(n).unwrap_or(0)),
        node_id: r.try_get("node_id")?,
    })
}

/// Checks a container name: 1 to 63 of `a-z A-Z 0-9 . _ -` (it becomes the hostname).
pub fn validate_container_name(name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::bad_request(format!(
            "container name {name:?} is not valid: use 1 to 63 letters, digits, '.', '_' or \
             '-', starting with a letter or digit"
        )))
    }
}

pub(crate) fn validate_command(command: &[String]) -> Result<(), ServiceError> {
    if command.is_empty() || command[0].is_empty() {
        return Err(ServiceError::bad_request(
            "command must be a non-empty array of strings, like [\"/bin/sh\", \"-c\", \"...\"]",
        ));
    }
    if command.len() > 256 || command.iter().any(|a| a.len() > 4096 || a.contains('\0')) {
        return Err(ServiceError::bad_request(
            "command has too many or too long arguments (at most 256 of 4096 bytes, no NUL)",
        ));
    }
    Ok(())
}

/// Bytes of the regular files under `root`, symlinks not followed: the same count as a
/// snapshot's `size` in the catalog, so a container just snapshotted or restored shows the
/// snapshot's size. Only the write paths call this (see [`Service::measure_size`]).
fn logical_size(root: &std::path::Path) -> u64 {
    fn walk(dir: &std::path::Path, total: &mut u64) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let Ok(md) = e.metadata() else { continue };
            if md.is_dir() {
                walk(&e.path(), total);
            } else if md.is_file() {
                *total += md.len();
            }
        }
    }
    let mut total = 0;
    walk(root, &mut total);
    total
}

impl Service {
    pub(crate) async fn set_status(
        &self,
        id: &ContainerId,
        status: ContainerStatus,
    ) -> Result<(), ServiceError> {
        sqlx::query("UPDATE containers SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(id.as_str())
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// A container the caller sees (deleted ones included), or 404.
    pub(crate) async fn container_row(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<ContainerRecord, ServiceError> {
        let r = sqlx::query("SELECT * FROM containers WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(self.db())
            .await?;
        match r.map(|r| row(&r)).transpose()? {
            Some(c) if caller.sees(&c.project_id) => Ok(c),
            _ => Err(ServiceError::not_found(format!(
                "no container with id {id} exists in your projects"
            ))),
        }
    }

    /// A live (not deleted) container the caller sees.
    pub(crate) async fn live_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<ContainerRecord, ServiceError> {
        let c = self.container_row(caller, id).await?;
        if c.deleted() {
            return Err(ServiceError::conflict(format!(
                "container {id} was deleted; its snapshots remain and can be copied into a new \
                 container"
            ))
            .with_hint(Hint::CopyFromDeleted {
                container: id.to_string(),
            }));
        }
        Ok(c)
    }

    /// Records the live tree's logical size, known without a walk (a snapshot's or an
    /// image's `size`).
    pub(crate) async fn record_size(
        &self,
        id: &ContainerId,
        bytes: u64,
    ) -> Result<(), ServiceError> {
        sqlx::query("UPDATE containers SET size = $1 WHERE id = $2")
            .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
            .bind(id.as_str())
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Walks the live tree once and records its size: after something inside the container
    /// may have written files (a command, a run that ended, a live copy). Best effort: a
    /// failure leaves the previous figure and is logged, never failing the operation.
    pub(crate) async fn measure_size(&self, id: &ContainerId) {
        let root = self.engine().root_path(id);
        let bytes = match tokio::task::spawn_blocking(move || logical_size(&root)).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "cannot measure the container's size");
                return;
            }
        };
        if let Err(e) = self.record_size(id, bytes).await {
            tracing::warn!(container = %id, error = %e.message, "cannot record the container's size");
        }
    }

    /// The answer for one container. Reads only the database and the catalog: the overview
    /// lists every container through this, so it must not walk trees (the size is recorded
    /// by the write paths, see [`Service::record_size`] and [`Service::measure_size`]).
    pub(crate) async fn describe(&self, c: ContainerRecord) -> Result<Container, ServiceError> {
        let snapshot_count = self.engine().list(&c.id).await?.len() as u64;
        let size = if c.deleted() { 0 } else { c.size.unwrap_or(0) };
        let attention = if c.deleted() {
            None
        } else {
            self.unfinished_restore(&c.id).await?
        };
        Ok(Container {
            id: c.id.to_string(),
            project_id: c.project_id,
            name: c.name,
            image: c.image,
            command: c.command,
            status: c.status,
            created_at: c.created_at,
            size,
            snapshot_count,
            server_id: c.node_id.unwrap_or_else(|| self.server_id().to_string()),
            limits: c.limits,
            attention,
        })
    }

    /// The containers the caller sees, optionally of one project; deleted ones only when
    /// asked for (their snapshots stay usable).
    pub async fn list_containers(
        &self,
        caller: &Caller,
        project: Option<&str>,
        include_deleted: bool,
    ) -> Result<Vec<Container>, ServiceError> {
        let project_id = match project {
            Some(p) => Some(self.project(caller, p).await?.id),
            None => None,
        };
        let rows = sqlx::query("SELECT * FROM containers ORDER BY created_at, id")
            .fetch_all(self.db())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let c = row(r)?;
            if !caller.sees(&c.project_id)
                || project_id.as_ref().is_some_and(|p| *p != c.project_id)
                || (c.deleted() && !include_deleted)
            {
                continue;
            }
            out.push(self.describe(c).await?);
        }
        Ok(out)
    }

    /// One container.
    pub async fn get_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<Container, ServiceError> {
        let c = self.container_row(caller, id).await?;
        self.describe(c).await
    }

    /// Inserts a container row in `creating` state, unless the name is taken.
    async fn insert_container(
        &self,
        project_id: &str,
        name: &str,
        image: &str,
        command: &[String],
        limits: &ContainerLimits,
    ) -> Result<ContainerId, ServiceError> {
        validate_container_name(name)?;
        validate_command(command)?;
        crate::limits::check(limits)?;
        let id = super::parse_id("container id", &crate::tokens::new_id())?;
        // The unique index on live names decides (containers_live_name): a name taken by
        // another node a moment ago inserts nothing, instead of a second container.
        let inserted = sqlx::query(
            "INSERT INTO containers (id, project_id, name, image, command, status, created_at, \
             limits, node_id) VALUES ($1, $2, $3, $4, $5, 'creating', $6, $7, $8) \
             ON CONFLICT (project_id, name) WHERE status <> 'deleted' DO NOTHING",
        )
        .bind(id.as_str())
        .bind(project_id)
        .bind(name)
        .bind(image)
        .bind(serde_json::to_string(command).unwrap_or_else(|_| "[]".into()))
        .bind(fmt_time(now()))
        .bind(serde_json::to_string(limits).unwrap_or_default())
        .bind(self.server_id())
        .execute(self.db())
        .await?;
        if inserted.rows_affected() == 0 {
            let other: Option<String> = sqlx::query_scalar(
                "SELECT id FROM containers WHERE project_id = $1 AND name = $2 \
                 AND status <> 'deleted'",
            )
            .bind(project_id)
            .bind(name)
            .fetch_optional(self.db())
            .await?;
            let other = other.map(|o| format!(" ({o})")).unwrap_or_default();
            return Err(ServiceError::conflict(format!(
                "the project already has a container named {name:?}{other}; choose another name"
            )));
        }
        Ok(id)
    }

    /// Creates a container from an image. It starts `stopped`. `limits` absent: the
    /// defaults.
    pub async fn create_container(
        &self,
        caller: &Caller,
        project: &str,
        name: &str,
        image: &str,
        command: Option<Vec<String>>,
        limits: Option<ContainerLimits>,
    ) -> Result<Container, ServiceError> {
        let limits = limits.unwrap_or_default();
        let project = self.project(caller, project).await?;
        let image_ref = self.image_ref(&project, image).await?;
        let command = command.unwrap_or_else(|| image_ref.command.clone());
        self.check_free_space(0, "creating a container")?;
        let id = self
            .insert_container(&project.id, name, image, &command, &limits)
            .await?;
        let made = self
            .engine()
            .copy(
                &image_ref.root,
                CopySource::Snapshot(image_ref.snapshot.clone()),
                &id,
            )
            .await;
        if let Err(e) = made {
            self.set_status(&id, ContainerStatus::Failed).await?;
            return Err(e.into());
        }
        // The new tree is the image's snapshot, whose size the catalog already holds.
        match self
            .engine()
            .get(&image_ref.root, &image_ref.snapshot)
            .await
        {
            Ok(info) => self.record_size(&id, info.size).await?,
            Err(_) => self.measure_size(&id).await,
        }
        self.set_status(&id, ContainerStatus::Stopped).await?;
        let c = self.get_container(caller, &id).await?;
        self.events().publish(
            types::EventKind::ContainerCreated,
            &c.project_id,
            Some(&c.id),
            &c,
        );
        Ok(c)
    }

    /// Deletes the container's live filesystem (stopping it first). Its snapshots stay.
    pub async fn delete_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<(), ServiceError> {
        let c = self.live_container(caller, id).await?;
        let _guard = self.lock(id).await?;
        self.runtime()
            .stop(c.id.as_str(), self.limits().stop_timeout)
            .await;
        // Commands run on its stopped tree end too, and no new one starts on a tree that is
        // going away.
        let _execs_closed = self
            .runtime()
            .end_execs(c.id.as_str(), "being deleted")
            .await?;
        self.runtime().forget(c.id.as_str()).await;
        match self.engine().delete_root(&c.id).await {
            Ok(()) | Err(engine::EngineError::NoSuchRoot(_)) => {}
            Err(e) => return Err(e.into()),
        }
        sqlx::query("UPDATE containers SET status = 'deleted', deleted_at = $1 WHERE id = $2")
            .bind(fmt_time(now()))
            .bind(c.id.as_str())
            .execute(self.db())
            .await?;
        sqlx::query("DELETE FROM schedules WHERE container_id = $1")
            .bind(c.id.as_str())
            .execute(self.db())
            .await?;
        self.events().publish(
            types::EventKind::ContainerDeleted,
            &c.project_id,
            Some(c.id.as_str()),
            serde_json::json!({"id": c.id.as_str(), "name": c.name}),
        );
        Ok(())
    }

    /// A new container from a snapshot of `id` (or its live state), in a project the caller
    /// sees. Works after the source container was deleted (from a snapshot).
    pub async fn copy_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
        target_project: &str,
        name: &str,
        source_snapshot: Option<&str>,
    ) -> Result<Container, ServiceError> {
        let mut out = self
            .copy_into(
                caller,
                id,
                target_project,
                vec![name.to_string()],
                source_snapshot,
            )
            .await?;
        out.pop()
            .map(|(_, r)| r)
            .unwrap_or_else(|| Err(ServiceError::internal(anyhow::anyhow!("no copy made"))))
    }

    /// `count` new containers `name-1` … `name-N` from one read of a snapshot of `id` (or of
    /// its live state, captured once), filled in parallel (a fork). The outer error refuses
    /// the whole request before anything is made (bad count, unknown source, no space); each
    /// name then has its own result, in order: a taken or invalid name fails alone.
    pub async fn fork_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
        target_project: &str,
        name: &str,
        count: u32,
        source_snapshot: Option<&str>,
    ) -> Result<Vec<(String, Result<Container, ServiceError>)>, ServiceError> {
        if !(1..=MAX_FORK).contains(&count) {
            return Err(ServiceError::bad_request(format!(
                "count {count} is out of range: copy into 1 to {MAX_FORK} containers at once"
            )));
        }
        // The name as typed, then the longest one made of it, are checked before anything
        // is made, in the user's own words (never as `-1`, a name they did not type).
        validate_container_name(name)?;
        let suffix = format!("-{count}").len();
        if name.len() + suffix > 63 {
            return Err(ServiceError::bad_request(format!(
                "name {name:?} is too long for {count} copies: with the suffix -{count} it may \
                 be at most {} characters",
                63 - suffix
            )));
        }
        let names = (1..=count).map(|i| format!("{name}-{i}")).collect();
        self.copy_into(caller, id, target_project, names, source_snapshot)
            .await
    }

    /// Copies into one new container per name; see [`Service::fork_container`].
    async fn copy_into(
        &self,
        caller: &Caller,
        id: &ContainerId,
        target_project: &str,
        names: Vec<String>,
        source_snapshot: Option<&str>,
    ) -> Result<Vec<(String, Result<Container, ServiceError>)>, ServiceError> {
        let src = self.container_row(caller, id).await?;
        let target = self.project(caller, target_project).await?;
        // `need` is also each new tree's size when copying a snapshot; a live copy is
        // measured.
        let (source, need) = match source_snapshot {
            Some(s) => {
                let info = self.engine().get(&src.id, s).await?;
                (CopySource::Snapshot(info.name), info.size)
            }
            None if src.deleted() => {
                return Err(ServiceError::conflict(format!(
                    "container {id} was deleted, so it has no live state to copy; pass \
                     source_snapshot with one of its snapshots"
                )));
            }
            None => {
                // A half-restored tree is not copied as if it were a state anyone chose: the
                // copy would be a container that starts on it. (A snapshot of it is allowed:
                // it keeps the evidence.)
                if let Some(why) = self.unfinished_restore(&src.id).await? {
                    return Err(ServiceError::conflict(format!(
                        "container {id}: {why}; to copy it as it is now, snapshot it and copy \
                         that snapshot"
                    )));
                }
                (CopySource::Live, 0)
            }
        };
        // A live copy reads the source as it is: no start, stop or restore of it may run
        // meanwhile (its freeze would find the container half-started).
        let _source_guard = match source {
            CopySource::Live => Some(self.lock(id).await?),
            CopySource::Snapshot(_) => None,
        };
        self.check_free_space(
            need.saturating_mul(names.len() as u64),
            "copying a container",
        )?;
        let mut results: Vec<(String, Result<ContainerId, ServiceError>)> = Vec::new();
        for n in names {
            let made = self
                .insert_container(&target.id, &n, &src.image, &src.command, &src.limits)
                .await;
            results.push((n, made));
        }
        let new_ids: Vec<ContainerId> = results
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().copied())
            .collect();
        if new_ids.is_empty() {
            // Every name was refused: nothing to copy.
            return Ok(results
                .into_iter()
                .filter_map(|(n, r)| r.err().map(|e| (n, Err(e))))
                .collect());
        }
        let target_names: Vec<&str> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(n, _)| n.as_str())
            .collect();
        // Progress on the source's stream: its timeline shows the copy while it runs.
        let progress = |phase: types::Phase| {
            self.events().publish(
                types::EventKind::Progress,
                &src.project_id,
                Some(id.as_str()),
                serde_json::json!({"operation": types::Operation::Copy, "phase": phase, "target": target_names.join(", "), "snapshot": source_snapshot}),
            )
        };
        progress(types::Phase::Started);
        // A live copy is one instant: frozen while the source is read, not while the new
        // roots are written.
        let hooks = Arc::new(FreezeHooks::new(
            self.runtime().clone(),
            src.id.as_str(),
            Bundle::of_root(&self.engine().root_path(&src.id)),
        ));
        let copied = self
            .engine()
            .copy_many(&src.id, source, &new_ids, Some(hooks))
            .await;
        progress(types::Phase::of(&copied));
        let copied = copied.map_err(ServiceError::from);
        let mut out = Vec::with_capacity(results.len());
        for (n, r) in results {
            let item = match (r, &copied) {
                (Err(e), _) => Err(e),
                (Ok(new_id), Err(e)) => {
                    // Nothing was made: the row goes, so the name can be used again.
                    sqlx::query("DELETE FROM containers WHERE id = $1")
                        .bind(new_id.as_str())
                        .execute(self.db())
                        .await?;
                    Err(e.clone())
                }
                (Ok(new_id), Ok(())) => {
                    if source_snapshot.is_some() {
                        self.record_size(&new_id, need).await?;
                    } else {
                        self.measure_size(&new_id).await;
                    }
                    self.set_status(&new_id, ContainerStatus::Stopped).await?;
                    let c = self.get_container(caller, &new_id).await?;
                    self.events().publish(
                        types::EventKind::ContainerCopied,
                        &c.project_id,
                        Some(&c.id),
                        serde_json::json!({"container": &c, "source_container_id": id, "source_snapshot": source_snapshot}),
                    );
                    Ok(c)
                }
            };
            out.push((n, item));
        }
        Ok(out)
    }
}
