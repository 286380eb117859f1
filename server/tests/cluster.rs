//! Two `snapline serve` nodes on one PostgreSQL database and one S3 bucket (Garage): each
//! holds its own containers, a call about a container that reaches the other node is
//! forwarded to its node, snapshots taken on either are read and copied on both, and when a
//! node dies (kill -9) the other copies its snapshots into new containers while calls that
//! need the dead node's files answer 503 naming it. A copy with `target_server` is built on
//! that node from the shared store, whichever node was asked. Each node's event stream
//! shows the other's events (LISTEN/NOTIFY). Runs in the PostgreSQL pass (SQLite is one
//! node's database).

mod common;

use common::LiveServer;
use serde_json::json;

#[tokio::test]
async fn two_nodes_share_a_database_and_a_bucket_and_forward_container_calls() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(store) = common::cluster_store(scratch.path()) else {
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

    // B's event stream shows what happens on A (LISTEN/NOTIFY): subscribed before A acts.
    let mut events_b = b
        .client
        .get(b.url("/api/v1/events"))
        .bearer_auth(common::ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(events_b.status(), 200);

    // A container on each node; each is snapshotted through the other node.
    let on_a = a.container("default", "on-a").await;
    let before = a.snapshot(&on_a, Some("on-a-itself")).await;
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !(seen.contains("event: snapshot.created") && seen.contains(&before)) {
        assert!(
            std::time::Instant::now() < deadline,
            "B's stream never showed A's snapshot: {seen}"
        );
        match tokio::time::timeout(std::time::Duration::from_secs(5), events_b.chunk()).await {
            Ok(Ok(Some(c))) => seen.push_str(&String::from_utf8_lossy(&c)),
            Ok(other) => panic!("B's stream ended: {other:?} after {seen}"),
            Err(_) => {}
        }
    }
    assert!(seen.contains("event: container.created"), "{seen}");
    assert!(seen.contains(&on_a), "{seen}");
    drop(events_b);
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
            assert!(
                l["snapshots"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["name"] == name.as_str()),
                "{l}"
            );
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

    // A copy of A's snapshot asked of A, built on B (`target_server`): it lands on B, from
    // the shared store, exactly.
    let onto_b = a
        .admin(
            "POST",
            &format!("/api/v1/containers/{on_a}/copy"),
            Some(json!({"target_project_id": "default", "name": "a-on-b", "source_snapshot": snap_a, "target_server": node_b})),
        )
        .await;
    let onto_b_id = onto_b["container"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        onto_b["container"]["server_id"],
        node_b.as_str(),
        "{onto_b}"
    );
    assert_eq!(
        std::fs::read(b.root(&onto_b_id).join("a.txt")).unwrap(),
        b"written on A"
    );
    // A fork onto B asked of B for A's container: every one on B.
    let forked = b
        .admin(
            "POST",
            &format!("/api/v1/containers/{on_a}/copy"),
            Some(json!({"target_project_id": "default", "name": "fork", "source_snapshot": snap_a, "target_server": node_b, "count": 2})),
        )
        .await;
    assert_eq!(forked["copied"], 2, "{forked}");
    for r in forked["results"].as_array().unwrap() {
        assert_eq!(r["container"]["server_id"], node_b.as_str(), "{forked}");
    }
    // What a target cannot do is refused before anything is made, in words.
    for (body, want, says) in [
        // The live files are on A: a copy built on B needs a snapshot.
        (
            json!({"target_project_id": "default", "name": "x1", "target_server": node_b}),
            400,
            "source_snapshot",
        ),
        (
            json!({"target_project_id": "default", "name": "x2", "source_snapshot": snap_a, "target_server": "not-a-node"}),
            400,
            "not a server id",
        ),
        (
            json!({"target_project_id": "default", "name": "x3", "source_snapshot": snap_a, "target_server": "0123456789abcdef01234567"}),
            404,
            "0123456789abcdef01234567",
        ),
    ] {
        for via in [&a, &b] {
            let (status, v) = via
                .call(
                    "POST",
                    &format!("/api/v1/containers/{on_a}/copy"),
                    Some(common::ADMIN),
                    Some(body.clone()),
                )
                .await;
            assert_eq!(status, want, "{body} -> {v}");
            assert!(
                v["message"].as_str().unwrap_or_default().contains(says),
                "{body} -> {v}"
            );
        }
    }
    let names: Vec<String> = b.admin("GET", "/api/v1/containers", None).await["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with('x')),
        "a refused copy made a container: {names:?}"
    );

    // The dashboard of B acts on A's container as its REST API does: the snapshot (which
    // needs A's files) runs on A, and its copy dialog offers both servers and builds the
    // copy on the one picked.
    let cookie = common::rpc::sign_in(&b, common::ADMIN).await.unwrap();
    let t = common::rpc::ok(&b, "timeline", &cookie, &[("id", &on_a), ("all", "false")]).await;
    let offered: Vec<&str> = t["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(
        offered.contains(&node_a.as_str()) && offered.contains(&node_b.as_str()),
        "{t}"
    );
    // The page itself (server-rendered): the copy dialog's picker lists both servers, the
    // container's own chosen.
    let html = common::rpc::page(&b, &cookie, &format!("/containers/{on_a}")).await;
    let picker = html
        .split("data-testid=\"copy-server\"")
        .nth(1)
        .and_then(|rest| rest.split("</select>").next())
        .unwrap_or_else(|| panic!("no server picker on the timeline: {html}"));
    assert!(
        picker.contains(&node_a) && picker.contains(&node_b),
        "{picker}"
    );
    // Nodes on one host share a name: each option says where the node serves.
    assert!(
        picker.contains(&format!(" · {}", b.url("").trim_end_matches('/'))),
        "{picker}"
    );
    assert!(
        picker.contains("this container&#x27;s") || picker.contains("this container's"),
        "{picker}"
    );
    // The Containers page of B names each container's node (both on this host, so with
    // the start of their ids).
    let list = common::rpc::page(&b, &cookie, "/").await;
    let row = list
        .split(&format!("data-container-id=\"{on_a}\""))
        .nth(1)
        .and_then(|rest| rest.split("</li>").next())
        .unwrap_or_else(|| panic!("A's container is not listed on B: {list}"));
    assert!(row.contains("· on "), "{row}");
    assert!(row.contains(&node_a[..8]), "{row}");
    let dash = common::rpc::ok(
        &b,
        "create_snapshot",
        &cookie,
        &[
            ("id", &on_a),
            ("alias", "from-b-dashboard"),
            ("expiry", "7"),
        ],
    )
    .await;
    let dash_snap = dash["name"].as_str().unwrap().to_string();
    let copied = common::rpc::ok(
        &b,
        "copy_snapshot",
        &cookie,
        &[
            ("id", &on_a),
            ("name", &dash_snap),
            ("project", "default"),
            ("new_name", "dash-on-a"),
            ("server", &node_a),
        ],
    )
    .await;
    let dash_copy = copied["made"][0][0].as_str().unwrap().to_string();
    let c = b
        .admin("GET", &format!("/api/v1/containers/{dash_copy}"), None)
        .await;
    assert_eq!(c["container"]["server_id"], node_a.as_str(), "{c}");
    assert_eq!(
        std::fs::read(a.root(&dash_copy).join("a.txt")).unwrap(),
        b"written on A"
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
    // ... and so does a command in it (it would run in A's files) ...
    let (status, v) = b
        .call(
            "POST",
            &format!("/api/v1/containers/{on_a}/exec"),
            Some(common::ADMIN),
            Some(json!({"command": ["cat", "/a.txt"]})),
        )
        .await;
    assert_eq!(status, 503, "{v}");
    assert!(
        v["message"].as_str().unwrap_or_default().contains(&node_a),
        "{v}"
    );
    // The server list says where each node is reached.
    let s = b.admin("GET", "/api/v1/servers", None).await;
    assert!(
        s["servers"].as_array().unwrap().iter().all(|x| x["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("http://127.0.0.1:")),
        "{s}"
    );
    // A copy onto A now is refused (503, A is offline) ...
    let (status, v) = b
        .call(
            "POST",
            &format!("/api/v1/containers/{on_a}/copy"),
            Some(common::ADMIN),
            Some(json!({"target_project_id": "default", "name": "to-dead-a", "source_snapshot": snap_a, "target_server": node_a})),
        )
        .await;
    assert_eq!(status, 503, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap_or_default()
            .contains("offline"),
        "{v}"
    );
    // ... and A's snapshot is copied into a new container on B, exactly.
    let rescued = b
        .admin(
            "POST",
            &format!("/api/v1/containers/{on_a}/copy"),
            Some(json!({"target_project_id": "default", "name": "a-rescued", "source_snapshot": snap_a, "target_server": node_b})),
        )
        .await;
    let rescued_id = rescued["container"]["id"].as_str().unwrap();
    assert_eq!(rescued["container"]["server_id"], node_b.as_str());
    assert_eq!(
        std::fs::read(b.root(rescued_id).join("a.txt")).unwrap(),
        b"written on A"
    );
}
