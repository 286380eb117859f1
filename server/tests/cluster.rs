//! Two `snapline serve` nodes on one PostgreSQL database and one S3 bucket (Garage): each
//! holds its own containers, a call about a container that reaches the other node is
//! forwarded to its node, snapshots taken on either are read and copied on both, and when a
//! node dies (kill -9) the other copies its snapshots into new containers while calls that
//! need the dead node's files answer 503 naming it. Runs in the PostgreSQL pass (SQLite is
//! one node's database).

mod common;

use common::LiveServer;
use serde_json::json;

#[tokio::test]
async fn two_nodes_share_a_database_and_a_bucket_and_forward_container_calls() {
    if std::env::var_os(engine::db::TEST_POSTGRES_ENV).is_none() {
        eprintln!("several nodes need PostgreSQL: this test runs in the PostgreSQL pass");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let Some(store) = engine::s3::scratch_options(scratch.path()).map(|o| o.url) else {
        return;
    };
    let a = LiveServer::start_with_args(&["--store", &store], &[]);
    let b = LiveServer::start_with_args(
        &["--store", &store],
        &[("SNAPLINE_DATABASE_URL", a.db_url.as_str())],
    );
    let servers = b.admin("GET", "/api/v1/servers", None).await;
    let list = servers["servers"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{servers}");
    assert!(list.iter().all(|s| s["status"] == "active"), "{servers}");
    let (node_a, node_b) = (
        a.admin("GET", "/api/v1/servers", None).await["servers"][0]["id"]
            .as_str()
            .unwrap()
            .to_string(),
        list[0]["id"].as_str().unwrap().to_string(),
    );
    assert_ne!(node_a, node_b);

    // A container on each node; each is snapshotted through the other node.
    let on_a = a.container("default", "on-a").await;
    let on_b = b.container("default", "on-b").await;
    std::fs::write(a.root(&on_a).join("a.txt"), b"written on A").unwrap();
    std::fs::write(b.root(&on_b).join("b.txt"), b"written on B").unwrap();
    let snap_a = b.snapshot(&on_a, Some("via-b")).await;
    let snap_b = a.snapshot(&on_b, Some("via-a")).await;
    let c = a
        .admin("GET", &format!("/api/v1/containers/{on_a}"), None)
        .await;
    assert_eq!(c["container"]["server_id"], node_a.as_str());
    // Both nodes list both timelines.
    for s in [&a, &b] {
        for (id, name) in [(&on_a, &snap_a), (&on_b, &snap_b)] {
            let l = s
                .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
                .await;
            assert_eq!(l["snapshots"][0]["name"], name.as_str(), "{l}");
        }
    }
    // A change on A's container, restored through B: the forwarded restore runs on A.
    std::fs::write(a.root(&on_a).join("a.txt"), b"broken").unwrap();
    let (status, v) = b
        .call(
            "PATCH",
            &format!("/api/v1/containers/{on_a}/snapshots/{snap_a}"),
            Some(common::ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        std::fs::read(a.root(&on_a).join("a.txt")).unwrap(),
        b"written on A"
    );
    // A snapshot taken on B, copied into a new container on A (through A itself).
    let copied = a
        .admin(
            "POST",
            &format!("/api/v1/containers/{on_b}/copy"),
            Some(json!({"target_project_id": "default", "name": "b-copy", "source_snapshot": snap_b})),
        )
        .await;
    let copy_id = copied["container"]["id"].as_str().unwrap().to_string();
    // The copy was forwarded to B, the source's node, and lives there.
    assert_eq!(
        copied["container"]["server_id"],
        node_b.as_str(),
        "{copied}"
    );
    assert_eq!(
        std::fs::read(b.root(&copy_id).join("b.txt")).unwrap(),
        b"written on B"
    );

    // A dies. B sees it offline after 20 seconds without a heartbeat.
    let _gone = a.kill9();
    let mut offline = false;
    for _ in 0..60 {
        let s = b.admin("GET", "/api/v1/servers", None).await;
        offline = s["servers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == node_a.as_str() && x["status"] == "offline");
        if offline {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert!(offline, "B never saw A offline");
    // What needs A's files answers 503 and names A ...
    let (status, v) = b
        .call(
            "POST",
            &format!("/api/v1/containers/{on_a}/snapshots"),
            Some(common::ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 503, "{v}");
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&node_a) && message.contains("offline"),
        "{v}"
    );
    // ... and A's snapshot is copied into a new container on B, exactly.
    let rescued = b
        .admin(
            "POST",
            &format!("/api/v1/containers/{on_a}/copy"),
            Some(json!({"target_project_id": "default", "name": "a-rescued", "source_snapshot": snap_a})),
        )
        .await;
    let rescued_id = rescued["container"]["id"].as_str().unwrap();
    assert_eq!(rescued["container"]["server_id"], node_b.as_str());
    assert_eq!(
        std::fs::read(b.root(rescued_id).join("a.txt")).unwrap(),
        b"written on A"
    );
}
