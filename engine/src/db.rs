//! The metadata database the engine shares with the service and the dashboard: SQLite (the
//! default, one file in the data directory) or PostgreSQL (several nodes), both through
//! sqlx's `Any` driver, with one query text per statement (`$N` placeholders) and a
//! [`Dialect`] for the few statements that differ.

use std::time::Duration;

use sqlx::any::AnyPoolOptions;

/// A pool of connections to the metadata database.
pub type DbPool = sqlx::AnyPool;
/// A row of a query.
pub type DbRow = sqlx::any::AnyRow;
/// A transaction.
pub type DbTx = sqlx::Transaction<'static, sqlx::Any>;

/// Which database a pool talks to, for the statements that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite 3 (`sqlite://PATH`): one node, one file.
    Sqlite,
    /// PostgreSQL (`postgres://…`): the database several nodes share.
    Postgres,
}

impl Dialect {
    /// The dialect of a database URL (`sqlite:…`, `postgres://…`), if it is one of ours.
    pub fn of_url(url: &str) -> Option<Dialect> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else {
            None
        }
    }

    /// The dialect of `pool`, from the URL it was opened with.
    pub fn of(pool: &DbPool) -> Dialect {
        match pool.connect_options().database_url.scheme() {
            "postgres" | "postgresql" => Dialect::Postgres,
            _ => Dialect::Sqlite,
        }
    }
}

/// Begins a transaction that writes. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and then writes gets
/// SQLITE_BUSY at once when another connection wrote in between (the busy timeout does not
/// apply to that upgrade); under concurrent copies that was a 500 (`server/tests/
/// concurrency.rs` keeps it fixed). PostgreSQL has no such upgrade: a plain `BEGIN`, with
/// unique indexes and `ON CONFLICT` where two writers could race.
pub async fn begin_write(pool: &DbPool) -> Result<DbTx, sqlx::Error> {
    match Dialect::of(pool) {
        Dialect::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
        Dialect::Postgres => pool.begin().await,
    }
}

/// Opens the database at `url` without touching its schema.
///
/// SQLite (`sqlite://PATH`, created if missing) runs in WAL mode with `synchronous=FULL` on
/// every connection: what garbage collection and acknowledged snapshots rely on must survive
/// a power cut, and NORMAL may lose the last commits. An in-memory SQLite database exists per
/// connection, so its pool has exactly one.
///
/// Errors: a URL that is neither SQLite nor PostgreSQL, or a database that cannot be reached.
pub async fn open(url: &str) -> Result<DbPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let dialect = Dialect::of_url(url).ok_or_else(|| {
        sqlx::Error::Configuration(
            format!("unsupported database URL {url:?}: expected sqlite://PATH or postgres://…")
                .into(),
        )
    })?;
    match dialect {
        Dialect::Sqlite => {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let url = if memory || url.contains("mode=") {
                url.to_string()
            } else {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            };
            let journal = if memory { "MEMORY" } else { "WAL" };
            AnyPoolOptions::new()
                .max_connections(if memory { 1 } else { 8 })
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        use sqlx::Executor;
                        conn.execute(
                            format!(
                                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = {journal}; \
                                 PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                            )
                            .as_str(),
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
        }
        Dialect::Postgres => {
            // One plain connection first: the pool retries until its timeout and then says
            // only "timed out", where this says why (refused, unknown host, bad password).
            use sqlx::Connection;
            sqlx::AnyConnection::connect(url).await?.close().await?;
            AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
        }
    }
}

/// Work that runs once for all the nodes sharing a database, one node at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClusterLock {
    /// First-start work: the node id, the default project, the built-in image, the demo.
    Startup,
    /// Garbage collection of the shared pack store.
    Gc,
    /// Image names: a name is checked across the shared and the project namespaces, then
    /// inserted, by one node at a time.
    ImageNames,
    /// Serving containers from this database: held by one node for its whole life while
    /// the pack store is each node's own (see [`try_serving_lock`]).
    Serving,
}

impl ClusterLock {
    /// The PostgreSQL advisory lock key: "SNAP" in the high bytes, so another
    /// application's advisory locks in the same database are unlikely to collide.
    fn key(self) -> i64 {
        0x534e_4150_0000_0000
            + match self {
                ClusterLock::Startup => 1,
                ClusterLock::Gc => 2,
                ClusterLock::ImageNames => 3,
                ClusterLock::Serving => 4,
            }
    }
}

/// A held [`ClusterLock`]; [`ClusterGuard::release`] gives it back.
///
/// On PostgreSQL it is a session advisory lock on a connection of its own, taken out of the
/// pool: if the process dies, PostgreSQL ends the session and the lock goes with it, so a
/// crashed node never blocks the others. On SQLite (one node) it is a lock of this process.
pub struct ClusterGuard {
    /// `None` once released.
    held: Option<Held>,
}

enum Held {
    Postgres(sqlx::pool::PoolConnection<sqlx::Any>, i64),
    /// Held until dropped.
    Local {
        _guard: tokio::sync::OwnedMutexGuard<()>,
    },
    /// An exclusive `flock` on a file beside an SQLite database, held until dropped (the
    /// process's end included).
    File(#[allow(dead_code)] std::os::fd::OwnedFd),
}

impl ClusterGuard {
    /// Releases the lock. Dropping the guard releases it too (on PostgreSQL by closing
    /// its connection), but this says so to the server at once and keeps the connection.
    /// It cannot fail: when the unlock does not reach the server, the connection is closed
    /// instead, which ends the session and its lock.
    pub async fn release(mut self) {
        if let Some(Held::Postgres(mut conn, key)) = self.held.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(key)
                .execute(&mut *conn)
                .await;
            if let Err(e) = unlocked {
                tracing::warn!(error = %e, "cannot release a cluster lock; closing its connection");
                drop(conn.detach());
            }
        }
    }
}

/// Waits for and takes `lock`, for every node on this database.
///
/// Errors: the database cannot be reached.
pub async fn cluster_lock(pool: &DbPool, lock: ClusterLock) -> Result<ClusterGuard, sqlx::Error> {
    match Dialect::of(pool) {
        Dialect::Postgres => {
            let mut conn = pool.acquire().await?;
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(lock.key())
                .execute(&mut *conn)
                .await?;
            Ok(ClusterGuard {
                held: Some(Held::Postgres(conn, lock.key())),
            })
        }
        Dialect::Sqlite => {
            static LOCKS: std::sync::LazyLock<
                std::sync::Mutex<
                    std::collections::HashMap<ClusterLock, std::sync::Arc<tokio::sync::Mutex<()>>>,
                >,
            > = std::sync::LazyLock::new(Default::default);
            let m = LOCKS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(lock)
                .or_default()
                .clone();
            Ok(ClusterGuard {
                held: Some(Held::Local {
                    _guard: m.lock_owned().await,
                }),
            })
        }
    }
}

impl Drop for ClusterGuard {
    fn drop(&mut self) {
        // Dropped unreleased (an error path, a panic, a cancelled future): close the
        // connection instead of returning it to the pool, so PostgreSQL ends the session
        // and the advisory lock with it.
        if let Some(Held::Postgres(conn, _)) = self.held.take() {
            drop(conn.detach());
        }
    }
}

/// Takes [`ClusterLock::Serving`] unless another process holds it: `None` when one does.
///
/// Why: with local pack stores, snapshots are listed in the shared database but their packs
/// are in each node's own store, so a second node could not read the first one's snapshots
/// (and its garbage collection would fail on trees it cannot read): one node serves a
/// database at a time. On PostgreSQL it is a session advisory lock, freed when the holder's
/// connection ends (a crash included). An SQLite database (`url`) is one node's, whatever
/// the store: its cluster locks live in one process, and it has no `LISTEN`/`NOTIFY`. There
/// the lock is an exclusive `flock` on `<database file>-serving.lock`, freed when the
/// holding process ends; an in-memory database needs none.
///
/// Errors: the database cannot be reached, or the lock file cannot be made.
pub async fn try_serving_lock(
    pool: &DbPool,
    url: &str,
) -> Result<Option<ClusterGuard>, sqlx::Error> {
    let key = ClusterLock::Serving.key();
    match Dialect::of(pool) {
        Dialect::Postgres => {
            let mut conn = pool.acquire().await?;
            let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(key)
                .fetch_one(&mut *conn)
                .await?;
            Ok(taken.then(|| ClusterGuard {
                held: Some(Held::Postgres(conn, key)),
            }))
        }
        Dialect::Sqlite => {
            let Some(path) = sqlite_path(url) else {
                return Ok(Some(ClusterGuard { held: None }));
            };
            let mut name = path.into_os_string();
            name.push("-serving.lock");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&name)?;
            let fd = std::os::fd::OwnedFd::from(file);
            match rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => Ok(Some(ClusterGuard {
                    held: Some(Held::File(fd)),
                })),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK => Ok(None),
                Err(e) => Err(sqlx::Error::Io(std::io::Error::from_raw_os_error(
                    e.raw_os_error(),
                ))),
            }
        }
    }
}

/// The file of an SQLite URL (`sqlite://PATH[?options]` or `sqlite:PATH`); `None` for an
/// in-memory database.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" || url.contains("mode=memory") {
        return None;
    }
    Some(std::path::PathBuf::from(path))
}

/// The tables of the database, by name in ascending order, without the database's own
/// (`sqlite_…`) and sqlx's `_sqlx_migrations`: what a schema check compares.
pub async fn table_names(pool: &DbPool) -> Result<Vec<String>, sqlx::Error> {
    let query = match Dialect::of(pool) {
        Dialect::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations' ORDER BY name"
        }
        // information_schema names are of type sql_identifier, which the Any driver cannot
        // decode: cast to text.
        Dialect::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name != '_sqlx_migrations' ORDER BY 1"
        }
    };
    sqlx::query_scalar(query).fetch_all(pool).await
}

/// The environment variable naming a PostgreSQL server for the tests: an admin URL such as
/// `postgres://postgres@127.0.0.1:5433/postgres` (`.ci/postgres.sh` starts a throwaway
/// cluster and sets it). When it is set, [`scratch_url`] gives each test its own database
/// there; when it is not, tests run on SQLite.
pub const TEST_POSTGRES_ENV: &str = "SNAPLINE_TEST_POSTGRES";

/// For tests: the database URL a test should use for the store in `dir`.
///
/// Without [`TEST_POSTGRES_ENV`], the SQLite file `dir/file`. With it, a new, empty
/// PostgreSQL database on that server, named `snapline_t_…`; the URL is written to
/// `dir/file.postgres` and read back on the next call for the same `dir` and `file`, so a
/// test that reopens a store (a restart, a crash) reaches the same data, as it would with
/// the SQLite file. Works from synchronous code and from inside a Tokio runtime (the
/// database is created on a thread of its own).
///
/// Panics when the server cannot be reached or refuses `CREATE DATABASE`: a test cannot
/// run without its database, and the message says which server it tried.
pub fn scratch_url(dir: &std::path::Path, file: &str) -> String {
    let Ok(admin) = std::env::var(TEST_POSTGRES_ENV) else {
        return format!("sqlite://{}", dir.join(file).display());
    };
    let memo = dir.join(format!("{file}.postgres"));
    if let Ok(url) = std::fs::read_to_string(&memo) {
        return url;
    }
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = format!(
        "{}:{}:{}:{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
        dir.display()
    );
    let name = format!(
        "snapline_t_{}",
        &blake3::hash(unique.as_bytes()).to_hex()[..16]
    );
    let url = match admin.rsplit_once('/') {
        Some((server, _)) if server.contains("://") && !server.ends_with('/') => {
            format!("{server}/{name}")
        }
        _ => panic!("{TEST_POSTGRES_ENV}={admin:?} is not postgres://USER@HOST:PORT/DATABASE"),
    };
    let create = format!("CREATE DATABASE {name}");
    let made = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .map_err(|e| format!("cannot reach {admin}: {e}"))?;
            sqlx::Executor::execute(&mut conn, create.as_str())
                .await
                .map_err(|e| format!("{create} on {admin}: {e}"))?;
            conn.close().await.map_err(|e| e.to_string())
        })
    })
    .join()
    .expect("the thread creating a test database panicked");
    if let Err(why) = made {
        panic!("no PostgreSQL database for this test: {why}");
    }
    std::fs::write(&memo, &url).expect("cannot write the test database's URL beside its store");
    url
}
