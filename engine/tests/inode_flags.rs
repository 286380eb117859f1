//! Inode flags (`chattr`/`lsattr`) through snapshot, restore, copy, diff and delete (issue 16
//! #2): every flag this filesystem lets us set on a file or a directory is captured, and a
//! restore or copy gives it back, clearing immutable and append-only flags to do its work and
//! setting them again as the snapshot has them.

mod common;

use common::open_engine as open;

use std::fs;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use engine::tree::FLAGS_KEPT;
use engine::{
    ChangeKind, ContainerId, CopySource, DiffTarget, RootSource, Selection, SnapshotOptions,
};

fn cid(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

/// `chattr` letters and their `FS_*_FL` bits, as in e2fsprogs' `lsattr` table.
const FLAGS: [(char, u32); 16] = [
    ('s', 0x1),
    ('u', 0x2),
    ('c', 0x4),
    ('S', 0x8),
    ('i', 0x10),
    ('a', 0x20),
    ('d', 0x40),
    ('A', 0x80),
    ('j', 0x4000),
    ('t', 0x8000),
    ('D', 0x1_0000),
    ('T', 0x2_0000),
    ('C', 0x80_0000),
    ('x', 0x200_0000),
    ('P', 0x2000_0000),
    ('F', 0x4000_0000),
];

fn set(path: &Path, flags: u32) {
    let f = fs::File::open(path).unwrap();
    engine::fsops::set_inode_flags(f.as_fd(), flags, FLAGS_KEPT)
        .unwrap_or_else(|e| panic!("chattr {flags:#x} {}: {e}", path.display()));
}

fn get(path: &Path) -> u32 {
    engine::fsops::inode_flags(fs::File::open(path).unwrap().as_fd()).unwrap()
}

/// Whether `flag` can be set (and reads back) on a scratch file or directory here.
fn settable(scratch: &Path, flag: u32, dir: bool) -> bool {
    let p = scratch.join(format!("probe-{flag:x}-{dir}"));
    if dir {
        fs::create_dir(&p).unwrap();
    } else {
        fs::write(&p, b"x").unwrap();
    }
    let f = fs::File::open(&p).unwrap();
    let ok = engine::fsops::set_inode_flags(f.as_fd(), flag, FLAGS_KEPT).is_ok()
        && engine::fsops::inode_flags(f.as_fd()).unwrap() & flag == flag;
    let _ = engine::fsops::set_inode_flags(f.as_fd(), 0, FLAGS_KEPT);
    drop(f);
    engine::fsops::remove_tree(&p).unwrap();
    ok
}

/// Removes the test's directory even where files are still immutable (a failed assertion
/// must not leave undeletable files in /tmp).
struct Scratch(tempfile::TempDir);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = engine::fsops::remove_tree(self.0.path());
    }
}

fn is_ext4(path: &Path) -> bool {
    const EXT4_SUPER_MAGIC: u64 = 0xEF53;
    rustix::fs::statfs(path).is_ok_and(|s| s.f_type as u64 == EXT4_SUPER_MAGIC)
}

#[tokio::test]
async fn every_flag_comes_back_through_restore_and_copy() {
    let tmp = Scratch(tempfile::tempdir().unwrap());
    let scratch = tmp.0.path().join("probe");
    fs::create_dir(&scratch).unwrap();
    let file_flags: Vec<(char, u32)> = FLAGS
        .iter()
        .copied()
        .filter(|(_, f)| settable(&scratch, *f, false))
        .collect();
    let dir_flags: Vec<(char, u32)> = FLAGS
        .iter()
        .copied()
        .filter(|(_, f)| settable(&scratch, *f, true))
        .collect();
    if is_ext4(tmp.0.path()) {
        // What ext4 lets root set everywhere; more (j, P, F) need capabilities or features.
        let letters: String = file_flags.iter().map(|(c, _)| *c).collect();
        for must in ['i', 'a', 'd', 'A', 'S', 's', 'u'] {
            assert!(
                letters.contains(must),
                "ext4 should allow {must}: {letters}"
            );
        }
        let dir_letters: String = dir_flags.iter().map(|(c, _)| *c).collect();
        for must in ['i', 'a', 'D', 'T'] {
            assert!(
                dir_letters.contains(must),
                "ext4 dirs should allow {must}: {dir_letters}"
            );
        }
    }
    assert!(
        !file_flags.is_empty(),
        "this filesystem keeps no inode flags"
    );

    let e = open(tmp.0.path()).await;
    e.create_root(&cid(1), RootSource::Empty).await.unwrap();
    let root = e.root_path(&cid(1));
    for (c, _) in &file_flags {
        fs::write(root.join(format!("f-{c}")), format!("file {c}\n")).unwrap();
    }
    for (c, _) in &dir_flags {
        fs::create_dir(root.join(format!("d-{c}"))).unwrap();
        fs::write(root.join(format!("d-{c}/inner")), format!("in {c}\n")).unwrap();
    }
    fs::write(root.join("combined"), b"i, a and d at once\n").unwrap();
    let plain = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap()
        .name;
    let want_plain = common::describe(&root);

    // Every flag on its own file and directory; one file with several.
    for (c, f) in &file_flags {
        set(&root.join(format!("f-{c}")), *f);
    }
    for (c, f) in &dir_flags {
        set(&root.join(format!("d-{c}")), *f);
    }
    set(&root.join("combined"), 0x10 | 0x20 | 0x40);
    let flagged = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap()
        .name;
    let want_flagged = common::describe(&root);
    assert_ne!(want_flagged, want_plain);
    assert!(want_flagged[Path::new("f-i")].contains("flags=0x10"));

    // The snapshot says so in a diff: a metadata change per flagged entry.
    let d = e
        .diff(&cid(1), &plain, DiffTarget::Snapshot(flagged.clone()), 1000)
        .await
        .unwrap();
    let changed: Vec<&str> = d.changes.iter().map(|c| c.path.as_str()).collect();
    for (c, _) in &file_flags {
        let p = format!("f-{c}");
        assert!(changed.contains(&p.as_str()), "{p}: {changed:?}");
    }
    assert!(
        d.changes.iter().all(|c| c.kind == ChangeKind::MetadataOnly),
        "{:?}",
        d.changes
    );

    // Change everything a restore has to undo, through the flags: rewrite and re-flag
    // files, fill and empty protected folders, add protected newcomers.
    let unprotect = |p: PathBuf| {
        set(&p, 0);
        p
    };
    for (c, _) in &file_flags {
        let p = unprotect(root.join(format!("f-{c}")));
        fs::write(&p, b"rewritten\n").unwrap();
        set(&p, 0x10);
    }
    for (c, _) in &dir_flags {
        let p = unprotect(root.join(format!("d-{c}")));
        fs::remove_file(p.join("inner")).unwrap();
        fs::write(p.join("newcomer"), b"new\n").unwrap();
        set(&p.join("newcomer"), 0x10);
        set(&p, 0x20);
    }
    fs::create_dir(root.join("new-append")).unwrap();
    fs::write(root.join("new-append/x"), b"x").unwrap();
    set(&root.join("new-append/x"), 0x10);
    set(&root.join("new-append"), 0x20);
    fs::write(root.join("new-immutable"), b"y").unwrap();
    set(&root.join("new-immutable"), 0x10);

    e.restore(&cid(1), &flagged).await.unwrap();
    assert_eq!(
        common::describe(&root),
        want_flagged,
        "restore of the flagged snapshot"
    );

    // And back to the snapshot without flags, over immutable and append-only inodes.
    e.restore(&cid(1), &plain).await.unwrap();
    assert_eq!(
        common::describe(&root),
        want_plain,
        "restore of the plain snapshot"
    );
    e.restore(&cid(1), &flagged).await.unwrap();
    assert_eq!(common::describe(&root), want_flagged);

    // A partial restore inside an immutable folder (outside the selection) keeps it so.
    let (c, _) = dir_flags
        .iter()
        .find(|(c, _)| *c == 'i')
        .copied()
        .unwrap_or(('i', 0x10));
    let folder = root.join(format!("d-{c}"));
    if get(&folder) & 0x10 != 0 {
        set(&folder, 0);
        fs::write(folder.join("inner"), b"changed\n").unwrap();
        set(&folder, 0x10);
        let sel = Selection::parse(&[format!("/d-{c}/inner")])
            .unwrap()
            .unwrap();
        e.restore_paths(&cid(1), &flagged, Some(&sel))
            .await
            .unwrap();
        // Everything as in the snapshot, the folder still immutable; only its mtime moved,
        // as any partial restore moves the mtime of the folder it writes into.
        let got = common::describe(&root);
        let differs: Vec<_> = got
            .iter()
            .filter(|(k, v)| want_flagged.get(*k) != Some(v))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(
            differs,
            vec![PathBuf::from(format!("d-{c}"))],
            "partial restore"
        );
        assert_eq!(get(&folder) & 0x10, 0x10);
        assert_eq!(
            fs::read(folder.join("inner")).unwrap(),
            format!("in {c}\n").as_bytes()
        );
    }

    // A copy has the flags too.
    e.copy(&cid(1), CopySource::Snapshot(flagged.clone()), &cid(2))
        .await
        .unwrap();
    assert_eq!(
        common::describe(&e.root_path(&cid(2))),
        want_flagged,
        "copy"
    );

    // Deleting containers with immutable files inside works.
    e.delete_root(&cid(2)).await.unwrap();
    assert!(!e.root_path(&cid(2)).exists());
    e.delete_root(&cid(1)).await.unwrap();
    assert!(!root.exists());
}
