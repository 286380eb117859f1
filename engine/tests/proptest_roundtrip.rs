//! Random trees of every entry kind round-trip exactly through capture and materialize.

mod common;

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine::capture::capture;
use engine::materialize::materialize;
use engine::storage::MemoryPackStorage;
use engine::store::ObjectStore;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Kind {
    File {
        len: usize,
        seed: u64,
        sparse_gap: Option<u64>,
    },
    Dir(Vec<Node>),
    Symlink(Vec<u8>),
    Fifo,
    CharDev(u32, u32),
    /// A hard link to an earlier regular file of the tree (by index among files).
    Hardlink(usize),
}

#[derive(Debug, Clone)]
struct Node {
    name: Vec<u8>,
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    xattr: Option<Vec<u8>>,
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        "[a-z0-9._-]{1,12}".prop_map(|s| s.into_bytes()),
        "[ -~&&[^/]]{1,20}".prop_map(|s| s.into_bytes()),
        "\\PC{1,8}".prop_map(|s| s.replace('/', "_").into_bytes()),
        Just(b"new\nline".to_vec()),
        Just(vec![b'L'; 255]),
        // Arbitrary bytes, not UTF-8.
        proptest::collection::vec(1u8..=255, 1..16).prop_map(|v| v
            .into_iter()
            .map(|b| if b == b'/' { b'x' } else { b })
            .collect()),
    ]
    .prop_filter("not . or ..", |n| n != b"." && n != b".." && n.len() <= 255)
}

fn leaf() -> impl Strategy<Value = Kind> {
    prop_oneof![
        4 => (0usize..200_000, any::<u64>(), proptest::option::weighted(0.2, 1u64..(64 << 20)))
            .prop_map(|(len, seed, sparse_gap)| Kind::File { len, seed, sparse_gap }),
        1 => proptest::collection::vec(1u8..=255, 1..64).prop_map(Kind::Symlink),
        1 => Just(Kind::Fifo),
        1 => (0u32..10, 0u32..10).prop_map(|(a, b)| Kind::CharDev(a, b)),
        1 => (0usize..8).prop_map(Kind::Hardlink),
    ]
}

fn node(kind: impl Strategy<Value = Kind>) -> impl Strategy<Value = Node> {
    (
        name(),
        kind,
        prop_oneof![
            Just(0o644u32),
            Just(0o755),
            Just(0o4755),
            Just(0o2750),
            Just(0o1777),
            Just(0o000),
            0u32..0o7777
        ],
        prop_oneof![Just(0u32), Just(1000), any::<u32>().prop_map(|u| u % 70000)],
        prop_oneof![Just(0u32), Just(100), any::<u32>().prop_map(|g| g % 70000)],
        (0i64..2_000_000_000, 0i64..1_000_000_000),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64)),
    )
        .prop_map(|(name, kind, mode, uid, gid, mtime, xattr)| Node {
            name,
            kind,
            mode,
            uid,
            gid,
            mtime,
            xattr,
        })
}

fn tree() -> impl Strategy<Value = Vec<Node>> {
    let leaf_node = node(leaf());
    leaf_node
        .prop_recursive(3, 40, 6, |inner| {
            node(proptest::collection::vec(inner, 0..6).prop_map(Kind::Dir))
        })
        .prop_map(|n| vec![n])
        .prop_flat_map(|first| {
            proptest::collection::vec(node(leaf()), 0..6).prop_map(move |mut rest| {
                rest.extend(first.clone());
                rest
            })
        })
}

fn build(
    dir: &Path,
    nodes: &[Node],
    files: &mut Vec<PathBuf>,
    dirs: &mut Vec<(PathBuf, (i64, i64))>,
) {
    let mut seen = std::collections::HashSet::new();
    for n in nodes {
        if !seen.insert(n.name.clone()) {
            continue;
        }
        let path = dir.join(std::ffi::OsStr::from_bytes(&n.name));
        let is_link = matches!(n.kind, Kind::Symlink(_));
        match &n.kind {
            Kind::File {
                len,
                seed,
                sparse_gap,
            } => {
                let f = fs::File::create(&path).unwrap();
                let data = common::noise(*len, *seed);
                let at = sparse_gap.unwrap_or(0);
                std::os::unix::fs::FileExt::write_all_at(&f, &data, at).unwrap();
                if let Some(gap) = sparse_gap {
                    f.set_len(at + *len as u64 + gap).unwrap();
                }
                files.push(path.clone());
            }
            Kind::Dir(children) => {
                fs::create_dir(&path).unwrap();
                build(&path, children, files, dirs);
            }
            Kind::Symlink(target) => {
                std::os::unix::fs::symlink(
                    std::ffi::OsStr::from_bytes(
                        &target
                            .iter()
                            .map(|b| if *b == 0 { b'0' } else { *b })
                            .collect::<Vec<_>>(),
                    ),
                    &path,
                )
                .unwrap();
            }
            Kind::Fifo => {
                common::mknod(&path, rustix::fs::FileType::Fifo, 0o600, 0);
            }
            Kind::CharDev(a, b) => {
                common::mknod(
                    &path,
                    rustix::fs::FileType::CharacterDevice,
                    0o600,
                    rustix::fs::makedev(*a, *b),
                );
            }
            Kind::Hardlink(i) => {
                match files.get(*i) {
                    Some(target) => fs::hard_link(target, &path).unwrap(),
                    None => fs::write(&path, b"no file to link to yet").unwrap(),
                }
                // A second name shares the inode's metadata: leave it as the first one set it.
                continue;
            }
        }
        common::lchown(&path, n.uid, n.gid);
        if !is_link {
            fs::set_permissions(&path, fs::Permissions::from_mode(n.mode)).unwrap();
            // user.* xattrs exist only on regular files and directories.
            if let (Some(v), Kind::File { .. } | Kind::Dir(_)) = (&n.xattr, &n.kind) {
                common::set_xattr(&path, "user.prop", v);
            }
        }
        if matches!(n.kind, Kind::Dir(_)) {
            // Directory times are set after their children exist (below).
            dirs.push((path, n.mtime));
        } else {
            common::set_mtime(&path, n.mtime.0, n.mtime.1);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip_exactly(nodes in tree()) {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        fs::create_dir(&src).unwrap();
        let mut dirs = Vec::new();
        build(&src, &nodes, &mut Vec::new(), &mut dirs);
        for (d, (s, ns)) in dirs.iter().rev() {
            common::set_mtime(d, *s, *ns);
        }

        let store = ObjectStore::open(Arc::new(MemoryPackStorage::default())).unwrap();
        let w = store.writer();
        let (top, _) = capture(&src, &w).unwrap();
        w.finish().unwrap();
        let dst = tmp.path().join("dst");
        fs::create_dir(&dst).unwrap();
        materialize(&store, &top, &dst).unwrap();
        prop_assert_eq!(common::describe(&src), common::describe(&dst));
    }
}

/// Removes everything inside `dir`.
fn wipe(dir: &Path) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            fs::remove_dir_all(&p).unwrap();
        } else {
            fs::remove_file(&p).unwrap();
        }
    }
}

fn build_tree(root: &Path, nodes: &[Node]) {
    let mut dirs = Vec::new();
    build(root, nodes, &mut Vec::new(), &mut dirs);
    for (d, (s, ns)) in dirs.iter().rev() {
        common::set_mtime(d, *s, *ns);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, failure_persistence: None, ..ProptestConfig::default() })]

    /// Restoring a snapshot over any other tree gives exactly what copying it gives.
    #[test]
    fn restore_over_any_other_tree_equals_a_copy(a in tree(), b in tree()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            use engine::{ContainerId, CopySource, Engine, RootSource, SnapshotOptions};
            let tmp = tempfile::tempdir().unwrap();
            let pool = engine::db::open(&format!("sqlite://{}", tmp.path().join("m.db").display())).await.unwrap();
            let e = Engine::open(&tmp.path().join("data"), pool).await.unwrap();
            let (c, c2) = (ContainerId::from_bytes([1; 12]), ContainerId::from_bytes([2; 12]));
            e.create_root(&c, RootSource::Empty).await.unwrap();
            let root = e.root_path(&c);
            build_tree(&root, &a);
            let s = e.snapshot(&c, SnapshotOptions::default()).await.unwrap();
            wipe(&root);
            build_tree(&root, &b);
            e.restore(&c, &s.name).await.unwrap();
            e.copy(&c, CopySource::Snapshot(s.name.clone()), &c2).await.unwrap();
            assert_eq!(common::describe(&root), common::describe(&e.root_path(&c2)));
        });
    }
}
