//! The dashboard's own tables, on every node that serves a dashboard: what the API docs page
//! keeps (examples, runs, drafts) and the node's self-check history.
//!
//! A full node runs these beside the service's and engine's schema, in the same database.
//! A proxy node runs only these: nothing else lives there (no containers, no snapshots, no
//! tokens; it signs users in with the upstream's).

use anyhow::Context;
use sqlx::SqlitePool;

/// Brings the dashboard's tables up to date. The versions share `_sqlx_migrations` with the
/// service's and engine's sets (distinct timestamps), so each set ignores the others'.
/// Append-only, as every migration.
pub async fn migrate(pool: &SqlitePool) -> anyhow::Result<()> {
    let mut dashboard = sqlx::migrate!("./migrations");
    dashboard.set_ignore_missing(true);
    dashboard
        .run(pool)
        .await
        .context("cannot migrate the dashboard's tables")
}

#[cfg(test)]
mod tests {
    /// A proxy node's database holds the dashboard's tables and none of the service's or
    /// engine's; a full node's holds all, whichever order the sets ran in.
    #[tokio::test]
    async fn a_proxy_database_has_only_the_dashboards_tables() {
        let tables = |pool: sqlx::SqlitePool| async move {
            sqlx::query_scalar::<_, String>(
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name != '_sqlx_migrations' ORDER BY name",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
        };
        let tmp = tempfile::tempdir().unwrap();
        let url = service::db::default_url(tmp.path());
        let proxy = service::db::open(&url).await.unwrap();
        super::migrate(&proxy).await.unwrap();
        assert_eq!(
            tables(proxy.clone()).await,
            ["api_drafts", "api_examples", "api_runs", "system_checks"]
        );
        // The same file becoming a full node later: the service's schema goes on top.
        service::db::migrate(&proxy).await.unwrap();
        super::migrate(&proxy).await.unwrap();
        let all = tables(proxy).await;
        for t in ["containers", "tokens", "system_checks", "api_runs"] {
            assert!(all.iter().any(|n| n == t), "{t} missing from {all:?}");
        }

        // A full node made before the split (dashboard tables from the service's set) takes
        // the dashboard's set as already applied.
        let tmp = tempfile::tempdir().unwrap();
        let full = service::db::connect(&service::db::default_url(tmp.path()))
            .await
            .unwrap();
        super::migrate(&full).await.unwrap();
        super::migrate(&full).await.unwrap();
        assert!(tables(full).await.iter().any(|n| n == "api_drafts"));
    }
}
