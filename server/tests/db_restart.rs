//! The metadata database crashes and comes back while a node serves (a private PostgreSQL,
//! stopped with `-m immediate` in the middle of a snapshot): calls answer 503 saying the
//! database is unreachable, nothing half-made becomes visible, the node keeps running, and
//! once the database is back the same calls work, without a restart of the node.
//! Runs in the PostgreSQL pass.

mod common;

use std::time::Duration;

use common::{ADMIN, LiveServer};
use serde_json::json;

#[tokio::test]
async fn a_database_crash_mid_snapshot_answers_503_and_the_retry_works() {
    if std::env::var_os(engine::db::TEST_POSTGRES_ENV).is_none() {
        eprintln!("this test runs in the PostgreSQL pass");
        return;
    }
    let Some(pg) = common::postgres::Postgres::start() else {
        eprintln!("PostgreSQL is not installed: this test does not run");
        return;
    };
    let s = LiveServer::start(&[("SNAPLINE_DATABASE_URL", pg.url.as_str())]);
    let id = s.container("default", "db-crash").await;
    let root = s.root(&id);
    // Many files, so that the snapshot reports progress while it reads them: the database
    // crashes at its first report, in the middle of the snapshot.
    let mut rng = common::XorShift(42);
    for d in 0..20 {
        std::fs::create_dir_all(root.join(format!("data/d{d}"))).unwrap();
        for i in 0..200 {
            std::fs::write(root.join(format!("data/d{d}/f{i}")), rng.bytes(4096)).unwrap();
        }
    }
    let mut events = s
        .client
        .get(s.url("/api/v1/events"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let path = format!("/api/v1/containers/{id}/snapshots");
    let (during, ()) = tokio::join!(
        s.call(
            "POST",
            &path,
            Some(ADMIN),
            Some(json!({"alias": "during-crash"}))
        ),
        async {
            let mut seen = String::new();
            while !seen.contains("event: progress") {
                match tokio::time::timeout(Duration::from_secs(30), events.chunk()).await {
                    Ok(Ok(Some(c))) => seen.push_str(&String::from_utf8_lossy(&c)),
                    other => panic!("no progress event: {other:?} {seen}"),
                }
            }
            pg.crash();
        }
    );
    let (status, v) = during;
    eprintln!("the snapshot cut by the crash answered {status}: {v}");
    assert!(
        status == 200 || status == 503,
        "a snapshot cut by the database answers 200 (it committed first) or 503: {status} {v}"
    );
    if status == 503 {
        assert!(
            v["message"]
                .as_str()
                .unwrap_or_default()
                .contains("database"),
            "{v}"
        );
    }
    // While it is down: a clear 503, and the node stays up.
    let (down, v) = s.call("GET", &path, Some(ADMIN), None).await;
    assert_eq!(down, 503, "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("database") && message.contains("Try again"),
        "{v}"
    );
    let (health, _) = s.call("GET", "/api/v1/health", None, None).await;
    assert!(health == 200 || health == 503, "the node answers: {health}");

    // Back: the same node serves again once its pool reconnects.
    pg.start_again();
    let mut list = serde_json::Value::Null;
    for _ in 0..60 {
        let (status, v) = s.call("GET", &path, Some(ADMIN), None).await;
        if status == 200 {
            list = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let snaps = list["data"]["snapshots"]
        .as_array()
        .unwrap_or_else(|| panic!("the node never served again: {list}"))
        .clone();
    // Nothing half-visible: the cut snapshot is there only if it was acknowledged.
    let cut_visible = snaps.iter().any(|x| x["alias"] == "during-crash");
    assert_eq!(cut_visible, status == 200, "{list}");
    // The retry works, and restores exactly.
    let before = std::fs::read(root.join("data/d3/f3")).unwrap();
    let retry = s.snapshot(&id, Some("after-restart")).await;
    std::fs::write(root.join("data/d3/f3"), b"changed").unwrap();
    let (status, v) = s
        .call(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/{retry}"),
            Some(ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(std::fs::read(root.join("data/d3/f3")).unwrap(), before);
    // And the store is whole: every object of the snapshot re-read and re-hashed.
    let (status, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots/{retry}/verify?deep=true"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["data"]["clean"], true, "{v}");
}
