//! Memory stays bounded: snapshotting and copying a 2 GiB file keeps peak RSS under 200 MB.
//! (Its own test binary, so no other test's allocations count.)

mod common;

use common::open_engine as open;

use std::io::Write;

use engine::{ContainerId, CopySource, RootSource, SnapshotOptions};

fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn reset_peak_rss() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    std::fs::write("/proc/self/clear_refs", b"5").unwrap();
}

/// Where the test's 2 GiB (then another 2 GiB for the copy) go. This test is about memory,
/// not disk, and CI machines have run out of disk here: so the tree lives in `/dev/shm` when
/// that tmpfs has room. Pages written to tmpfs with `write(2)` are page cache, not the
/// process's resident set, so they do not count towards the peak RSS measured below.
fn scratch_dir() -> tempfile::TempDir {
    const NEED: u64 = 5 << 30;
    let shm = std::path::Path::new("/dev/shm");
    let room = rustix::fs::statvfs(shm)
        .map(|s| s.f_bavail * s.f_frsize)
        .unwrap_or(0);
    if room >= NEED {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

#[tokio::test]
async fn a_two_gib_file_is_streamed_not_held() {
    let tmp = scratch_dir();
    let e = open(tmp.path()).await;
    let c = ContainerId::from_bytes([1; 12]);
    e.create_root(&c, RootSource::Empty).await.unwrap();
    // 2 GiB: 64 different 1 MiB blocks in turn, so content-defined chunks repeat and the
    // store stays small while every byte is still read, chunked and hashed.
    let blocks: Vec<Vec<u8>> = (0..64).map(|i| common::noise(1 << 20, 1000 + i)).collect();
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(e.root_path(&c).join("big.img")).unwrap());
    for i in 0..2048 {
        f.write_all(&blocks[i % 64]).unwrap();
    }
    f.into_inner().unwrap().sync_all().unwrap();
    drop(blocks);

    reset_peak_rss();
    let s = e.snapshot(&c, SnapshotOptions::default()).await.unwrap();
    assert_eq!(s.size, 2 << 30);
    let after_snapshot = peak_rss_kib();
    assert!(
        after_snapshot < 200 * 1024,
        "peak RSS {after_snapshot} KiB while snapshotting 2 GiB"
    );
    // The copy reads the snapshot, not the live file: free its 2 GiB first.
    std::fs::remove_file(e.root_path(&c).join("big.img")).unwrap();

    reset_peak_rss();
    let to = ContainerId::from_bytes([2; 12]);
    e.copy(&c, CopySource::Snapshot(s.name.clone()), &to)
        .await
        .unwrap();
    let after_copy = peak_rss_kib();
    assert!(
        after_copy < 200 * 1024,
        "peak RSS {after_copy} KiB while copying 2 GiB"
    );
    assert_eq!(
        std::fs::metadata(e.root_path(&to).join("big.img"))
            .unwrap()
            .len(),
        2 << 30
    );
}
