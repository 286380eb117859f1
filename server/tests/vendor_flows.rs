//! The vendor document's flows, replayed against a real `snapline serve` on 127.0.0.1: its
//! curl calls through the real curl, its JavaScript functions through Node, unchanged apart
//! from the host.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

/// Runs one of the document's scripts (tests/vendor/*.js) with Node, host replaced, then
/// `glue` (which calls the script's function). Returns stdout.
fn node(server: &LiveServer, script: &str, example_id: &str, glue: &str) -> String {
    let path = format!("{}/tests/vendor/{script}", env!("CARGO_MANIFEST_DIR"));
    let source = std::fs::read_to_string(path).unwrap();
    let source = source
        .replace("https://api.hoody.icu", &server.url(""))
        .replace("890abcdef12345678901cdef", example_id);
    let out = std::process::Command::new("node")
        .args(["--input-type=module", "-e"])
        .arg(format!("{source}\n{glue}"))
        .env("HOODY_TOKEN", ADMIN)
        .output()
        .expect("node is installed by .ci/setup.sh");
    assert!(
        out.status.success(),
        "node failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs curl with `args` (the document's flags), `$HOODY_TOKEN` set; returns the JSON answer.
fn curl(args: &[&str]) -> Value {
    let out = std::process::Command::new("curl")
        .arg("-sS")
        .args(args)
        .env("HOODY_TOKEN", ADMIN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

async fn exec(s: &LiveServer, id: &str, script: &str) -> Value {
    s.admin(
        "POST",
        &format!("/api/v1/containers/{id}/exec"),
        Some(json!({"command": ["sh", "-c", script]})),
    )
    .await
}

async fn snapshots(s: &LiveServer, id: &str) -> Vec<Value> {
    s.admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await["snapshots"]
        .as_array()
        .unwrap()
        .clone()
}

/// The snapshot object has exactly the document's fields and formats.
fn assert_vendor_snapshot(snap: &Value) {
    for key in [
        "name",
        "alias",
        "created_at",
        "last_used_at",
        "expires_at",
        "stateful",
        "size",
    ] {
        assert!(snap.get(key).is_some(), "missing {key}: {snap}");
    }
    let name = snap["name"].as_str().unwrap();
    assert!(
        name.len() >= 20
            && name.starts_with("snap-")
            && name[5..13].bytes().all(|b| b.is_ascii_digit()),
        "{name}"
    );
    let created = snap["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && created.len() == 24, "{created}");
    assert_eq!(snap["stateful"], false);
    assert!(snap["size"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn snapshot_break_and_restore_with_the_documents_curl_calls() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "app").await;
    s.admin("POST", &format!("/api/v1/containers/{id}/start"), None)
        .await;
    exec(&s, &id, "echo good > /root/app.conf").await;

    // "Capture right now before restoring": the document's curl, without a Content-Type.
    let url = s.url(&format!("/api/v1/containers/{id}/snapshots"));
    let created = curl(&[
        "-X",
        "POST",
        &url,
        "-H",
        &format!("Authorization: Bearer {ADMIN}"),
        "-d",
        r#"{"alias": "before-restore"}"#,
    ]);
    assert_eq!(created["statusCode"], 200, "{created}");
    assert_eq!(created["message"], "Snapshot created successfully");
    assert_eq!(created["data"]["container_id"], id.as_str());
    assert_vendor_snapshot(&created["data"]["snapshot"]);
    assert_eq!(created["data"]["snapshot"]["alias"], "before-restore");
    assert!(created["data"]["snapshot"]["expires_at"].is_null());

    // Break something.
    exec(&s, &id, "rm /root/app.conf; echo broken > /etc/hostname").await;
    let gone = exec(&s, &id, "cat /root/app.conf").await;
    assert_ne!(gone["exit_code"], 0);

    // Restore by the alias, as the document's deploy example does.
    let restored = curl(&[
        "-X",
        "PATCH",
        &s.url(&format!("/api/v1/containers/{id}/snapshots/before-restore")),
        "-H",
        &format!("Authorization: Bearer {ADMIN}"),
    ]);
    assert_eq!(restored["statusCode"], 200, "{restored}");
    assert_eq!(restored["message"], "Snapshot restored successfully");
    assert!(restored["data"]["snapshot"]["last_used_at"].is_string());
    let back = exec(&s, &id, "cat /root/app.conf /etc/hostname").await;
    assert_eq!(back["stdout"], "good\ndemo\n", "{back}");
    // It was running: it is running again, started fresh.
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["status"], "running");

    // Verify a snapshot exists before relying on it: the document's curl | grep.
    let listed = curl(&[
        &s.url(&format!("/api/v1/containers/{id}/snapshots")),
        "-H",
        &format!("Authorization: Bearer {ADMIN}"),
    ]);
    assert_eq!(listed["message"], "Snapshots retrieved successfully");
    assert!(listed.to_string().contains("before-restore"));
}

#[tokio::test]
async fn deploy_with_rollback_script_restores_on_a_failed_health_check() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "prod").await;
    exec(&s, &id, "echo v1 > /root/version").await;
    let glue = format!(
        r#"
const base = '{base}';
async function checkHealth(id) {{
  const r = await fetch(`${{base}}/api/v1/containers/${{id}}/exec`, {{
    method: 'POST',
    headers: {{ 'Authorization': `Bearer ${{process.env.HOODY_TOKEN}}` }},
    body: JSON.stringify({{ command: ['cat', '/root/version'] }}),
  }}).then(r => r.json());
  return {{ ok: r.data.stdout === 'v2\n' }};
}}
async function breakingDeploy() {{
  await fetch(`${{base}}/api/v1/containers/{id}/exec`, {{
    method: 'POST',
    headers: {{ 'Authorization': `Bearer ${{process.env.HOODY_TOKEN}}` }},
    body: JSON.stringify({{ command: ['sh', '-c', 'echo broken > /root/version'] }}),
  }});
}}
const result = await deployWithSafety('{id}', breakingDeploy);
console.log(JSON.stringify({{ success: result.success, rolledBack: result.rolledBack }}));
"#,
        base = s.url(""),
    );
    let out = node(&s, "deploy-with-safety.js", &id, &glue);
    assert!(
        out.contains(r#"{"success":false,"rolledBack":true}"#),
        "{out}"
    );
    let v = exec(&s, &id, "cat /root/version").await;
    assert_eq!(v["stdout"], "v1\n");
    let snaps = snapshots(&s, &id).await;
    assert_eq!(snaps.len(), 1);
    assert!(
        snaps[0]["alias"]
            .as_str()
            .unwrap()
            .starts_with("pre-deploy-")
    );
    assert!(snaps[0]["expires_at"].is_string());

    // A deploy that passes its health check leaves a "deployed" snapshot.
    let good = glue
        .replace("echo broken > /root/version", "echo v2 > /root/version")
        .replace("breakingDeploy", "goodDeploy");
    let out = node(&s, "deploy-with-safety.js", &id, &good);
    assert!(out.contains(r#"{"success":true}"#), "{out}");
    let snaps = snapshots(&s, &id).await;
    assert_eq!(snaps.len(), 3);
    assert!(snaps[0]["alias"].as_str().unwrap().starts_with("deployed-"));
}

#[tokio::test]
async fn daily_backup_and_cleanup_scripts() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "db").await;
    let out = node(&s, "daily-backup.js", &id, "");
    let date = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        out.contains(&format!("Backup created: daily-backup-{date}")),
        "{out}"
    );
    let snaps = snapshots(&s, &id).await;
    assert_eq!(snaps[0]["alias"], format!("daily-backup-{date}"));
    let created =
        chrono::DateTime::parse_from_rfc3339(snaps[0]["created_at"].as_str().unwrap()).unwrap();
    let expires =
        chrono::DateTime::parse_from_rfc3339(snaps[0]["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 30);

    // Cleanup: an old expiring snapshot goes, permanent and recent ones stay.
    s.admin(
        "POST",
        &format!("/api/v1/containers/{id}/snapshots"),
        Some(json!({"alias": "permanent-baseline"})),
    )
    .await;
    let old = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "old-experiment", "expiry": 90})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    // Time travel for one row: the snapshot was taken 40 days ago.
    let db = s.db().await;
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(40))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query("UPDATE engine_snapshots SET created_at = $1 WHERE name = $2")
        .bind(&long_ago)
        .bind(&old)
        .execute(&db)
        .await
        .unwrap();
    let out = node(
        &s,
        "cleanup-snapshots.js",
        &id,
        &format!("await cleanupSnapshots('{id}');"),
    );
    assert_eq!(out.trim(), "Deleted old snapshot: old-experiment");
    let aliases: Vec<String> = snapshots(&s, &id)
        .await
        .iter()
        .map(|s| s["alias"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(aliases.len(), 2, "{aliases:?}");
    assert!(aliases.contains(&"permanent-baseline".to_string()));
    assert!(aliases.contains(&format!("daily-backup-{date}")));
}

#[tokio::test]
async fn expired_snapshots_vanish_at_once_and_their_space_is_reclaimed() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "tmp").await;
    exec(&s, &id, "head -c 3000000 /dev/urandom > /root/blob").await;
    let name = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "temp-backup", "expiry": 7})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    exec(&s, &id, "rm /root/blob").await;
    let store_before = s.admin("GET", "/api/v1/servers", None).await["servers"][0]["store_bytes"]
        .as_u64()
        .unwrap();
    assert!(store_before > 3_000_000);

    // Listen for the expiry event while it happens.
    let mut events = s
        .client
        .get(s.url("/api/v1/events"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let db = s.db().await;
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    sqlx::query("UPDATE engine_snapshots SET expires_at = $1 WHERE name = $2")
        .bind(&past)
        .bind(&name)
        .execute(&db)
        .await
        .unwrap();
    // Gone from the list at once, and restoring it is a 404.
    assert!(snapshots(&s, &id).await.is_empty());
    let (status, v) = s
        .call(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/{name}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 404, "{v}");

    // The background job (every second here) deletes it and says so.
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.contains("snapshot.expired") {
        assert!(
            std::time::Instant::now() < deadline,
            "no expiry event: {seen}"
        );
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(std::time::Duration::from_secs(5), events.chunk()).await
        {
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(seen.contains("temp-backup"), "{seen}");
    // GC reclaims the blob's packs.
    let mut store_after = store_before;
    for _ in 0..100 {
        store_after = s.admin("GET", "/api/v1/servers", None).await["servers"][0]["store_bytes"]
            .as_u64()
            .unwrap();
        if store_after + 2_500_000 < store_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        store_after + 2_500_000 < store_before,
        "store {store_before} -> {store_after}"
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM engine_snapshots WHERE name = $1")
        .bind(&name)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn copy_from_a_snapshot_into_another_project() {
    let s = LiveServer::start(&[]);
    let prod = s.container("default", "prod").await;
    exec(&s, &prod, "echo prod-config > /etc/app.conf").await;
    let snap = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{prod}/snapshots"),
            Some(json!({"alias": "prod-stable-2025-11-09"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    exec(&s, &prod, "echo changed-later > /etc/app.conf").await;
    let staging = s
        .admin("POST", "/api/v1/projects", Some(json!({"name": "staging"})))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The document's copy body, as is.
    let copy = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{prod}/copy"),
            Some(json!({"target_project_id": staging, "name": "staging-env", "source_snapshot": snap})),
        )
        .await;
    let c = &copy["container"];
    assert_eq!(c["project_id"], staging.as_str());
    assert_eq!(c["status"], "stopped");
    let new_id = c["id"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(s.root(new_id).join("etc/app.conf")).unwrap(),
        "prod-config\n"
    );
    // The source snapshot records its use.
    let snaps = snapshots(&s, &prod).await;
    assert!(snaps[0]["last_used_at"].is_string());
    // The copy is independent.
    exec(&s, new_id, "echo staging-only > /etc/app.conf").await;
    assert_eq!(
        std::fs::read_to_string(s.root(&prod).join("etc/app.conf")).unwrap(),
        "changed-later\n"
    );
}

#[tokio::test]
async fn snapshots_outlive_their_container() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "doomed").await;
    exec(&s, &id, "echo keep-me > /root/data").await;
    let a = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "keep"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let b = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "drop"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    s.admin("DELETE", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert!(!s.root(&id).exists());
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["status"], "deleted");

    // Still listed.
    assert_eq!(snapshots(&s, &id).await.len(), 2);
    // Restore in place has nowhere to go: a clear 409 pointing at copy.
    let (status, v) = s
        .call(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/{a}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("copy"));
    // Copy from it ("restore-copy").
    let copy = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(json!({"target_project_id": "default", "name": "revived", "source_snapshot": a})),
        )
        .await;
    let new_id = copy["container"]["id"].as_str().unwrap();
    assert_eq!(
        std::fs::read_to_string(s.root(new_id).join("root/data")).unwrap(),
        "keep-me\n"
    );
    // Delete its snapshots.
    let d = s
        .admin(
            "DELETE",
            &format!("/api/v1/containers/{id}/snapshots/{b}"),
            None,
        )
        .await;
    assert_eq!(d["name"], b.as_str());
    assert!(d["freed_bytes"].is_u64());
    assert_eq!(snapshots(&s, &id).await.len(), 1);
    // Deleted containers are listed apart, on request.
    let live = s.admin("GET", "/api/v1/containers", None).await;
    assert!(!live.to_string().contains(&id));
    let all = s
        .admin("GET", "/api/v1/containers?include_deleted=true", None)
        .await;
    assert!(all.to_string().contains(&id));
}
