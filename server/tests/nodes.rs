//! Nodes: a stable id in the data directory, a row with a heartbeat, `GET /api/v1/servers`
//! listing every node (`offline` once its beat is old), and a start that repairs only this
//! node's containers: another node's running, half-made or half-restored containers, and
//! its due schedules, are left to it.

mod common;

use common::LiveServer;

const OTHER: &str = "0123456789abcdef01234567";

#[tokio::test]
async fn nodes_are_listed_and_a_start_repairs_only_its_own_containers() {
    let s = LiveServer::start(&[]);
    let a = s.container("default", "a").await;
    s.container("default", "b").await;
    let servers = s.admin("GET", "/api/v1/servers", None).await;
    let me = servers["servers"][0].clone();
    let my_id = me["id"].as_str().unwrap().to_string();
    assert_eq!(servers["servers"].as_array().unwrap().len(), 1, "{servers}");
    assert_eq!(me["status"], "active");
    assert_eq!(me["container_count"], 2, "{me}");
    assert!(me["last_seen_at"].as_str().unwrap().ends_with('Z'), "{me}");
    let c = s
        .admin("GET", &format!("/api/v1/containers/{a}"), None)
        .await;
    assert_eq!(c["container"]["server_id"], my_id.as_str());
    let file = std::fs::read_to_string(s.data().join("node-id")).unwrap();
    assert_eq!(file.trim(), my_id);

    // Another node's rows, as a second node on the same database would have written them:
    // a beat a minute old, a running container with a due schedule and an interrupted
    // restore, and a half-made one. And a half-made one of this node's.
    let db = s.db().await;
    let project: String = sqlx::query_scalar("SELECT id FROM projects WHERE name = 'default'")
        .fetch_one(&db)
        .await
        .unwrap();
    let minute_ago = (chrono::Utc::now() - chrono::Duration::seconds(60))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query(
        "INSERT INTO nodes (id, name, version, started_at, heartbeat_at, store_bytes) \
         VALUES ($1, 'far-away', '0.1.0', $2, $2, 12345)",
    )
    .bind(OTHER)
    .bind(&minute_ago)
    .execute(&db)
    .await
    .unwrap();
    let insert = |id: &'static str, name: &'static str, status: &'static str, node: String| {
        let (db, project) = (db.clone(), project.clone());
        async move {
            sqlx::query(
                "INSERT INTO containers (id, project_id, name, image, command, status, \
                 created_at, node_id) VALUES ($1, $2, $3, 'demo', '[]', $4, 't', $5)",
            )
            .bind(id)
            .bind(project)
            .bind(name)
            .bind(status)
            .bind(node)
            .execute(&db)
            .await
            .unwrap();
        }
    };
    let (theirs_running, theirs_creating, mine_creating) = (
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "bbbbbbbbbbbbbbbbbbbbbbbb",
        "cccccccccccccccccccccccc",
    );
    insert(theirs_running, "far-1", "running", OTHER.into()).await;
    insert(theirs_creating, "far-2", "creating", OTHER.into()).await;
    insert(mine_creating, "near", "creating", my_id.clone()).await;
    sqlx::query(
        "INSERT INTO schedules (container_id, cron, alias_pattern, include_stopped, \
         next_run_at, created_at) VALUES ($1, '* * * * *', 'auto', 1, $2, $2)",
    )
    .bind(theirs_running)
    .bind(&minute_ago)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO engine_restore_journal (container_id, snapshot_name, top_tree, started_at) \
         VALUES ($1, 'snap-20260101-000000', $2, 't')",
    )
    .bind(theirs_running)
    .bind("0".repeat(64))
    .execute(&db)
    .await
    .unwrap();

    // This node restarts (as after a crash), and its jobs run a few times.
    let dir = s.kill9();
    let s = LiveServer::start_in(dir, &[]);
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    let status = |id: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT status FROM containers WHERE id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    assert_eq!(status(theirs_running).await, "running");
    assert_eq!(status(theirs_creating).await, "creating");
    assert_eq!(status(mine_creating).await, "failed");
    let journal: Option<String> =
        sqlx::query_scalar("SELECT failed FROM engine_restore_journal WHERE container_id = $1")
            .bind(theirs_running)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        journal, None,
        "another node's restore is not this node's to finish"
    );
    let ran: Option<String> =
        sqlx::query_scalar("SELECT last_run_at FROM schedules WHERE container_id = $1")
            .bind(theirs_running)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(ran, None, "another node's schedule is not run here");

    // Both nodes are listed, this one first; the other is offline and keeps its figures.
    let servers = s.admin("GET", "/api/v1/servers", None).await;
    let list = servers["servers"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{servers}");
    assert_eq!(list[0]["id"], my_id.as_str(), "the same id after a restart");
    assert_eq!(list[0]["status"], "active");
    assert_eq!(list[1]["id"], OTHER);
    assert_eq!(list[1]["status"], "offline", "{servers}");
    assert_eq!(list[1]["name"], "far-away");
    assert_eq!(list[1]["store_bytes"], 12345);
    assert_eq!(list[1]["container_count"], 2);
    let one = s
        .admin("GET", &format!("/api/v1/servers/{OTHER}"), None)
        .await;
    assert_eq!(one["server"]["status"], "offline");
    let c = s
        .admin("GET", &format!("/api/v1/containers/{theirs_running}"), None)
        .await;
    assert_eq!(c["container"]["server_id"], OTHER);
    let (code, v) = s
        .call(
            "GET",
            "/api/v1/servers/ffffffffffffffffffffffff",
            Some(common::ADMIN),
            None,
        )
        .await;
    assert_eq!(code, 404, "{v}");
}

/// One node: a copy whose `target_server` is this node is an ordinary copy, live state
/// included; an unknown node is a 404 and a malformed id a 400, both before anything is
/// made, through the API and the CLI alike.
#[tokio::test]
async fn a_copys_target_server_is_checked_on_one_node() {
    let s = LiveServer::start(&[]);
    let src = s.container("default", "src").await;
    std::fs::write(s.root(&src).join("f.txt"), b"live").unwrap();
    let me = s.admin("GET", "/api/v1/servers", None).await["servers"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let made = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{src}/copy"),
            Some(serde_json::json!({"target_project_id": "default", "name": "here", "target_server": me})),
        )
        .await;
    let here = made["container"]["id"].as_str().unwrap();
    assert_eq!(made["container"]["server_id"], me.as_str());
    assert_eq!(std::fs::read(s.root(here).join("f.txt")).unwrap(), b"live");
    for (target, want) in [(OTHER, 404), ("../../etc", 400), ("", 400)] {
        let (status, v) = s
            .call(
                "POST",
                &format!("/api/v1/containers/{src}/copy"),
                Some(common::ADMIN),
                Some(serde_json::json!({"target_project_id": "default", "name": "nope", "target_server": target})),
            )
            .await;
        assert_eq!(status, want, "{target:?}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("/api/v1/servers"),
            "the answer says where the ids are: {v}"
        );
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
        .args(["containers", "copy", &src, "--target-project-id", "default"])
        .args(["--name", "nope", "--target-server", OTHER])
        .env("SNAPLINE_URL", s.url(""))
        .env("HOODY_TOKEN", common::ADMIN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(OTHER) && err.contains("servers"), "{err}");
    let list = s.admin("GET", "/api/v1/containers", None).await;
    assert!(!list.to_string().contains("\"nope\""), "{list}");
}
