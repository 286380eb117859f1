//! Damage to the store is found by `verify`, named with the snapshots that need it, and
//! never restored from: a restore that needs a damaged object fails before the live tree
//! changes.

mod common;

use common::open_engine as open;

use std::fs;
use std::path::{Path, PathBuf};

use engine::{ContainerId, RootSource, SnapshotOptions};

fn id() -> ContainerId {
    ContainerId::from_bytes([3; 12])
}

fn packs(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in fs::read_dir(dir.join("data/store/packs")).unwrap() {
        let d = d.unwrap().path();
        if d.ends_with("tmp") {
            continue;
        }
        for p in fs::read_dir(&d).unwrap() {
            out.push(p.unwrap().path());
        }
    }
    out.sort();
    out
}

/// Builds a container with a snapshot, then empties the live tree so that a restore needs
/// every object. Returns the snapshot name and the live tree's description.
async fn setup(tmp: &Path) -> (String, common::Tree) {
    let image = tmp.join("image");
    fs::create_dir(&image).unwrap();
    common::build_fixture(&image);
    let e = open(tmp).await;
    e.create_root(&id(), RootSource::Directory(image))
        .await
        .unwrap();
    let s = e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();
    // GC leaves one compact set of packs that this snapshot needs.
    e.gc().await.unwrap();
    assert!(e.verify(true).await.unwrap().is_clean());
    let root = e.root_path(&id());
    for entry in fs::read_dir(&root).unwrap() {
        let p = entry.unwrap().path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            fs::remove_dir_all(&p).unwrap();
        } else {
            fs::remove_file(&p).unwrap();
        }
    }
    fs::write(root.join("only-this"), b"live data").unwrap();
    (s.name, common::describe(&root))
}

async fn check_detected_and_restore_refused(tmp: &Path, name: &str, live: &common::Tree) {
    let e = open(tmp).await;
    let report = e.verify(true).await.unwrap();
    assert!(!report.is_clean(), "damage not found: {report:?}");
    let named = report
        .damaged
        .iter()
        .any(|d| d.snapshots.iter().any(|(c, n)| *c == id() && n == name));
    assert!(named || !report.damaged_packs.is_empty(), "{report:?}");
    if !report.damaged.is_empty() {
        assert!(
            named,
            "the damaged objects do not name the snapshot: {report:?}"
        );
    }
    let err = e.restore(&id(), name).await.unwrap_err();
    assert!(
        err.to_string().contains("damaged") || err.to_string().contains("missing"),
        "{err}"
    );
    assert_eq!(
        &common::describe(&e.root_path(&id())),
        live,
        "the live tree changed"
    );
    assert!(!e.restore_pending(&id()).await.unwrap());
}

#[tokio::test]
async fn a_flipped_bit_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (name, live) = setup(tmp.path()).await;
    for p in packs(tmp.path()) {
        let mut b = fs::read(&p).unwrap();
        let at = b.len() / 3;
        b[at] ^= 0x01;
        fs::write(&p, b).unwrap();
    }
    check_detected_and_restore_refused(tmp.path(), &name, &live).await;
}

#[tokio::test]
async fn a_truncated_pack_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (name, live) = setup(tmp.path()).await;
    for p in packs(tmp.path()) {
        let b = fs::read(&p).unwrap();
        fs::write(&p, &b[..b.len() * 2 / 3]).unwrap();
    }
    check_detected_and_restore_refused(tmp.path(), &name, &live).await;
}

#[tokio::test]
async fn a_missing_pack_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (name, live) = setup(tmp.path()).await;
    for p in packs(tmp.path()) {
        fs::remove_file(&p).unwrap();
    }
    check_detected_and_restore_refused(tmp.path(), &name, &live).await;
}

#[tokio::test]
async fn swapped_objects_are_found() {
    let tmp = tempfile::tempdir().unwrap();
    let (name, _) = setup(tmp.path()).await;
    // Swap the stored bytes of two same-sized regions inside one pack: each object's bytes
    // now sit where the other's header says.
    // The largest pack (the writers spread objects over several packs, some tiny).
    let p = packs(tmp.path())
        .into_iter()
        .max_by_key(|p| fs::metadata(p).unwrap().len())
        .unwrap();
    let mut b = fs::read(&p).unwrap();
    let half = b.len() / 2;
    let (a, c) = (half / 2, half + half / 2);
    for i in 0..64 {
        b.swap(a + i, c + i);
    }
    fs::write(&p, b).unwrap();
    let e = open(tmp.path()).await;
    let report = e.verify(true).await.unwrap();
    assert!(!report.is_clean(), "{report:?}");
    assert!(e.restore(&id(), &name).await.is_err());
}
