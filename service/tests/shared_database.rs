//! Several nodes starting at once on one database (services over their own data
//! directories, on threads of their own): the first start's rows are made once. On
//! PostgreSQL nothing but the cluster's startup lock orders them.

use std::sync::Arc;

use service::tokens::Bootstrap;
use service::{Limits, Service};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_make_the_first_start_rows_once() {
    let tmp = tempfile::tempdir().unwrap();
    let url = engine::db::scratch_url(tmp.path(), "snapline.db");
    let pool = service::db::connect(&url).await.unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(3));
    let nodes: Vec<_> = (0..3)
        .map(|n| {
            let (url, start) = (url.clone(), start.clone());
            let dir = tmp.path().join(format!("node-{n}"));
            tokio::spawn(async move {
                let pool = service::db::connect(&url).await.unwrap();
                start.wait().await;
                let svc = Service::open(pool.clone(), dir.clone(), Limits::default())
                    .await
                    .unwrap();
                let admin = service::tokens::bootstrap(&pool, &dir, None).await.unwrap();
                let demo = svc.first_start_demo(true).await.unwrap();
                (svc, admin, demo)
            })
        })
        .collect();
    let mut generated = 0;
    let mut demos = 0;
    let mut ids = Vec::new();
    for n in nodes {
        let (svc, admin, demo) = n.await.unwrap();
        if let service::demo::DemoOutcome::Made(_) = demo {
            demos += 1;
        }
        ids.push(svc.server_id().to_string());
        match admin {
            Bootstrap::Generated { .. } => generated += 1,
            Bootstrap::Existing => {}
            Bootstrap::FromEnv => panic!("no token was given"),
        }
    }
    assert_eq!(generated, 1, "one admin token for the cluster");
    assert_eq!(demos, 1, "one demo for the cluster");
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("SELECT COUNT(*) FROM server_info").await, 1);
    // A node id each, one of them the database's first server id.
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(count("SELECT COUNT(*) FROM nodes").await, 3);
    let first: String = sqlx::query_scalar("SELECT id FROM server_info")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(ids.contains(&first), "{first} not in {ids:?}");
    // The default project and the demo's.
    assert_eq!(count("SELECT COUNT(*) FROM projects").await, 2);
    assert_eq!(count("SELECT COUNT(*) FROM containers").await, 1);
    assert_eq!(
        count("SELECT COUNT(*) FROM tokens WHERE is_admin = 1").await,
        1
    );
    // The built-in image (busybox-static, which .ci/setup.sh installs), once.
    assert_eq!(
        count("SELECT COUNT(*) FROM images WHERE name = 'demo'").await,
        1
    );
}
