//! Garbage collection on a store two nodes share (two engines, each with its own data
//! directory and cache, on one database and one Garage bucket): condemn first and delete in a
//! later run, never delete what a running operation on the other node may reuse, recover a
//! pack found in use again, never deduplicate against a condemned pack, and fence an
//! operation whose lease lapsed. Pause points hold the other node's snapshot just before its
//! commit (`snapshot::before_row`).

mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use engine::s3::S3Options;
use engine::{
    ContainerId, CopySource, Engine, EngineError, ExportOptions, RootSource, SnapshotOptions,
    StoreConfig,
};

fn id(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

/// The fail points are process-wide: one test at a time in this file.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A node: an engine on `dir/<name>`, the database in `dir`, the test's bucket prefix.
async fn node(dir: &Path, name: &str, opts: &S3Options, lease: Duration) -> Engine {
    let data = dir.join(name);
    std::fs::create_dir_all(&data).unwrap();
    let store = StoreConfig::S3(S3Options {
        cache_dir: data.join("cache"),
        ..opts.clone()
    });
    Engine::open_with(&data, common::pool(dir).await, &store)
        .await
        .unwrap()
        .with_gc_timing(lease, Duration::ZERO)
}

/// The packs of the store (tombstones of deleted packs left out): id and condemnation.
async fn pack_rows(dir: &Path) -> Vec<(String, Option<i64>)> {
    sqlx::query_as("SELECT id, condemned_epoch FROM packs WHERE deleted_at IS NULL ORDER BY id")
        .fetch_all(&common::pool(dir).await)
        .await
        .unwrap()
}

/// A tree of `n` files of noise (incompressible, so each byte is stored).
fn noise_tree(root: &Path, seed: u64, n: usize) {
    std::fs::create_dir_all(root).unwrap();
    for i in 0..n {
        std::fs::write(
            root.join(format!("f{i}")),
            common::noise(200_000, seed * 100 + i as u64),
        )
        .unwrap();
    }
}

/// Holds every `snapshot::before_row` until released; says when one arrived.
struct Pause {
    arrived: mpsc::Receiver<()>,
    release: mpsc::Sender<()>,
}

fn pause_before_commit() -> Pause {
    let (arrived_tx, arrived) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    fail::cfg_callback("snapshot::before_row", move || {
        let _ = arrived_tx.send(());
        let _ = release_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(60));
    })
    .unwrap();
    Pause { arrived, release }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unused_packs_are_condemned_then_deleted_by_a_later_run() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(&tmp.path().join("c")) else {
        return;
    };
    let a = node(tmp.path(), "a", &opts, Duration::from_secs(60)).await;
    let src = tmp.path().join("src");
    noise_tree(&src, 1, 4);
    a.create_root(&id(1), RootSource::Empty).await.unwrap();
    let root = a.root_path(&id(1));
    noise_tree(&root, 2, 3);
    let s1 = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    for i in 0..3 {
        std::fs::remove_file(root.join(format!("f{i}"))).unwrap();
    }
    noise_tree(&root, 3, 2);
    let s2 = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let kept = common::describe(&root);
    a.delete(&id(1), &s1.name).await.unwrap();

    let first = a.gc().await.unwrap();
    assert!(!first.condemned_packs.is_empty(), "{first:?}");
    assert!(
        first.plan.delete_packs.is_empty(),
        "nothing is deleted at once: {first:?}"
    );
    let condemned: Vec<_> = pack_rows(tmp.path())
        .await
        .into_iter()
        .filter(|(_, e)| e.is_some())
        .collect();
    assert_eq!(condemned.len(), first.condemned_packs.len());

    let second = a.gc().await.unwrap();
    let mut deleted = second.plan.delete_packs.clone();
    deleted.sort();
    let mut expected = first.condemned_packs.clone();
    expected.sort();
    assert_eq!(deleted, expected, "{second:?}");
    let rows = pack_rows(tmp.path()).await;
    assert!(rows.iter().all(|(_, e)| e.is_none()), "{rows:?}");
    for p in &deleted {
        assert!(!rows.iter().any(|(id, _)| *id == p.to_hex()));
    }
    // Each deleted pack stays a day as a tombstone, still condemned, and its object is gone.
    let tombstones: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT id, condemned_epoch FROM packs WHERE deleted_at IS NOT NULL ORDER BY id",
    )
    .fetch_all(&common::pool(tmp.path()).await)
    .await
    .unwrap();
    assert_eq!(tombstones.len(), deleted.len());
    assert!(
        tombstones.iter().all(|(_, e)| e.is_some()),
        "{tombstones:?}"
    );
    // What is left is exact, and a third run finds nothing to do.
    a.copy(&id(1), CopySource::Snapshot(s2.name), &id(2))
        .await
        .unwrap();
    assert_eq!(common::describe(&a.root_path(&id(2))), kept);
    assert!(a.verify(true).await.unwrap().is_clean());
    let third = a.gc().await.unwrap();
    assert!(third.condemned_packs.is_empty() && third.plan.delete_packs.is_empty());
}

/// Node B's snapshot starts (and decides to reuse a pack) before node A condemns that
/// pack; A's later runs must not delete it while B runs, and find it in use once B commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pack_reused_by_a_running_snapshot_on_another_node_survives_gc() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(&tmp.path().join("c")) else {
        return;
    };
    let scenario = fail::FailScenario::setup();
    let a = node(tmp.path(), "a", &opts, Duration::from_secs(60)).await;
    let b = node(tmp.path(), "b", &opts, Duration::from_secs(60)).await;
    // A stores a tree, then its only snapshot goes: its packs are unused.
    a.create_root(&id(1), RootSource::Empty).await.unwrap();
    noise_tree(&a.root_path(&id(1)), 7, 3);
    let s = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    a.delete(&id(1), &s.name).await.unwrap();
    // B holds the same files and snapshots them: it finds the objects stored (reloading
    // its index from the database) and reuses them; it is held just before its commit.
    b.create_root(&id(2), RootSource::Empty).await.unwrap();
    noise_tree(&b.root_path(&id(2)), 7, 3);
    let expected = common::describe(&b.root_path(&id(2)));
    let pause = pause_before_commit();
    let b2 = b.clone();
    let running =
        tokio::spawn(async move { b2.snapshot(&id(2), SnapshotOptions::default()).await });
    tokio::task::spawn_blocking(move || pause.arrived.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("B's snapshot reached its commit");
    let up = b.s3_stats().unwrap().bytes_up;
    assert!(
        up < 200_000,
        "B reused A's data instead of uploading it ({up} bytes up)"
    );

    // A condemns the packs, and while B runs, however often A collects, nothing goes.
    let first = a.gc().await.unwrap();
    assert!(!first.condemned_packs.is_empty(), "{first:?}");
    for _ in 0..2 {
        let again = a.gc().await.unwrap();
        assert!(
            again.plan.delete_packs.is_empty(),
            "deleted under B: {again:?}"
        );
    }
    pause.release.send(()).unwrap();
    fail::remove("snapshot::before_row");
    let snap = running.await.unwrap().unwrap();
    // B's snapshot uses the packs: A's next run recovers them and deletes nothing.
    // (A's own tree pack, which B's snapshot does not use, may go now: B no longer runs.)
    let after = a.gc().await.unwrap();
    assert!(!after.recovered_packs.is_empty(), "{after:?}");
    assert!(
        after
            .plan
            .delete_packs
            .iter()
            .all(|p| !after.recovered_packs.contains(p)),
        "{after:?}"
    );
    assert!(pack_rows(tmp.path()).await.iter().all(|(_, e)| e.is_none()));
    // A reads B's snapshot (its index learns B's tree pack from the database).
    a.copy(&id(2), CopySource::Snapshot(snap.name), &id(3))
        .await
        .unwrap();
    assert_eq!(common::describe(&a.root_path(&id(3))), expected);
    scenario.teardown();
}

/// After a condemnation, a new snapshot of the same data writes it again instead of
/// reusing the condemned pack; the condemned pack is then deleted and the new snapshot
/// stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_never_deduplicates_against_a_condemned_pack() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(&tmp.path().join("c")) else {
        return;
    };
    let a = node(tmp.path(), "a", &opts, Duration::from_secs(60)).await;
    let b = node(tmp.path(), "b", &opts, Duration::from_secs(60)).await;
    a.create_root(&id(1), RootSource::Empty).await.unwrap();
    noise_tree(&a.root_path(&id(1)), 9, 3);
    let a_before = a.s3_stats().unwrap().bytes_up;
    let s = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let a_up = a.s3_stats().unwrap().bytes_up - a_before;
    a.delete(&id(1), &s.name).await.unwrap();
    let first = a.gc().await.unwrap();
    assert!(!first.condemned_packs.is_empty());

    b.create_root(&id(2), RootSource::Empty).await.unwrap();
    noise_tree(&b.root_path(&id(2)), 9, 3);
    let expected = common::describe(&b.root_path(&id(2)));
    let before = b.s3_stats().unwrap().bytes_up;
    let snap = b
        .snapshot(&id(2), SnapshotOptions::default())
        .await
        .unwrap();
    let up = b.s3_stats().unwrap().bytes_up - before;
    // The same files cost B what they cost A: nothing was taken from the condemned packs.
    assert!(
        up * 10 >= a_up * 9,
        "B wrote the data again ({up} bytes up; A wrote {a_up})"
    );

    let second = a.gc().await.unwrap();
    let mut deleted = second.plan.delete_packs.clone();
    deleted.sort();
    let mut condemned = first.condemned_packs.clone();
    condemned.sort();
    assert_eq!(deleted, condemned, "{second:?}");
    // B's index still names the deleted packs for some objects: a read reloads it.
    b.copy(&id(2), CopySource::Snapshot(snap.name.clone()), &id(3))
        .await
        .unwrap();
    assert_eq!(common::describe(&b.root_path(&id(3))), expected);
    a.copy(&id(2), CopySource::Snapshot(snap.name), &id(4))
        .await
        .unwrap();
    assert_eq!(common::describe(&a.root_path(&id(4))), expected);
    assert!(a.verify(true).await.unwrap().is_clean());
}

/// Node B pauses past its lease in the middle of a snapshot (renewal stops, as for a
/// stopped process); A's collection fences the operation, and B's commit then fails with a
/// clear error and commits nothing. The retry works.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operation_that_outlived_its_lease_is_fenced_and_commits_nothing() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(&tmp.path().join("c")) else {
        return;
    };
    let scenario = fail::FailScenario::setup();
    let a = node(tmp.path(), "a", &opts, Duration::from_secs(60)).await;
    let b = node(tmp.path(), "b", &opts, Duration::from_millis(300)).await;
    b.create_root(&id(2), RootSource::Empty).await.unwrap();
    noise_tree(&b.root_path(&id(2)), 11, 2);
    fail::cfg("ops::renew", "return").unwrap();
    let pause = pause_before_commit();
    let b2 = b.clone();
    let running =
        tokio::spawn(async move { b2.snapshot(&id(2), SnapshotOptions::default()).await });
    tokio::task::spawn_blocking(move || pause.arrived.recv_timeout(Duration::from_secs(60)))
        .await
        .unwrap()
        .expect("B's snapshot reached its commit");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let report = a.gc().await.unwrap();
    assert!(report.fenced_ops >= 1, "{report:?}");
    pause.release.send(()).unwrap();
    fail::remove("snapshot::before_row");
    fail::remove("ops::renew");
    let err = running.await.unwrap().unwrap_err();
    assert!(matches!(err, EngineError::Fenced(_)), "{err}");
    assert!(err.to_string().contains("nothing was committed"), "{err}");
    assert!(b.list(&id(2)).await.unwrap().is_empty());
    let retry = b
        .snapshot(&id(2), SnapshotOptions::default())
        .await
        .unwrap();
    assert_eq!(b.list(&id(2)).await.unwrap()[0].name, retry.name);
    scenario.teardown();
}

/// A node that dies between an upload and its row leaves an object no row names, and so
/// does a writer paused past its record window (its snapshot fails cleanly: it can no
/// longer record the pack). The bucket sweep of a later collection deletes those objects,
/// only once they are older than the window, and nothing any row names.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orphan_objects_are_swept_and_a_late_writer_cannot_record_its_pack() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(&tmp.path().join("c")) else {
        return;
    };
    let scenario = fail::FailScenario::setup();
    let a = node(tmp.path(), "a", &opts, Duration::from_secs(60)).await;
    a.set_record_within(Duration::from_secs(2));
    a.create_root(&id(1), RootSource::Empty).await.unwrap();
    let root = a.root_path(&id(1));

    // The crash between the upload and the row.
    noise_tree(&root, 21, 2);
    fail::cfg("s3::after_upload", "return").unwrap();
    a.snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap_err();
    fail::remove("s3::after_upload");
    // The writer paused past its window before recording: refused, in words.
    noise_tree(&root.join("late"), 22, 1);
    fail::cfg("s3::before_record", "sleep(3000)").unwrap();
    let err = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap_err();
    fail::remove("s3::before_record");
    assert!(
        format!("{err:#}").contains("could not be recorded within 2 s"),
        "{err:#}"
    );
    assert!(a.list(&id(1)).await.unwrap().is_empty());
    let good = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let kept = common::describe(&root);

    // Another node's first collection, with the default ten-minute window: the orphans are
    // too young for it, so nothing is deleted.
    let b = node(tmp.path(), "b", &opts, Duration::from_secs(60)).await;
    let early = b.gc().await.unwrap();
    assert!(early.orphans.listed >= 3, "{early:?}");
    assert!(early.orphans.deleted.is_empty(), "{early:?}");

    // Past the window: the first collection of node A deletes exactly the unrecorded ones.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let swept = a.gc().await.unwrap();
    let recorded: Vec<String> = sqlx::query_scalar("SELECT id FROM packs")
        .fetch_all(&common::pool(tmp.path()).await)
        .await
        .unwrap();
    assert!(swept.orphans.deleted.len() >= 2, "{swept:?}");
    assert!(swept.orphans.deleted_bytes > 400_000, "{swept:?}");
    for o in &swept.orphans.deleted {
        assert!(!recorded.contains(o), "a recorded pack was swept: {o}");
    }
    assert_eq!(
        swept.orphans.listed as usize - swept.orphans.deleted.len(),
        recorded.len(),
        "every other object is a recorded pack: {swept:?}"
    );
    // The store is whole: a deep verify reads every pack, and the snapshot copies exactly.
    assert!(a.verify(true).await.unwrap().is_clean());
    a.copy(&id(1), CopySource::Snapshot(good.name), &id(2))
        .await
        .unwrap();
    assert_eq!(common::describe(&a.root_path(&id(2))), kept);
    // A node sweeps once per period: A's next collection lists nothing.
    let again = a.gc().await.unwrap();
    assert_eq!(again.orphans, Default::default());
    scenario.teardown();
}

/// A pack mostly dead is repacked on S3: its live objects go to a new pack, the old one is
/// condemned and deleted by a later run, and another node whose index still placed those
/// objects in the old pack reads them from the new one (it reloads on the miss).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mostly_dead_pack_is_repacked_then_deleted_and_every_node_reads_on() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(&tmp.path().join("c")) else {
        return;
    };
    let a = node(tmp.path(), "a", &opts, Duration::from_secs(60)).await;
    a.create_root(&id(1), RootSource::Empty).await.unwrap();
    let root = a.root_path(&id(1));
    // One pack of four files; the second snapshot keeps one of them.
    noise_tree(&root, 31, 4);
    let s1 = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    for i in 1..4 {
        std::fs::remove_file(root.join(format!("f{i}"))).unwrap();
    }
    let s2 = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let kept = common::describe(&root);
    // Node B reads the store as it is now: its index places f0 in the old pack.
    let b = node(tmp.path(), "b", &opts, Duration::from_secs(60)).await;
    a.delete(&id(1), &s1.name).await.unwrap();

    // (How the chunks of the four files fell into packs varies with the capture's
    // threads, so the figures are not fixed: at least one pack is mostly dead.)
    let first = a.gc().await.unwrap();
    assert!(!first.plan.repack_packs.is_empty(), "{first:?}");
    assert!(first.repacked_bytes > 0, "{first:?}");
    for p in &first.plan.repack_packs {
        assert!(first.condemned_packs.contains(p), "{first:?}");
    }
    let second = a.gc().await.unwrap();
    for p in &first.plan.repack_packs {
        assert!(second.plan.delete_packs.contains(p), "{second:?}");
    }
    assert!(a.verify(true).await.unwrap().is_clean());
    // B copies the snapshot: its first read misses the deleted pack, reloads, and is exact.
    b.copy(&id(1), CopySource::Snapshot(s2.name.clone()), &id(3))
        .await
        .unwrap();
    assert_eq!(common::describe(&b.root_path(&id(3))), kept);
    a.copy(&id(1), CopySource::Snapshot(s2.name), &id(2))
        .await
        .unwrap();
    assert_eq!(common::describe(&a.root_path(&id(2))), kept);
}

/// Reads an export to its end: its bytes.
async fn read_rest(x: &mut engine::TarExport, mut got: Vec<u8>) -> Vec<u8> {
    while let Some(piece) = x.next_piece().await {
        got.extend(piece.unwrap());
    }
    got
}

/// An export on node A pins its snapshot's tree in the database instead of holding back
/// collection: node B deletes other garbage while the export stalls (it used to wait for
/// the export to end), keeps the exported tree's packs although the snapshot is deleted
/// mid-export, and condemns them once the export ended. The export comes out whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_export_pins_its_tree_and_collection_goes_on_around_it() {
    let _serial = SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(&tmp.path().join("c")) else {
        return;
    };
    let a = node(tmp.path(), "a", &opts, Duration::from_secs(60)).await;
    let b = node(tmp.path(), "b", &opts, Duration::from_secs(60)).await;
    a.create_root(&id(1), RootSource::Empty).await.unwrap();
    let root = a.root_path(&id(1));
    noise_tree(&root, 31, 3);
    let s1 = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let s1_packs: Vec<String> = pack_rows(tmp.path())
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    for i in 0..3 {
        std::fs::remove_file(root.join(format!("f{i}"))).unwrap();
    }
    noise_tree(&root, 32, 3);
    let s2 = a
        .snapshot(&id(1), SnapshotOptions::default())
        .await
        .unwrap();
    let small = || ExportOptions {
        piece_bytes: 4096,
        queue: 1,
    };
    let mut whole = a.export(&id(1), &s1.name, small()).await.unwrap();
    let reference = read_rest(&mut whole, Vec::new()).await;

    // The export stalls after one piece; B deletes both snapshots and collects twice.
    let mut x = a.export(&id(1), &s1.name, small()).await.unwrap();
    let first = x.next_piece().await.unwrap().unwrap();
    b.delete(&id(1), &s2.name).await.unwrap();
    b.delete(&id(1), &s1.name).await.unwrap();
    let condemned = b.gc().await.unwrap().condemned_packs;
    assert!(
        !condemned.is_empty(),
        "the second snapshot's packs are garbage"
    );
    for p in &condemned {
        assert!(
            !s1_packs.contains(&p.to_hex()),
            "a pack of the exported tree was condemned: {p}"
        );
    }
    let mut deleted = b.gc().await.unwrap().plan.delete_packs;
    deleted.sort();
    let mut expected = condemned.clone();
    expected.sort();
    assert_eq!(deleted, expected, "the stalled export held back deletion");
    let rows = pack_rows(tmp.path()).await;
    for p in &s1_packs {
        assert!(
            rows.contains(&(p.clone(), None)),
            "{p} of the exported tree is gone or condemned: {rows:?}"
        );
    }

    // The export reads on to the end, exactly; its pin goes with it, and the tree's packs
    // are then garbage like any other.
    assert_eq!(read_rest(&mut x, first).await, reference);
    drop(x);
    let mut after = Vec::new();
    for _ in 0..50 {
        after = b.gc().await.unwrap().condemned_packs;
        if !after.is_empty() {
            break;
        }
        // The pin's row is deleted in the background when the export is dropped.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut after: Vec<String> = after.iter().map(|p| p.to_hex()).collect();
    after.sort();
    let mut want = s1_packs.clone();
    want.sort();
    assert_eq!(
        after, want,
        "once the export ended its tree's packs are condemned"
    );
}
