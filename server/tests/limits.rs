//! Hostile and excessive input against a live server: strict bodies, size and rate limits,
//! a full disk, busy containers, a missing runc, many containers at once, and image
//! imports that try to escape.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::json;

#[tokio::test]
async fn strict_bodies_and_size_limits() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "strict").await;
    let snaps = format!("/api/v1/containers/{id}/snapshots");
    // Unknown and read-only fields, wrong types, malformed JSON: 400, with the reason.
    for (body, needle) in [
        (json!({"alias": "x", "id": "y"}), "unknown field `id`"),
        (json!({"project_id": "p"}), "unknown field `project_id`"),
        (json!({"size": 1}), "unknown field `size`"),
        (
            json!({"created_at": "2025-01-01"}),
            "unknown field `created_at`",
        ),
        (json!({"expiry": "30"}), "invalid type"),
        (json!({"expiry": 30.5}), "invalid type"),
        (json!({"expiry": 3651}), "1 to 3650"),
        (json!({"alias": "a".repeat(101)}), "101 characters"),
        (json!({"alias": "two\nlines"}), "control character"),
        (json!(["not", "an", "object"]), "not an array"),
    ] {
        let (status, v) = s
            .call("POST", &snaps, Some(ADMIN), Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {v}");
        assert_eq!(v["error"], "Bad Request");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    let raw = |body: &'static str| {
        s.client
            .post(s.url(&snaps))
            .bearer_auth(ADMIN)
            .header("content-type", "application/json")
            .body(body)
    };
    let r = raw("{\"alias\": ").send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("not valid JSON"));
    // Other routes are strict too.
    for (method, path, body) in [
        (
            "POST",
            "/api/v1/containers".to_string(),
            json!({"project_id": "default", "name": "n", "image": "demo", "status": "running"}),
        ),
        (
            "POST",
            format!("/api/v1/containers/{id}/copy"),
            json!({"target_project_id": "default", "name": "c", "size": 0}),
        ),
        (
            "POST",
            format!("/api/v1/containers/{id}/exec"),
            json!({"command": ["true"], "user": "root"}),
        ),
        (
            "PUT",
            format!("/api/v1/containers/{id}/schedule"),
            json!({"schedule": "@daily", "at": "now"}),
        ),
        (
            "POST",
            "/api/v1/projects".to_string(),
            json!({"name": "p", "id": "0123456789abcdef01234567"}),
        ),
    ] {
        let (status, v) = s.call(method, &path, Some(ADMIN), Some(body)).await;
        assert_eq!(status, 400, "{method} {path}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains("unknown field"),
            "{v}"
        );
    }
    // Too large: 413 in the envelope, nothing created.
    let big = json!({"alias": "x".repeat(100_000)});
    let (status, v) = s.call("POST", &snaps, Some(ADMIN), Some(big)).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["statusCode"], 413);
    assert!(
        s.admin("GET", &snaps, None).await["snapshots"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Bad ids are 400s that say what an id looks like.
    let (status, v) = s
        .call("GET", "/api/v1/containers/not-an-id", Some(ADMIN), None)
        .await;
    assert_eq!(status, 400);
    assert!(v["message"].as_str().unwrap().contains("24 lowercase hex"));
}

#[tokio::test]
async fn rate_limit_answers_429_per_token() {
    let s = LiveServer::start(&[("SNAPLINE_RATE_LIMIT", "2"), ("SNAPLINE_RATE_BURST", "5")]);
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(s.call("GET", "/api/v1/projects", Some(ADMIN), None).await);
    }
    let limited: Vec<_> = statuses.iter().filter(|(st, _)| *st == 429).collect();
    assert!(!limited.is_empty(), "{statuses:?}");
    assert!(statuses[0].0 == 200);
    let (_, v) = limited[0];
    assert_eq!(v["error"], "Too Many Requests");
    assert!(v["message"].as_str().unwrap().contains("per second"));
    // Health is not rate limited (load balancers poll it).
    for _ in 0..10 {
        assert_eq!(s.call("GET", "/api/v1/health", None, None).await.0, 200);
    }
}

#[tokio::test]
async fn a_full_disk_is_a_507_and_changes_nothing() {
    // Demand more free space than any disk has.
    let s = LiveServer::start(&[("SNAPLINE_MIN_FREE_MB", "1000000000")]);
    let (status, v) = s
        .call(
            "POST",
            "/api/v1/containers",
            Some(ADMIN),
            Some(json!({"project_id": "default", "name": "x", "image": "demo"})),
        )
        .await;
    assert_eq!(status, 507, "{v}");
    assert_eq!(v["error"], "Insufficient Storage");
    assert!(v["message"].as_str().unwrap().contains("free disk space"));
    let list = s.admin("GET", "/api/v1/containers", None).await;
    assert_eq!(list["containers"], json!([]));
}

#[tokio::test]
async fn operations_on_one_container_are_serialized_with_a_bounded_wait() {
    let s = LiveServer::start(&[("SNAPLINE_LOCK_WAIT_S", "0")]);
    let id = s.container("default", "busy").await;
    // A snapshot that takes a while: 150 MB of fresh random data.
    s.admin(
        "POST",
        &format!("/api/v1/containers/{id}/exec"),
        Some(json!({"command": ["sh", "-c", "head -c 150000000 /dev/urandom > /root/big"], "timeout_s": 120})),
    )
    .await;
    let path = format!("/api/v1/containers/{id}/snapshots");
    let calls = (0..4).map(|i| {
        let (s, path) = (&s, path.clone());
        async move {
            s.call(
                "POST",
                &path,
                Some(ADMIN),
                Some(json!({"alias": format!("n{i}")})),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|(st, _)| *st == 200).count();
    let busy: Vec<_> = results.iter().filter(|(st, _)| *st == 409).collect();
    assert!(ok >= 1, "{results:?}");
    assert!(!busy.is_empty(), "nothing waited: {results:?}");
    assert_eq!(ok + busy.len(), 4, "{results:?}");
    assert!(
        busy[0].1["message"]
            .as_str()
            .unwrap()
            .contains("another operation")
    );
    let listed = s.admin("GET", &path, None).await["snapshots"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(listed, ok);
}

#[tokio::test]
async fn a_hundred_containers_snapshot_in_parallel() {
    let s = LiveServer::start(&[("SNAPLINE_RATE_BURST", "1000")]);
    let mut ids = Vec::new();
    for i in 0..100 {
        ids.push(s.container("default", &format!("c{i}")).await);
    }
    for (i, id) in ids.iter().enumerate() {
        std::fs::write(s.root(id).join("root/own"), format!("container {i}\n")).unwrap();
    }
    let calls = ids.iter().map(|id| {
        let s = &s;
        async move {
            s.call(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots"),
                Some(ADMIN),
                Some(json!({"alias": "parallel"})),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(calls).await;
    for (status, v) in &results {
        assert_eq!(*status, 200, "{v}");
    }
    // Each snapshot holds its own container's file.
    for (i, id) in ids.iter().enumerate().step_by(17) {
        let name = results[i].1["data"]["snapshot"]["name"].as_str().unwrap();
        let r = s
            .client
            .get(s.url(&format!(
                "/api/v1/containers/{id}/snapshots/{name}/files/content?path=/root/own"
            )))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.text().await.unwrap(), format!("container {i}\n"));
    }
}

#[tokio::test]
async fn without_runc_start_and_exec_explain_and_the_rest_works() {
    let s = LiveServer::start(&[("SNAPLINE_RUNTIME", "")]);
    let id = s.container("default", "norun").await;
    for (path, body) in [
        (format!("/api/v1/containers/{id}/start"), None),
        (
            format!("/api/v1/containers/{id}/exec"),
            Some(json!({"command": ["true"]})),
        ),
    ] {
        let (status, v) = s.call("POST", &path, Some(ADMIN), body).await;
        assert_eq!(status, 503, "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("apt-get install runc"),
            "{v}"
        );
    }
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["status"], "stopped");
    s.admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    let server = s.admin("GET", "/api/v1/servers", None).await;
    assert_eq!(server["servers"][0]["can_run_containers"], false);
}

#[tokio::test]
async fn status_follows_the_real_process() {
    let s = LiveServer::start(&[("SNAPLINE_STOP_TIMEOUT_S", "2")]);
    // A command that exits by itself.
    let d = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "short", "image": "demo", "command": ["sh", "-c", "sleep 1; exit 3"]})),
        )
        .await;
    let id = d["container"]["id"].as_str().unwrap().to_string();
    let started = s
        .admin("POST", &format!("/api/v1/containers/{id}/start"), None)
        .await;
    assert_eq!(started["container"]["status"], "running");
    let mut status = String::new();
    for _ in 0..100 {
        status = s
            .admin("GET", &format!("/api/v1/containers/{id}"), None)
            .await["container"]["status"]
            .as_str()
            .unwrap()
            .to_string();
        if status != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "failed", "a non-zero exit is a failure");
    // A command that ignores SIGTERM is killed after the stop timeout.
    let d = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "stubborn", "image": "demo", "command": ["sh", "-c", "trap '' TERM; while :; do sleep 1; done"]})),
        )
        .await;
    let id = d["container"]["id"].as_str().unwrap().to_string();
    s.admin("POST", &format!("/api/v1/containers/{id}/start"), None)
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let stopped = s
        .admin("POST", &format!("/api/v1/containers/{id}/stop"), None)
        .await;
    assert_eq!(stopped["container"]["status"], "stopped");
    let out = std::process::Command::new("pgrep")
        .args(["-f", "trap '' TERM"])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "processes left: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // exec: exit code, bounded output, timeout.
    let e = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/exec"),
            Some(json!({"command": ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x; echo err >&2; exit 7"]})),
        )
        .await;
    assert_eq!(e["exit_code"], 7);
    assert_eq!(e["stdout"].as_str().unwrap().len(), 64 * 1024);
    assert_eq!(e["truncated"], true);
    assert_eq!(e["stderr"], "err\n");
    let e = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/exec"),
            Some(json!({"command": ["sleep", "30"], "timeout_s": 1})),
        )
        .await;
    assert_eq!(e["timed_out"], true);
    assert!(e["exit_code"].is_null());
    // Start is refused while a restore runs (the status says restoring): covered by the
    // restore flow; here, a deleted container cannot start.
    s.admin("DELETE", &format!("/api/v1/containers/{id}"), None)
        .await;
    let (status, _) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/start"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 409);
}

fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        // Written raw so that hostile names reach the server as they are.
        let name = path.as_bytes();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[tokio::test]
async fn image_import_is_safe_and_bounded() {
    let s = LiveServer::start(&[("SNAPLINE_MAX_IMAGE_MB", "1")]);
    let import = |name: &str, body: Vec<u8>| {
        s.client
            .post(s.url(&format!("/api/v1/images?name={name}")))
            .bearer_auth(ADMIN)
            .body(body)
            .send()
    };
    // A good one, made with the real tar from a directory.
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("etc")).unwrap();
    std::fs::write(src.path().join("etc/motd"), "hello from an import\n").unwrap();
    let out = std::process::Command::new("tar")
        .args(["-C"])
        .arg(src.path())
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    let r = import("mini", out.stdout).await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let images = s.admin("GET", "/api/v1/images", None).await;
    assert!(images.to_string().contains("\"mini\""));
    let id = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "m", "image": "mini"})),
        )
        .await["container"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        std::fs::read_to_string(s.root(&id).join("etc/motd")).unwrap(),
        "hello from an import\n"
    );
    // Hostile entries are refused and nothing outside is written.
    let sentinel = s.dir.path().join("sentinel");
    std::fs::create_dir_all(&sentinel).unwrap();
    for hostile in ["../../../sentinel/pwned", "a/../../pwned", "../sentinel"] {
        let r = import("evil", tar_of(&[(hostile, b"x")])).await.unwrap();
        assert_eq!(r.status(), 400, "{hostile}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["statusCode"], 400);
        // Refused for its name, not for a malformed header.
        assert!(v["message"].as_str().unwrap().contains("unsafe"), "{v}");
    }
    assert_eq!(std::fs::read_dir(&sentinel).unwrap().count(), 0);
    // An absolute name is taken relative to the image's root, as GNU tar does.
    let r = import("abs", tar_of(&[("/etc/pwned-abs", b"inside")]))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!std::path::Path::new("/etc/pwned-abs").exists());
    let abs = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "abs", "image": "abs"})),
        )
        .await["container"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        std::fs::read(s.root(&abs).join("etc/pwned-abs")).unwrap(),
        b"inside"
    );
    // Too large: 413.
    let big = tar_of(&[("big", &vec![7u8; 2 << 20])]);
    let r = import("big", big).await.unwrap();
    assert_eq!(r.status(), 413, "{}", r.text().await.unwrap());
    // Bad and taken names.
    let r = import("Bad%20Name", tar_of(&[("f", b"x")])).await.unwrap();
    assert_eq!(r.status(), 400);
    let r = import("mini", tar_of(&[("f", b"x")])).await.unwrap();
    assert_eq!(r.status(), 409);
    let names: Vec<String> = s.admin("GET", "/api/v1/images", None).await["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["abs", "demo", "mini"]);
}

#[tokio::test]
async fn start_is_refused_while_a_restore_runs() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "restoring").await;
    let exec = |script: &'static str| {
        let (s, id) = (&s, id.clone());
        async move {
            s.admin(
                "POST",
                &format!("/api/v1/containers/{id}/exec"),
                Some(json!({"command": ["sh", "-c", script], "timeout_s": 120})),
            )
            .await
        }
    };
    exec("head -c 200000000 /dev/urandom > /root/big").await;
    let snap = s
        .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    exec("rm /root/big").await;
    // The restore rewrites 200 MB; meanwhile the status says so and start is refused.
    let restore_path = format!("/api/v1/containers/{id}/snapshots/{snap}");
    let restore = s.call("PATCH", &restore_path, Some(ADMIN), None);
    let watch = async {
        for _ in 0..2000 {
            let c = s
                .admin("GET", &format!("/api/v1/containers/{id}"), None)
                .await;
            if c["container"]["status"] == "restoring" {
                return Some(
                    s.call(
                        "POST",
                        &format!("/api/v1/containers/{id}/start"),
                        Some(ADMIN),
                        None,
                    )
                    .await,
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        None
    };
    let ((status, v), seen) = tokio::join!(restore, watch);
    assert_eq!(status, 200, "{v}");
    let (start_status, start) = seen.expect("the status never showed restoring");
    assert_eq!(start_status, 409, "{start}");
    assert!(
        start["message"]
            .as_str()
            .unwrap()
            .contains("being restored")
    );
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["status"], "stopped");
    assert_eq!(
        std::fs::metadata(s.root(&id).join("root/big"))
            .unwrap()
            .len(),
        200_000_000
    );
}

#[tokio::test]
async fn schedules_through_the_api() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "sched").await;
    let path = format!("/api/v1/containers/{id}/schedule");
    let (status, v) = s.call("GET", &path, Some(ADMIN), None).await;
    assert_eq!(status, 404, "{v}");
    for (body, needle) in [
        (json!({"schedule": "every day"}), "five cron fields"),
        (json!({"schedule": "* * * * * *"}), "five cron fields"),
        (json!({"schedule": "@daily", "expiry": 0}), "1 to 3650"),
        (
            json!({"schedule": "@daily", "alias_pattern": "%Q"}),
            "strftime",
        ),
    ] {
        let (status, v) = s.call("PUT", &path, Some(ADMIN), Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    let set = s
        .admin(
            "PUT",
            &path,
            Some(json!({"schedule": "0 3 * * *", "expiry": 7, "include_stopped": true})),
        )
        .await;
    let sched = &set["schedule"];
    assert_eq!(sched["schedule"], "0 3 * * *");
    assert_eq!(sched["alias_pattern"], "auto-%Y%m%d-%H%M");
    assert!(
        sched["next_run_at"]
            .as_str()
            .unwrap()
            .contains("T03:00:00.000Z"),
        "{sched}"
    );
    assert_eq!(s.admin("GET", &path, None).await["schedule"], *sched);
    s.admin("DELETE", &path, None).await;
    assert_eq!(s.call("GET", &path, Some(ADMIN), None).await.0, 404);
}
