//! Disk full during snapshot, restore and copy, on a small tmpfs: a clear out-of-space
//! error, earlier snapshots intact, nothing half-made visible, and normal work once space
//! is freed.

mod common;

use common::open_engine as open;

use std::path::{Path, PathBuf};
use std::process::Command;

use engine::{ContainerId, CopySource, EngineError, RootSource, SnapshotOptions};

/// A tmpfs mounted for the test's lifetime (unmounted on drop, even after a failure).
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("mount(8) is needed for the disk-full test");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (the disk-full test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk {
            path: path.to_path_buf(),
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fills the filesystem with incompressible data until it is full; returns the filler path.
fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = common::noise(1 << 20, 99);
    loop {
        if std::io::Write::write_all(&mut f, &block).is_err() {
            break;
        }
    }
    p
}

fn cid(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

#[tokio::test]
async fn out_of_space_is_clear_and_harmless() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = SmallDisk::mount(&tmp.path().join("disk"), "48m");
    let e = open(&disk.path).await;
    e.create_root(&cid(1), RootSource::Empty).await.unwrap();
    let root = e.root_path(&cid(1));
    std::fs::write(root.join("data.bin"), common::noise(4 << 20, 1)).unwrap();
    let s1 = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap();
    let tree1 = common::describe(&root);

    // The container fills the disk with new data: the snapshot cannot store it.
    std::fs::write(root.join("new.bin"), common::noise(20 << 20, 2)).unwrap();
    // And changes a file, so that restoring s1 has to write 4 MiB.
    std::fs::write(root.join("data.bin"), common::noise(4 << 20, 3)).unwrap();
    let filler = fill(&disk.path);
    let err = e
        .snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NoSpace(_)), "{err:?}");
    assert!(err.to_string().contains("out of disk space"), "{err}");
    assert_eq!(
        e.list(&cid(1)).await.unwrap().len(),
        1,
        "a half-made snapshot is visible"
    );

    // A restore that needs room to stage fails before touching the live tree.
    let live = common::describe(&root);
    let err = e.restore(&cid(1), &s1.name).await.unwrap_err();
    assert!(matches!(err, EngineError::NoSpace(_)), "{err:?}");
    assert_eq!(
        common::describe(&root),
        live,
        "a failed restore changed the live tree"
    );
    assert!(!e.restore_pending(&cid(1)).await.unwrap());

    // A copy fails cleanly and leaves no container behind.
    let err = e
        .copy(&cid(1), CopySource::Snapshot(s1.name.clone()), &cid(2))
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NoSpace(_)), "{err:?}");
    assert!(
        !e.root_path(&cid(2)).exists()
            || std::fs::read_dir(e.root_path(&cid(2))).unwrap().count() == 0
    );

    // Space freed: everything works, and the earlier snapshot is intact.
    std::fs::remove_file(&filler).unwrap();
    let _ = std::fs::remove_file(root.join("new.bin"));
    assert!(e.verify(true).await.unwrap().is_clean());
    e.snapshot(&cid(1), SnapshotOptions::default())
        .await
        .unwrap();
    e.copy(&cid(1), CopySource::Snapshot(s1.name.clone()), &cid(3))
        .await
        .unwrap();
    assert_eq!(common::describe(&e.root_path(&cid(3))), tree1);
    e.restore(&cid(1), &s1.name).await.unwrap();
    assert_eq!(common::describe(&root), tree1);
    drop(e);
    drop(disk);
}
