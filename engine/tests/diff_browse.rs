//! Diff between snapshots and against the live tree; browsing and reading snapshot files.

mod common;

use common::open_engine as open;

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use engine::{
    ChangeKind, ContainerId, DiffTarget, Engine, EngineError, RootSource, SnapshotOptions,
};

fn id() -> ContainerId {
    ContainerId::from_bytes([4; 12])
}

async fn setup(tmp: &Path) -> (Engine, String) {
    let image = tmp.join("image");
    fs::create_dir(&image).unwrap();
    common::build_fixture(&image);
    let e = open(tmp).await;
    e.create_root(&id(), RootSource::Directory(image))
        .await
        .unwrap();
    let s = e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();
    (e, s.name)
}

#[tokio::test]
async fn diff_reports_each_kind_of_change() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, s1) = setup(tmp.path()).await;
    let root = e.root_path(&id());
    fs::write(root.join("usr/bin/big"), b"smaller now").unwrap();
    fs::set_permissions(root.join("usr/bin/sudo"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(root.join("etc/added"), b"+").unwrap();
    fs::remove_file(root.join("etc/dangling")).unwrap();
    fs::remove_file(root.join("etc/empty-file")).unwrap();
    fs::create_dir(root.join("etc/empty-file")).unwrap();
    let s2 = e.snapshot(&id(), SnapshotOptions::default()).await.unwrap();

    let d = e
        .diff(&id(), &s1, DiffTarget::Snapshot(s2.name.clone()), 1000)
        .await
        .unwrap();
    let got: BTreeMap<String, ChangeKind> =
        d.changes.iter().map(|c| (c.path.clone(), c.kind)).collect();
    assert_eq!(
        got.get("usr/bin/big"),
        Some(&ChangeKind::Modified),
        "{got:?}"
    );
    assert_eq!(
        got.get("usr/bin/sudo"),
        Some(&ChangeKind::MetadataOnly),
        "{got:?}"
    );
    assert_eq!(got.get("etc/added"), Some(&ChangeKind::Added), "{got:?}");
    assert_eq!(
        got.get("etc/dangling"),
        Some(&ChangeKind::Removed),
        "{got:?}"
    );
    assert_eq!(
        got.get("etc/empty-file"),
        Some(&ChangeKind::TypeChanged),
        "{got:?}"
    );
    // A type change names both sides: a file then, a folder now. No other change has a
    // previous type.
    let changed = d
        .changes
        .iter()
        .find(|c| c.path == "etc/empty-file")
        .unwrap();
    assert_eq!(
        (changed.previous_type, changed.entry_type),
        (Some("file"), "dir")
    );
    assert!(
        d.changes
            .iter()
            .all(|c| c.previous_type.is_some() == (c.kind == ChangeKind::TypeChanged)),
        "{d:?}"
    );
    // Anything else is a directory whose mtime changed with its entries.
    for c in &d.changes {
        if ![
            "usr/bin/big",
            "usr/bin/sudo",
            "etc/added",
            "etc/dangling",
            "etc/empty-file",
        ]
        .contains(&c.path.as_str())
        {
            assert_eq!(
                (c.kind, c.entry_type),
                (ChangeKind::MetadataOnly, "dir"),
                "{c:?}"
            );
        }
    }
    assert!(!d.truncated);

    // Same snapshot: nothing. A limit cuts the list and says so.
    assert!(
        e.diff(&id(), &s1, DiffTarget::Snapshot(s1.clone()), 10)
            .await
            .unwrap()
            .changes
            .is_empty()
    );
    let cut = e
        .diff(&id(), &s1, DiffTarget::Snapshot(s2.name.clone()), 2)
        .await
        .unwrap();
    assert_eq!(cut.changes.len(), 2);
    assert!(cut.truncated);

    // Against the live tree.
    fs::write(root.join("live-only"), b"now").unwrap();
    let live = e
        .diff(&id(), &s2.name, DiffTarget::Live, 100)
        .await
        .unwrap();
    assert!(
        live.changes
            .iter()
            .any(|c| c.path == "live-only" && c.kind == ChangeKind::Added),
        "{live:?}"
    );
    assert!(
        live.changes
            .iter()
            .all(|c| c.path == "live-only" || c.entry_type == "dir"),
        "{live:?}"
    );
}

#[tokio::test]
async fn browse_lists_and_streams_files_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (e, s) = setup(tmp.path()).await;
    let top = e.list_dir(&id(), &s, "/").await.unwrap();
    let names: Vec<&str> = top.iter().map(|x| x.name.as_str()).collect();
    assert!(
        names.contains(&"etc") && names.contains(&"sparse.img"),
        "{names:?}"
    );
    let etc = e.list_dir(&id(), &s, "etc").await.unwrap();
    let host = etc.iter().find(|x| x.name == "hostname").unwrap();
    assert_eq!((host.entry_type, host.size), ("file", 9));
    let link = top.iter().find(|x| x.name == "abs-link").unwrap();
    assert_eq!(link.link_target.as_deref(), Some("/etc/passwd"));

    let mut data = Vec::new();
    e.read_file(&id(), &s, "/usr/bin/big")
        .await
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    assert_eq!(data, common::noise(3 * 1024 * 1024 + 5, 1));

    // The sparse gigabyte streams its data at the right offset, holes as zeros.
    let mut r = e.read_file(&id(), &s, "sparse.img").await.unwrap();
    assert_eq!(r.size, 1 << 30);
    let mut buf = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    let mut found = None;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        if found.is_none()
            && let Some(i) = buf[..n].iter().position(|b| *b != 0)
        {
            found = Some(offset + i as u64);
        }
        offset += n as u64;
    }
    assert_eq!(offset, 1 << 30);
    assert!(
        found.is_some_and(|f| (512 << 20..(512 << 20) + 65536).contains(&f)),
        "{found:?}"
    );

    for (bad, want_invalid) in [
        ("../etc", true),
        ("etc/../..", true),
        ("nope", false),
        ("abs-link/x", true),
        ("etc/hostname/x", true),
    ] {
        let r = e.list_dir(&id(), &s, bad).await;
        match r {
            Err(EngineError::Invalid(_)) if want_invalid => {}
            Err(EngineError::NoSuchPath { .. }) if !want_invalid => {}
            other => panic!("{bad}: {other:?}"),
        }
    }
    assert!(matches!(
        e.read_file(&id(), &s, "etc").await,
        Err(EngineError::Invalid(_))
    ));
}

/// Names that are not UTF-8 (issue 16 #4): listed, read, diffed and restored by their bytes,
/// never merged with a name that looks the same once replaced.
#[tokio::test]
async fn names_that_are_not_utf8_stay_apart() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path()).await;
    e.create_root(&id(), RootSource::Empty).await.unwrap();
    let root = e.root_path(&id());
    let (ff, fe): (&[u8], &[u8]) = (b"\xff-x", b"\xfe-x");
    let at = |n: &[u8]| root.join(std::ffi::OsStr::from_bytes(n));
    fs::write(at(ff), b"ff").unwrap();
    fs::write(at(fe), b"fe").unwrap();
    let s = e
        .snapshot(&id(), SnapshotOptions::default())
        .await
        .unwrap()
        .name;
    let names: Vec<Vec<u8>> = e
        .list_dir(&id(), &s, "/")
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.name_bytes)
        .collect();
    assert_eq!(names, vec![fe.to_vec(), ff.to_vec()]);
    for (n, want) in [(ff, b"ff"), (fe, b"fe")] {
        let mut path = b"/".to_vec();
        path.extend_from_slice(n);
        let mut got = Vec::new();
        e.read_file(&id(), &s, &path)
            .await
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        assert_eq!(&got, want);
    }
    fs::write(at(ff), b"changed").unwrap();
    fs::remove_file(at(fe)).unwrap();
    let d = e.diff(&id(), &s, DiffTarget::Live, 100).await.unwrap();
    let changed: Vec<(Vec<u8>, ChangeKind)> = d
        .changes
        .iter()
        .filter(|c| !c.path.is_empty())
        .map(|c| (c.path_bytes.clone(), c.kind))
        .collect();
    assert_eq!(
        changed,
        vec![
            (fe.to_vec(), ChangeKind::Removed),
            (ff.to_vec(), ChangeKind::Modified)
        ]
    );
    let mut only_fe = b"/".to_vec();
    only_fe.extend_from_slice(fe);
    let sel = engine::Selection::parse(&[only_fe]).unwrap().unwrap();
    e.restore_paths(&id(), &s, Some(&sel)).await.unwrap();
    assert_eq!(fs::read(at(fe)).unwrap(), b"fe");
    assert_eq!(fs::read(at(ff)).unwrap(), b"changed");
}
