//! Concurrency: snapshots of many containers at once, and a container that swaps a directory
//! for a symlink in a loop while it is snapshotted and restored (RELIABILITY attack 7).

mod common;

use common::open_engine as open;

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use engine::{ContainerId, CopySource, RootSource, SnapshotOptions};

fn cid(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_containers_snapshot_in_parallel() {
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path()).await;
    let mut want = Vec::new();
    for n in 0..30u8 {
        e.create_root(&cid(n), RootSource::Empty).await.unwrap();
        let root = e.root_path(&cid(n));
        fs::write(root.join("shared"), common::noise(200_000, 1)).unwrap();
        fs::write(
            root.join("own"),
            common::noise(50_000 + n as usize, 100 + n as u64),
        )
        .unwrap();
        want.push(common::describe(&root));
    }
    let tasks: Vec<_> = (0..30u8)
        .map(|n| {
            let e = e.clone();
            tokio::spawn(async move { e.snapshot(&cid(n), SnapshotOptions::default()).await })
        })
        .collect();
    let mut names = Vec::new();
    for t in tasks {
        names.push(t.await.unwrap().unwrap().name);
    }
    assert!(e.verify(true).await.unwrap().is_clean());
    for n in 0..30u8 {
        e.copy(
            &cid(n),
            CopySource::Snapshot(names[n as usize].clone()),
            &cid(100 + n),
        )
        .await
        .unwrap();
        assert_eq!(
            common::describe(&e.root_path(&cid(100 + n))),
            want[n as usize]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_directory_swapped_for_a_symlink_in_a_loop_never_leaks_host_files() {
    let tmp = tempfile::tempdir().unwrap();
    let sentinel = tmp.path().join("sentinel");
    fs::create_dir(&sentinel).unwrap();
    fs::write(sentinel.join("host-secret"), b"host secret").unwrap();
    let sentinel_before = common::describe(&sentinel);

    let e = open(tmp.path()).await;
    e.create_root(&cid(1), RootSource::Empty).await.unwrap();
    let root = e.root_path(&cid(1));
    fs::create_dir(root.join("d")).unwrap();
    fs::write(root.join("d/inside"), b"container data").unwrap();
    let base = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap();

    // The "container": swap d for a symlink to the host sentinel and back, as fast as it can.
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (root, sentinel, stop) = (root.clone(), sentinel.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if fs::rename(root.join("d"), root.join("d.real")).is_ok() {
                    let _ = std::os::unix::fs::symlink(&sentinel, root.join("d"));
                    let _ = fs::remove_file(root.join("d"));
                    let _ = fs::rename(root.join("d.real"), root.join("d"));
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let mut snaps = Vec::new();
    for _ in 0..40 {
        snaps.push(
            e.snapshot(&cid(1), SnapshotOptions::default())
                .await
                .unwrap(),
        );
        // Restores race the swapper too; they may fail on a vanished entry, never escape.
        let _ = e.restore(&cid(1), &base.name).await;
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 0, "the swapper never ran");

    assert_eq!(
        common::describe(&sentinel),
        sentinel_before,
        "a host file changed"
    );
    for s in &snaps {
        // Whatever each snapshot caught, it never holds the host's file.
        for dir in ["d", "d.real"] {
            if let Ok(list) = e.list_dir(&cid(1), &s.name, dir).await {
                assert!(
                    list.iter().all(|x| x.name != "host-secret"),
                    "{} leaked the host file",
                    s.name
                );
            }
        }
    }
    // The restore path: a final restore converges even after the storm.
    e.restore(&cid(1), &base.name).await.unwrap();
    assert_eq!(fs::read(root.join("d/inside")).unwrap(), b"container data");
    assert!(!root.join("d.real").exists());
}
