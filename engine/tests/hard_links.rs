//! Hard links through restore and diff: a restore gives back exactly the snapshot's link
//! groups (splitting, joining and moving members, within a folder and across folders), and a
//! diff reports files whose links changed. The trees hold files with equal bytes, mode, owner
//! and mtime, so nothing but their inodes tells them apart (the case of restic and kopia bug
//! reports, issue 16 #1).

mod common;

use common::open_engine as open;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use engine::{ChangeKind, ContainerId, DiffTarget, Engine, RootSource, Selection, SnapshotOptions};

fn id() -> ContainerId {
    ContainerId::from_bytes([9; 12])
}

/// The names every test arranges into link groups: two folders, three names each.
const NAMES: [&str; 6] = ["x/a", "x/b", "x/c", "y/d", "y/e", "y/f"];

/// Makes the root's files exactly `groups` (each a list of indexes into [`NAMES`]; every
/// name in one group is one inode). Every file has the same bytes, mode and mtime.
fn arrange(root: &Path, groups: &[Vec<usize>]) {
    for n in NAMES {
        let _ = fs::remove_file(root.join(n));
    }
    for g in groups {
        let first = root.join(NAMES[g[0]]);
        fs::write(&first, b"same bytes\n").unwrap();
        common::set_mtime(&first, 1_700_000_000, 0);
        for &i in &g[1..] {
            fs::hard_link(&first, root.join(NAMES[i])).unwrap();
        }
    }
}

/// Every name alone.
fn singles() -> Vec<Vec<usize>> {
    (0..NAMES.len()).map(|i| vec![i]).collect()
}

async fn setup(tmp: &Path) -> Engine {
    let e = open(tmp).await;
    e.create_root(&id(), RootSource::Empty).await.unwrap();
    let root = e.root_path(&id());
    fs::create_dir(root.join("x")).unwrap();
    fs::create_dir(root.join("y")).unwrap();
    e
}

async fn snapshot(e: &Engine) -> String {
    e.snapshot(&id(), SnapshotOptions::default())
        .await
        .unwrap()
        .name
}

fn ino(root: &Path, name: &str) -> u64 {
    fs::symlink_metadata(root.join(name)).unwrap().ino()
}

#[tokio::test]
async fn a_restore_splits_files_that_were_linked_after_the_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let e = setup(tmp.path()).await;
    let root = e.root_path(&id());
    arrange(&root, &singles());
    let s1 = snapshot(&e).await;
    let want = common::describe(&root);

    // `ln -f x/a x/b`, and the same across folders.
    for other in ["x/b", "y/d"] {
        fs::remove_file(root.join(other)).unwrap();
        fs::hard_link(root.join("x/a"), root.join(other)).unwrap();
    }
    assert_eq!(fs::metadata(root.join("x/a")).unwrap().nlink(), 3);
    snapshot(&e).await;

    e.restore(&id(), &s1).await.unwrap();
    assert_eq!(common::describe(&root), want);
    for n in NAMES {
        assert_eq!(fs::metadata(root.join(n)).unwrap().nlink(), 1, "{n}");
    }
    // Writing one no longer changes the other.
    fs::write(root.join("x/a"), b"changed\n").unwrap();
    assert_eq!(fs::read(root.join("x/b")).unwrap(), b"same bytes\n");
    assert_eq!(fs::read(root.join("y/d")).unwrap(), b"same bytes\n");
}

#[tokio::test]
async fn every_link_structure_round_trips_through_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let e = setup(tmp.path()).await;
    let root = e.root_path(&id());
    // Splitting, joining and moving members, within and across folders.
    let layouts: Vec<Vec<Vec<usize>>> = vec![
        singles(),
        vec![vec![0, 1, 2, 3, 4, 5]],
        vec![vec![0, 1], vec![2], vec![3, 4], vec![5]],
        vec![vec![0, 2], vec![1], vec![3, 5], vec![4]],
        vec![vec![0, 3], vec![1, 4], vec![2, 5]],
        vec![vec![5, 0, 1], vec![2, 3, 4]],
        vec![vec![1, 2, 3, 4, 5], vec![0]],
    ];
    let mut snaps = Vec::new();
    for l in &layouts {
        arrange(&root, l);
        snaps.push((snapshot(&e).await, common::describe(&root)));
    }
    // Every ordered pair, so each layout is restored over each other one.
    for from in 0..layouts.len() {
        for to in 0..layouts.len() {
            if from == to {
                continue;
            }
            e.restore(&id(), &snaps[from].0).await.unwrap();
            e.restore(&id(), &snaps[to].0).await.unwrap();
            assert_eq!(
                common::describe(&root),
                snaps[to].1,
                "restoring layout {to} over layout {from}"
            );
        }
    }
}

#[tokio::test]
async fn a_partial_restore_splits_links_inside_its_paths_and_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let e = setup(tmp.path()).await;
    let root = e.root_path(&id());
    arrange(&root, &singles());
    let s1 = snapshot(&e).await;
    // x/a, x/b and y/d one inode; then restore only /x.
    arrange(&root, &[vec![0, 1, 3], vec![2], vec![4], vec![5]]);
    let sel = Selection::parse(&["/x"]).unwrap().unwrap();
    e.restore_paths(&id(), &s1, Some(&sel)).await.unwrap();
    // Inside /x the snapshot's structure: a and b apart.
    assert_ne!(ino(&root, "x/a"), ino(&root, "x/b"));
    // Outside, y/d is left alone, still linked to whichever of them kept its inode.
    let d = ino(&root, "y/d");
    assert!(d == ino(&root, "x/a") || d == ino(&root, "x/b"));
    assert_eq!(fs::metadata(root.join("y/d")).unwrap().nlink(), 2);
}

#[tokio::test]
async fn a_partial_restore_of_one_name_links_it_again_to_the_intact_names_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let e = setup(tmp.path()).await;
    let root = e.root_path(&id());
    // x/a, x/b and y/d one inode in the snapshot.
    arrange(&root, &[vec![0, 1, 3], vec![2], vec![4], vec![5]]);
    let s1 = snapshot(&e).await;
    let restore = async |paths: &[&str]| {
        let sel = Selection::parse(paths).unwrap().unwrap();
        e.restore_paths(&id(), &s1, Some(&sel)).await.unwrap();
    };

    // `cp x/a x/b.tmp && mv x/b.tmp x/b`: x/b is its own inode. Restoring only /x/b links it
    // to x/a and y/d again, and the diff against the snapshot settles.
    arrange(&root, &[vec![0, 3], vec![1], vec![2], vec![4], vec![5]]);
    restore(&["/x/b"]).await;
    assert_eq!(ino(&root, "x/b"), ino(&root, "x/a"));
    assert_eq!(ino(&root, "x/b"), ino(&root, "y/d"));
    assert_eq!(fs::metadata(root.join("x/a")).unwrap().nlink(), 3);
    let s2 = snapshot(&e).await;
    assert_eq!(link_changes(&e, &s1, &s2).await, Vec::new());

    // The same from another folder, with the selected file's content changed too.
    arrange(&root, &[vec![0, 1], vec![3], vec![2], vec![4], vec![5]]);
    fs::write(root.join("y/d"), b"changed\n").unwrap();
    restore(&["/y/d"]).await;
    assert_eq!(ino(&root, "y/d"), ino(&root, "x/a"));
    assert_eq!(fs::read(root.join("y/d")).unwrap(), b"same bytes\n");

    // An outside name that changed is passed over for one that did not.
    arrange(
        &root,
        &[vec![0], vec![1], vec![3], vec![2], vec![4], vec![5]],
    );
    fs::write(root.join("x/a"), b"edited outside\n").unwrap();
    restore(&["/x/b"]).await;
    assert_eq!(ino(&root, "x/b"), ino(&root, "y/d"));
    assert_ne!(ino(&root, "x/b"), ino(&root, "x/a"));
    assert_eq!(fs::read(root.join("x/a")).unwrap(), b"edited outside\n");

    // When no outside name is intact, the selected name is restored on its own, and
    // nothing outside changes.
    arrange(
        &root,
        &[vec![0], vec![1], vec![3], vec![2], vec![4], vec![5]],
    );
    for n in ["x/a", "y/d"] {
        fs::write(root.join(n), b"edited outside\n").unwrap();
    }
    restore(&["/x/b"]).await;
    assert_eq!(fs::read(root.join("x/b")).unwrap(), b"same bytes\n");
    assert_eq!(fs::metadata(root.join("x/b")).unwrap().nlink(), 1);
    for n in ["x/a", "y/d"] {
        assert_eq!(fs::read(root.join(n)).unwrap(), b"edited outside\n");
        assert_eq!(fs::metadata(root.join(n)).unwrap().nlink(), 1);
    }
}

/// The changes of a diff that concern hard links: path to the names it now shares with.
async fn link_changes(e: &Engine, from: &str, to: &str) -> Vec<(String, ChangeKind, Vec<String>)> {
    let d = e
        .diff(&id(), from, DiffTarget::Snapshot(to.into()), 1000)
        .await
        .unwrap();
    d.changes
        .into_iter()
        .filter_map(|c| c.hard_links.map(|l| (c.path, c.kind, l)))
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn a_diff_reports_files_whose_links_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let e = setup(tmp.path()).await;
    let root = e.root_path(&id());
    arrange(&root, &singles());
    let apart = snapshot(&e).await;
    // Only the linking differs: same bytes, mode, owner and mtime everywhere.
    arrange(&root, &[vec![0, 1, 3], vec![2], vec![4], vec![5]]);
    let joined = snapshot(&e).await;

    let md = ChangeKind::MetadataOnly;
    assert_eq!(
        link_changes(&e, &apart, &joined).await,
        vec![
            ("x/a".into(), md, strings(&["x/b", "y/d"])),
            ("x/b".into(), md, strings(&["x/a", "y/d"])),
            ("y/d".into(), md, strings(&["x/a", "x/b"])),
        ]
    );
    assert_eq!(
        link_changes(&e, &joined, &apart).await,
        vec![
            ("x/a".into(), md, vec![]),
            ("x/b".into(), md, vec![]),
            ("y/d".into(), md, vec![]),
        ]
    );

    // Moving: x/c joins the group by `ln -f`, y/d leaves it by being written anew. The
    // group's inode (x/a, x/b) stays, so those two are not listed.
    fs::remove_file(root.join("x/c")).unwrap();
    fs::hard_link(root.join("x/a"), root.join("x/c")).unwrap();
    fs::remove_file(root.join("y/d")).unwrap();
    fs::write(root.join("y/d"), b"same bytes\n").unwrap();
    common::set_mtime(&root.join("y/d"), 1_700_000_000, 0);
    let moved = snapshot(&e).await;
    assert_eq!(
        link_changes(&e, &joined, &moved).await,
        vec![
            ("x/c".into(), md, strings(&["x/a", "x/b"])),
            ("y/d".into(), md, vec![]),
        ]
    );

    // The same groups on a new inode (as after a copy or a restore) are no change of links:
    // x/a, x/b, x/c move together to a file made while the old inode still exists.
    let old = ino(&root, "x/a");
    fs::write(root.join("x/new"), b"same bytes\n").unwrap();
    common::set_mtime(&root.join("x/new"), 1_700_000_000, 0);
    fs::rename(root.join("x/new"), root.join("x/a")).unwrap();
    for n in ["x/b", "x/c"] {
        fs::remove_file(root.join(n)).unwrap();
        fs::hard_link(root.join("x/a"), root.join(n)).unwrap();
    }
    assert_ne!(ino(&root, "x/a"), old);
    let renumbered = snapshot(&e).await;
    assert_eq!(link_changes(&e, &moved, &renumbered).await, vec![]);

    // Content and links changed at once: one change, `modified`, with its links.
    fs::remove_file(root.join("y/e")).unwrap();
    fs::hard_link(root.join("y/f"), root.join("y/e")).unwrap();
    fs::write(root.join("y/f"), b"new bytes\n").unwrap();
    let both = snapshot(&e).await;
    let d = e
        .diff(&id(), &renumbered, DiffTarget::Snapshot(both), 1000)
        .await
        .unwrap();
    let files: Vec<_> = d
        .changes
        .iter()
        .filter(|c| c.entry_type == "file")
        .map(|c| (c.path.as_str(), c.kind, c.hard_links.clone()))
        .collect();
    assert_eq!(
        files,
        vec![
            ("y/e", ChangeKind::Modified, Some(strings(&["y/f"]))),
            ("y/f", ChangeKind::Modified, Some(strings(&["y/e"]))),
        ]
    );
}

#[tokio::test]
async fn a_diff_cut_at_its_limit_stays_in_path_order() {
    let tmp = tempfile::tempdir().unwrap();
    let e = setup(tmp.path()).await;
    let root = e.root_path(&id());
    arrange(&root, &singles());
    let apart = snapshot(&e).await;
    arrange(&root, &[vec![0, 1, 2, 3, 4, 5]]);
    let joined = snapshot(&e).await;
    let full = e
        .diff(&id(), &apart, DiffTarget::Snapshot(joined.clone()), 1000)
        .await
        .unwrap();
    assert!(!full.truncated);
    let cut = e
        .diff(&id(), &apart, DiffTarget::Snapshot(joined), 3)
        .await
        .unwrap();
    assert!(cut.truncated);
    assert_eq!(cut.changes, full.changes[..3].to_vec());
}
