//! Capture a real tree, write it back elsewhere, and compare everything lstat and getxattr see.

mod common;

use std::sync::Arc;

use engine::capture::capture;
use engine::materialize::materialize;
use engine::storage::LocalPackStorage;
use engine::store::ObjectStore;

#[test]
fn fixture_round_trips_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    common::build_fixture(&src);

    let store = ObjectStore::open(Arc::new(
        LocalPackStorage::open(&tmp.path().join("store")).unwrap(),
    ))
    .unwrap();
    let mut w = store.writer();
    let (top, stats) = capture(&src, &mut w).unwrap();
    w.finish().unwrap();
    assert!(stats.files >= 10, "{stats:?}");
    assert_eq!(stats.sockets_skipped, 0);

    let dst = tmp.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    materialize(&store, &top, &dst).unwrap();

    let (a, b) = (common::describe(&src), common::describe(&dst));
    // The comparison sees the whole fixture, down to the file below PATH_MAX depth.
    assert!(a.len() > 40, "{}", a.len());
    assert!(
        a.keys()
            .any(|p| p.ends_with("leaf") && p.as_os_str().len() > 4096)
    );
    for (path, want) in &a {
        assert_eq!(b.get(path), Some(want), "{}", path.display());
    }
    assert_eq!(a.len(), b.len());

    // The comparison can fail: one changed nanosecond is seen.
    common::set_mtime(&dst.join("etc/hostname"), 1_700_000_000, 123_456_780);
    assert_ne!(common::describe(&dst), a);

    // A second capture of the unchanged tree stores nothing new and has the same id.
    let mut w = store.writer();
    let (again, stats) = capture(&src, &mut w).unwrap();
    assert_eq!(w.finish().unwrap(), 0);
    assert_eq!(stats.new_objects, 0);
    assert_eq!(again, top);
}

#[test]
fn the_sparse_gigabyte_stays_sparse_in_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = std::fs::File::create(src.join("huge")).unwrap();
    f.set_len(1 << 40).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&f, b"end", (1 << 40) - 3).unwrap();
    let store = ObjectStore::open(Arc::new(
        LocalPackStorage::open(&tmp.path().join("store")).unwrap(),
    ))
    .unwrap();
    let mut w = store.writer();
    let (top, stats) = capture(&src, &mut w).unwrap();
    let written = w.finish().unwrap();
    assert_eq!(stats.logical_bytes, 1 << 40);
    assert!(
        written < 1 << 20,
        "a 1 TiB sparse file took {written} bytes of packs"
    );
    let dst = tmp.path().join("dst");
    std::fs::create_dir(&dst).unwrap();
    materialize(&store, &top, &dst).unwrap();
    assert_eq!(common::describe(&src), common::describe(&dst));
}
