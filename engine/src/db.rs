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
            AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
        }
    }
}
