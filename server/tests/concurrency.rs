//! Many clients at once against one server: creations and copies that each read and then
//! write the database must all succeed (a regression test for SQLITE_BUSY on deferred
//! transactions, which answered 500 under concurrent copies).

mod common;

use common::LiveServer;
use serde_json::json;

#[tokio::test]
async fn concurrent_creations_and_copies_all_succeed() {
    let s = LiveServer::start(&[
        ("SNAPLINE_RATE_LIMIT", "100000"),
        ("SNAPLINE_RATE_BURST", "1000000"),
    ]);
    let source = s.container("default", "source").await;
    std::fs::write(s.root(&source).join("file"), "content").unwrap();
    let snap = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{source}/snapshots"),
            None,
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let creations = (0..40).map(|i| {
        s.call(
            "POST",
            "/api/v1/containers",
            Some(common::ADMIN),
            Some(json!({"project_id": "default", "name": format!("made-{i}"), "image": "demo"})),
        )
    });
    let copy_path = format!("/api/v1/containers/{source}/copy");
    let copies = (0..24).map(|i| {
        s.call(
            "POST",
            &copy_path,
            Some(common::ADMIN),
            Some(json!({"target_project_id": "default", "name": format!("copy-{i}"), "source_snapshot": snap})),
        )
    });
    let (made, copied) = tokio::join!(
        futures_util::future::join_all(creations),
        futures_util::future::join_all(copies)
    );
    for (status, v) in made.iter().chain(&copied) {
        assert_eq!(*status, 200, "{v}\n{}", s.log());
    }
    let all = s.admin("GET", "/api/v1/containers", None).await;
    assert_eq!(all["containers"].as_array().unwrap().len(), 1 + 40 + 24);
}
