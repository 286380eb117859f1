//! Fuzz targets for what reads untrusted bytes, as property tests (they run on the stable
//! toolchain in every CI run; `SNAPLINE_FUZZ_CASES` raises the case count for a campaign):
//!
//! - the tree-object decoder: arbitrary bytes and mutations of valid encodings never panic,
//!   and whatever decodes re-encodes to the same bytes (one canonical form);
//! - the entry-name validator: what it accepts is a single safe path component;
//! - the tar importer: arbitrary and mutated tar streams never panic and never create
//!   anything outside the target directory.

use std::path::Path;

use engine::ids::ObjectId;
use engine::tree::{Entry, EntryKind, Extent, Tree, validate_name};
use proptest::prelude::*;

fn cases(default: u32) -> u32 {
    std::env::var("SNAPLINE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn entry_kind() -> impl Strategy<Value = EntryKind> {
    prop_oneof![
        (
            0u64..1 << 20,
            proptest::collection::vec((any::<[u8; 32]>(), 1u32..65536, any::<bool>()), 0..4)
        )
            .prop_map(|(_, parts)| {
                let extents: Vec<Extent> = parts
                    .into_iter()
                    .map(|(id, len, hole)| {
                        if hole {
                            Extent::Hole {
                                len: u64::from(len),
                            }
                        } else {
                            Extent::Data {
                                id: ObjectId::from_bytes(id),
                                len,
                            }
                        }
                    })
                    .collect();
                let size = extents.iter().map(Extent::len).sum();
                EntryKind::File { size, extents }
            }),
        any::<[u8; 32]>().prop_map(|id| EntryKind::Dir {
            tree: ObjectId::from_bytes(id)
        }),
        proptest::collection::vec(1u8..=255, 1..64)
            .prop_map(|target| EntryKind::Symlink { target }),
        any::<u64>().prop_map(|rdev| EntryKind::CharDevice { rdev }),
        any::<u64>().prop_map(|rdev| EntryKind::BlockDevice { rdev }),
        Just(EntryKind::Fifo),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    let name = proptest::collection::vec(1u8..=255, 1..40)
        .prop_filter("a valid name", |n| validate_name(n).is_ok());
    let entry = (
        name,
        entry_kind(),
        0u32..0o10000,
        any::<u32>(),
        any::<u32>(),
        any::<i64>(),
        0u32..1_000_000_000,
        proptest::collection::vec(
            (
                proptest::collection::vec(1u8..=255, 1..20),
                proptest::collection::vec(any::<u8>(), 0..20),
            ),
            0..3,
        ),
    )
        .prop_map(
            |(name, kind, mode, uid, gid, mtime_sec, mtime_nsec, xattrs)| Entry {
                name,
                kind,
                mode,
                uid,
                gid,
                mtime_sec,
                mtime_nsec,
                xattrs,
                link_group: 0,
                flags: 0,
            },
        );
    proptest::collection::vec(entry, 0..8).prop_map(|mut entries| {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|a, b| a.name == b.name);
        for e in &mut entries {
            e.xattrs.sort_by(|a, b| a.0.cmp(&b.0));
            e.xattrs.dedup_by(|a, b| a.0 == b.0);
        }
        Tree { entries }
    })
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn the_tree_decoder_survives_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(t) = Tree::decode(&bytes) {
            prop_assert_eq!(t.encode(), bytes, "a second encoding of the same tree");
        }
    }

    #[test]
    fn the_tree_decoder_survives_mutations_of_valid_trees(
        t in tree(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let good = t.encode();
        prop_assert_eq!(Tree::decode(&good).ok(), Some(t.clone()));
        let mut bad = good.clone();
        if !bad.is_empty() {
            for (at, byte) in &flips {
                let i = at.index(bad.len());
                bad[i] ^= byte | 1;
            }
        }
        if let Ok(decoded) = Tree::decode(&bad) {
            prop_assert_eq!(decoded.encode(), bad.clone());
            for e in &decoded.entries {
                prop_assert!(validate_name(&e.name).is_ok());
            }
        }
        let short = &good[..cut.index(good.len().max(1)).min(good.len())];
        if short.len() < good.len() {
            prop_assert!(Tree::decode(short).is_err(), "a truncated tree decoded");
        }
    }

    #[test]
    fn accepted_names_are_one_safe_component(name in proptest::collection::vec(any::<u8>(), 0..300)) {
        if validate_name(&name).is_ok() {
            prop_assert!(!name.is_empty() && name.len() <= 255);
            prop_assert!(!name.contains(&b'/') && !name.contains(&0));
            prop_assert!(name != b"." && name != b"..");
            let tmp = tempfile::tempdir().unwrap();
            let p = tmp.path().join(std::ffi::OsStr::from_encoded_bytes_unchecked_safe(&name));
            prop_assert_eq!(p.parent(), Some(tmp.path()));
        }
    }
}

/// `OsStr` from bytes on Unix, without `unsafe`.
trait FromBytes {
    fn from_encoded_bytes_unchecked_safe(b: &[u8]) -> &std::ffi::OsStr;
}
impl FromBytes for std::ffi::OsStr {
    fn from_encoded_bytes_unchecked_safe(b: &[u8]) -> &std::ffi::OsStr {
        std::os::unix::ffi::OsStrExt::from_bytes(b)
    }
}

/// Every path below `dir`, relative.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A small valid tar with a hostile-looking mix: nested dirs, a symlink, a hard link.
fn seed_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "etc/", std::io::empty()).unwrap();
    let data = b"hello\n";
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(data.len() as u64);
    b.append_data(&mut h, "etc/hostname", &data[..]).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "etc/link", "../../outside").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "etc/hard", "etc/hostname").unwrap();
    b.into_inner().unwrap()
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn the_tar_importer_survives_any_stream(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
        junk in proptest::collection::vec(any::<u8>(), 0..600),
        mode in 0u8..3,
    ) {
        let bytes = match mode {
            0 => junk,
            1 => {
                let mut t = seed_tar();
                for (at, byte) in &flips {
                    let i = at.index(t.len());
                    t[i] ^= byte | 1;
                }
                t
            }
            _ => {
                let mut t = seed_tar();
                t.truncate(flips.first().map(|(at, _)| at.index(t.len())).unwrap_or(0));
                t
            }
        };
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let _ = engine::unpack::unpack_tar(&bytes[..], &root);
        // Nothing appears beside the root, whatever the stream said.
        prop_assert_eq!(listing(tmp.path()).iter().filter(|p| !p.starts_with("root")).count(), 0);
    }
}
