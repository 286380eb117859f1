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

/// Many clients creating and copying into the same name at once: exactly one container gets
/// it, every other request is a 409 that names the one that did, and no second container
/// with the name appears. On PostgreSQL (read committed) a check before the insert lets
/// several requests pass together; the unique index on live names is what decides.
#[tokio::test]
async fn one_name_goes_to_one_container_however_many_ask_at_once() {
    let s = LiveServer::start(&[
        ("SNAPLINE_RATE_LIMIT", "100000"),
        ("SNAPLINE_RATE_BURST", "1000000"),
    ]);
    let source = s.container("default", "source").await;
    let snap = s.snapshot(&source, None).await;
    let copy_path = format!("/api/v1/containers/{source}/copy");
    for round in 0..3 {
        let name = format!("contested-{round}");
        let creations = (0..12).map(|_| {
            s.call(
                "POST",
                "/api/v1/containers",
                Some(common::ADMIN),
                Some(json!({"project_id": "default", "name": name, "image": "demo"})),
            )
        });
        let copies = (0..6).map(|_| {
            s.call(
                "POST",
                &copy_path,
                Some(common::ADMIN),
                Some(
                    json!({"target_project_id": "default", "name": name, "source_snapshot": snap}),
                ),
            )
        });
        let (made, copied) = tokio::join!(
            futures_util::future::join_all(creations),
            futures_util::future::join_all(copies)
        );
        let answers: Vec<_> = made.iter().chain(&copied).collect();
        let won: Vec<_> = answers.iter().filter(|(st, _)| *st == 200).collect();
        assert_eq!(won.len(), 1, "{answers:?}");
        let winner = won[0].1["data"]["container"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        for (status, v) in &answers {
            if *status != 200 {
                assert_eq!(*status, 409, "{v}");
                let msg = v["message"].as_str().unwrap_or_default();
                assert!(msg.contains(&name) && msg.contains(&winner), "{v}");
            }
        }
        let all = s.admin("GET", "/api/v1/containers", None).await;
        let named = all["containers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == name.as_str())
            .count();
        assert_eq!(named, 1, "{all}");
    }
    // Deleting the container frees its name.
    let all = s.admin("GET", "/api/v1/containers", None).await;
    let first = all["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "contested-0")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.admin("DELETE", &format!("/api/v1/containers/{first}"), None)
        .await;
    s.container("default", "contested-0").await;
}
