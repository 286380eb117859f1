//! Partial restore: the selected paths become exactly as in the snapshot (deletions below a
//! folder included), everything else in the live tree stays as it is; a missing path, a
//! symlinked parent and an interrupted run are all handled before or without harm.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use engine::{ContainerId, Engine, EngineError, RootSource, Selection, SnapshotOptions};

fn id() -> ContainerId {
    ContainerId::from_bytes([9; 12])
}

async fn open(dir: &Path) -> (Engine, engine::DbPool) {
    let pool = common::pool(dir).await;
    (
        Engine::open(&dir.join("data"), pool.clone()).await.unwrap(),
        pool,
    )
}

/// The fixture as a container, snapshotted: engine, pool, snapshot name, tree as it was.
async fn setup(tmp: &Path) -> (Engine, engine::DbPool, String, common::Tree) {
    let image = tmp.join("image");
    fs::create_dir(&image).unwrap();
    common::build_fixture(&image);
    let (e, pool) = open(tmp).await;
    e.create_root(&id(), RootSource::Directory(image))
        .await
        .unwrap();
    let s = e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();
    let want = common::describe(&e.root_path(&id()));
    (e, pool, s.name, want)
}

fn sel(paths: &[&str]) -> Selection {
    Selection::parse(paths).unwrap().unwrap()
}

fn is_under(rel: &Path, p: &str) -> bool {
    rel.starts_with(p.trim_start_matches('/'))
}

/// `got` equals `want` at and below each selected path, and equals `before` everywhere
/// else, except the folders above a selected path (their mtime moves when a child is
/// replaced; that they still exist is checked).
fn assert_only_selected(
    got: &common::Tree,
    want: &common::Tree,
    before: &common::Tree,
    paths: &[&str],
) {
    let selected = |rel: &Path| paths.iter().any(|p| is_under(rel, p));
    let ancestor = |rel: &Path| {
        paths
            .iter()
            .any(|p| Path::new(p.trim_start_matches('/')).starts_with(rel) && !selected(rel))
    };
    let keys: std::collections::BTreeSet<&PathBuf> =
        got.keys().chain(want.keys()).chain(before.keys()).collect();
    for k in keys {
        if ancestor(k) {
            assert!(got.contains_key(k), "{} vanished", k.display());
        } else if selected(k) {
            assert_eq!(got.get(k), want.get(k), "selected {} differs", k.display());
        } else {
            assert_eq!(got.get(k), before.get(k), "{} outside changed", k.display());
        }
    }
}

#[tokio::test]
async fn only_the_selected_paths_become_as_in_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, want) = setup(tmp.path()).await;
    let root = e.root_path(&id());

    // Inside the selection: an addition, a content change, a deletion, a type change and
    // metadata changes.
    fs::write(root.join("etc/added-by-ai"), b"new").unwrap();
    fs::write(root.join("etc/empty-file"), b"no longer empty").unwrap();
    fs::remove_file(root.join("etc/fifo")).unwrap();
    fs::remove_dir_all(root.join("etc/empty.d")).unwrap();
    fs::write(root.join("etc/empty.d"), b"a file now").unwrap();
    common::set_xattr(&root.join("etc"), "user.dir-attr", b"changed");
    fs::set_permissions(root.join("usr/bin/sudo"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("usr/bin/sudo"), b"#!/bin/sh\necho pwned\n").unwrap();
    // Outside: work the user wants to keep.
    fs::write(root.join("usr/bin/big"), b"rewritten").unwrap();
    fs::write(root.join("kept-new-file"), b"keep me").unwrap();
    fs::remove_file(root.join("names/-dash")).unwrap();
    fs::create_dir(root.join("etc-sibling")).unwrap();
    let before = common::describe(&root);

    let paths = ["/etc", "/usr/bin/sudo"];
    let (snap, stats) = e
        .restore_paths(&id(), &name, Some(&sel(&paths)))
        .await
        .unwrap();
    assert_eq!(snap.name, name);
    assert!(stats.files_written >= 2, "{stats:?}");
    assert!(stats.removed >= 2, "{stats:?}");
    assert_only_selected(&common::describe(&root), &want, &before, &paths);
    assert!(!e.restore_pending(&id()).await.unwrap());

    // The stat cache still describes the tree: a snapshot now holds exactly the live tree.
    let s2 = e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();
    let copy = ContainerId::from_bytes([10; 12]);
    e.copy(&id(), engine::CopySource::Snapshot(s2.name), &copy)
        .await
        .unwrap();
    assert_eq!(
        common::describe(&e.root_path(&copy)),
        common::describe(&root)
    );
}

#[tokio::test]
async fn a_single_file_is_restored_and_its_folder_keeps_its_other_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, want) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    fs::write(root.join("names/...").as_path(), b"overwritten by an AI").unwrap();
    fs::write(root.join("names/brand-new"), b"stays").unwrap();
    let before = common::describe(&root);
    let paths = ["/names/..."];
    e.restore_paths(&id(), &name, Some(&sel(&paths)))
        .await
        .unwrap();
    let got = common::describe(&root);
    assert_only_selected(&got, &want, &before, &paths);
    assert_eq!(fs::read(root.join("names/...")).unwrap(), b"...");
    assert_eq!(fs::read(root.join("names/brand-new")).unwrap(), b"stays");
}

#[tokio::test]
async fn a_path_the_snapshot_lacks_is_named_and_nothing_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, _) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    fs::write(root.join("etc/hostname"), b"changed\n").unwrap();
    let before = common::describe(&root);
    for p in ["/etc/nginx", "/etc/hostname/below-a-file"] {
        let err = e
            .restore_paths(&id(), &name, Some(&sel(&["/usr/bin", p])))
            .await
            .unwrap_err();
        match &err {
            EngineError::NoSuchPath { path, .. } => assert_eq!(path, p),
            other => panic!("expected NoSuchPath, got {other:?}"),
        }
        assert!(err.to_string().contains(p), "{err}");
        let err = e.check_paths(&id(), &name, &sel(&[p])).await.unwrap_err();
        assert!(matches!(err, EngineError::NoSuchPath { .. }), "{err:?}");
    }
    // Several missing at once: each is named, in path order.
    let err = e
        .restore_paths(
            &id(),
            &name,
            Some(&sel(&["/usr/bin", "/zz/gone", "/etc/nope"])),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "snapshot {name} of container {} has nothing at \"/etc/nope\" nor at \"/zz/gone\"",
            id()
        )
    );
    e.check_paths(&id(), &name, &sel(&["/etc/hostname", "/usr"]))
        .await
        .unwrap();
    assert_eq!(common::describe(&root), before);
    assert!(!e.restore_pending(&id()).await.unwrap());
}

#[tokio::test]
async fn a_symlinked_parent_is_refused_and_never_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, _) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    // The container replaced /etc with a symlink to a host directory (attack 3).
    let host = tmp.path().join("host-etc");
    fs::create_dir(&host).unwrap();
    fs::write(host.join("hostname"), b"host file").unwrap();
    fs::remove_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink(&host, root.join("etc")).unwrap();
    let (before, host_before) = (common::describe(&root), common::describe(&host));

    let err = e
        .restore_paths(&id(), &name, Some(&sel(&["/etc/hostname"])))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::LiveConflict(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("/etc is a symlink") && msg.contains("restore /etc itself"),
        "{msg}"
    );
    assert_eq!(common::describe(&root), before);
    assert_eq!(common::describe(&host), host_before);

    // Restoring /etc itself replaces the symlink, and the host stays untouched.
    e.restore_paths(&id(), &name, Some(&sel(&["/etc"])))
        .await
        .unwrap();
    assert!(root.join("etc").symlink_metadata().unwrap().is_dir());
    assert_eq!(fs::read(root.join("etc/hostname")).unwrap(), b"snapline\n");
    assert_eq!(common::describe(&host), host_before);
}

#[tokio::test]
async fn missing_parents_are_made_with_the_snapshot_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, want) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    fs::remove_dir_all(root.join("usr")).unwrap();
    e.restore_paths(&id(), &name, Some(&sel(&["/usr/bin/ping"])))
        .await
        .unwrap();
    let got = common::describe(&root);
    for k in ["usr", "usr/bin", "usr/bin/ping"] {
        assert_eq!(got.get(Path::new(k)), want.get(Path::new(k)), "{k}");
    }
    // Only the asked-for file came back, not its siblings.
    assert!(!root.join("usr/bin/sudo").exists());
    assert!(!root.join("usr/hostname-link").exists());
}

#[tokio::test]
async fn an_interrupted_partial_restore_is_finished_for_its_paths_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, pool, name, want) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    let top = e.get(&id(), &name).await.unwrap().top_tree;
    fs::write(root.join("etc/added"), b"half-way").unwrap();
    fs::write(root.join("outside-work"), b"must survive recovery").unwrap();
    let before = common::describe(&root);
    // What a crash while applying a partial restore of /etc leaves: its journal row.
    engine::catalog::Catalog::new(pool)
        .journal_begin(
            &id(),
            &name,
            &top,
            Some(&[b"/etc".to_vec()]),
            chrono::Utc::now(),
        )
        .await
        .unwrap();
    drop(e);

    let (e, _) = open(tmp.path()).await;
    assert!(e.restore_pending(&id()).await.unwrap());
    assert_eq!(e.recover().await.unwrap().finished, vec![id()]);
    assert!(!e.restore_pending(&id()).await.unwrap());
    assert_only_selected(&common::describe(&root), &want, &before, &["/etc"]);
    assert_eq!(
        fs::read(root.join("outside-work")).unwrap(),
        b"must survive recovery"
    );
}
