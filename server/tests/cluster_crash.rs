//! `kill -9` of a cluster node at random moments (an upload in flight, the commit, its
//! background collection condemning or deleting packs), then the node starts again on its
//! data directory. Afterwards, with the node dead for good, another node copies every
//! snapshot the victim acknowledged into a new container from the bucket, exactly, every
//! snapshot verifies deeply there, and garbage collection goes on without the victim.
//!
//! Last, the objects the kills left in the bucket without a row (an upload finished, its
//! node killed before recording it; the victim's last life stops every upload there by a
//! fail point, `SNAPLINE_FAILPOINTS`, so there is at least one) are reclaimed by the bucket sweep a node runs on its
//! first collection: here a new engine joins the cluster with a one-second record window
//! (the default is ten minutes, far beyond a test), and afterwards every object left in the
//! bucket is a recorded pack and every snapshot still verifies deeply.
//!
//! `SNAPLINE_CLUSTER_CRASH_RUNS` sets the runs (default 50, the campaign). Runs in
//! the PostgreSQL pass with the test bucket.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{ADMIN, LiveServer, XorShift as Rng};
use serde_json::json;

/// Replaces `root/data` with `files` random files of `size` bytes.
fn fill(root: &Path, rng: &mut Rng, files: usize, size: usize) {
    let data = root.join("data");
    let _ = std::fs::remove_dir_all(&data);
    for i in 0..files {
        let sub = data.join(format!("d{}", i % 4));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}")), rng.bytes(size)).unwrap();
    }
}

#[tokio::test]
async fn a_node_killed_at_random_moments_loses_nothing_it_acknowledged() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(store) = common::cluster_store(scratch.path()) else {
        return;
    };
    let runs: usize = std::env::var("SNAPLINE_CLUSTER_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let args = ["--store", store.as_str()];
    let mut a = LiveServer::start_with_args(&args, &[]);
    let db_url = a.db_url.clone();
    let env = [("SNAPLINE_DATABASE_URL", db_url.as_str())];
    let b = LiveServer::start_with_args(&args, &env);
    let node_b = b.admin("GET", "/api/v1/servers", None).await["servers"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let id = a.container("default", "victim").await;
    let mut rng = Rng(0x0c1a_57e7);
    let mut acknowledged: Vec<(String, BTreeMap<String, Vec<u8>>)> = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for run in 0..runs {
        // New data every run (a few packs' worth), so the kill can land in an upload.
        fill(&a.root(&id), &mut rng, 24, 256 * 1024);
        let before = common::files_of(&a.root(&id).join("data"));
        // Work for the victim's collection: a snapshot made and deleted (through B).
        let scratch_snap = b.snapshot(&id, None).await;
        b.admin(
            "DELETE",
            &format!("/api/v1/containers/{id}/snapshots/{scratch_snap}"),
            None,
        )
        .await;
        let url = a.url(&format!("/api/v1/containers/{id}/snapshots"));
        let request = tokio::spawn(async move {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth(ADMIN)
                .json(&json!({"alias": format!("run-{run}")}))
                .send()
                .await
                .ok()?;
            let status = r.status().as_u16();
            let v: serde_json::Value = r.json().await.ok()?;
            Some((status, v))
        });
        let delay = Duration::from_millis(rng.next_u64() % 120);
        tokio::time::sleep(delay).await;
        let dir = a.kill9();
        let heard = request.await.unwrap();
        let what = match &heard {
            Some((status, _)) => format!("answered {status}"),
            None => "killed before answering".to_string(),
        };
        *tally.entry(what).or_default() += 1;
        if let Some((200, v)) = &heard {
            let name = v["data"]["snapshot"]["name"].as_str().unwrap().to_string();
            acknowledged.push((name, before));
        }
        a = LiveServer::start_in_with_args(dir, &args, &env);
    }
    let a_dir = a.kill9();
    println!("kill -9 of a cluster node, {runs} runs: {tally:?}");

    // The victim's last life: every upload stops once its object is in the bucket (a fail
    // point), and the node is killed there, so at least one object is left without a row.
    // Then it is dead for good, and the other node does the rest from the bucket.
    let paused = [
        ("SNAPLINE_DATABASE_URL", db_url.as_str()),
        (engine::FAIL_POINTS_ENV, "s3::after_upload=pause"),
    ];
    let a = LiveServer::start_in_with_args(a_dir, &args, &paused);
    fill(&a.root(&id), &mut rng, 24, 256 * 1024);
    let url = a.url(&format!("/api/v1/containers/{id}/snapshots"));
    let request = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .bearer_auth(ADMIN)
            .json(&json!({"alias": "paused-after-upload"}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    // Far longer than an upload of 6 MiB to a server on loopback.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let _gone = a.kill9();
    assert!(
        request.await.unwrap().is_err(),
        "the paused snapshot answered"
    );
    let listed = b
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    let names: Vec<&str> = listed["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for (i, (name, want)) in acknowledged.iter().enumerate() {
        assert!(
            names.contains(&name.as_str()),
            "acknowledged {name} is missing"
        );
        let made = b
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/copy"),
                Some(json!({"target_project_id": "default", "name": format!("rescued-{i}"), "source_snapshot": name, "target_server": node_b})),
            )
            .await;
        let copy = made["container"]["id"].as_str().unwrap();
        assert_eq!(
            &common::files_of(&b.root(copy).join("data")),
            want,
            "{name} does not copy exactly on the other node"
        );
    }
    let pool = snapline_server::db::open(&db_url).await.unwrap();
    reclaim_orphans(scratch.path(), &store, &pool).await;
    for name in &names {
        let v = b
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots/{name}/verify?deep=true"),
                None,
            )
            .await;
        assert_eq!(v["clean"], true, "{name} is damaged: {v}");
    }

    // The collection goes on without the victim (whose lock died with its session): data
    // that B stores and then drops is condemned by B's own jobs.
    let own = b.container("default", "scratch-on-b").await;
    fill(&b.root(&own), &mut rng, 8, 512 * 1024);
    let dropped = b.snapshot(&own, None).await;
    b.admin(
        "DELETE",
        &format!("/api/v1/containers/{own}/snapshots/{dropped}"),
        None,
    )
    .await;
    let mut condemned = 0i64;
    for _ in 0..60 {
        condemned = sqlx::query_scalar(
            "SELECT COUNT(*) FROM packs WHERE condemned_epoch IS NOT NULL AND deleted_at IS NULL",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if condemned > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        condemned > 0,
        "no node collected garbage once the victim was dead"
    );
}

/// A new node's first collection sweeps the bucket: objects no row names, older than the
/// record window plus GC's minimum age, are deleted (both one second here; the cluster is
/// idle, so no upload of another node is younger than that and unrecorded). Afterwards
/// every object in the bucket is a pack with a live row.
async fn reclaim_orphans(scratch: &Path, store: &str, pool: &engine::db::DbPool) {
    let opts = engine::S3Options {
        url: store.to_string(),
        ..engine::s3::scratch_options(&scratch.join("sweeper-cache")).unwrap()
    };
    let node = engine::Engine::open_with(
        &scratch.join("sweeper"),
        pool.clone(),
        &engine::StoreConfig::S3(opts),
    )
    .await
    .unwrap()
    .with_gc_timing(Duration::from_secs(60), Duration::from_secs(1));
    node.set_record_within(Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let report = node.gc().await.unwrap();
    let live: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM packs WHERE deleted_at IS NULL")
        .fetch_one(pool)
        .await
        .unwrap();
    println!(
        "orphan sweep after the kills: {} objects listed, {} unrecorded deleted ({} bytes)",
        report.orphans.listed,
        report.orphans.deleted.len(),
        report.orphans.deleted_bytes
    );
    assert!(
        !report.orphans.deleted.is_empty() && report.orphans.deleted_bytes > 0,
        "the upload killed after it reached the bucket left no object to reclaim: {report:?}"
    );
    assert_eq!(
        report.orphans.listed as usize - report.orphans.deleted.len(),
        live as usize,
        "every object left in the bucket is a recorded pack: {report:?}"
    );
}
