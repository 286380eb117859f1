//! The nodes that serve from one database: each has a stable id (the `node-id` file in its
//! data directory), a row in `nodes` that it refreshes every [`HEARTBEAT`], and the
//! containers whose live roots it holds (`containers.node_id`). `GET /api/v1/servers`
//! lists the rows; a node whose last beat is older than [`OFFLINE_AFTER`] is `offline`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use engine::DbPool;
use sqlx::Row;

use crate::error::{Hint, ServiceError};
use crate::{Caller, Service, fmt_time, now};
use types::Server;

/// The file in the data directory that holds the node's id (24 lowercase hex characters).
pub const NODE_ID_FILE: &str = "node-id";

/// How often a node refreshes its row.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A node whose last beat is older than this is `offline`: four missed beats. Incus calls a
/// cluster member offline after 20 s without a heartbeat, as this does.
pub const OFFLINE_AFTER: Duration = Duration::from_secs(20);

/// This node's id: read from `data_dir/node-id`, or made at the first start. A database
/// from before nodes existed has one server id (`server_info`), which its first node
/// keeps, so the `server_id` clients saw stays the same; any other new node gets a new id.
/// The node's row is made here too, so the next node to start sees it: run under the
/// cluster's startup lock.
pub(crate) async fn node_id(db: &DbPool, data_dir: &Path) -> anyhow::Result<String> {
    let id = read_or_choose_id(db, data_dir).await?;
    let at = fmt_time(now());
    sqlx::query(
        "INSERT INTO nodes (id, name, version, started_at, heartbeat_at) \
         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&id)
    .bind(host_name())
    .bind(env!("CARGO_PKG_VERSION"))
    .bind(&at)
    .execute(db)
    .await?;
    Ok(id)
}

async fn read_or_choose_id(db: &DbPool, data_dir: &Path) -> anyhow::Result<String> {
    let file = data_dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&file) {
        Ok(text) => {
            let id = text.trim();
            if id.len() != 24 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                anyhow::bail!(
                    "{} does not hold a node id (24 hex characters); restore it from a backup \
                     of this data directory, or delete it to make this a new node",
                    file.display()
                );
            }
            return Ok(id.to_string());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
    let nodes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM nodes")
        .fetch_one(db)
        .await?;
    let legacy: Option<String> = sqlx::query_scalar("SELECT id FROM server_info LIMIT 1")
        .fetch_optional(db)
        .await?;
    let id = match legacy {
        Some(id) if nodes == 0 => id,
        _ => crate::tokens::new_id(),
    };
    crate::tokens::write_private(&file, &format!("{id}\n"))
        .with_context(|| format!("cannot save this node's id in {}", file.display()))?;
    Ok(id)
}

/// What a node reports about itself in its row.
struct Figures {
    name: String,
    store_bytes: u64,
    cache_bytes: u64,
    disk_total_bytes: u64,
    disk_free_bytes: u64,
}

/// Bytes of the regular files under `dir` (what the store's packs take).
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .filter_map(|e| Some((e.path(), e.file_type().ok()?, e.metadata().ok()?)))
        .map(|(path, ty, md)| {
            if ty.is_dir() {
                dir_bytes(&path)
            } else if ty.is_file() {
                md.len()
            } else {
                0
            }
        })
        .sum()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

fn server_from_row(r: &engine::DbRow, me: &str, containers: u64) -> Result<Server, ServiceError> {
    let id: String = r.try_get("id")?;
    let heartbeat_at: String = r.try_get("heartbeat_at")?;
    let fresh = beat_is_recent(&heartbeat_at);
    let n =
        |col: &str| -> Result<u64, ServiceError> { Ok(r.try_get::<i64, _>(col)?.max(0) as u64) };
    Ok(Server {
        status: if id == me || fresh {
            "active"
        } else {
            "offline"
        }
        .into(),
        name: r.try_get("name")?,
        version: r.try_get("version")?,
        store_bytes: n("store_bytes")?,
        store: r.try_get("store_url")?,
        cache_bytes: n("cache_bytes")?,
        disk_total_bytes: n("disk_total_bytes")?,
        disk_free_bytes: n("disk_free_bytes")?,
        can_run_containers: r.try_get::<i64, _>("can_run_containers")? != 0,
        container_count: containers,
        last_seen_at: heartbeat_at,
        url: r.try_get::<Option<String>, _>("url")?.unwrap_or_default(),
        id,
    })
}

impl Service {
    async fn figures(&self) -> Figures {
        let data = self.data_dir().to_path_buf();
        // A local store is measured on disk; an S3 store by its rows (the bucket is never
        // listed), and the node's cache on disk.
        let (store_bytes, cache_bytes) = match self.engine().remote_store() {
            None => {
                let store = data.join("store");
                let bytes = tokio::task::spawn_blocking(move || dir_bytes(&store))
                    .await
                    .unwrap_or(0);
                (bytes, 0)
            }
            Some(_) => {
                let cache = data.join("cache");
                let cached = tokio::task::spawn_blocking(move || dir_bytes(&cache))
                    .await
                    .unwrap_or(0);
                let stored: i64 = sqlx::query_scalar(
                    "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM packs \
                         WHERE deleted_at IS NULL",
                )
                .fetch_one(self.db())
                .await
                .unwrap_or(0);
                (stored.max(0) as u64, cached)
            }
        };
        Figures {
            name: host_name(),
            store_bytes,
            cache_bytes,
            disk_total_bytes: fs4::total_space(&data).unwrap_or(0),
            disk_free_bytes: fs4::available_space(&data).unwrap_or(0),
        }
    }

    /// Writes this node's row (a new start: `started_at` is now) and gives it the
    /// containers made before nodes existed.
    pub(crate) async fn register_node(&self) -> anyhow::Result<()> {
        // The row itself was made under the startup lock (`node_id`); a start renews its
        // start time, version and runtime, then beats with fresh figures.
        sqlx::query(
            "UPDATE nodes SET version = $1, started_at = $2, can_run_containers = $3, \
             store_url = $5 WHERE id = $4",
        )
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(fmt_time(now()))
        .bind(i64::from(self.can_run_containers()))
        .bind(self.server_id())
        .bind(self.engine().remote_store().unwrap_or("local"))
        .execute(self.db())
        .await?;
        self.heartbeat().await?;
        let adopted = sqlx::query("UPDATE containers SET node_id = $1 WHERE node_id IS NULL")
            .bind(self.server_id())
            .execute(self.db())
            .await?;
        if adopted.rows_affected() > 0 {
            tracing::info!(
                containers = adopted.rows_affected(),
                node = self.server_id(),
                "containers from before nodes existed now belong to this node"
            );
        }
        Ok(())
    }

    /// Refreshes this node's row: its beat and its figures.
    pub async fn heartbeat(&self) -> Result<(), ServiceError> {
        let f = self.figures().await;
        sqlx::query(
            "UPDATE nodes SET heartbeat_at = $1, name = $2, store_bytes = $3, \
             disk_total_bytes = $4, disk_free_bytes = $5, cache_bytes = $7 WHERE id = $6",
        )
        .bind(fmt_time(now()))
        .bind(&f.name)
        .bind(f.store_bytes as i64)
        .bind(f.disk_total_bytes as i64)
        .bind(f.disk_free_bytes as i64)
        .bind(self.server_id())
        .bind(f.cache_bytes as i64)
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// A beat without the store's size, which takes a walk of the store to measure: the
    /// time and the disk figures only.
    async fn light_beat(&self) -> Result<(), ServiceError> {
        let data = self.data_dir().to_path_buf();
        sqlx::query(
            "UPDATE nodes SET heartbeat_at = $1, disk_total_bytes = $2, disk_free_bytes = $3 \
             WHERE id = $4",
        )
        .bind(fmt_time(now()))
        .bind(fs4::total_space(&data).unwrap_or(0) as i64)
        .bind(fs4::available_space(&data).unwrap_or(0) as i64)
        .bind(self.server_id())
        .execute(self.db())
        .await?;
        Ok(())
    }

    /// Beats every [`HEARTBEAT`] until the process ends, measuring the store once a minute
    /// (and whenever the servers are listed). A beat that fails (the database away) is
    /// logged and the next one tries again.
    pub fn spawn_heartbeat(&self) -> tokio::task::JoinHandle<()> {
        let svc = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            for n in 0u64.. {
                tick.tick().await;
                let beat = if n % 12 == 0 {
                    svc.heartbeat().await
                } else {
                    svc.light_beat().await
                };
                if let Err(e) = beat {
                    tracing::warn!(error = %e, "cannot refresh this node's row");
                }
            }
        })
    }

    /// Records the URL other nodes reach this node's API at (`--advertise-url`).
    pub async fn advertise(&self, url: &str) -> Result<(), ServiceError> {
        sqlx::query("UPDATE nodes SET url = $1 WHERE id = $2")
            .bind(url)
            .bind(self.server_id())
            .execute(self.db())
            .await?;
        Ok(())
    }

    /// Where a call about container `id` must go when another node holds its files: that
    /// node's id, its URL, and whether it is active. `None` when this node holds it (or
    /// the container is unknown: the call then answers here, 404 included).
    pub async fn owner_elsewhere(
        &self,
        id: &str,
    ) -> Result<Option<(String, String, bool)>, ServiceError> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT n.id, n.url, n.heartbeat_at FROM containers c JOIN nodes n ON n.id = c.node_id \
             WHERE c.id = $1 AND c.node_id <> $2",
        )
        .bind(id)
        .bind(self.server_id())
        .fetch_optional(self.db())
        .await?;
        Ok(row.map(|(node, url, beat)| {
            let active = beat_is_recent(&beat);
            (node, url, active)
        }))
    }

    /// Where node `id` serves (its advertised URL, empty when it has none) and whether it
    /// is active; `None` for an unknown node.
    pub async fn node_address(&self, id: &str) -> Result<Option<(String, bool)>, ServiceError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT url, heartbeat_at FROM nodes WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db())
                .await?;
        Ok(row.map(|(url, beat)| {
            let active = beat_is_recent(&beat);
            (url, active)
        }))
    }

    /// Every node serving from this database, this one first, then by id.
    pub async fn list_servers(&self, _caller: &Caller) -> Result<Vec<Server>, ServiceError> {
        // This node's own row is refreshed first, so its figures are current.
        self.heartbeat().await?;
        let counts: std::collections::HashMap<String, i64> = sqlx::query(
            "SELECT node_id, COUNT(*) AS n FROM containers \
             WHERE status <> 'deleted' AND node_id IS NOT NULL GROUP BY node_id",
        )
        .fetch_all(self.db())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("node_id")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()?;
        let me = self.server_id();
        let mut out = sqlx::query("SELECT * FROM nodes ORDER BY id")
            .fetch_all(self.db())
            .await?
            .iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let n = counts.get(&id).copied().unwrap_or(0).max(0) as u64;
                server_from_row(r, me, n)
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by_key(|s| s.id != me);
        Ok(out)
    }

    /// One node by id; `NotFound` naming the id when no node has it.
    pub async fn get_server(&self, caller: &Caller, id: &str) -> Result<Server, ServiceError> {
        self.list_servers(caller)
            .await?
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| {
                ServiceError::not_found(format!("no server with id {id}"))
                    .with_hint(Hint::ListServers)
            })
    }

    /// Checks a copy's `target_server` on the node that received it, before anything is
    /// made. The copy runs here when the target is this node (or absent); the HTTP front
    /// end sends a copy for an active node there first, so a target elsewhere that reaches
    /// this check is one that cannot take it. Errors: 400 for what is not a node id, or for
    /// a copy of the live state onto another node than the source's (the live files are
    /// on the source's node: copy a snapshot); 404 for an unknown node; 503 for a node
    /// that is offline or did not answer.
    pub async fn check_copy_target(
        &self,
        caller: &Caller,
        source: &str,
        target: Option<&str>,
        source_snapshot: Option<&str>,
    ) -> Result<(), ServiceError> {
        let Some(target) = target else {
            return Ok(());
        };
        if target.len() != 24 || !target.bytes().all(|b| b.is_ascii_hexdigit()) {
            // Quoted, and cut: a hostile value is not echoed whole.
            let shown: String = target.chars().take(64).collect();
            return Err(ServiceError::bad_request(format!(
                "target_server {shown:?} is not a server id (24 hex characters)"
            ))
            .with_hint(Hint::ListServers));
        }
        if target != self.server_id() {
            let server = self.get_server(caller, target).await?;
            return Err(ServiceError::unavailable(if server.status == "active" {
                format!(
                    "server {target} did not answer, so it cannot build the copy; try again, \
                     or pick another server"
                )
            } else {
                format!(
                    "server {target} is offline (last seen {}), so it cannot build the copy; \
                     pick an active server",
                    server.last_seen_at
                )
            })
            .with_hint(Hint::ListServers));
        }
        if source_snapshot.is_none()
            && let Some((node, _, _)) = self.owner_elsewhere(source).await?
        {
            return Err(ServiceError::bad_request(format!(
                "container {source} lives on server {node}: a copy onto server {target} is \
                 built from the shared store, so name one of its snapshots (source_snapshot; \
                 --source-snapshot in the CLI), or take one first if the live state is what \
                 you want"
            )));
        }
        Ok(())
    }
}

/// Whether a heartbeat (RFC 3339) is recent enough for its node to count as active.
fn beat_is_recent(beat: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(beat)
        .map(|t| {
            Utc::now().signed_duration_since(t)
                <= chrono::Duration::from_std(OFFLINE_AFTER).unwrap_or_default()
        })
        .unwrap_or(false)
}
