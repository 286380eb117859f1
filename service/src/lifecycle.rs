//! A container's life as a process: start, stop, pause, resume and one-off commands, what
//! its end does to its status, and, at start, the status of every container from the
//! runtime (containers outlive the server). Rows, trees and copies are in `containers`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use engine::ContainerId;

use crate::containers::{ContainerRecord, row, validate_command};
use crate::error::ServiceError;
use crate::runtime::{Bundle, ExecOutput, Found};
use crate::{Caller, Service};
use types::{Container, ContainerStatus};

/// What a container's end does: a running (or paused) container becomes `stopped` after a
/// zero exit and `failed` otherwise, its size is measured, and `container.stopped` is
/// published. A stop or restore in progress writes its own status, so only a row still
/// `running` or `paused` moves.
fn exit_handler(
    svc: Service,
    id: ContainerId,
    project: String,
) -> impl FnOnce(crate::runtime::Exit) + Send + 'static {
    move |code| {
        tokio::spawn(async move {
            let status = if code == Some(0) {
                ContainerStatus::Stopped
            } else {
                ContainerStatus::Failed
            };
            let changed = sqlx::query(
                "UPDATE containers SET status = $1 WHERE id = $2 AND status IN ('running', 'paused')",
            )
            .bind(status.as_str())
            .bind(id.as_str())
            .execute(svc.db())
            .await
            .map(|r| r.rows_affected() > 0)
            .unwrap_or(false);
            if changed {
                svc.measure_size(&id).await;
                svc.events().publish(
                    types::EventKind::ContainerStopped,
                    &project,
                    Some(id.as_str()),
                    serde_json::json!({"id": id.as_str(), "exit_code": code, "status": status}),
                );
            }
        });
    }
}

/// At start: the status of every container the database says runs, from the runtime. A
/// container whose command still runs (containers outlive the server) is watched again and
/// stays `running` (or `paused`); one that is gone becomes `stopped`.
pub(crate) async fn reset_after_restart(svc: &Service) -> anyhow::Result<()> {
    // Only this node's containers: another node's are running there, not here.
    let rows = sqlx::query(
        "SELECT * FROM containers WHERE status IN ('running', 'paused', 'restoring') \
         AND node_id = $1",
    )
    .bind(svc.server_id())
    .fetch_all(svc.db())
    .await?;
    let mut known = Vec::new();
    let mut projects = HashMap::new();
    for r in &rows {
        let c = row(r)?;
        known.push((
            c.id.to_string(),
            Bundle::of_root(&svc.engine().root_path(&c.id)),
        ));
        projects.insert(c.id.to_string(), c.project_id);
    }
    let projects = Arc::new(projects);
    let handler_svc = svc.clone();
    let found = svc
        .runtime()
        .reattach(&known, move |id, exit| {
            let (Ok(cid), Some(project)) = (id.parse::<ContainerId>(), projects.get(&id)) else {
                return;
            };
            exit_handler(handler_svc.clone(), cid, project.clone())(exit);
        })
        .await?;
    for (id, _) in &known {
        let status = match found.get(id) {
            Some(Found::Running) => ContainerStatus::Running,
            Some(Found::Paused) => ContainerStatus::Paused,
            None => ContainerStatus::Stopped,
        };
        sqlx::query("UPDATE containers SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(id)
            .execute(svc.db())
            .await?;
        if status != ContainerStatus::Stopped {
            tracing::info!(container = %id, %status, "re-attached to a container that kept running");
        }
    }
    // A creation the previous server did not finish left no usable root.
    sqlx::query(
        "UPDATE containers SET status = 'failed' WHERE status = 'creating' AND node_id = $1",
    )
    .bind(svc.server_id())
    .execute(svc.db())
    .await?;
    // Rows from before sizes were recorded: measure each once, off the startup path.
    let unmeasured: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM containers WHERE size IS NULL AND status NOT IN ('deleted', 'failed') \
         AND node_id = $1",
    )
    .bind(svc.server_id())
    .fetch_all(svc.db())
    .await?;
    if !unmeasured.is_empty() {
        let svc = svc.clone();
        tokio::spawn(async move {
            for id in unmeasured {
                if let Ok(id) = id.parse::<ContainerId>() {
                    svc.measure_size(&id).await;
                }
            }
        });
    }
    Ok(())
}

impl Service {
    /// Starts the container's command (the caller holds the container lock).
    pub(crate) async fn start_locked(&self, c: &ContainerRecord) -> Result<(), ServiceError> {
        if let Some(why) = self.unfinished_restore(&c.id).await? {
            return Err(ServiceError::conflict(format!("container {}: {why}", c.id)));
        }
        let bundle = Bundle::of_root(&self.engine().root_path(&c.id));
        self.runtime()
            .start(
                c.id.as_str(),
                &bundle,
                &c.name,
                &c.command,
                &c.limits,
                exit_handler(self.clone(), c.id, c.project_id.clone()),
            )
            .await?;
        self.set_status(&c.id, ContainerStatus::Running).await?;
        Ok(())
    }

    /// Stops the container's command (the caller holds the container lock).
    pub(crate) async fn stop_locked(
        &self,
        c: &ContainerRecord,
        status_after: ContainerStatus,
    ) -> Result<(), ServiceError> {
        self.set_status(&c.id, status_after).await?;
        self.runtime()
            .stop(c.id.as_str(), self.limits().stop_timeout)
            .await;
        Ok(())
    }

    /// Starts a stopped container.
    pub async fn start_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<Container, ServiceError> {
        let c = self.live_container(caller, id).await?;
        if c.status == ContainerStatus::Restoring {
            return Err(ServiceError::conflict(format!(
                "container {id} is being restored; start it when the restore finishes"
            )));
        }
        if c.status == ContainerStatus::Paused {
            return Err(ServiceError::conflict(format!(
                "container {id} is paused; resume it instead"
            )));
        }
        let _guard = self.lock(id).await?;
        let c = self.live_container(caller, id).await?;
        if !self.runtime().is_running(id.as_str()) {
            self.start_locked(&c).await?;
            self.events().publish(
                types::EventKind::ContainerStarted,
                &c.project_id,
                Some(id.as_str()),
                serde_json::json!({"id": id, "name": c.name}),
            );
        }
        self.get_container(caller, id).await
    }

    /// Stops a running container: SIGTERM, then SIGKILL after the stop timeout.
    pub async fn stop_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<Container, ServiceError> {
        let c = self.live_container(caller, id).await?;
        let _guard = self.lock(id).await?;
        let was_running = self.runtime().is_running(id.as_str());
        self.stop_locked(&c, ContainerStatus::Stopped).await?;
        if was_running {
            self.measure_size(id).await;
            self.events().publish(
                types::EventKind::ContainerStopped,
                &c.project_id,
                Some(id.as_str()),
                serde_json::json!({"id": id, "name": c.name, "status": ContainerStatus::Stopped}),
            );
        }
        self.get_container(caller, id).await
    }

    /// Records `c`'s new status, publishes `kind` (`{id, name, status}`) and answers the
    /// container as it is now: the end of a pause and of a resume.
    async fn now_is(
        &self,
        caller: &Caller,
        c: &ContainerRecord,
        status: ContainerStatus,
        kind: types::EventKind,
    ) -> Result<Container, ServiceError> {
        self.set_status(&c.id, status).await?;
        self.events().publish(
            kind,
            &c.project_id,
            Some(c.id.as_str()),
            serde_json::json!({"id": c.id, "name": c.name, "status": status}),
        );
        self.get_container(caller, &c.id).await
    }

    /// Pauses a running container: every process is frozen (the cgroup freezer) until
    /// [`Service::resume_container`]; snapshots of it are consistent at once. It stays
    /// paused across server restarts.
    pub async fn pause_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<Container, ServiceError> {
        let c = self.live_container(caller, id).await?;
        let _guard = self.lock(id).await?;
        let c = self.live_container(caller, &c.id).await?;
        match c.status {
            ContainerStatus::Running if self.runtime().is_running(id.as_str()) => {}
            ContainerStatus::Paused => {
                return Err(ServiceError::conflict(format!(
                    "container {id} is already paused"
                )));
            }
            other => {
                return Err(ServiceError::conflict(format!(
                    "container {id} is {other}; only a running container can be paused"
                )));
            }
        }
        self.runtime().pause(id.as_str()).await?;
        self.now_is(
            caller,
            &c,
            ContainerStatus::Paused,
            types::EventKind::ContainerPaused,
        )
        .await
    }

    /// Resumes a paused container.
    pub async fn resume_container(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<Container, ServiceError> {
        let c = self.live_container(caller, id).await?;
        let _guard = self.lock(id).await?;
        let c = self.live_container(caller, &c.id).await?;
        if c.status != ContainerStatus::Paused {
            return Err(ServiceError::conflict(format!(
                "container {id} is {}, not paused",
                c.status
            )));
        }
        self.runtime().resume(id.as_str()).await?;
        self.now_is(
            caller,
            &c,
            ContainerStatus::Running,
            types::EventKind::ContainerResumed,
        )
        .await
    }

    /// Runs a one-off command in the container's root.
    pub async fn exec(
        &self,
        caller: &Caller,
        id: &ContainerId,
        command: &[String],
        timeout_s: Option<u64>,
    ) -> Result<ExecOutput, ServiceError> {
        let c = self.live_container(caller, id).await?;
        if c.status == ContainerStatus::Restoring || c.status == ContainerStatus::Creating {
            return Err(ServiceError::conflict(format!(
                "container {id} is {}; run the command when that finishes",
                c.status
            )));
        }
        if c.status == ContainerStatus::Paused {
            return Err(ServiceError::conflict(format!(
                "container {id} is paused; resume it to run a command"
            )));
        }
        let timeout = match timeout_s {
            None => 30,
            Some(t @ 1..=600) => t,
            Some(t) => {
                return Err(ServiceError::bad_request(format!(
                    "timeout_s must be between 1 and 600 seconds (got {t})"
                )));
            }
        };
        validate_command(command)?;
        // The command runs in the container's root, on the node that holds it.
        self.files_here(&c.id).await?;
        // Not on a partly restored tree. (A journal without a failure is a restore at work
        // right now, which a running container may see: a partial one.)
        if self
            .engine()
            .pending_restore(&c.id)
            .await?
            .is_some_and(|j| j.failed.is_some())
            && let Some(why) = self.unfinished_restore(&c.id).await?
        {
            return Err(ServiceError::conflict(format!("container {id}: {why}")));
        }
        let out = self
            .runtime()
            .exec(
                c.id.as_str(),
                &Bundle::of_root(&self.engine().root_path(&c.id)),
                &c.name,
                command,
                &c.limits,
                Duration::from_secs(timeout),
                self.limits().exec_output_bytes,
            )
            .await;
        // The command may have written files, even one that failed or timed out.
        self.measure_size(&c.id).await;
        out
    }
}
