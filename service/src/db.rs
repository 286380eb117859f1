//! The metadata database: connection and migrations.

use std::path::Path;

use anyhow::{Context, bail};
use engine::DbPool;

/// Runs the service's embedded migrations, then the engine's. They share the database with
/// each other and with the dashboard's set (`server/migrations`), with distinct timestamped
/// versions, so each set ignores the versions the others applied. Migrations are
/// append-only.
pub async fn migrate(pool: &DbPool) -> anyhow::Result<()> {
    let mut server = match engine::Dialect::of(pool) {
        engine::Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        engine::Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    server.set_ignore_missing(true);
    server.run(pool).await.context("server schema")?;
    engine::migrate(pool).await.context("engine schema")?;
    Ok(())
}

/// The default database URL: `snapline.db` inside the data directory.
pub fn default_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("snapline.db").display())
}

/// Opens the database ([`open`]) and brings the service's and engine's schema up to date
/// ([`migrate`]): what a full node runs.
pub async fn connect(url: &str) -> anyhow::Result<DbPool> {
    let pool = open(url).await?;
    migrate(&pool)
        .await
        .with_context(|| format!("cannot migrate the database {url:?}"))?;
    Ok(pool)
}

/// Opens the database without touching its schema (a proxy node runs only the dashboard's):
/// [`engine::db::open`], with its durability settings.
///
/// Invariant for every caller: a transaction that writes starts with
/// [`engine::db::begin_write`].
pub async fn open(url: &str) -> anyhow::Result<DbPool> {
    match engine::Dialect::of_url(url) {
        Some(engine::Dialect::Sqlite) => {}
        // The schema and the queries are ready (migrations/postgres), the cluster test is
        // not: until it runs in CI, PostgreSQL stays refused.
        Some(engine::Dialect::Postgres) => bail!(
            "PostgreSQL is not supported by this build yet; use an SQLite URL \
             (sqlite://PATH) or leave --database-url unset"
        ),
        None => bail!("unsupported database URL {url:?}: expected sqlite://PATH"),
    }
    engine::db::open(url)
        .await
        .with_context(|| format!("cannot open the database {url:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What GC and acknowledged snapshots rely on is committed durably: every connection
    /// of the pool (not just the first) runs WAL with synchronous=FULL and foreign keys.
    #[tokio::test]
    async fn every_connection_commits_durably() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = connect(&default_url(tmp.path())).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..8 {
            let mut c = pool.acquire().await.unwrap();
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            assert_eq!((sync, journal.as_str(), fk), (2, "wal", 1));
            held.push(c);
        }
    }

    #[tokio::test]
    async fn migrates_a_new_file_and_reopens_it() {
        let tmp = tempfile::tempdir().unwrap();
        let url = default_url(tmp.path());
        let pool = connect(&url).await.unwrap();
        sqlx::query("INSERT INTO system_checks (checked_at, database_ms, free_bytes, ok, summary) VALUES ('t', 1.0, 1, 1, 's')")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let pool = connect(&url).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM system_checks")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 1);
        // Both schemas are there.
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM engine_snapshots")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn refuses_unsupported_urls_clearly() {
        let err = connect("postgres://localhost/x")
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("PostgreSQL"), "{err}");
        let err = connect("mysql://x").await.unwrap_err().to_string();
        assert!(err.contains("sqlite://"), "{err}");
    }
}
