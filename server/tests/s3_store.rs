//! `snapline serve --store s3://…` against a real S3 server (Garage, from `.ci/garage.sh`):
//! the disaster-recovery case. A node snapshots a container and dies (kill -9); another
//! node, with an empty data directory, on the same database and bucket, copies the
//! snapshot into a new container, exact to the byte. A node that names another store, or
//! none, on that database is refused at start with what to do.

mod common;

use common::LiveServer;
use serde_json::json;

/// The `--store` URL of a test of its own, or `None` when no test bucket is configured
/// (and the runner did not require one).
fn store(dir: &std::path::Path) -> Option<String> {
    engine::s3::scratch_options(dir).map(|o| o.url)
}

#[tokio::test]
async fn a_snapshot_outlives_its_node_and_is_copied_on_another() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(url) = store(scratch.path()) else {
        return;
    };
    let a = LiveServer::start_with_args(&["--store", &url], &[]);
    let id = a.container("default", "web").await;
    let payload: Vec<u8> = common::XorShift(7).bytes(2 << 20);
    std::fs::write(a.root(&id).join("data.bin"), &payload).unwrap();
    std::fs::write(a.root(&id).join("note.txt"), b"before the migration").unwrap();
    let snap = a.snapshot(&id, Some("before-migration")).await;
    let servers = a.admin("GET", "/api/v1/servers", None).await;
    let node_a = servers["servers"][0]["id"].as_str().unwrap().to_string();
    let db_url = a.db_url.clone();
    let _gone = a.kill9();

    // Node B: nothing on its disk; the database and the bucket are all it shares with A.
    let b = LiveServer::start_with_args(
        &["--store", &url],
        &[("SNAPLINE_DATABASE_URL", db_url.as_str())],
    );
    let c = b
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["server_id"], node_a.as_str(), "{c}");
    let copied = b
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(json!({"target_project_id": "default", "name": "web-restored", "source_snapshot": snap})),
        )
        .await;
    let new_id = copied["container"]["id"].as_str().unwrap().to_string();
    assert_ne!(
        copied["container"]["server_id"],
        node_a.as_str(),
        "{copied}"
    );
    assert_eq!(
        std::fs::read(b.root(&new_id).join("data.bin")).unwrap(),
        payload
    );
    assert_eq!(
        std::fs::read(b.root(&new_id).join("note.txt")).unwrap(),
        b"before the migration"
    );
    // The copy's packs came from the bucket into B's cache.
    assert!(
        std::fs::read_dir(b.data().join("cache/packs"))
            .unwrap()
            .count()
            > 0,
        "B's cache holds the packs it downloaded"
    );
    let servers = b.admin("GET", "/api/v1/servers", None).await;
    let me = &servers["servers"][0];
    assert_eq!(me["store"], url.as_str(), "{servers}");
    assert!(me["cache_bytes"].as_u64().unwrap() > 0, "{servers}");
    assert!(me["store_bytes"].as_u64().unwrap() > 1 << 20, "{servers}");
    // B snapshots its new container into the same bucket.
    let on_b = b.snapshot(&new_id, Some("on-b")).await;
    for (c, name) in [(&id, &snap), (&new_id, &on_b)] {
        let v = b
            .admin(
                "POST",
                &format!("/api/v1/containers/{c}/snapshots/{name}/verify?deep=true"),
                None,
            )
            .await;
        assert_eq!(v["clean"], true, "{v}");
    }
    drop(b);

    // The database keeps its store: a node without --store, or with another, is refused.
    for args in [vec![], vec!["--store".to_string(), format!("{url}-other")]] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--no-demo",
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .args(&args)
            .env("SNAPLINE_DATABASE_URL", &db_url)
            .env("SNAPLINE_ADMIN_TOKEN", common::ADMIN)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("keeps its packs in {url}")) && err.contains("--store"),
            "{args:?}: {err}"
        );
    }
}

#[tokio::test]
async fn bad_store_flags_are_refused_with_what_to_write() {
    for (args, says) in [
        (vec!["--store", "http://bucket"], "not an S3 store"),
        (vec!["--store", "s3://UPPER"], "not a valid bucket name"),
        (vec!["--store", "s3://bucket/../x"], "not a valid prefix"),
        (vec!["--cache-mb", "1"], "64"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// The S3 server goes down mid-snapshot: every upload waits 4 s between reaching the bucket
/// and its row (a fail point), and Garage is stopped 2 s into a snapshot, after its first
/// pack is in the bucket. The snapshot answers 503, says what failed and that nothing
/// changed; the snapshot list is as before. Once the server is back, the same request
/// works and its snapshot copies exactly.
#[tokio::test]
async fn an_s3_outage_is_a_clear_503_and_the_retry_works() {
    let Some(mut garage) = common::garage::Garage::start() else {
        return;
    };
    let env = garage.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push((engine::FAIL_POINTS_ENV, "s3::before_record=sleep(4000)"));
    let url = format!("s3://{}/outage", garage.bucket);
    let s = LiveServer::start_with_args(&["--store", &url], &env);
    let id = s.container("default", "app").await;
    s.snapshot(&id, Some("first")).await;
    let pool = snapline_server::db::open(&s.db_url).await.unwrap();
    let packs = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM packs")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = packs().await;

    let fresh = common::XorShift(11).bytes(1 << 20);
    std::fs::write(s.root(&id).join("new.bin"), &fresh).unwrap();
    let started = std::time::Instant::now();
    let path = format!("/api/v1/containers/{id}/snapshots");
    let call = s.call("POST", &path, Some(common::ADMIN), None);
    let outage = async {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        garage.stop();
    };
    let ((status, v), ()) = tokio::join!(call, outage);
    assert_eq!(status, 503, "{v}");
    // The first pack of the snapshot reached the bucket before the outage and was recorded
    // after it: the outage was in the middle of the snapshot.
    assert!(
        packs().await > before,
        "no pack of the snapshot was stored before the outage"
    );
    let message = v["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("S3 store") && message.contains("Nothing was changed"),
        "{v}"
    );
    eprintln!("the outage was reported after {:?}", started.elapsed());
    let list = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 1, "{list}");

    garage.restart();
    let second = s.snapshot(&id, Some("after-outage")).await;
    let copied = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(json!({"target_project_id": "default", "name": "app-copy", "source_snapshot": second})),
        )
        .await;
    let copy = copied["container"]["id"].as_str().unwrap();
    assert_eq!(std::fs::read(s.root(copy).join("new.bin")).unwrap(), fresh);
    assert!(!s.log().contains("panicked"), "{}", s.log());
}
