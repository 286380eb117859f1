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
        .with_context(|| format!("cannot migrate the database {:?}", redact(url)))?;
    Ok(pool)
}

/// Opens the database without touching its schema (a proxy node runs only the dashboard's):
/// [`engine::db::open`], with its durability settings.
///
/// Invariant for every caller: a transaction that writes starts with
/// [`engine::db::begin_write`].
pub async fn open(url: &str) -> anyhow::Result<DbPool> {
    if engine::Dialect::of_url(url).is_none() {
        bail!(
            "unsupported database URL {:?}: expected sqlite://PATH (one node) or \
             postgres://USER:PASSWORD@HOST:PORT/DATABASE (several nodes)",
            redact(url)
        );
    }
    engine::db::open(url)
        .await
        .with_context(|| format!("cannot open the database {:?}", redact(url)))
}

/// `url` with its password, if any, replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    // userinfo ends at the last '@' before the path.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &rest[at..]),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
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
        let url = engine::db::scratch_url(tmp.path(), "snapline.db");
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

    /// The database itself keeps a live container's name unique in its project, whatever
    /// the service checked before (two nodes, or two connections under PostgreSQL's read
    /// committed, can both pass a check); a deleted container frees its name.
    #[tokio::test]
    async fn live_container_names_are_unique_in_the_database() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = connect(&engine::db::scratch_url(tmp.path(), "snapline.db"))
            .await
            .unwrap();
        for p in ["p1", "p2"] {
            sqlx::query("INSERT INTO projects (id, name, created_at) VALUES ($1, $1, 't')")
                .bind(p)
                .execute(&pool)
                .await
                .unwrap();
        }
        let insert = |id: &'static str, project: &'static str, status: &'static str| {
            let pool = pool.clone();
            async move {
                sqlx::query(
                    "INSERT INTO containers (id, project_id, name, image, command, status, \
                     created_at) VALUES ($1, $2, 'web', 'demo', '[]', $3, 't')",
                )
                .bind(id)
                .bind(project)
                .bind(status)
                .execute(&pool)
                .await
            }
        };
        insert("a", "p1", "running").await.unwrap();
        let again = insert("b", "p1", "stopped").await.unwrap_err();
        assert!(
            again
                .as_database_error()
                .is_some_and(|d| d.is_unique_violation()),
            "{again}"
        );
        // Another project, or a deleted container, may have the name.
        insert("c", "p2", "stopped").await.unwrap();
        insert("d", "p1", "deleted").await.unwrap();
        insert("e", "p1", "deleted").await.unwrap();
        sqlx::query("UPDATE containers SET status = 'deleted' WHERE id = 'a'")
            .execute(&pool)
            .await
            .unwrap();
        insert("f", "p1", "creating").await.unwrap();
    }

    #[tokio::test]
    async fn refuses_unsupported_urls_clearly() {
        let err = connect("mysql://root:hunter2@x/db")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("sqlite://") && err.contains("postgres://"),
            "{err}"
        );
        assert!(
            !err.contains("hunter2"),
            "the password is not repeated: {err}"
        );
    }

    /// A PostgreSQL server that is not there: the error names the URL (not its password)
    /// and says what failed.
    #[tokio::test]
    async fn an_unreachable_postgres_is_named() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let url = format!("postgres://snap:hunter2@127.0.0.1:{port}/snapline");
        let err = format!("{:#}", connect(&url).await.unwrap_err());
        assert!(
            err.contains(&format!("postgres://snap:***@127.0.0.1:{port}/snapline")),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.to_lowercase().contains("refused"), "{err}");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:p@h:5/d"), "postgres://u:***@h:5/d");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact("sqlite:///data/x.db"), "sqlite:///data/x.db");
    }
}
