//! Export: a snapshot as a tar stream that our own importer and GNU tar both unpack into
//! exactly the tree that was snapshotted (owners, modes, nanosecond and pre-1970 times,
//! xattrs, hard links, devices, FIFOs, symlinks, sparse files, long and non-UTF-8 names);
//! damage ends the stream with an error; the reader going away stops it; a stalled export
//! never holds GC back, and GC keeps (and moves) what it reads.

mod common;

use common::open_engine as open;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use engine::pack::ObjectKind;
use engine::tree::{Entry, EntryKind, Extent, ROOT_NAME, Tree};
use engine::{ContainerId, Engine, EngineError, ExportOptions, ObjectId, RootSource};

fn cid(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

/// The common fixture, plus what only a tar writer can get wrong.
fn build(root: &Path) {
    common::build_fixture(root);
    let x = root.join("export");
    fs::create_dir(&x).unwrap();
    // A sparse file with a path over 100 bytes, xattrs (one whose name needs escaping in a
    // pax key) and a time before 1970 with nanoseconds.
    let long_dir = x.join("l".repeat(120));
    fs::create_dir(&long_dir).unwrap();
    let sparse = long_dir.join("sparse-with-a-long-path");
    let f = fs::File::create(&sparse).unwrap();
    f.set_len(64 << 20).unwrap();
    f.write_all_at(&common::noise(8192, 9), 1 << 20).unwrap();
    drop(f);
    common::set_xattr(&sparse, "user.odd=name%25", b"value with = and %");
    common::set_xattr(&sparse, "user.binary", &[0, 1, 2, 255]);
    common::set_mtime(&sparse, -1_234_567_890, 987_654_321);
    // Thirty data regions and an end that is data, not block-aligned: the sparse map goes
    // past the four slots of the header into extension blocks.
    let many = x.join("many-regions");
    let f = fs::File::create(&many).unwrap();
    for i in 0..30u64 {
        f.write_all_at(&common::noise(4096, 100 + i), i * (256 << 10))
            .unwrap();
    }
    f.write_all_at(b"the end, unaligned", 30 * (256 << 10) + 777)
        .unwrap();
    drop(f);
    // Nothing but a hole.
    fs::File::create(x.join("all-hole"))
        .unwrap()
        .set_len(10 << 20)
        .unwrap();
    // Names that are not UTF-8, short and long.
    fs::write(x.join(OsStr::from_bytes(b"latin1-\xe9t\xe9")), b"e acute").unwrap();
    let mut long_name = b"\xff\xfe-not-utf8-".to_vec();
    long_name.extend(std::iter::repeat_n(b'n', 150));
    fs::write(x.join(OsStr::from_bytes(&long_name)), b"long and odd").unwrap();
    // A symlink target and a hard link target over 100 bytes.
    std::os::unix::fs::symlink("t".repeat(300), x.join("long-target")).unwrap();
    fs::hard_link(&sparse, x.join("link-to-the-long-sparse-path")).unwrap();
    // Owners past what 7 octal digits hold; times before 1970, whole and fractional.
    let big = x.join("big-ids");
    fs::write(&big, b"ids").unwrap();
    common::lchown(&big, 3_000_000, 4_000_000_000);
    common::set_mtime(&big, -86_400, 0);
    common::set_mtime(&x.join("all-hole"), -1, 500_000_000);
    common::set_mtime(&x, 1_000_000_000, 999_999_999);
}

/// Takes a snapshot of `src` as container `c`; returns its name.
async fn snapshot_of(e: &Engine, c: &ContainerId, src: &Path) -> String {
    e.create_root(c, RootSource::Directory(src.to_path_buf()))
        .await
        .unwrap();
    e.snapshot(c, engine::SnapshotOptions::default())
        .await
        .unwrap()
        .name
}

/// The whole export, or the error that ended it (with what came before).
async fn export_all(
    e: &Engine,
    c: &ContainerId,
    name: &str,
    options: ExportOptions,
) -> (Vec<u8>, Option<EngineError>) {
    let piece_bytes = options.piece_bytes;
    let mut x = e.export(c, name, options).await.unwrap();
    let mut out = Vec::new();
    while let Some(piece) = x.next_piece().await {
        match piece {
            Ok(p) => {
                assert!(!p.is_empty() && p.len() <= piece_bytes, "{}", p.len());
                out.extend(p)
            }
            Err(err) => return (out, Some(err)),
        }
    }
    (out, None)
}

/// Unpacks `tar` with GNU tar as the task says users will: xattrs, numeric owners, modes.
fn gnu_extract(tar: &Path, into: &Path) {
    fs::create_dir(into).unwrap();
    let out = Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf"])
        .arg(tar)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "GNU tar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_same(want: &common::Tree, got: &common::Tree, what: &str) {
    for (path, d) in want {
        assert_eq!(got.get(path), Some(d), "{what}: {}", path.display());
    }
    assert_eq!(want.len(), got.len(), "{what}: entries differ");
}

fn allocated(path: &Path) -> u64 {
    fs::symlink_metadata(path).unwrap().blocks() * 512
}

#[tokio::test]
async fn an_export_unpacks_exactly_with_our_importer_and_with_gnu_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    build(&src);
    let want = common::describe(&src);
    let e = open(tmp.path()).await;
    let name = snapshot_of(&e, &cid(1), &src).await;

    let (bytes, err) = export_all(&e, &cid(1), &name, ExportOptions::default()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(bytes.len() % 512, 0);
    // Holes are not in the stream: a few MiB of data for several GiB of logical size.
    assert!(bytes.len() < 16 << 20, "{} bytes", bytes.len());
    let tarball = tmp.path().join("export.tar");
    fs::write(&tarball, &bytes).unwrap();

    // Our importer: the imported root, and a snapshot of it materialized elsewhere.
    e.create_root(
        &cid(2),
        RootSource::Tar(Box::new(fs::File::open(&tarball).unwrap())),
    )
    .await
    .unwrap();
    let imported = e.root_path(&cid(2));
    assert_same(&want, &common::describe(&imported), "imported");
    // The sparse files stayed sparse (describe compares allocation in MiB; say it plainly).
    assert!(allocated(&imported.join("sparse.img")) < 1 << 20);
    assert!(allocated(&imported.join("export/all-hole")) < 64 << 10);
    let again = e
        .snapshot(&cid(2), engine::SnapshotOptions::default())
        .await
        .unwrap();
    e.copy(&cid(2), engine::CopySource::Snapshot(again.name), &cid(3))
        .await
        .unwrap();
    assert_same(
        &want,
        &common::describe(&e.root_path(&cid(3))),
        "materialized",
    );

    // GNU tar lists the whole archive, the path past PATH_MAX included...
    let listed = Command::new("tar")
        .arg("-tf")
        .arg(&tarball)
        .output()
        .unwrap();
    assert!(listed.status.success());
    let listed = String::from_utf8_lossy(&listed.stdout);
    let deep_leaf = want
        .keys()
        .find(|p| p.ends_with("leaf") && p.as_os_str().len() > 4096)
        .expect("the fixture has a file past PATH_MAX");
    assert!(listed.contains(&*deep_leaf.to_string_lossy()), "{listed}");
    // ...but cannot create that path (it opens whole paths: "File name too long"). So it
    // unpacks a snapshot of the same tree without `deep`, and must give exactly that tree.
    let live = e.root_path(&cid(1));
    fs::remove_dir_all(live.join("deep")).unwrap();
    let want_gnu = common::describe(&live);
    let shallow = e
        .snapshot(&cid(1), engine::SnapshotOptions::default())
        .await
        .unwrap();
    let (bytes_gnu, err) = export_all(&e, &cid(1), &shallow.name, ExportOptions::default()).await;
    assert!(err.is_none(), "{err:?}");
    let tarball_gnu = tmp.path().join("shallow.tar");
    fs::write(&tarball_gnu, &bytes_gnu).unwrap();
    let by_gnu = tmp.path().join("gnu");
    gnu_extract(&tarball_gnu, &by_gnu);
    assert_same(&want_gnu, &common::describe(&by_gnu), "GNU tar");
    assert!(allocated(&by_gnu.join("sparse.img")) < 1 << 20);

    // An alias works like the name, and the same snapshot always gives the same bytes.
    e.edit(
        &cid(1),
        &name,
        engine::SnapshotEdit {
            alias: Some(Some("golden".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let small = ExportOptions {
        piece_bytes: 4096,
        queue: 1,
    };
    let (by_alias, err) = export_all(&e, &cid(1), "golden", small).await;
    assert!(err.is_none(), "{err:?}");
    assert!(by_alias == bytes, "the export by alias differs");

    // The comparison can fail: one nanosecond less on the source is seen.
    common::set_mtime(&src.join("export/big-ids"), -86_400, 1);
    assert_ne!(common::describe(&src), common::describe(&imported));
}

#[tokio::test]
async fn unknown_snapshots_are_named_in_the_error() {
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path()).await;
    e.create_root(&cid(1), RootSource::Empty).await.unwrap();
    let err = e
        .export(&cid(1), "snap-19990101-000000", ExportOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EngineError::NoSuchSnapshot { name, .. } if name == "snap-19990101-000000"),
        "{err:?}"
    );
}

/// A chunk of the store with one byte flipped in its pack.
fn corrupt(e: &Engine, data_dir: &Path, id: &ObjectId) {
    let at = e.store().locate(id).expect("the chunk is stored");
    let hex = at.pack.to_hex();
    let pack = data_dir
        .join("store/packs")
        .join(&hex[..2])
        .join(format!("{hex}.pack"));
    let mut b = fs::read(&pack).unwrap();
    let i = (at.entry.offset + u64::from(at.entry.stored_len) / 2) as usize;
    b[i] ^= 0x40;
    fs::write(&pack, b).unwrap();
}

#[tokio::test]
async fn a_damaged_chunk_ends_the_stream_with_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("a")).unwrap();
    // Smaller than the smallest chunk: the file is exactly one chunk, named by its hash.
    let victim = common::noise(10_000, 77);
    fs::write(src.join("a/before"), b"fine").unwrap();
    fs::write(src.join("b-victim"), &victim).unwrap();
    fs::write(src.join("c-after"), b"never reached").unwrap();
    let e = open(tmp.path()).await;
    let name = snapshot_of(&e, &cid(1), &src).await;
    drop(e);
    let e = open(tmp.path()).await;
    corrupt(&e, &tmp.path().join("data"), &ObjectId::of(&victim));
    // Reopened: the store's cache must not hide the damage.
    drop(e);
    let e = open(tmp.path()).await;

    let (bytes, err) = export_all(&e, &cid(1), &name, ExportOptions::default()).await;
    let err = err.expect("the damage must end the export with an error");
    assert!(err.to_string().contains("damaged"), "{err}");
    // Nothing of the damaged chunk and nothing after it was sent: no end-of-archive marker,
    // no later member.
    assert!(!bytes.ends_with(&[0u8; 1024]));
    assert!(!bytes.windows(8).any(|w| w == b"c-after\0"));
    assert!(
        !bytes
            .windows(victim.len().min(512))
            .any(|w| w == &victim[..512])
    );
}

#[tokio::test]
async fn a_stalled_export_never_holds_gc_back_and_keeps_what_it_reads() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    for i in 0..64u64 {
        fs::write(src.join(format!("f{i}")), common::noise(100_000, 2 * i + 1)).unwrap();
    }
    let e = open(tmp.path()).await;
    let c = cid(1);
    let first = snapshot_of(&e, &c, &src).await;
    // The second snapshot keeps every other file: its chunks sit in the first one's packs
    // (files are spread over the writer's threads), next to the other half's, so deleting
    // the first makes those packs about half dead and GC repacks them (moves the live
    // chunks to new packs).
    let live = e.root_path(&c);
    for i in (1..64).step_by(2) {
        fs::remove_file(live.join(format!("f{i}"))).unwrap();
    }
    let second = e
        .snapshot(&c, engine::SnapshotOptions::default())
        .await
        .unwrap()
        .name;
    let small = || ExportOptions {
        piece_bytes: 4096,
        queue: 1,
    };
    let (reference, err) = export_all(&e, &c, &second, small()).await;
    assert!(err.is_none(), "{err:?}");
    let (reference_first, err) = export_all(&e, &c, &first, small()).await;
    assert!(err.is_none(), "{err:?}");

    // A reader that drops the export after one piece: the writer stops.
    let mut x = e.export(&c, &second, small()).await.unwrap();
    x.next_piece().await.unwrap().unwrap();
    drop(x);

    // Two readers that stall after one piece, one of a snapshot then deleted. Collections
    // run meanwhile (none waits for a reader), and so do snapshots.
    let mut x = e.export(&c, &second, small()).await.unwrap();
    let mut got = x.next_piece().await.unwrap().unwrap();
    let mut y = e.export(&c, &first, small()).await.unwrap();
    let mut got_first = y.next_piece().await.unwrap().unwrap();
    e.delete(&c, &first).await.unwrap();
    let wait = std::time::Duration::from_secs(120);
    let report = tokio::time::timeout(wait, e.gc())
        .await
        .expect("GC waited for a stalled export")
        .unwrap();
    // The deleted snapshot is pinned by its reader: nothing of it is freed yet.
    assert_eq!(report.plan.dead_objects, 0, "{report:?}");
    tokio::time::timeout(wait, e.snapshot(&c, engine::SnapshotOptions::default()))
        .await
        .expect("a snapshot waited for a stalled export")
        .unwrap();
    while let Some(piece) = y.next_piece().await {
        got_first.extend(piece.unwrap());
    }
    assert!(
        got_first == reference_first,
        "the deleted snapshot's export changed under a collection"
    );
    drop(y);

    // Its reader gone, the deleted snapshot's own objects are garbage, and the packs they
    // share with the second snapshot are repacked while the second export still reads.
    let report = e.gc().await.unwrap();
    assert!(report.plan.dead_objects > 0, "{report:?}");
    assert!(
        report.repacked_bytes > 0,
        "nothing was repacked: {report:?}"
    );
    while let Some(piece) = x.next_piece().await {
        got.extend(piece.unwrap());
    }
    assert!(got == reference, "the export changed under a repack");
}

/// A chunk or tree into the store; returns its id.
fn put(e: &Engine, kind: ObjectKind, raw: &[u8]) -> ObjectId {
    let id = ObjectId::of(raw);
    let w = e.store().writer();
    w.add(kind, id, raw).unwrap();
    w.finish().unwrap();
    id
}

fn entry(name: &[u8], kind: EntryKind) -> Entry {
    Entry {
        name: name.to_vec(),
        kind,
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime_sec: 1_700_000_000,
        mtime_nsec: 0,
        xattrs: Vec::new(),
        link_group: 0,
        flags: 0,
    }
}

#[tokio::test]
async fn data_regions_that_end_inside_a_block_round_trip_through_both_readers() {
    // No filesystem makes such a file (holes are whole blocks), but a tree may say so: the
    // writer widens the regions with zeros so GNU tar and the tar crate agree.
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path()).await;
    let pieces: Vec<Vec<u8>> = [1000usize, 512, 700, 3]
        .iter()
        .enumerate()
        .map(|(i, n)| common::noise(*n, 40 + i as u64))
        .collect();
    let ids: Vec<ObjectId> = pieces
        .iter()
        .map(|p| put(&e, ObjectKind::Chunk, p))
        .collect();
    let d = |i: usize| Extent::Data {
        id: ids[i],
        len: pieces[i].len() as u32,
    };
    let extents = vec![
        d(0),
        Extent::Hole { len: 10_000 },
        d(1),
        Extent::Hole { len: 5 },
        d(2),
        Extent::Hole { len: 1 << 20 },
        d(3),
        Extent::Hole { len: 4096 },
    ];
    let mut expected = Vec::new();
    for x in &extents {
        match x {
            Extent::Data { id, .. } => {
                expected.extend(&pieces[ids.iter().position(|i| i == id).unwrap()])
            }
            Extent::Hole { len } => expected.extend(std::iter::repeat_n(0u8, *len as usize)),
        }
    }
    let size = expected.len() as u64;
    let mut tree = Tree {
        entries: vec![entry(b"odd", EntryKind::File { size, extents })],
    };
    tree.canonicalize();
    let dir = put(&e, ObjectKind::Tree, &tree.encode());
    let mut root = entry(ROOT_NAME, EntryKind::Dir { tree: dir });
    root.mode = 0o755;

    let mut bytes = Vec::new();
    engine::tarball::write_tar(e.store(), &root, &mut bytes).unwrap();
    let tarball = tmp.path().join("odd.tar");
    fs::write(&tarball, &bytes).unwrap();
    e.create_root(
        &cid(5),
        RootSource::Tar(Box::new(fs::File::open(&tarball).unwrap())),
    )
    .await
    .unwrap();
    let by_gnu = tmp.path().join("gnu");
    gnu_extract(&tarball, &by_gnu);
    for dir in [e.root_path(&cid(5)), by_gnu] {
        let got = fs::read(dir.join("odd")).unwrap();
        assert_eq!(got.len(), expected.len(), "{}", dir.display());
        assert!(got == expected, "{}: the bytes differ", dir.display());
        // The megabyte hole stayed a hole.
        assert!(allocated(&dir.join("odd")) < 512 << 10, "{}", dir.display());
    }
}
