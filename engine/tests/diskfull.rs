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

/// Fills the filesystem with incompressible data until it is full, then frees `leave`
/// bytes again (so an operation runs out at a different moment); returns the filler path.
fn fill(dir: &Path, leave: u64) -> PathBuf {
    let p = dir.join("filler");
    let mut f = std::fs::File::create(&p).unwrap();
    let block = common::noise(1 << 20, 99);
    loop {
        if std::io::Write::write_all(&mut f, &block).is_err() {
            break;
        }
    }
    let len = f.metadata().unwrap().len();
    f.set_len(len.saturating_sub(leave)).unwrap();
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

    // Ten passes, each leaving a different amount of room (0 to 2.25 MiB), so snapshot,
    // restore and copy run out of space at different moments. `SNAPLINE_DISKFULL_PASSES`
    // changes the count.
    let passes: u64 = std::env::var("SNAPLINE_DISKFULL_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let mut failed = [0u32; 3];
    for pass in 0..passes {
        let leave = (pass % 10) * 256 * 1024;
        let next = (pass as u8) * 3 + 2;
        // The container fills the disk with new data: the snapshot cannot store it.
        std::fs::write(root.join("new.bin"), common::noise(20 << 20, pass + 2)).unwrap();
        // And changes a file, so that restoring s1 has to write 4 MiB.
        std::fs::write(root.join("data.bin"), common::noise(4 << 20, pass + 100)).unwrap();
        let filler = fill(&disk.path, leave);
        let before = e.list(&cid(1)).await.unwrap().len();
        match e.snapshot(&cid(1), SnapshotOptions::default()).await {
            Err(err) => {
                assert!(
                    matches!(err, EngineError::NoSpace(_)),
                    "pass {pass}: {err:?}"
                );
                assert!(err.to_string().contains("out of disk space"), "{err}");
                assert_eq!(
                    e.list(&cid(1)).await.unwrap().len(),
                    before,
                    "pass {pass}: a half-made snapshot is visible"
                );
                failed[0] += 1;
            }
            // Enough room was left for this one: it must then be whole.
            Ok(_) => assert!(e.verify(true).await.unwrap().is_clean(), "pass {pass}"),
        }

        // A restore that needs room to stage fails before touching the live tree.
        let live = common::describe(&root);
        match e.restore(&cid(1), &s1.name).await {
            Err(err) => {
                assert!(
                    matches!(err, EngineError::NoSpace(_)),
                    "pass {pass}: {err:?}"
                );
                assert_eq!(
                    common::describe(&root),
                    live,
                    "pass {pass}: a failed restore changed the live tree"
                );
                assert!(!e.restore_pending(&cid(1)).await.unwrap());
                failed[1] += 1;
            }
            Ok(_) => assert_eq!(common::describe(&root), tree1, "pass {pass}"),
        }

        // A copy fails cleanly and leaves no container behind.
        match e
            .copy(&cid(1), CopySource::Snapshot(s1.name.clone()), &cid(next))
            .await
        {
            Err(err) => {
                assert!(
                    matches!(err, EngineError::NoSpace(_)),
                    "pass {pass}: {err:?}"
                );
                assert!(
                    !e.root_path(&cid(next)).exists()
                        || std::fs::read_dir(e.root_path(&cid(next))).unwrap().count() == 0,
                    "pass {pass}: a half-made copy"
                );
                failed[2] += 1;
            }
            Ok(_) => {
                assert_eq!(
                    common::describe(&e.root_path(&cid(next))),
                    tree1,
                    "pass {pass}"
                );
                e.delete_root(&cid(next)).await.unwrap();
            }
        }

        // Space freed: everything works, and the earlier snapshot is intact.
        std::fs::remove_file(&filler).unwrap();
        let _ = std::fs::remove_file(root.join("new.bin"));
        assert!(e.verify(true).await.unwrap().is_clean(), "pass {pass}");
        e.snapshot(&cid(1), SnapshotOptions::default())
            .await
            .unwrap();
        e.copy(
            &cid(1),
            CopySource::Snapshot(s1.name.clone()),
            &cid(next + 1),
        )
        .await
        .unwrap();
        assert_eq!(common::describe(&e.root_path(&cid(next + 1))), tree1);
        e.delete_root(&cid(next + 1)).await.unwrap();
        e.restore(&cid(1), &s1.name).await.unwrap();
        assert_eq!(common::describe(&root), tree1);
        // Keep the store small for the next pass.
        for s in e.list(&cid(1)).await.unwrap() {
            if s.name != s1.name {
                e.delete(&cid(1), &s.name).await.unwrap();
            }
        }
        e.gc().await.unwrap();
    }
    println!(
        "{passes} disk-full passes: out of space in {} snapshots, {} restores, {} copies; \
         never a half-made snapshot or copy, never a changed live tree",
        failed[0], failed[1], failed[2]
    );
    assert!(
        failed.iter().all(|n| *n > 0),
        "no pass ran out of space: {failed:?}"
    );
    drop(e);
    drop(disk);
}
