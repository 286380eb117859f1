//! `kill -9` at random moments of snapshot, restore, copy and delete, through the real
//! server: after each kill a new server starts on the same data directory (finishing any
//! interrupted restore), every snapshot verifies deeply, the baseline copies out exactly, and
//! an interrupted restore leaves the old tree or the new one, never a mix.
//!
//! `SNAPLINE_CRASH_RUNS` sets the runs per operation (default 4; the hardening campaign runs
//! 200).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{ADMIN, LiveServer, XorShift as Rng};
use serde_json::json;

/// Path -> content of every file below `dir`.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    common::files_of(dir)
}

/// Writes `files` random files of `size` bytes below `dir/data` (replacing it).
fn fill(dir: &Path, rng: &mut Rng, files: usize, size: usize) {
    let data = dir.join("data");
    let _ = std::fs::remove_dir_all(&data);
    for i in 0..files {
        let sub = data.join(format!("d{}", i % 8));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}")), rng.bytes(size)).unwrap();
    }
}

async fn verify_all(s: &LiveServer, id: &str) {
    let list = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    for snap in list["snapshots"].as_array().unwrap() {
        let name = snap["name"].as_str().unwrap();
        let v = s
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots/{name}/verify?deep=true"),
                None,
            )
            .await;
        assert_eq!(v["clean"], true, "{name} is damaged after a crash: {v}");
    }
}

/// Deletes every snapshot but `keep`, so each run verifies a store of constant size (a
/// growing history made the deep verification of 200 runs quadratic).
async fn prune(s: &LiveServer, id: &str, keep: &str) {
    let list = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    for snap in list["snapshots"].as_array().unwrap() {
        let name = snap["name"].as_str().unwrap();
        if name != keep {
            s.admin(
                "DELETE",
                &format!("/api/v1/containers/{id}/snapshots/{name}"),
                None,
            )
            .await;
        }
    }
}

#[tokio::test]
async fn kill_9_at_random_moments_loses_nothing_acknowledged() {
    let runs: usize = std::env::var("SNAPLINE_CRASH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let mut rng = Rng(0x5eed_cafe_f00d);
    let mut s = LiveServer::start(&[]);
    let id = s.container("default", "victim").await;
    let root = s.root(&id);
    fill(&root, &mut rng, 160, 96 * 1024);
    let base = tree(&root.join("data"));
    let base_name = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "base"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();

    // (operation, what the client heard before the kill) -> runs: the figures the
    // hardening report quotes (run with --nocapture).
    let mut tally: BTreeMap<(&str, String), usize> = BTreeMap::new();
    let started = std::time::Instant::now();
    for op in ["snapshot", "restore", "copy", "delete"] {
        for run in 0..runs {
            let root = s.root(&id);
            // A live tree different from the baseline, so a restore has real work.
            fill(&root, &mut rng, 160, 96 * 1024);
            let before = tree(&root.join("data"));
            let target = match op {
                "delete" => s
                    .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
                    .await["snapshot"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                _ => base_name.clone(),
            };
            let (method, path, body) = match op {
                "snapshot" => ("POST", format!("/api/v1/containers/{id}/snapshots"), None),
                "restore" => (
                    "PATCH",
                    format!("/api/v1/containers/{id}/snapshots/{target}"),
                    None,
                ),
                "copy" => (
                    "POST",
                    format!("/api/v1/containers/{id}/copy"),
                    Some(
                        json!({"target_project_id": "default", "name": format!("copy-{run}"), "source_snapshot": target}),
                    ),
                ),
                _ => (
                    "DELETE",
                    format!("/api/v1/containers/{id}/snapshots/{target}"),
                    None,
                ),
            };
            let delay = Duration::from_millis(rng.next_u64() % 250);
            let url = s.url(&path);
            let request = tokio::spawn(async move {
                let c = reqwest::Client::new();
                let mut r = c.request(method.parse().unwrap(), url).bearer_auth(ADMIN);
                if let Some(b) = body {
                    r = r.json(&b);
                }
                r.send().await.map(|r| r.status().as_u16()).ok()
            });
            tokio::time::sleep(delay).await;
            let dir = s.kill9();
            let acknowledged = request.await.unwrap();
            s = LiveServer::start_in(dir, &[]);
            let what = format!("{op} run {run}, killed after {delay:?} (answer: {acknowledged:?})");
            let heard = match acknowledged {
                Some(code) => format!("answered {code}"),
                None => "killed before answering".to_string(),
            };
            *tally.entry((op, heard)).or_default() += 1;

            verify_all(&s, &id).await;
            let live = tree(&s.root(&id).join("data"));
            match op {
                "restore" => {
                    assert!(
                        live == base || live == before,
                        "{what}: a mixed tree after restore"
                    );
                    if acknowledged == Some(200) {
                        assert!(live == base, "{what}: acknowledged but not restored");
                    }
                }
                _ => assert!(live == before, "{what}: the live tree changed"),
            }
            let listed = s
                .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
                .await;
            let names: Vec<&str> = listed["snapshots"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["name"].as_str().unwrap())
                .collect();
            assert!(
                names.contains(&base_name.as_str()),
                "{what}: the baseline is gone"
            );
            if op == "snapshot" && acknowledged == Some(200) {
                assert!(
                    names.len() >= 2,
                    "{what}: an acknowledged snapshot is missing"
                );
            }
            prune(&s, &id, &base_name).await;
            if op == "delete" && acknowledged == Some(200) {
                assert!(
                    !names.contains(&target.as_str()),
                    "{what}: acknowledged delete undone"
                );
            }
            if op == "copy" {
                let all = s.admin("GET", "/api/v1/containers", None).await;
                let copy = all["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == format!("copy-{run}"))
                    .cloned();
                if acknowledged == Some(200) {
                    assert!(copy.is_some(), "{what}: acknowledged copy missing");
                }
                // A copy that says it is ready is complete; an interrupted one is marked failed.
                if let Some(c) = copy {
                    let cid = c["id"].as_str().unwrap();
                    match c["status"].as_str().unwrap() {
                        "stopped" => assert_eq!(tree(&s.root(cid).join("data")), base, "{what}"),
                        "failed" => {}
                        other => panic!("{what}: copy left in state {other}"),
                    }
                    s.admin("DELETE", &format!("/api/v1/containers/{cid}"), None)
                        .await;
                }
            }
        }
    }

    println!(
        "kill -9 runs ({runs} per operation, {:?}):",
        started.elapsed()
    );
    for ((op, heard), n) in &tally {
        println!("  {op:<9} {heard:<26} {n:>4}  verify clean, baseline exact");
    }

    // After every crash, the baseline still copies out bit-exactly.
    let copy = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(json!({"target_project_id": "default", "name": "final", "source_snapshot": base_name})),
        )
        .await;
    let cid = copy["container"]["id"].as_str().unwrap();
    assert_eq!(tree(&s.root(cid).join("data")), base);
    let _ = std::fs::remove_file(s.dir.path().join("server.log"));
}
