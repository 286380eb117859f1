//! Containers on runc, against a live server: point-in-time snapshots of running
//! containers (and the test-only switch that shows torn ones without the freeze), the thaw
//! after a crash and after a failed capture, pause and resume, cgroup limits under a fork
//! bomb and a memory hog, and containers that outlive a server restart.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

/// A loop that keeps two counters on opposite ends of the tree (`/aaa/a` is read first and
/// `/zzz/b` last by a capture, with 20,000 files in `/many` between them), each replaced by
/// rename, `a` first: at every instant on disk `a == b` or `a == b + 1`. Meanwhile files
/// appear and vanish in `/mid`. `/ready` appears when the loop starts.
const COUNTERS: &str = "mkdir -p /aaa /zzz /mid /many; n=0; \
    while [ $n -lt 20000 ]; do : > /many/f$n; n=$((n+1)); done; \
    i=0; echo 0 > /aaa/a; echo 0 > /zzz/b; touch /ready; \
    while :; do i=$((i+1)); \
    echo $i > /aaa/a.t; mv /aaa/a.t /aaa/a; \
    touch /mid/f$i; rm -f /mid/f$((i-3)); \
    echo $i > /zzz/b.t; mv /zzz/b.t /zzz/b; \
    done";

async fn create(s: &LiveServer, name: &str, command: &str, limits: Value) -> String {
    let d = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(
                json!({"project_id": "default", "name": name, "image": "demo",
                "command": ["/bin/sh", "-c", command], "limits": limits}),
            ),
        )
        .await;
    d["container"]["id"].as_str().unwrap().to_string()
}

async fn start(s: &LiveServer, id: &str) {
    let c = s
        .admin("POST", &format!("/api/v1/containers/{id}/start"), None)
        .await;
    assert_eq!(c["container"]["status"], "running", "{c}");
}

/// Waits until the counters loop runs.
async fn ready(s: &LiveServer, id: &str) {
    for _ in 0..600 {
        if s.root(id).join("ready").exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the counters loop did not start");
}

/// A file of a snapshot, through the download route.
async fn file_of(s: &LiveServer, id: &str, snap: &str, path: &str) -> String {
    let r = s
        .client
        .get(s.url(&format!(
            "/api/v1/containers/{id}/snapshots/{snap}/files/content?path={path}"
        )))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path} of {snap}");
    r.text().await.unwrap()
}

/// The counters of a snapshot: `(a, b)`.
async fn counters(s: &LiveServer, id: &str, snap: &str) -> (u64, u64) {
    let a = file_of(s, id, snap, "/aaa/a").await;
    let b = file_of(s, id, snap, "/zzz/b").await;
    (a.trim().parse().unwrap(), b.trim().parse().unwrap())
}

fn consistent((a, b): (u64, u64)) -> bool {
    a == b || a == b + 1
}

/// Takes `n` snapshots of a running container; returns their names and `frozen_ms`.
async fn snapshots(s: &LiveServer, id: &str, n: usize) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    for _ in 0..n {
        let v = s
            .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
            .await;
        out.push((
            v["snapshot"]["name"].as_str().unwrap().to_string(),
            v["snapshot"]["frozen_ms"].as_u64(),
        ));
    }
    out
}

#[tokio::test]
async fn snapshots_of_a_running_container_are_one_instant() {
    let s = LiveServer::start(&[]);
    let id = create(&s, "counters", COUNTERS, json!({})).await;
    start(&s, &id).await;
    ready(&s, &id).await;
    let taken = snapshots(&s, &id, 25).await;
    for (name, frozen) in &taken {
        assert!(frozen.is_some(), "{name}: a running container is frozen");
        let c = counters(&s, &id, name).await;
        assert!(consistent(c), "{name} holds a={} b={}: torn", c.0, c.1);
    }
    // The log says how long each freeze was.
    assert!(s.log().contains("frozen_ms"), "{}", s.log());

    // A copy of the live state is one instant too, and so is a diff against it.
    for i in 0..5 {
        let copy = s
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/copy"),
                Some(json!({"target_project_id": "default", "name": format!("live-{i}")})),
            )
            .await;
        let copy_id = copy["container"]["id"].as_str().unwrap();
        let read = |p: &str| {
            std::fs::read_to_string(s.root(copy_id).join(p))
                .unwrap()
                .trim()
                .parse::<u64>()
                .unwrap()
        };
        let c = (read("aaa/a"), read("zzz/b"));
        assert!(
            consistent(c),
            "live copy {i} holds a={} b={}: torn",
            c.0,
            c.1
        );
    }
    let d = s
        .admin(
            "GET",
            &format!(
                "/api/v1/containers/{id}/snapshots/{}/diff?against=live",
                taken[0].0
            ),
            None,
        )
        .await;
    assert!(
        d["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "aaa/a"),
        "{d}"
    );
    assert_eq!(runc_status(&s, &id), "running");

    // Restored, the files are the snapshot's (read from the stopped container's tree).
    let (name, _) = &taken[12];
    let want = counters(&s, &id, name).await;
    s.admin("POST", &format!("/api/v1/containers/{id}/stop"), None)
        .await;
    s.admin(
        "PATCH",
        &format!("/api/v1/containers/{id}/snapshots/{name}"),
        None,
    )
    .await;
    let read = |p: &str| {
        std::fs::read_to_string(s.root(&id).join(p))
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    assert_eq!((read("aaa/a"), read("zzz/b")), want);

    // The container was never left frozen.
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["status"], "stopped");
}

/// Without the freeze (a test-only switch), the same container gives torn snapshots: the
/// check above would catch them.
#[tokio::test]
async fn without_the_freeze_the_same_check_finds_torn_snapshots() {
    let s = LiveServer::start(&[("SNAPLINE_TEST_NO_FREEZE", "1")]);
    let id = create(&s, "torn", COUNTERS, json!({})).await;
    start(&s, &id).await;
    ready(&s, &id).await;
    let mut torn = 0;
    let mut seen = Vec::new();
    for _ in 0..60 {
        let (name, frozen) = snapshots(&s, &id, 1).await.remove(0);
        assert_eq!(frozen, None, "not frozen with the switch");
        let c = counters(&s, &id, &name).await;
        seen.push(c);
        if !consistent(c) {
            torn += 1;
            if torn >= 2 {
                break;
            }
        }
    }
    assert!(torn >= 2, "no torn snapshot in {seen:?}");
}

/// The runtime's word for a container.
fn runc_status(s: &LiveServer, id: &str) -> String {
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(s.data().join("runc"))
        .args(["state", id])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["status"].as_str().unwrap_or("none").to_string()
}

/// A server killed while a container is frozen: the next start thaws it, and it runs on.
#[tokio::test]
async fn a_crash_while_frozen_is_thawed_at_the_next_start() {
    let s = LiveServer::start(&[]);
    // 300 MB of new data: the capture reads it while the container is frozen.
    let id = create(
        &s,
        "big",
        "head -c 300000000 /dev/urandom > /root/big; while :; do sleep 1; done",
        json!({}),
    )
    .await;
    start(&s, &id).await;
    for _ in 0..600 {
        let size = std::fs::metadata(s.root(&id).join("root/big")).map_or(0, |m| m.len());
        if size >= 300_000_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let url = s.url(&format!("/api/v1/containers/{id}/snapshots"));
    let snap = tokio::spawn(async move {
        let _ = reqwest::Client::new()
            .post(url)
            .bearer_auth(ADMIN)
            .send()
            .await;
    });
    let mut frozen = false;
    for _ in 0..400 {
        if runc_status(&s, &id) == "paused" {
            frozen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(frozen, "the snapshot never froze the container");
    let dir = s.kill9();
    snap.abort();
    // Nobody thawed it: it is still frozen until a server starts.
    let s = LiveServer::start_in(dir, &[]);
    assert_eq!(runc_status(&s, &id), "running");
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["status"], "running", "{c}");
    let out = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/exec"),
            Some(json!({"command": ["true"]})),
        )
        .await;
    assert_eq!(out["exit_code"], 0, "{out}");
}

/// A capture that fails thaws the container at once (a test-only fault in the capture).
#[tokio::test]
async fn a_failed_capture_thaws_at_once() {
    let s = LiveServer::start(&[("SNAPLINE_TEST_FAULT", "capture")]);
    let id = create(&s, "fails", "while :; do sleep 1; done", json!({})).await;
    start(&s, &id).await;
    let (status, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 500, "{v}");
    assert_eq!(runc_status(&s, &id), "running");
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["snapshot_count"], 0);
}

#[tokio::test]
async fn pause_and_resume() {
    let s = LiveServer::start(&[]);
    let id = create(&s, "napper", COUNTERS, json!({})).await;
    // Only a running container can be paused.
    let (status, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/pause"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 409, "{v}");
    start(&s, &id).await;
    ready(&s, &id).await;
    let c = s
        .admin("POST", &format!("/api/v1/containers/{id}/pause"), None)
        .await;
    assert_eq!(c["container"]["status"], "paused");
    assert_eq!(runc_status(&s, &id), "paused");
    // Nothing moves while paused: two snapshots hold the same counters, and need no
    // freeze of their own.
    let taken = snapshots(&s, &id, 2).await;
    assert!(taken.iter().all(|(_, f)| f.is_none()), "{taken:?}");
    assert_eq!(
        counters(&s, &id, &taken[0].0).await,
        counters(&s, &id, &taken[1].0).await
    );
    for (path, says) in [
        (format!("/api/v1/containers/{id}/start"), "resume it"),
        (format!("/api/v1/containers/{id}/pause"), "already paused"),
    ] {
        let (status, v) = s.call("POST", &path, Some(ADMIN), None).await;
        assert_eq!(status, 409, "{v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
    }
    let (status, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/exec"),
            Some(ADMIN),
            Some(json!({"command": ["true"]})),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let c = s
        .admin("POST", &format!("/api/v1/containers/{id}/resume"), None)
        .await;
    assert_eq!(c["container"]["status"], "running");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let after = snapshots(&s, &id, 1).await;
    assert!(
        counters(&s, &id, &after[0].0).await.0 > counters(&s, &id, &taken[0].0).await.0,
        "it runs again"
    );
    // A paused container stops (thawed first, so SIGTERM reaches it).
    s.admin("POST", &format!("/api/v1/containers/{id}/pause"), None)
        .await;
    let c = s
        .admin("POST", &format!("/api/v1/containers/{id}/stop"), None)
        .await;
    assert_eq!(c["container"]["status"], "stopped");
    assert_eq!(runc_status(&s, &id), "none");

    // A command that is not there reads as a shell says it, running or not.
    for running in [false, true] {
        if running {
            start(&s, &id).await;
        }
        let out = s
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/exec"),
                Some(json!({"command": ["nosuchcmd", "--x"]})),
            )
            .await;
        assert_eq!(out["exit_code"], 127, "{out}");
        assert!(
            out["stderr"]
                .as_str()
                .unwrap()
                .contains("no such command \"nosuchcmd\""),
            "{out}"
        );
    }
}

/// A fork bomb under a pids limit and a memory hog under a memory limit: each is contained,
/// and the server and another container keep working.
#[tokio::test]
async fn limits_contain_a_fork_bomb_and_a_memory_hog() {
    let s = LiveServer::start(&[("SNAPLINE_STOP_TIMEOUT_S", "2")]);
    let bystander = create(&s, "bystander", "while :; do sleep 1; done", json!({})).await;
    start(&s, &bystander).await;

    let bomb = create(
        &s,
        "bomb",
        "f() { f | f & }; f; while :; do sleep 1; done",
        json!({"pids": 64}),
    )
    .await;
    start(&s, &bomb).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let cgroup = format!("/sys/fs/cgroup/pids/snapline/{bomb}/pids.current");
    let pids_current = match std::fs::read_to_string(&cgroup) {
        Ok(text) => text,
        // Seen once on a loaded machine: say what state the container was in.
        Err(e) => {
            let c = s
                .admin("GET", &format!("/api/v1/containers/{bomb}"), None)
                .await;
            panic!("{cgroup}: {e}; the container: {c}\n{}", s.log())
        }
    };
    assert!(
        pids_current.trim().parse::<u64>().unwrap() <= 64,
        "{pids_current}"
    );
    let out = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{bystander}/exec"),
            Some(json!({"command": ["echo", "fine"]})),
        )
        .await;
    assert_eq!(out["stdout"], "fine\n", "{out}");
    s.admin("POST", &format!("/api/v1/containers/{bomb}/stop"), None)
        .await;

    let hog = create(
        &s,
        "hog",
        "while :; do sleep 1; done",
        json!({"memory_mb": 32}),
    )
    .await;
    start(&s, &hog).await;
    // 200 MB held in one shell variable: past the limit, the kernel kills it.
    let out = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{hog}/exec"),
            Some(json!({"command": ["/bin/sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' x); echo survived ${#x}"]})),
        )
        .await;
    assert_ne!(out["exit_code"], 0, "{out}");
    assert!(
        !out["stdout"].as_str().unwrap().contains("survived"),
        "{out}"
    );
    let c = s
        .admin("GET", &format!("/api/v1/containers/{hog}"), None)
        .await;
    assert_eq!(c["container"]["limits"]["memory_mb"], 32);
    let out = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{bystander}/exec"),
            Some(json!({"command": ["echo", "still fine"]})),
        )
        .await;
    assert_eq!(out["stdout"], "still fine\n", "{out}");

    // Out-of-range limits are refused before anything is made.
    for (limits, says) in [
        (json!({"memory_mb": 1}), "limits.memory_mb"),
        (json!({"pids": 0}), "limits.pids"),
        (json!({"cpus": 0}), "limits.cpus"),
        (json!({"cpus": 1.0, "memory": 5}), "unknown field"),
    ] {
        let (status, v) = s
            .call(
                "POST",
                "/api/v1/containers",
                Some(ADMIN),
                Some(json!({"project_id": "default", "name": "bad", "image": "demo", "limits": limits})),
            )
            .await;
        assert_eq!(status, 400, "{v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
    }
}

/// Containers outlive the server: after a restart the server re-attaches, exec works, and
/// the command's end is still reported.
#[tokio::test]
async fn containers_keep_running_across_a_server_restart() {
    let s = LiveServer::start(&[]);
    let id = create(
        &s,
        "survivor",
        "while [ ! -e /root/done ]; do sleep 0.1; done; exit 7",
        json!({}),
    )
    .await;
    start(&s, &id).await;
    let dir = s.kill9();
    let s = LiveServer::start_in(dir, &[]);
    let c = s
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(c["container"]["status"], "running", "{c}");
    let out = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/exec"),
            Some(json!({"command": ["touch", "/root/done"]})),
        )
        .await;
    assert_eq!(out["exit_code"], 0, "{out}");
    // Its end (exit 7) reaches the new server: failed.
    let mut status = String::new();
    for _ in 0..100 {
        let c = s
            .admin("GET", &format!("/api/v1/containers/{id}"), None)
            .await;
        status = c["container"]["status"].as_str().unwrap().to_string();
        if status != "running" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, "failed");
}

/// Appends a line to `/data/state` every 100 ms for 30 s, making `/data` again whenever it
/// is gone (issue 16 #3).
const WRITER: &str = "i=0; while [ $i -lt 300 ]; do mkdir -p /data; echo $i >> /data/state; \
    i=$((i+1)); sleep 0.1; done";

/// Waits until the writer has written into the live tree.
async fn writing(s: &LiveServer, id: &str) {
    for _ in 0..600 {
        if s.root(id).join("data/state").exists() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the exec'd writer did not start");
}

/// A whole restore while a command started with `exec` writes into the tree: in a running
/// container (`runc exec`, ended with the container) and in a stopped one (a one-off
/// container on its tree, ended by the restore). After the 200 the tree equals the snapshot
/// and stays so: nothing writes into it any more.
#[tokio::test]
async fn a_restore_ends_commands_started_with_exec() {
    let s = LiveServer::start(&[]);
    for running in [false, true] {
        let name = if running {
            "exec-running"
        } else {
            "exec-stopped"
        };
        let id = create(&s, name, "while :; do sleep 1; done", json!({})).await;
        let snap = s.snapshot(&id, None).await;
        if running {
            start(&s, &id).await;
        }
        let exec_path = format!("/api/v1/containers/{id}/exec");
        let exec = s.call(
            "POST",
            &exec_path,
            Some(ADMIN),
            Some(json!({"command": ["/bin/sh", "-c", WRITER], "timeout_s": 60})),
        );
        let restore = async {
            writing(&s, &id).await;
            s.admin(
                "PATCH",
                &format!("/api/v1/containers/{id}/snapshots/{snap}"),
                Some(json!({})),
            )
            .await;
            // Right after the answer, and a while later: the snapshot had no /data.
            assert!(!s.root(&id).join("data").exists(), "{name}: right after");
            tokio::time::sleep(std::time::Duration::from_millis(700)).await;
            assert!(!s.root(&id).join("data").exists(), "{name}: 700 ms later");
        };
        let ((status, out), ()) = tokio::join!(exec, restore);
        let c = s
            .admin("GET", &format!("/api/v1/containers/{id}"), None)
            .await;
        assert_eq!(
            c["container"]["status"],
            if running { "running" } else { "stopped" },
            "{c}"
        );
        // The command was ended (SIGKILL), long before its 30 s.
        assert_eq!(status, 200, "{out}");
        assert_ne!(out["data"]["exit_code"], 0, "{name}: {out}");
        assert_eq!(out["data"]["timed_out"], false, "{name}: {out}");
        if !running {
            // Ended on purpose, and the answer says why.
            let stderr = out["data"]["stderr"].as_str().unwrap_or_default();
            assert!(stderr.contains("is being restored"), "{name}: {out}");
        }
        // And commands run again afterwards.
        let (status, again) = s
            .call(
                "POST",
                &format!("/api/v1/containers/{id}/exec"),
                Some(ADMIN),
                Some(json!({"command": ["/bin/sh", "-c", "echo ok"]})),
            )
            .await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["data"]["stdout"], "ok\n", "{again}");
    }
}
