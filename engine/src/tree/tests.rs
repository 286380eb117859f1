//! Unit tests of the tree format: round trips, versions, limits and hostile input.

use super::*;

fn entry(name: &[u8], kind: EntryKind) -> Entry {
    Entry {
        name: name.to_vec(),
        kind,
        mode: 0o4755,
        uid: 1000,
        gid: 100,
        mtime_sec: -5,
        mtime_nsec: 999_999_999,
        xattrs: vec![(b"security.capability".to_vec(), vec![1, 0, 0, 2])],
        link_group: 0,
        flags: 0,
    }
}

fn sample() -> Tree {
    let id = ObjectId::of(b"x");
    let mut t = Tree {
        entries: vec![
            entry(b"z-fifo", EntryKind::Fifo),
            entry(
                b"file",
                EntryKind::File {
                    size: 10 + (1 << 40),
                    extents: vec![Extent::Data { id, len: 10 }, Extent::Hole { len: 1 << 40 }],
                },
            ),
            entry(b"dir", EntryKind::Dir { tree: id }),
            entry(
                "名前\nnewline".as_bytes(),
                EntryKind::Symlink {
                    target: b"/etc/passwd".to_vec(),
                },
            ),
            entry(b"chr", EntryKind::CharDevice { rdev: 0x0501 }),
            entry(b"blk", EntryKind::BlockDevice { rdev: 0x0801 }),
            entry(&[b'n'; 255], EntryKind::Fifo),
        ],
    };
    t.canonicalize();
    t
}

#[test]
fn round_trips_canonically() {
    let t = sample();
    let bytes = t.encode();
    let back = Tree::decode(&bytes).unwrap();
    assert_eq!(back, t);
    assert_eq!(back.encode(), bytes);
    assert_eq!(back.id(), ObjectId::of(&bytes));
}

#[test]
fn hostile_names_are_refused() {
    for bad in [&b""[..], b".", b"..", b"a/b", b"/", b"nul\0", &[b'x'; 256]] {
        assert!(validate_name(bad).is_err(), "{bad:?}");
        let mut t = Tree {
            entries: vec![entry(b"ok", EntryKind::Fifo)],
        };
        t.entries[0].name = bad.to_vec();
        assert!(Tree::decode(&t.encode()).is_err(), "{bad:?}");
    }
    validate_name(b"...").unwrap();
    validate_name(" .. ".as_bytes()).unwrap();
}

#[test]
fn unsorted_or_duplicate_entries_are_refused() {
    let mut t = sample();
    t.entries.swap(0, 1);
    assert!(matches!(
        Tree::decode(&t.encode()),
        Err(TreeError::Order(_))
    ));
    let mut t = sample();
    let dup = t.entries[0].clone();
    t.entries.insert(0, dup);
    assert!(matches!(
        Tree::decode(&t.encode()),
        Err(TreeError::Order(_))
    ));
}

#[test]
fn every_truncation_and_trailing_garbage_is_refused() {
    let bytes = sample().encode();
    for n in 0..bytes.len() {
        assert!(
            Tree::decode(&bytes[..n]).is_err(),
            "prefix of {n} bytes accepted"
        );
    }
    let mut more = bytes.clone();
    more.push(0);
    assert_eq!(Tree::decode(&more), Err(TreeError::Trailing(1)));
}

#[test]
fn the_smallest_entries_decode() {
    // Found by the property test: a directory of FIFOs with one-letter names.
    let mut t = Tree {
        entries: (b'a'..=b'z')
            .map(|c| {
                let mut e = entry(&[c], EntryKind::Fifo);
                e.xattrs.clear();
                e
            })
            .collect(),
    };
    t.canonicalize();
    let bytes = t.encode();
    assert_eq!(bytes.len(), 9 + 26 * MIN_ENTRY_LEN);
    assert_eq!(Tree::decode(&bytes).unwrap(), t);
}

#[test]
fn huge_counts_do_not_allocate() {
    let mut bytes = MAGIC.to_vec();
    bytes.push(VERSION);
    bytes.extend_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(Tree::decode(&bytes), Err(TreeError::Truncated));
}

#[test]
fn extents_must_cover_the_size() {
    let mut t = Tree {
        entries: vec![entry(
            b"f",
            EntryKind::File {
                size: 11,
                extents: vec![Extent::Hole { len: 10 }],
            },
        )],
    };
    assert!(Tree::decode(&t.encode()).is_err());
    t.entries[0].kind = EntryKind::File {
        size: 10,
        extents: vec![Extent::Hole { len: 10 }],
    };
    Tree::decode(&t.encode()).unwrap();
}

#[test]
fn only_files_have_link_groups_and_modes_stay_in_range() {
    let mut t = Tree {
        entries: vec![entry(
            b"d",
            EntryKind::Dir {
                tree: ObjectId::of(b""),
            },
        )],
    };
    t.entries[0].link_group = 7;
    assert!(Tree::decode(&t.encode()).is_err());
    let mut t = Tree {
        entries: vec![entry(b"f", EntryKind::Fifo)],
    };
    t.entries[0].mode = 0o170000;
    assert!(Tree::decode(&t.encode()).is_err());
}

#[test]
fn flags_use_version_2_only_when_some_entry_has_them() {
    let plain = sample();
    assert_eq!(
        plain.encode()[4],
        VERSION,
        "no flags: the old encoding, the old ids"
    );
    let mut flagged = sample();
    let i = flagged
        .entries
        .iter()
        .position(|e| matches!(e.kind, EntryKind::File { .. }))
        .unwrap();
    flagged.entries[i].flags = 0x10 | 0x40 | 0x4000 | 0x2000_0000; // i, d, j, P
    let bytes = flagged.encode();
    assert_eq!(bytes[4], VERSION_FLAGS);
    assert_eq!(Tree::decode(&bytes).unwrap(), flagged);
    assert_ne!(flagged.id(), plain.id());
    // A version 2 tree without flags is not canonical; unknown bits and flags on a
    // symlink, device or FIFO are refused.
    let mut none = bytes.clone();
    let at = none
        .windows(4)
        .position(|w| w == 0x2000_4050u32.to_le_bytes())
        .unwrap();
    none[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    assert!(Tree::decode(&none).is_err());
    let mut unknown = bytes.clone();
    unknown[at..at + 4].copy_from_slice(&0x8_0000u32.to_le_bytes()); // extents `e`
    assert!(Tree::decode(&unknown).is_err());
    let mut fifo = sample();
    let j = fifo
        .entries
        .iter()
        .position(|e| matches!(e.kind, EntryKind::Fifo))
        .unwrap();
    fifo.entries[j].flags = 0x10;
    assert!(Tree::decode(&fifo.encode()).is_err());
}
