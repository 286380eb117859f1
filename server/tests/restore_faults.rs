//! A restore that fails half-way (issue 16 #2), through the real server: a folder of the
//! container that the host made a read-only mount stops the restore after some files
//! changed. (An immutable file no longer does: a restore clears and sets back inode flags,
//! see the engine's `inode_flags` test.) The container is then
//! marked as needing attention and does not start or run commands on the half-restored
//! tree; a server restart neither exits nor rolls the old restore forward; one container's
//! failed recovery never keeps the others from serving; and restoring again finishes.

mod common;

use std::path::Path;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

/// A read-only bind mount of a folder over itself (what a host does to protect a folder),
/// undone when dropped, even when an assertion fails.
struct ReadOnly(std::path::PathBuf);

impl ReadOnly {
    fn mount(dir: &Path) -> ReadOnly {
        let run = |args: &[&str]| {
            let out = std::process::Command::new("mount")
                .args(args)
                .arg(dir)
                .arg(dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "mount {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        run(&["--bind"]);
        let guard = ReadOnly(dir.to_path_buf());
        run(&["-o", "remount,ro,bind"]);
        guard
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The files of `/data`: `f01`…`f05`, `f06/x` and `f07`…`f11`, in the order a restore
/// visits them.
fn files(root: &Path) -> Vec<(String, String)> {
    (1..=11)
        .map(|i| {
            let name = if i == 6 {
                "f06/x".to_string()
            } else {
                format!("f{i:02}")
            };
            let text = std::fs::read_to_string(root.join("data").join(&name)).unwrap_or_default();
            (name, text)
        })
        .collect()
}

fn write_all(root: &Path, text: &str) {
    std::fs::create_dir_all(root.join("data/f06")).unwrap();
    for (name, _) in files(root) {
        std::fs::write(root.join("data").join(name), text).unwrap();
    }
}

async fn container(s: &LiveServer, id: &str) -> Value {
    s.admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await["container"]
        .clone()
}

async fn refused(s: &LiveServer, method: &str, path: &str, body: Option<Value>) -> String {
    let (status, v) = s.call(method, path, Some(ADMIN), body).await;
    assert_eq!(status, 409, "{method} {path}: {v}");
    v["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_restore_that_fails_half_way_needs_attention_and_never_rolls_forward() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "half").await;
    let other = s.container("default", "bystander").await;
    let root = s.root(&id);
    write_all(&root, "old\n");
    let snap = s.snapshot(&id, None).await;
    write_all(&root, "new\n");
    let mount = ReadOnly::mount(&root.join("data/f06"));

    // The restore fails part-way: earlier files are restored, f06 and later are not.
    let restore = format!("/api/v1/containers/{id}/snapshots/{snap}");
    let (status, v) = s
        .call("PATCH", &restore, Some(ADMIN), Some(json!({})))
        .await;
    // 409 with what happened, in the container's own paths (never the host's), and what to
    // do next.
    assert_eq!(status, 409, "{v}");
    let says = v["message"].as_str().unwrap_or_default();
    assert!(
        says.contains("cannot write /data/f06/x: its folder is on another filesystem")
            && says.contains("partly restored")
            && !says.contains("containers/"),
        "{says}"
    );
    let now = files(&root);
    assert_eq!(now[0].1, "old\n", "{now:?}");
    assert_eq!(now[10].1, "new\n", "{now:?}");

    // Marked, with what happened and what to do.
    let c = container(&s, &id).await;
    assert_eq!(c["status"], "failed", "{c}");
    let attention = c["attention"].as_str().unwrap_or_default().to_string();
    assert!(
        attention.contains(&format!("the restore of {snap}"))
            && attention.contains("did not finish")
            && attention.contains("restore a snapshot again"),
        "{attention}"
    );
    assert!(container(&s, &other).await["attention"].is_null());

    // Nothing runs on the half-restored tree, and other paths cannot clear the mark.
    let says = refused(&s, "POST", &format!("/api/v1/containers/{id}/start"), None).await;
    assert!(says.contains("partly restored"), "{says}");
    let says = refused(
        &s,
        "POST",
        &format!("/api/v1/containers/{id}/exec"),
        Some(json!({"command": ["/bin/true"]})),
    )
    .await;
    assert!(says.contains("partly restored"), "{says}");
    let says = refused(&s, "PATCH", &restore, Some(json!({"paths": ["/etc"]}))).await;
    assert!(says.contains("did not finish"), "{says}");
    let says = refused(
        &s,
        "POST",
        &format!("/api/v1/containers/{id}/copy"),
        Some(json!({"target_project_id": "default", "name": "half-copy"})),
    )
    .await;
    assert!(
        says.contains("snapshot it and copy that snapshot"),
        "{says}"
    );

    // A restart, the mount still there: the server serves, the mark stays.
    let dir = s.kill9();
    let s = LiveServer::start_in(dir, &[]);
    assert_eq!(container(&s, &other).await["status"], "stopped");
    assert!(container(&s, &id).await["attention"].is_string());

    // The same after a crash mid-restore whose recovery now fails: the journal says
    // "interrupted" (no failure recorded), the server tries once, fails, marks it, serves.
    let db = s.db_url.clone();
    let dir = s.kill9();
    {
        let pool = engine::db::open(&db).await.unwrap();
        sqlx::query("UPDATE engine_restore_journal SET failed = NULL")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let s = LiveServer::start_in(dir, &[]);
    assert_eq!(container(&s, &other).await["status"], "stopped");
    let c = container(&s, &id).await;
    assert_eq!(c["status"], "failed", "{c}");
    assert!(c["attention"].is_string(), "{c}");

    // Work done on the host after the mount is gone is not wiped by a silent roll forward
    // at the next start: only a restore a person asks for changes the tree.
    drop(mount);
    std::fs::write(root.join("data/f11"), "newer work\n").unwrap();
    let dir = s.kill9();
    let s = LiveServer::start_in(dir, &[]);
    assert_eq!(
        std::fs::read_to_string(root.join("data/f11")).unwrap(),
        "newer work\n"
    );
    assert!(container(&s, &id).await["attention"].is_string());

    // Restoring again finishes: every file as in the snapshot, the mark gone, start works.
    s.admin("PATCH", &restore, Some(json!({}))).await;
    assert!(files(&root).iter().all(|(_, t)| t == "old\n"));
    let c = container(&s, &id).await;
    assert_eq!(c["status"], "stopped", "{c}");
    assert!(c["attention"].is_null(), "{c}");
    let c = s
        .admin("POST", &format!("/api/v1/containers/{id}/start"), None)
        .await;
    assert_eq!(c["container"]["status"], "running", "{c}");
    s.admin("POST", &format!("/api/v1/containers/{id}/stop"), None)
        .await;
}
