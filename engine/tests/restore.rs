//! Restore in place: exact, minimal, safe against a hostile live tree, and all-or-nothing
//! against a damaged store.

mod common;

async fn open(dir: &Path) -> (Engine, engine::DbPool) {
    let pool = common::pool(dir).await;
    (
        Engine::open(&dir.join("data"), pool.clone()).await.unwrap(),
        pool,
    )
}

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use engine::{ContainerId, Engine, EngineError, RootSource, SnapshotOptions};

fn id() -> ContainerId {
    ContainerId::from_bytes([7; 12])
}

/// A container made from the fixture, snapshotted. Returns the engine, the snapshot name,
/// the tree as it was, and a host sentinel directory with its description.
async fn setup(
    tmp: &Path,
) -> (
    Engine,
    engine::DbPool,
    String,
    common::Tree,
    std::path::PathBuf,
    common::Tree,
) {
    let image = tmp.join("image");
    fs::create_dir(&image).unwrap();
    common::build_fixture(&image);
    let (e, pool) = open(tmp).await;
    e.create_root(&id(), RootSource::Directory(image))
        .await
        .unwrap();
    let s = e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();
    let want = common::describe(&e.root_path(&id()));
    let sentinel = tmp.join("sentinel");
    fs::create_dir_all(sentinel.join("etc")).unwrap();
    fs::write(sentinel.join("etc/passwd"), b"root:x:0:0\n").unwrap();
    fs::write(sentinel.join("victim"), b"do not touch").unwrap();
    let sentinel_before = common::describe(&sentinel);
    (e, pool, s.name, want, sentinel, sentinel_before)
}

#[tokio::test]
async fn restore_undoes_every_kind_of_change_and_touches_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, want, sentinel, sentinel_before) = setup(tmp.path()).await;
    let root = e.root_path(&id());

    // Content, deletion, addition.
    fs::write(root.join("etc/hostname"), b"hacked\n").unwrap();
    fs::remove_file(root.join("usr/bin/big")).unwrap();
    fs::write(root.join("new-file"), b"new").unwrap();
    fs::create_dir_all(root.join("new-dir/sub")).unwrap();
    // Metadata only.
    fs::set_permissions(root.join("usr/bin/sudo"), fs::Permissions::from_mode(0o755)).unwrap();
    common::lchown(&root.join("usr/bin/sgid"), 0, 0);
    common::set_xattr(&root.join("usr/bin/ping"), "user.extra", b"added");
    common::set_mtime(&root.join("etc"), 1, 1);
    // Type changes.
    fs::remove_dir_all(root.join("etc/empty.d")).unwrap();
    fs::write(root.join("etc/empty.d"), b"now a file").unwrap();
    fs::remove_file(root.join("etc/empty-file")).unwrap();
    fs::create_dir(root.join("etc/empty-file")).unwrap();
    fs::remove_file(root.join("etc/fifo")).unwrap();
    fs::write(root.join("etc/fifo"), b"regular now").unwrap();
    // Hostile symlinks where the snapshot has a file and a directory (attack 3).
    fs::remove_file(root.join("usr/bin/zeros")).unwrap();
    std::os::unix::fs::symlink(sentinel.join("victim"), root.join("usr/bin/zeros")).unwrap();
    fs::remove_dir_all(root.join("names")).unwrap();
    std::os::unix::fs::symlink(&sentinel, root.join("names")).unwrap();
    // A symlink with a different target, and a broken hardlink group.
    fs::remove_file(root.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("/somewhere/else", root.join("abs-link")).unwrap();
    fs::remove_file(root.join("usr/hostname-link")).unwrap();
    fs::write(root.join("usr/hostname-link"), b"snapline\n").unwrap();
    // The sparse file grows data in its hole.
    let f = fs::OpenOptions::new()
        .write(true)
        .open(root.join("sparse.img"))
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"filled", 100 << 20).unwrap();
    drop(f);
    // The root directory itself.
    fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();

    let (_, stats) = e.restore(&id(), &name).await.unwrap();
    assert!(stats.files_written >= 4, "{stats:?}");
    let got = common::describe(&root);
    for (path, d) in &want {
        assert_eq!(got.get(path), Some(d), "{}", path.display());
    }
    assert_eq!(got.len(), want.len());
    assert_eq!(
        common::describe(&sentinel),
        sentinel_before,
        "a host file changed"
    );
    assert!(!e.restore_pending(&id()).await.unwrap());
    assert!(e.get(&id(), &name).await.unwrap().last_used_at.is_some());
}

#[tokio::test]
async fn restore_writes_only_what_changed_and_the_next_snapshot_reads_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, want, _, _) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    std::thread::sleep(std::time::Duration::from_millis(100));
    // Let the stat cache see the tree as snapshotted.
    e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();
    fs::write(root.join("etc/hostname-2"), b"x").unwrap();
    fs::write(root.join("usr/bin/sgid"), b"y").unwrap();

    let (_, stats) = e.restore(&id(), &name).await.unwrap();
    assert_eq!(stats.files_written, 1, "{stats:?}");
    assert_eq!(stats.bytes_written, 1, "{stats:?}");
    assert_eq!(stats.removed, 1, "{stats:?}");
    assert_eq!(common::describe(&root), want);

    // The restore left a stat cache that describes the restored tree.
    let again = e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();
    assert_eq!(again.top_tree, e.get(&id(), &name).await.unwrap().top_tree);
}

#[tokio::test]
async fn a_damaged_store_fails_the_restore_before_the_live_tree_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, _, name, _, _, _) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    fs::write(root.join("usr/bin/big"), b"overwritten").unwrap();
    fs::write(root.join("extra"), b"extra").unwrap();
    let before = common::describe(&root);

    // Flip one bit in every pack: whatever the restore needs is damaged.
    let packs = tmp.path().join("data/store/packs");
    for dir in fs::read_dir(&packs).unwrap() {
        let dir = dir.unwrap().path();
        if dir.ends_with("tmp") {
            continue;
        }
        for p in fs::read_dir(&dir).unwrap() {
            let p = p.unwrap().path();
            let mut bytes = fs::read(&p).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x10;
            fs::write(&p, bytes).unwrap();
        }
    }
    let err = e.restore(&id(), &name).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Store(_) | EngineError::Materialize(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("damaged"), "{err}");
    assert_eq!(common::describe(&root), before, "the live tree changed");
    assert!(!e.restore_pending(&id()).await.unwrap());
}

#[tokio::test]
async fn an_interrupted_restore_is_reported_and_finished_by_recover() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, pool, name, want, _, _) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    let top = e.get(&id(), &name).await.unwrap().top_tree;
    // The state a crash in the middle of applying leaves: the journal row, a tree that is
    // partly old and partly new.
    engine::catalog::Catalog::new(pool)
        .journal_begin(&id(), &name, &top, None, chrono::Utc::now())
        .await
        .unwrap();
    fs::remove_file(root.join("etc/hostname")).unwrap();
    fs::write(root.join("half-written"), b"...").unwrap();
    drop(e);

    let (e, _) = open(tmp.path()).await;
    assert!(
        e.restore_pending(&id()).await.unwrap(),
        "the container must not start yet"
    );
    assert_eq!(e.recover().await.unwrap().finished, vec![id()]);
    assert!(!e.restore_pending(&id()).await.unwrap());
    assert_eq!(common::describe(&root), want);
}
