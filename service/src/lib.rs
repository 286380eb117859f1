//! The snapshot service: projects, containers, images, auth scopes, runtime, jobs, events and
//! self-checks, on top of the engine. The REST handlers and the dashboard's embedded backend
//! are thin layers over [`Service`] (the CLI reaches it through REST, and manages tokens with
//! [`auth`] directly); every visibility rule lives here, so no caller can forget one.
//!
//! No transport: calls answer `Result<T, ServiceError>` ([`error::ServiceError`]: a kind, a
//! sentence, maybe a hint). Which HTTP status a kind gets is decided by the server's one
//! status table, not here. Calls take typed container ids ([`engine::ContainerId`]): the
//! edges (REST handlers, the embedded backend) parse what they receive with [`parse_id`], so
//! a malformed id is refused before any service call.

mod aliases;
pub mod auth;
pub mod containers;
pub mod db;
pub mod demo;
pub mod error;
pub mod events;
pub mod export;
pub mod images;
pub mod jobs;
mod lifecycle;
pub mod limits;
pub mod nodes;
pub mod projects;
mod restores;
pub mod retention;
pub mod runtime;
pub mod schedules;
pub mod selfcheck;
pub mod snapshots;
pub mod system;
pub mod tokens;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::DbPool;
use engine::Engine;

pub use auth::Caller;
pub use error::{ErrorKind, Hint, ServiceError};

/// Tunable limits, from the command line or the environment.
#[derive(Debug, Clone)]
pub struct Limits {
    /// How long a mutating call waits for another one on the same container before a 409.
    pub lock_wait: Duration,
    /// Snapshots and copies are refused (507) when less than this is free.
    pub min_free_bytes: u64,
    /// Largest image tar accepted.
    pub max_image_bytes: u64,
    /// Requests per second per token (sustained), and the burst allowed.
    pub rate_per_second: u32,
    pub rate_burst: u32,
    /// Seconds `stop` waits after SIGTERM before SIGKILL.
    pub stop_timeout: Duration,
    /// Most bytes of stdout and of stderr an exec returns.
    pub exec_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            lock_wait: Duration::from_secs(10),
            min_free_bytes: 256 << 20,
            max_image_bytes: 8 << 30,
            rate_per_second: 50,
            rate_burst: 200,
            stop_timeout: Duration::from_secs(10),
            exec_output_bytes: 64 << 10,
        }
    }
}

/// The service. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    db: DbPool,
    engine: Engine,
    data_dir: PathBuf,
    events: events::Bus,
    runtime: Arc<runtime::Runtime>,
    limits: Limits,
    server_id: String,
    rate: auth::RateLimiter,
    /// One lock per container for operations that change it (snapshot, restore, start,
    /// stop, copy into, delete): a second one waits up to `limits.lock_wait`, then gets 409.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Service {
    /// Opens the engine over the data directory, finishes interrupted restores, resets the
    /// status of containers whose processes died with the previous server, and makes sure
    /// a default project, the built-in demo image and this node's id exist.
    pub async fn open(db: DbPool, data_dir: PathBuf, limits: Limits) -> anyhow::Result<Self> {
        Self::open_with(db, data_dir, limits, &engine::StoreConfig::Local).await
    }

    /// [`Service::open`] with the packs where `store` says: the data directory's store, or
    /// an S3 bucket (`--store s3://…`).
    pub async fn open_with(
        db: DbPool,
        data_dir: PathBuf,
        limits: Limits,
        store: &engine::StoreConfig,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        let engine = Engine::open_with(&data_dir, db.clone(), store)
            .await
            .context("cannot open the snapshot store")?
            .with_lock_wait(limits.lock_wait);
        // The first start's rows (server id, default project, built-in image) are made once
        // for every node sharing the database: under the cluster's startup lock, checked
        // and made by one node at a time. The node id reads them.
        let startup = engine::db::cluster_lock(&db, engine::db::ClusterLock::Startup)
            .await
            .context("cannot take the cluster's startup lock")?;
        projects::ensure_server_id(&db).await?;
        let server_id = nodes::node_id(&db, &data_dir).await?;
        startup.release().await;
        // One container's restore that cannot be finished never keeps the server down: that
        // container is marked failed (with why, on its answers) and the others serve. Only
        // this node's containers (and those from before nodes, which it is about to adopt).
        let mine: std::collections::HashSet<String> =
            sqlx::query_scalar("SELECT id FROM containers WHERE node_id = $1 OR node_id IS NULL")
                .bind(&server_id)
                .fetch_all(&db)
                .await?
                .into_iter()
                .collect();
        let recovery = engine
            .recover_where(|c| mine.contains(c.as_str()))
            .await
            .context("cannot read the restore journal")?;
        for c in &recovery.finished {
            tracing::warn!(container = %c, "finished a restore that a crash interrupted");
        }
        let runtime = Arc::new(runtime::Runtime::detect(&data_dir));
        let svc = Service {
            inner: Arc::new(Inner {
                rate: auth::RateLimiter::new(limits.rate_per_second, limits.rate_burst),
                db,
                engine,
                data_dir,
                events: events::Bus::new(),
                runtime,
                limits,
                server_id,
                locks: Mutex::new(HashMap::new()),
            }),
        };
        svc.register_node().await?;
        lifecycle::reset_after_restart(&svc).await?;
        for (c, why) in &recovery.failed {
            tracing::error!(container = %c, error = %why, "a restore did not finish; the container needs attention");
            svc.set_status(c, types::ContainerStatus::Failed).await?;
        }
        let startup = engine::db::cluster_lock(&svc.inner.db, engine::db::ClusterLock::Startup)
            .await
            .context("cannot take the cluster's startup lock")?;
        projects::ensure_default_project(&svc.inner.db).await?;
        if let Err(e) = images::ensure_demo_image(&svc).await {
            tracing::warn!(error = %format!("{e:#}"), "the built-in demo image is not available");
        }
        startup.release().await;
        Ok(svc)
    }

    /// The metadata database.
    pub fn db(&self) -> &DbPool {
        &self.inner.db
    }

    /// The snapshot engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.data_dir
    }

    /// The event bus (`GET /api/v1/events`).
    pub fn events(&self) -> &events::Bus {
        &self.inner.events
    }

    /// Limits in force.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// This node's id (see [`nodes`]): the `server_id` of the containers it holds.
    pub fn server_id(&self) -> &str {
        &self.inner.server_id
    }

    /// The ids of the containers whose command runs now (they keep running when the server
    /// stops).
    pub fn running_containers(&self) -> Vec<String> {
        self.inner.runtime.running_ids()
    }

    /// Whether containers can run on this host (runc found).
    pub fn can_run_containers(&self) -> bool {
        self.inner.runtime.available()
    }

    pub(crate) fn runtime(&self) -> &Arc<runtime::Runtime> {
        &self.inner.runtime
    }

    pub(crate) fn rate(&self) -> &auth::RateLimiter {
        &self.inner.rate
    }

    /// Takes the container's operation lock, waiting at most `lock_wait`.
    pub(crate) async fn lock(
        &self,
        container: &engine::ContainerId,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, ServiceError> {
        self.files_here(container).await?;
        let m = {
            let mut locks = self.inner.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(container.to_string()).or_default().clone()
        };
        tokio::time::timeout(self.inner.limits.lock_wait, m.lock_owned())
            .await
            .map_err(|_| {
                ServiceError::conflict(format!(
                    "another operation is running on container {container}; try again when it \
                     finishes"
                ))
            })
    }

    /// Refuses work on a container's files when another node holds them: it happens on
    /// that node (the HTTP layer and the dashboard send calls there while it answers). The
    /// 503 names the node, and says what can be done meanwhile.
    pub(crate) async fn files_here(
        &self,
        container: &engine::ContainerId,
    ) -> Result<(), ServiceError> {
        let Some((node, url, active)) = self.owner_elsewhere(container.as_str()).await? else {
            return Ok(());
        };
        let at = if url.is_empty() {
            String::new()
        } else {
            format!(" at {url}")
        };
        Err(ServiceError::unavailable(if active {
            format!(
                "container {container} lives on server {node}{at}, which holds its files and \
                 did not take this request (if it is down, it shows as offline within 20 \
                 seconds). Try again, or copy one of the container's snapshots to a new \
                 container on a server that is up"
            )
        } else {
            format!(
                "container {container} lives on server {node}{at}, which is offline; its \
                 files are only there. Start that server again, or copy one of the \
                 container's snapshots to a new container on a server that is up"
            )
        }))
    }

    /// Refuses work that would write to a nearly full disk.
    pub(crate) fn check_free_space(&self, need: u64, doing: &str) -> Result<(), ServiceError> {
        let free = fs4::available_space(&self.inner.data_dir).map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("cannot read the free space: {e}"))
        })?;
        let want = need.saturating_add(self.inner.limits.min_free_bytes);
        if free < want {
            return Err(ServiceError::insufficient_storage(format!(
                "not enough free disk space for {doing}: {} MB free, {} MB needed. Delete \
                 snapshots or containers you no longer need (their space is reclaimed by the \
                 background GC), then retry",
                free >> 20,
                want >> 20
            )));
        }
        Ok(())
    }
}

/// Now, as the API writes timestamps: UTC, RFC 3339, milliseconds, `Z`.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

/// Formats a time as the API does ([`types::time::format_millis`], the one format).
pub fn fmt_time(t: chrono::DateTime<chrono::Utc>) -> String {
    types::time::format_millis(t.timestamp_millis())
}

/// Now, formatted as the API writes times.
pub fn now_rfc3339() -> String {
    fmt_time(now())
}

/// Parses a time written by [`fmt_time`].
pub fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, ServiceError> {
    types::time::epoch_millis(s)
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("bad timestamp {s:?} in the database"))
        })
}

/// Checks a 24-hex id from a URL or a body.
pub fn parse_id(what: &str, id: &str) -> Result<engine::ContainerId, ServiceError> {
    id.parse().map_err(|_| {
        ServiceError::bad_request(format!(
            "{what} {id:?} is not an id: ids are 24 lowercase hex characters, like \
             890abcdef12345678901cdef"
        ))
    })
}

/// Whether the test-only fault `name` is switched on (`SNAPLINE_TEST_FAULT=name`): the
/// fault tests use it to fail a step that cannot be made to fail from outside (a capture
/// while the container is frozen). Never set in production.
pub(crate) fn test_fault(name: &str) -> bool {
    std::env::var("SNAPLINE_TEST_FAULT").is_ok_and(|v| v == name)
}
