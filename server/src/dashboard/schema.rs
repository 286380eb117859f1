//! The dashboard's own tables, on every node that serves a dashboard: what the API docs page
//! keeps (examples, runs, drafts) and the node's self-check history.
//!
//! A full node runs these beside the service's and engine's schema, in the same database.
//! A proxy node runs only these: nothing else lives there (no containers, no snapshots, no
//! tokens; it signs users in with the upstream's).

use anyhow::Context;
use engine::DbPool;

/// Brings the dashboard's tables up to date. The versions share `_sqlx_migrations` with the
/// service's and engine's sets (distinct timestamps), so each set ignores the others'.
/// Append-only, as every migration.
pub async fn migrate(pool: &DbPool) -> anyhow::Result<()> {
    let mut dashboard = match engine::Dialect::of(pool) {
        engine::Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        engine::Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    dashboard.set_ignore_missing(true);
    dashboard
        .run(pool)
        .await
        .context("cannot migrate the dashboard's tables")
}

/// The service's first migration, which creates `system_checks` on a full node: SQLite's
/// first, and PostgreSQL's baseline.
const SERVICE_FOUNDATION: [i64; 2] = [20261128000000, 20261208000000];

/// Makes a database a proxy node made ready for the service's schema, so that the same data
/// directory can later serve as a full node. The service's first migration creates
/// `system_checks` itself and fails if it exists; a proxy's copy holds only that node's
/// self-check history, which a full node need not keep, so it goes. Nothing else is touched:
/// the docs page's runs, drafts and examples stay. A no-op on a new or a full node's
/// database. Run it before the service's migrations.
pub async fn before_service_schema(pool: &DbPool) -> anyhow::Result<()> {
    let applied: Vec<i64> = match sqlx::query_scalar("SELECT version FROM _sqlx_migrations")
        .fetch_all(pool)
        .await
    {
        Ok(v) => v,
        // No migrations table: a new database.
        Err(_) => return Ok(()),
    };
    if !applied.is_empty() && !SERVICE_FOUNDATION.iter().any(|v| applied.contains(v)) {
        tracing::warn!(
            "this database was a proxy node's; its self-check history is dropped to make room \
             for the full node's schema"
        );
        sqlx::query("DROP TABLE IF EXISTS system_checks")
            .execute(pool)
            .await
            .context("cannot prepare a proxy node's database for the service")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// A proxy node's database holds the dashboard's tables and none of the service's or
    /// engine's; a full node's holds all, whichever order the sets ran in.
    #[tokio::test]
    async fn a_proxy_database_has_only_the_dashboards_tables() {
        let tables =
            |pool: engine::DbPool| async move { engine::db::table_names(&pool).await.unwrap() };
        let tmp = tempfile::tempdir().unwrap();
        let url = engine::db::scratch_url(tmp.path(), "snapline.db");
        let proxy = service::db::open(&url).await.unwrap();
        super::migrate(&proxy).await.unwrap();
        assert_eq!(
            tables(proxy.clone()).await,
            [
                "api_drafts",
                "api_examples",
                "api_runs",
                "dashboard_sessions",
                "system_checks"
            ]
        );
        // The same file becoming a full node later: the service's schema goes on top, and
        // what the docs page kept stays.
        sqlx::query("INSERT INTO api_drafts (user_key, operation, params, body, updated_at) VALUES ('u', 'op', '{}', '', 'now')")
            .execute(&proxy)
            .await
            .unwrap();
        // SQLite's first service migration predates the split and creates system_checks
        // unconditionally; PostgreSQL's baseline creates it only if it is missing.
        if engine::Dialect::of(&proxy) == engine::Dialect::Sqlite {
            assert!(
                service::db::migrate(&proxy).await.is_err(),
                "without making room the foundation would fail on system_checks"
            );
        }
        super::before_service_schema(&proxy).await.unwrap();
        service::db::migrate(&proxy).await.unwrap();
        let drafts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_drafts")
            .fetch_one(&proxy)
            .await
            .unwrap();
        assert_eq!(drafts, 1);
        super::migrate(&proxy).await.unwrap();
        let all = tables(proxy).await;
        for t in ["containers", "tokens", "system_checks", "api_runs"] {
            assert!(all.iter().any(|n| n == t), "{t} missing from {all:?}");
        }

        // A full node made before the split (dashboard tables from the service's set) takes
        // the dashboard's set as already applied.
        let tmp = tempfile::tempdir().unwrap();
        let full = service::db::connect(&engine::db::scratch_url(tmp.path(), "snapline.db"))
            .await
            .unwrap();
        super::before_service_schema(&full).await.unwrap();
        super::migrate(&full).await.unwrap();
        super::migrate(&full).await.unwrap();
        let all = tables(full).await;
        assert!(
            all.iter().any(|n| n == "system_checks"),
            "a full node keeps its self-check table: {all:?}"
        );
        assert!(all.iter().any(|n| n == "api_drafts"));
    }
}
