//! Three `snapline serve` nodes on one PostgreSQL database and one Garage bucket, as the
//! README's "Scaling out" runs them:
//! - a container made from the built-in image on each of two nodes: the bucket holds the
//!   image once (each node's snapshot stores only what its container changed);
//! - a snapshot taken on A is restored through B (the restore runs on A) and copied onto B
//!   and C (`target_server`), each tree exact: contents, modes, symlinks, times;
//! - snapshots that expire while three nodes run their jobs every second are deleted once,
//!   and every node's event stream shows exactly one `snapshot.expired` for each;
//! - a node of a second cluster (another database) pointed at the same bucket refuses to
//!   start, and the first cluster serves on.
//!
//! Runs in the PostgreSQL pass (SQLite is one node's database) with the test bucket.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use common::LiveServer;
use serde_json::json;

/// What a tree holds, for comparing two of them: per path, its kind, permission bits, owner,
/// modification time (nanoseconds) and contents (a symlink's target).
fn tree(root: &Path) -> BTreeMap<String, (char, u32, u32, i128, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let mtime = m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128;
            let (kind, body) = if m.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                ('l', target.as_os_str().as_encoded_bytes().to_vec())
            } else if m.is_dir() {
                stack.push(path.clone());
                ('d', Vec::new())
            } else {
                ('f', std::fs::read(&path).unwrap())
            };
            // A directory's time moves when a file is added to it: only files and links.
            let mtime = if kind == 'd' { 0 } else { mtime };
            out.insert(
                rel,
                (kind, m.permissions().mode() & 0o7777, m.uid(), mtime, body),
            );
        }
    }
    out
}

/// Bytes of recorded packs in the bucket.
async fn bucket_bytes(db: &engine::DbPool) -> i64 {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM packs WHERE deleted_at IS NULL",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

/// The events a stream shows, as `(type, event)`, until `enough` says so and 3 seconds
/// more pass (for a duplicate to show, if there were one), or `wait` in all.
async fn read_events(
    mut stream: reqwest::Response,
    wait: Duration,
    enough: impl Fn(&[(String, serde_json::Value)]) -> bool,
) -> Vec<(String, serde_json::Value)> {
    let mut deadline = tokio::time::Instant::now() + wait;
    let mut settling = false;
    let mut text = String::new();
    let mut events = Vec::new();
    loop {
        if !settling && enough(&events) {
            settling = true;
            deadline = deadline.min(tokio::time::Instant::now() + Duration::from_secs(3));
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, stream.chunk()).await {
            Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
            _ => break,
        }
        // Whole events only: they end with a blank line.
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let kind = block
                .lines()
                .find_map(|l| l.strip_prefix("event: "))
                .unwrap_or_default()
                .to_string();
            let data = block
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .and_then(|d| serde_json::from_str(d).ok())
                .unwrap_or_default();
            events.push((kind, data));
        }
    }
    events
}

#[tokio::test]
async fn three_nodes_share_one_image_copy_exactly_and_expire_once() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(store) = common::cluster_store(scratch.path()) else {
        return;
    };
    let a = LiveServer::start_with_args(&["--store", &store], &[]);
    let db = [("SNAPLINE_DATABASE_URL", a.db_url.as_str())];
    let b = LiveServer::start_with_args(&["--store", &store], &db);
    let c = LiveServer::start_with_args(&["--store", &store], &db);
    let pool = a.db().await;
    let mut ids = Vec::new();
    for s in [&a, &b, &c] {
        let list = s.admin("GET", "/api/v1/servers", None).await;
        ids.push(list["servers"][0]["id"].as_str().unwrap().to_string());
        assert_eq!(list["servers"].as_array().unwrap().len(), 3, "{list}");
    }
    let (node_b, node_c) = (ids[1].clone(), ids[2].clone());

    // One image, two nodes: each snapshot of a container made from it stores only a
    // little (its own new files), never the image again.
    let image_bytes = bucket_bytes(&pool).await;
    assert!(
        image_bytes > 500_000,
        "the built-in image is in the bucket: {image_bytes}"
    );
    let on_a = a.container("default", "img-a").await;
    let on_b = b.container("default", "img-b").await;
    a.snapshot(&on_a, Some("fresh-a")).await;
    let after_a = bucket_bytes(&pool).await;
    b.snapshot(&on_b, Some("fresh-b")).await;
    let after_b = bucket_bytes(&pool).await;
    assert!(
        after_a - image_bytes < image_bytes / 10 && after_b - after_a < image_bytes / 10,
        "the image was stored again: image {image_bytes}, after A {after_a}, after B {after_b}"
    );

    // A tree with what a restore must bring back exactly: contents, modes, a symlink, a
    // nested directory, and times.
    let root = a.root(&on_a);
    std::fs::create_dir_all(root.join("app/lib")).unwrap();
    std::fs::write(root.join("app/main.py"), b"print('v1')\n").unwrap();
    std::fs::write(
        root.join("app/lib/data.bin"),
        common::XorShift(7).bytes(300_000),
    )
    .unwrap();
    std::fs::set_permissions(
        root.join("app/main.py"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    std::os::unix::fs::symlink("lib/data.bin", root.join("app/current")).unwrap();
    let taken = tree(&root);
    let snap = a.snapshot(&on_a, Some("before-change")).await;

    // Broken on A, restored through B: the restore runs on A, exactly.
    std::fs::write(root.join("app/main.py"), b"broken").unwrap();
    std::fs::remove_file(root.join("app/current")).unwrap();
    let (status, v) = b
        .call(
            "PATCH",
            &format!("/api/v1/containers/{on_a}/snapshots/{snap}"),
            Some(common::ADMIN),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(tree(&root), taken, "the restore through B is not exact");

    // Copied onto B (asked of C) and onto C (asked of A): each built from the bucket on
    // its node, exact.
    for (via, target, node, name) in [(&c, &b, &node_b, "dr-b"), (&a, &c, &node_c, "dr-c")] {
        let made = via
            .admin(
                "POST",
                &format!("/api/v1/containers/{on_a}/copy"),
                Some(json!({"target_project_id": "default", "name": name, "source_snapshot": snap, "target_server": node})),
            )
            .await;
        assert_eq!(made["container"]["server_id"], node.as_str(), "{made}");
        let id = made["container"]["id"].as_str().unwrap();
        assert_eq!(
            tree(&target.root(id)),
            taken,
            "the copy {name} is not exact"
        );
    }

    // Expiry with three nodes running their jobs every second: every stream subscribed,
    // then four snapshots expire at once.
    let mut streams = Vec::new();
    for s in [&a, &b, &c] {
        let r = s
            .client
            .get(s.url("/api/v1/events"))
            .bearer_auth(common::ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        streams.push(r);
    }
    let mut expiring = Vec::new();
    for i in 0..4 {
        expiring.push(b.snapshot(&on_b, Some(&format!("short-{i}"))).await);
    }
    let past = (chrono::Utc::now() - chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    for name in &expiring {
        sqlx::query(
            "UPDATE engine_snapshots SET expires_at = $1 WHERE container_id = $2 AND name = $3",
        )
        .bind(&past)
        .bind(&on_b)
        .bind(name)
        .execute(&pool)
        .await
        .unwrap();
    }
    let wanted = expiring.clone();
    let seen = futures_util::future::join_all(streams.into_iter().map(|r| {
        let wanted = wanted.clone();
        read_events(r, Duration::from_secs(60), move |events| {
            let expired = events.iter().filter(|(k, _)| k == "snapshot.expired");
            expired.count() >= wanted.len()
        })
    }))
    .await;
    for (node, events) in ids.iter().zip(&seen) {
        let mut names: Vec<String> = events
            .iter()
            .filter(|(k, d)| k == "snapshot.expired" && d["container_id"] == on_b.as_str())
            .map(|(_, d)| d["data"]["name"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        let mut want = expiring.clone();
        want.sort();
        assert_eq!(names, want, "node {node}'s stream: {events:?}");
    }
    for name in &expiring {
        let left: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM engine_snapshots WHERE container_id = $1 AND name = $2",
        )
        .bind(&on_b)
        .bind(name)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(left, 0, "{name} is deleted");
    }

    // A second cluster (a database of its own) on the same bucket: refused at start.
    let other = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-demo",
            "--store",
            &store,
        ])
        .arg("--data-dir")
        .arg(other.path().join("data"))
        .env("SNAPLINE_DATABASE_URL", common::db_url(other.path()))
        .env("SNAPLINE_ADMIN_TOKEN", common::ADMIN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a second cluster started on the bucket"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to another Snapline cluster"), "{err}");
    let servers = c.admin("GET", "/api/v1/servers", None).await;
    assert_eq!(servers["servers"].as_array().unwrap().len(), 3, "{servers}");
}
