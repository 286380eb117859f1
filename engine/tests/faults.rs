//! Fail points across snapshot, restore, copy, delete, GC and expiry. After each injected
//! failure the engine is reopened (as after a crash and restart): `verify` must be clean,
//! every earlier snapshot must copy out exactly, a half-made snapshot must be invisible, and
//! an interrupted restore must be finished by `recover`.
//!
//! The fail point registry is global, so every test holds a `FailScenario` (which also
//! serializes them).

mod common;

use common::open_engine as open;

use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use engine::{ContainerId, CopySource, Engine, RootSource, SnapshotOptions};

fn cid(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

/// A container with one snapshot; returns the engine and (snapshot, tree) pairs.
async fn setup(tmp: &Path) -> (Engine, Vec<(String, common::Tree)>) {
    let image = tmp.join("image");
    std::fs::create_dir(&image).unwrap();
    common::build_fixture(&image);
    let e = open(tmp).await;
    e.create_root(&cid(1), RootSource::Directory(image))
        .await
        .unwrap();
    let root = e.root_path(&cid(1));
    std::fs::write(root.join("unique.bin"), common::noise(600_000, 42)).unwrap();
    let s = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap();
    let tree = common::describe(&root);
    // A change after the snapshot, so restores have work to do.
    std::fs::write(root.join("etc/hostname"), b"changed since\n").unwrap();
    std::fs::remove_file(root.join("usr/bin/big")).unwrap();
    (e, vec![(s.name, tree)])
}

/// Reopens the engine as after a restart and checks everything that must hold.
/// The caller must have dropped every other engine on this directory (it is locked).
async fn check_healthy(tmp: &Path, snaps: &[(String, common::Tree)], copy_to: u8) -> Engine {
    let e = open(tmp).await;
    e.recover().await.unwrap();
    let report = e.verify(true).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    let listed: Vec<String> = e
        .list(&cid(1))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut want: Vec<String> = snaps.iter().map(|(n, _)| n.clone()).collect();
    want.sort();
    let mut got = listed.clone();
    got.sort();
    assert_eq!(got, want, "a half-made snapshot is visible, or one is lost");
    for (i, (name, tree)) in snaps.iter().enumerate() {
        let to = cid(copy_to + i as u8);
        e.copy(&cid(1), CopySource::Snapshot(name.clone()), &to)
            .await
            .unwrap();
        assert_eq!(
            &common::describe(&e.root_path(&to)),
            tree,
            "snapshot {name} does not copy out exactly"
        );
    }
    e
}

#[tokio::test]
async fn snapshot_interrupted_at_every_point() {
    for (i, point) in [
        "snapshot::before_capture",
        "storage::before_rename",
        "snapshot::after_packs",
        "snapshot::before_row",
    ]
    .into_iter()
    .enumerate()
    {
        let scenario = fail::FailScenario::setup();
        let tmp = tempfile::tempdir().unwrap();
        let (e, snaps) = setup(tmp.path()).await;
        fail::cfg(point, "return").unwrap();
        let r = e.snapshot(&cid(1), SnapshotOptions::default()).await;
        assert!(r.is_err(), "{point}: {r:?}");
        fail::cfg(point, "off").unwrap();
        drop(e);
        let e = check_healthy(tmp.path(), &snaps, 10 + i as u8 * 4).await;
        // Normal work resumes.
        e.snapshot(&cid(1), SnapshotOptions::default())
            .await
            .unwrap();
        scenario.teardown();
    }
}

#[tokio::test]
async fn restore_interrupted_before_and_during_apply() {
    let scenario = fail::FailScenario::setup();
    let tmp = tempfile::tempdir().unwrap();
    let (e, snaps) = setup(tmp.path()).await;
    let root = e.root_path(&cid(1));
    let live_before = common::describe(&root);

    // Before the journal: nothing changed, nothing pending.
    fail::cfg("restore::after_stage", "return").unwrap();
    assert!(e.restore(&cid(1), &snaps[0].0).await.is_err());
    fail::cfg("restore::after_stage", "off").unwrap();
    assert_eq!(common::describe(&root), live_before);
    assert!(!e.restore_pending(&cid(1)).await.unwrap());

    // An error in the middle of applying: pending, marked failed with why (issue 16 #2)...
    fail::cfg("restore::apply_entry", "5*off->return").unwrap();
    assert!(e.restore(&cid(1), &snaps[0].0).await.is_err());
    fail::cfg("restore::apply_entry", "off").unwrap();
    let pending = e.pending_restore(&cid(1)).await.unwrap().unwrap();
    assert!(
        pending
            .failed
            .as_deref()
            .unwrap_or("")
            .contains("fail point"),
        "{pending:?}"
    );
    drop(e);
    // ...which a restart does not roll forward behind anyone's back...
    let e = open(tmp.path()).await;
    let r = e.recover().await.unwrap();
    assert!(r.finished.is_empty(), "{r:?}");
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(e.restore_pending(&cid(1)).await.unwrap());
    // ...and restoring the same snapshot again finishes.
    e.restore(&cid(1), &snaps[0].0).await.unwrap();
    drop(e);
    let e = check_healthy(tmp.path(), &snaps, 20).await;
    assert!(!e.restore_pending(&cid(1)).await.unwrap());
    assert_eq!(
        common::describe(&root),
        snaps[0].1,
        "recover did not finish the restore"
    );
    scenario.teardown();
}

#[tokio::test]
async fn copy_interrupted_halfway_leaves_no_container_and_can_be_retried() {
    let scenario = fail::FailScenario::setup();
    let tmp = tempfile::tempdir().unwrap();
    let (e, snaps) = setup(tmp.path()).await;
    fail::cfg("materialize::entry", "7*off->return").unwrap();
    assert!(
        e.copy(&cid(1), CopySource::Snapshot(snaps[0].0.clone()), &cid(30))
            .await
            .is_err()
    );
    fail::cfg("materialize::entry", "off").unwrap();
    drop(e);
    let e = check_healthy(tmp.path(), &snaps, 40).await;
    e.copy(&cid(1), CopySource::Snapshot(snaps[0].0.clone()), &cid(30))
        .await
        .unwrap();
    assert_eq!(common::describe(&e.root_path(&cid(30))), snaps[0].1);
    scenario.teardown();
}

#[tokio::test]
async fn delete_gc_and_expire_interrupted() {
    let scenario = fail::FailScenario::setup();
    let tmp = tempfile::tempdir().unwrap();
    let (mut e, mut snaps) = setup(tmp.path()).await;
    let root = e.root_path(&cid(1));
    // A second snapshot to delete, holding data only it needs.
    std::fs::write(root.join("doomed.bin"), common::noise(900_000, 7)).unwrap();
    let doomed = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap();

    fail::cfg("delete::before_row", "return").unwrap();
    assert!(e.delete(&cid(1), &doomed.name).await.is_err());
    fail::cfg("delete::before_row", "off").unwrap();
    assert!(
        e.get(&cid(1), &doomed.name).await.is_ok(),
        "a failed delete lost the snapshot"
    );
    e.delete(&cid(1), &doomed.name).await.unwrap();

    for (i, point) in ["gc::after_repack", "gc::between_deletes"]
        .into_iter()
        .enumerate()
    {
        // Fresh garbage for this round: a snapshot holding data only it needs, deleted.
        std::fs::write(
            root.join("garbage.bin"),
            common::noise(700_000, 100 + i as u64),
        )
        .unwrap();
        let g = e
            .snapshot(&cid(1), SnapshotOptions::default())
            .await
            .unwrap();
        std::fs::remove_file(root.join("garbage.bin")).unwrap();
        e.delete(&cid(1), &g.name).await.unwrap();
        assert!(!e.gc_plan().await.unwrap().delete_packs.is_empty());
        fail::cfg(point, "return").unwrap();
        let r = e.gc().await;
        fail::cfg(point, "off").unwrap();
        assert!(r.is_err(), "{point} did not fire");
        // One engine per data directory: the old one goes before the restart.
        drop(e);
        e = check_healthy(tmp.path(), &snaps, 50 + i as u8 * 8).await;
        e.gc().await.unwrap();
        drop(e);
        e = check_healthy(tmp.path(), &snaps, 54 + i as u8 * 8).await;
    }
    drop(e);
    let e = check_healthy(tmp.path(), &snaps, 70).await;
    e.gc().await.unwrap();

    // Expiry interrupted: the expired snapshot stays invisible and goes on the next run.
    let past = e
        .snapshot(
            &cid(1),
            SnapshotOptions {
                alias: None,
                expires_at: Some(chrono::Utc::now() - chrono::Duration::seconds(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    fail::cfg("expire::before_delete", "return").unwrap();
    assert!(e.expire(chrono::Utc::now()).await.is_err());
    fail::cfg("expire::before_delete", "off").unwrap();
    assert!(
        e.list(&cid(1))
            .await
            .unwrap()
            .iter()
            .all(|s| s.name != past.name)
    );
    drop(e);
    let e = check_healthy(tmp.path(), &snaps, 80).await;
    assert_eq!(e.expire(chrono::Utc::now()).await.unwrap().len(), 1);
    snaps.truncate(1);
    drop(e);
    check_healthy(tmp.path(), &snaps, 90).await;
    scenario.teardown();
}

/// Makes the fail point `point` block the thread that reaches it. Returns a receiver that
/// gets a message when the point is reached, and a sender that lets it go on.
fn pause_at(point: &str) -> (mpsc::Receiver<()>, mpsc::Sender<()>) {
    let (reached_tx, reached_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (reached_tx, release_rx) = (Mutex::new(reached_tx), Arc::new(Mutex::new(release_rx)));
    fail::cfg_callback(point, move || {
        reached_tx.lock().unwrap().send(()).unwrap();
        release_rx.lock().unwrap().recv().unwrap();
    })
    .unwrap();
    (reached_rx, release_tx)
}

/// RELIABILITY fault 2: a snapshot that found a chunk already stored (and did not write it)
/// must not lose it to a GC that runs before the snapshot is recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn gc_cannot_delete_a_chunk_a_running_snapshot_reuses() {
    let scenario = fail::FailScenario::setup();
    let tmp = tempfile::tempdir().unwrap();
    let (e, snaps) = setup(tmp.path()).await;
    let root = e.root_path(&cid(1));
    // Snapshot A holds unique.bin's chunks alone; deleting A makes them garbage while the
    // live tree still has the file, so the next snapshot reuses them without writing.
    std::thread::sleep(Duration::from_millis(100));
    let a = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap();
    for (name, _) in &snaps {
        e.delete(&cid(1), name).await.unwrap();
    }
    e.delete(&cid(1), &a.name).await.unwrap();
    let want = common::describe(&root);

    // Pause snapshot B after its objects are decided, before its row exists.
    let (reached_rx, release_tx) = pause_at("snapshot::after_packs");
    let e1 = e.clone();
    let snap_b =
        tokio::spawn(async move { e1.snapshot(&cid(1), SnapshotOptions::default()).await });
    tokio::task::spawn_blocking(move || reached_rx.recv_timeout(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();

    let e2 = e.clone();
    let gc = tokio::spawn(async move { e2.gc().await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !gc.is_finished(),
        "GC ran while a snapshot that reuses stored chunks was in flight"
    );

    release_tx.send(()).unwrap();
    let b = snap_b.await.unwrap().unwrap();
    fail::remove("snapshot::after_packs");
    gc.await.unwrap().unwrap();

    let report = e.verify(true).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    e.copy(&cid(1), CopySource::Snapshot(b.name), &cid(120))
        .await
        .unwrap();
    assert_eq!(common::describe(&e.root_path(&cid(120))), want);
    scenario.teardown();
}

/// RELIABILITY fault 3: a snapshot that expires while it is being restored. The restore
/// completes exactly; GC waits for it; afterwards the store is clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn expiry_during_a_restore_does_not_break_it() {
    let scenario = fail::FailScenario::setup();
    let tmp = tempfile::tempdir().unwrap();
    let (e, snaps) = setup(tmp.path()).await;
    let root = e.root_path(&cid(1));
    // Only this snapshot holds the tree; it expires in an hour.
    for (name, _) in &snaps {
        e.delete(&cid(1), name).await.unwrap();
    }
    std::fs::write(root.join("only-here.bin"), common::noise(800_000, 11)).unwrap();
    let s = e
        .snapshot(
            &cid(1),
            SnapshotOptions {
                expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let want = common::describe(&root);
    std::fs::remove_file(root.join("only-here.bin")).unwrap();
    std::fs::write(root.join("etc/hostname"), b"drifted\n").unwrap();

    let (reached_rx, release_tx) = pause_at("restore::after_stage");
    let e1 = e.clone();
    let name = s.name.clone();
    let restore = tokio::spawn(async move { e1.restore(&cid(1), &name).await });
    tokio::task::spawn_blocking(move || reached_rx.recv_timeout(Duration::from_secs(60)).unwrap())
        .await
        .unwrap();

    // Two hours later: the expiry job removes the row, and GC would reclaim its objects.
    let expired = e
        .expire(chrono::Utc::now() + chrono::Duration::hours(2))
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    let e2 = e.clone();
    let gc = tokio::spawn(async move { e2.gc().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !gc.is_finished(),
        "GC ran while a restore from the expiring snapshot was in flight"
    );

    release_tx.send(()).unwrap();
    restore.await.unwrap().unwrap();
    fail::remove("restore::after_stage");
    gc.await.unwrap().unwrap();
    assert_eq!(
        common::describe(&root),
        want,
        "the restore was not completed exactly"
    );
    assert!(e.verify(true).await.unwrap().is_clean());
    scenario.teardown();
}

/// Counts the engine's calls around the reading of the live tree.
#[derive(Default)]
struct Hooks {
    before: std::sync::atomic::AtomicU32,
    after: std::sync::atomic::AtomicU32,
    refuse: bool,
}

impl engine::ReadHooks for Hooks {
    fn before_read(&self) -> Result<(), String> {
        self.before
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.refuse {
            Err("cannot freeze".into())
        } else {
            Ok(())
        }
    }
    fn after_read(&self) {
        self.after.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A caller that freezes the container before the tree is read is always told when the
/// reading ends, also when it failed midway (so it thaws); a refused freeze aborts the
/// snapshot before anything is read.
#[tokio::test]
async fn read_hooks_bracket_the_reading_even_when_it_fails() {
    use std::sync::atomic::Ordering::SeqCst;
    let scenario = fail::FailScenario::setup();
    let tmp = tempfile::tempdir().unwrap();
    let (e, _) = setup(tmp.path()).await;
    let opts = |h: &Arc<Hooks>| SnapshotOptions {
        read_hooks: Some(h.clone()),
        ..Default::default()
    };

    let ok = Arc::new(Hooks::default());
    e.snapshot(&cid(1), opts(&ok)).await.unwrap();
    assert_eq!((ok.before.load(SeqCst), ok.after.load(SeqCst)), (1, 1));

    fail::cfg("snapshot::while_reading", "return").unwrap();
    let failing = Arc::new(Hooks::default());
    assert!(e.snapshot(&cid(1), opts(&failing)).await.is_err());
    fail::cfg("snapshot::while_reading", "off").unwrap();
    assert_eq!(
        (failing.before.load(SeqCst), failing.after.load(SeqCst)),
        (1, 1)
    );

    let refused = Arc::new(Hooks {
        refuse: true,
        ..Default::default()
    });
    let err = e.snapshot(&cid(1), opts(&refused)).await.unwrap_err();
    assert!(err.to_string().contains("cannot freeze"), "{err}");
    assert_eq!(
        (refused.before.load(SeqCst), refused.after.load(SeqCst)),
        (1, 0)
    );
    // Only the first snapshot exists (besides setup's).
    assert_eq!(e.list(&cid(1)).await.unwrap().len(), 2);

    // A live copy and a diff against live read the tree between the same two calls.
    let copy = Arc::new(Hooks::default());
    e.copy_with_hooks(&cid(1), CopySource::Live, &cid(9), Some(copy.clone()))
        .await
        .unwrap();
    assert_eq!((copy.before.load(SeqCst), copy.after.load(SeqCst)), (1, 1));
    let first = e.list(&cid(1)).await.unwrap().pop().unwrap().name;
    let diff = Arc::new(Hooks::default());
    e.diff_with_hooks(
        &cid(1),
        &first,
        engine::DiffTarget::Live,
        100,
        Some(diff.clone()),
    )
    .await
    .unwrap();
    assert_eq!((diff.before.load(SeqCst), diff.after.load(SeqCst)), (1, 1));
    // A refused freeze leaves no half-made copy.
    let err = e
        .copy_with_hooks(&cid(1), CopySource::Live, &cid(10), Some(refused.clone()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot freeze"), "{err}");
    assert!(!e.root_path(&cid(10)).exists());
    scenario.teardown();
}
