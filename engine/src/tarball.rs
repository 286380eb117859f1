//! The tar encoding of a snapshot's tree: what [`crate::export`] streams.
//!
//! Each member is an optional pax extended header (`x`) carrying what the classic header
//! cannot hold, then the member's header, then its data padded to 512 bytes; two zero blocks
//! end the archive. Names and link targets are written as the raw bytes the tree holds (Linux
//! names need not be UTF-8), in the header when they fit its 100 bytes and as pax
//! `path`/`linkpath` records otherwise. Owners are numeric only (no user or group names).
//! Times are exact: a pax `mtime` record carries nanoseconds and times before 1970. Extended
//! attributes are pax `SCHILY.xattr.<name>` records, as GNU tar `--xattrs` writes them.
//! Hard links: the first name of a link group (in walk order) carries the data, every later
//! name is a `Link` member naming the first. Paths are relative (`etc/hostname`); the root
//! directory itself is the member `./`, so its owner, mode and time travel too.
//!
//! Files with holes are GNU "old sparse" members (type `S`, the sparse map in the GNU header
//! and its extension blocks). Not PAX sparse 1.0: the `tar` crate, which our own importer
//! ([`crate::unpack`]) reads archives with, understands only the GNU format and would unpack
//! a PAX 1.0 member as a file holding its map under a made-up name, while GNU tar reads both.
//! So old sparse is the one encoding that round-trips through both.
//!
//! Invariant of every sparse member written here: every data region but the last covers a
//! whole number of 512-byte blocks. GNU tar starts each region's data on a new block while the
//! `tar` crate reads regions back to back; they agree exactly when that holds. Regions read
//! from a filesystem are block-aligned anyway; any that is not is widened with the zeros of
//! the hole that follows it (the bytes are the same, only a few more are stored).

use std::collections::HashMap;
use std::io::Write;

use tar::{EntryType, Header};

use crate::error::EngineError;
use crate::materialize::load_tree;
use crate::pack::{ObjectKind, PackError};
use crate::store::{ObjectStore, StoreError};
use crate::tree::{Entry, EntryKind, Extent};

/// Bytes of a tar block.
const BLOCK: u64 = 512;
/// Largest value of an 11-digit octal header field (size, mtime).
const OCTAL_11: u64 = 0o777_7777_7777;
/// Largest value of a 7-digit octal header field (uid, gid).
const OCTAL_7: u64 = 0o777_7777;
/// Bytes of the header's name and link name fields.
const NAME_FIELD: usize = 100;
/// Sparse map entries in the GNU header itself, and in each extension block after it.
const SPARSE_IN_HEADER: usize = 4;
const SPARSE_IN_EXTENSION: usize = 21;

/// What [`write_tar`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TarStats {
    /// Members written: directories, files, links, devices and FIFOs (pax headers aside).
    pub members: u64,
    /// Bytes of file data written (holes not counted).
    pub data_bytes: u64,
}

/// Writes the snapshot whose root entry is `root` (see [`crate::materialize::load_root`]) to
/// `out` as a tar stream, end-of-archive marker included, and flushes `out`.
///
/// Every tree and chunk is read through the store, which checks its hash: damage, a missing
/// object or an inconsistent tree ends the stream with an error before any wrong byte is
/// written (so the marker is missing too). A failing `out` ends it with
/// [`EngineError::Io`]. Memory: one chunk, plus one decoded tree per directory level.
pub fn write_tar<W: Write>(
    store: &ObjectStore,
    root: &Entry,
    out: W,
) -> Result<TarStats, EngineError> {
    let EntryKind::Dir { tree } = &root.kind else {
        return Err(EngineError::Invalid(
            "a snapshot's root is not a directory".into(),
        ));
    };
    let mut w = TarWriter {
        store,
        out,
        first_of_group: HashMap::new(),
        stats: TarStats::default(),
    };
    w.member(b"./", root)?;
    // Depth first with an explicit stack (a tree may be deeper than a thread's stack allows
    // recursion); a directory's member comes before its children.
    let mut stack: Vec<(Vec<u8>, std::vec::IntoIter<Entry>)> =
        vec![(Vec::new(), load_tree(store, tree)?.entries.into_iter())];
    while let Some((prefix, entries)) = stack.last_mut() {
        let Some(e) = entries.next() else {
            stack.pop();
            continue;
        };
        let mut path = prefix.clone();
        path.extend_from_slice(&e.name);
        if let EntryKind::Dir { tree } = &e.kind {
            path.push(b'/');
            w.member(&path, &e)?;
            let children = load_tree(store, tree)?.entries.into_iter();
            stack.push((path, children));
        } else {
            w.member(&path, &e)?;
        }
    }
    w.write(&[0u8; 2 * BLOCK as usize])?;
    w.out.flush().map_err(write_failed)?;
    Ok(w.stats)
}

fn write_failed(source: std::io::Error) -> EngineError {
    EngineError::Io {
        context: "cannot write the tar stream".into(),
        source,
    }
}

struct TarWriter<'a, W: Write> {
    store: &'a ObjectStore,
    out: W,
    /// The path of the first name written of each hard-link group.
    first_of_group: HashMap<u64, Vec<u8>>,
    stats: TarStats,
}

/// How a member's header is laid out.
struct Member<'p> {
    kind: EntryType,
    /// Bytes of data that follow the header in the archive.
    size: u64,
    link: Option<&'p [u8]>,
    rdev: Option<u64>,
    /// For a sparse member: the file's logical size and its data regions.
    sparse: Option<(u64, Vec<(u64, u64)>)>,
}

impl<W: Write> TarWriter<'_, W> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        self.out.write_all(bytes).map_err(write_failed)
    }

    fn write_zeros(&mut self, mut n: u64) -> Result<(), EngineError> {
        const ZEROS: [u8; 8192] = [0; 8192];
        while n > 0 {
            let k = n.min(ZEROS.len() as u64) as usize;
            self.write(&ZEROS[..k])?;
            n -= k as u64;
        }
        Ok(())
    }

    fn pad(&mut self, written: u64) -> Result<(), EngineError> {
        self.write_zeros((BLOCK - written % BLOCK) % BLOCK)
    }

    fn member(&mut self, path: &[u8], e: &Entry) -> Result<(), EngineError> {
        let simple = |kind| Member {
            kind,
            size: 0,
            link: None,
            rdev: None,
            sparse: None,
        };
        let first = match &e.kind {
            EntryKind::File { .. } if e.link_group != 0 => {
                self.first_of_group.get(&e.link_group).cloned()
            }
            _ => None,
        };
        let m = match &e.kind {
            EntryKind::File { .. } if first.is_some() => Member {
                link: first.as_deref(),
                ..simple(EntryType::Link)
            },
            EntryKind::File { size, extents } => {
                if e.link_group != 0 {
                    self.first_of_group.insert(e.link_group, path.to_vec());
                }
                if extents.iter().any(|x| matches!(x, Extent::Hole { .. })) {
                    let regions = data_regions(extents);
                    Member {
                        size: regions.iter().map(|r| r.1).sum(),
                        sparse: Some((*size, regions)),
                        ..simple(EntryType::GNUSparse)
                    }
                } else {
                    Member {
                        size: *size,
                        ..simple(EntryType::Regular)
                    }
                }
            }
            EntryKind::Dir { .. } => simple(EntryType::Directory),
            EntryKind::Symlink { target } => Member {
                link: Some(target),
                ..simple(EntryType::Symlink)
            },
            EntryKind::CharDevice { rdev } => Member {
                rdev: Some(*rdev),
                ..simple(EntryType::Char)
            },
            EntryKind::BlockDevice { rdev } => Member {
                rdev: Some(*rdev),
                ..simple(EntryType::Block)
            },
            EntryKind::Fifo => simple(EntryType::Fifo),
        };
        self.headers(path, e, &m)?;
        if let EntryKind::File { extents, .. } = &e.kind
            && m.kind != EntryType::Link
        {
            let written = match &m.sparse {
                Some((_, regions)) => self.sparse_data(path, extents, regions)?,
                None => self.data(path, extents)?,
            };
            if written != m.size {
                return Err(inconsistent(path, "its data does not match its header"));
            }
            self.stats.data_bytes += written;
            self.pad(written)?;
        }
        self.stats.members += 1;
        Ok(())
    }

    /// The pax header (when needed), then the member's own header (with a sparse member's
    /// extension blocks).
    fn headers(&mut self, path: &[u8], e: &Entry, m: &Member<'_>) -> Result<(), EngineError> {
        let mut pax = Vec::new();
        let mut h = if m.sparse.is_some() {
            Header::new_gnu()
        } else {
            Header::new_ustar()
        };
        h.set_entry_type(m.kind);
        h.set_mode(e.mode & 0o7777);
        put_name(&mut h.as_old_mut().name, path, b"path", &mut pax);
        if let Some(link) = m.link {
            put_name(&mut h.as_old_mut().linkname, link, b"linkpath", &mut pax);
        }
        for (key, id) in [(&b"uid"[..], e.uid), (b"gid", e.gid)] {
            if u64::from(id) > OCTAL_7 {
                pax_record(&mut pax, key, id.to_string().as_bytes());
            }
        }
        // The header's fields then fall back to the binary encoding GNU tar and the `tar`
        // crate both read; the pax records are the portable truth.
        h.set_uid(u64::from(e.uid));
        h.set_gid(u64::from(e.gid));
        let sec = e.mtime_sec;
        h.set_mtime(u64::try_from(sec).unwrap_or(0));
        if e.mtime_nsec != 0 || !(0..=OCTAL_11 as i64).contains(&sec) {
            pax_record(&mut pax, b"mtime", pax_time(sec, e.mtime_nsec).as_bytes());
        }
        h.set_size(m.size);
        // A sparse member's header size is its stored bytes and must stay so: a pax `size`
        // would override it in both readers.
        if m.size > OCTAL_11 && m.sparse.is_none() {
            pax_record(&mut pax, b"size", m.size.to_string().as_bytes());
        }
        // Zeros for what is not a device: some readers (ours) parse the fields of FIFOs too,
        // and an empty field is not a number.
        let rdev = m.rdev.unwrap_or(0);
        let bad = |e: std::io::Error| inconsistent(path, &format!("device number: {e}"));
        h.set_device_major(rustix::fs::major(rdev)).map_err(bad)?;
        h.set_device_minor(rustix::fs::minor(rdev)).map_err(bad)?;
        for (name, value) in &e.xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend(escape_xattr_name(name));
            pax_record(&mut pax, &key, value);
        }
        let mut extension_blocks = Vec::new();
        if let Some((size, regions)) = &m.sparse
            && let Some(gnu) = h.as_gnu_mut()
        {
            extension_blocks = sparse_map(gnu, *size, regions);
        }
        h.set_cksum();
        if !pax.is_empty() {
            let mut x = Header::new_ustar();
            x.set_entry_type(EntryType::XHeader);
            put_name(
                &mut x.as_old_mut().name,
                b"././@PaxHeader",
                b"",
                &mut Vec::new(),
            );
            x.set_mode(0o644);
            x.set_size(pax.len() as u64);
            x.set_cksum();
            self.write(x.as_bytes())?;
            self.write(&pax)?;
            self.pad(pax.len() as u64)?;
        }
        self.write(h.as_bytes())?;
        for block in &extension_blocks {
            self.write(block.as_bytes())?;
        }
        Ok(())
    }

    /// Reads one chunk, checking that it is as long as the tree says.
    fn chunk(&self, path: &[u8], id: &crate::ObjectId, len: u32) -> Result<Vec<u8>, EngineError> {
        let bytes = self.store.read(id, ObjectKind::Chunk)?;
        if bytes.len() != len as usize {
            return Err(EngineError::Store(StoreError::Damaged(
                PackError::BadObject {
                    id: *id,
                    reason: format!(
                        "it holds {} bytes where the tree of {:?} records {len}",
                        bytes.len(),
                        String::from_utf8_lossy(path)
                    ),
                },
            )));
        }
        Ok(bytes)
    }

    /// A file without holes: its chunks in order. Returns the bytes written.
    fn data(&mut self, path: &[u8], extents: &[Extent]) -> Result<u64, EngineError> {
        let mut written = 0;
        for x in extents {
            match x {
                Extent::Data { id, len } => {
                    let bytes = self.chunk(path, id, *len)?;
                    self.write(&bytes)?;
                }
                Extent::Hole { len } => self.write_zeros(*len)?,
            }
            written += x.len();
        }
        Ok(written)
    }

    /// A sparse file's stored bytes: the data of each region of `regions` (the output of
    /// [`data_regions`] for `extents`), holes inside a region as zeros. Returns the bytes
    /// written.
    fn sparse_data(
        &mut self,
        path: &[u8],
        extents: &[Extent],
        regions: &[(u64, u64)],
    ) -> Result<u64, EngineError> {
        let (mut pos, mut written, mut first) = (0u64, 0u64, 0usize);
        for x in extents {
            match x {
                Extent::Data { id, len } => {
                    let bytes = self.chunk(path, id, *len)?;
                    self.write(&bytes)?;
                    written += bytes.len() as u64;
                }
                Extent::Hole { len } => {
                    let (start, end) = (pos, pos + len);
                    // Regions are sorted and disjoint, and so are the holes: skip the regions
                    // wholly before this hole, then zero-fill its overlap with the next ones.
                    while first < regions.len() && regions[first].0 + regions[first].1 <= start {
                        first += 1;
                    }
                    let mut k = first;
                    while k < regions.len() && regions[k].0 < end {
                        let (a, b) = (regions[k].0, regions[k].0 + regions[k].1);
                        let overlap = end.min(b) - start.max(a);
                        self.write_zeros(overlap)?;
                        written += overlap;
                        k += 1;
                    }
                }
            }
            pos += x.len();
        }
        Ok(written)
    }
}

fn inconsistent(path: &[u8], what: &str) -> EngineError {
    EngineError::Invalid(format!(
        "cannot export {:?}: {what}",
        String::from_utf8_lossy(path)
    ))
}

/// Puts `value` in a header field when it fits (with room for no terminating NUL needed:
/// a full field is read as is); otherwise adds the pax record `key` and puts a truncated
/// copy in the field for readers that know no pax.
fn put_name(field: &mut [u8; NAME_FIELD], value: &[u8], key: &[u8], pax: &mut Vec<u8>) {
    let n = value.len().min(NAME_FIELD);
    field[..n].copy_from_slice(&value[..n]);
    if value.len() > NAME_FIELD {
        pax_record(pax, key, value);
    }
}

/// Appends one pax record, `"<length> <key>=<value>\n"`, whose length counts itself.
pub(crate) fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3; // the space, the `=` and the newline
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

/// A time as a pax decimal number of seconds: `1700000000.123456789`, `-1.5` for half a
/// second before `-1` (the pair `(-2, 500000000)`), `-86400` for a whole day before 1970.
pub(crate) fn pax_time(sec: i64, nsec: u32) -> String {
    if nsec == 0 {
        sec.to_string()
    } else if sec >= 0 {
        format!("{sec}.{nsec:09}")
    } else {
        // sec + nsec/1e9 is negative: its magnitude is (-sec - 1) + (1e9 - nsec)/1e9.
        let whole = -(sec + 1);
        format!("-{whole}.{:09}", 1_000_000_000 - nsec)
    }
}

/// GNU tar's escaping of xattr names in pax keys: `%` and `=` (which would end the key)
/// become `%25` and `%3D`.
fn escape_xattr_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    for &b in name {
        match b {
            b'%' => out.extend_from_slice(b"%25"),
            b'=' => out.extend_from_slice(b"%3D"),
            _ => out.push(b),
        }
    }
    out
}

/// The data regions `(offset, length)` of a file with holes, in order: runs of data
/// extents merged, then widened so that every region but the last covers whole 512-byte
/// blocks (see the module's invariant). Regions stay disjoint and cover every data extent.
pub(crate) fn data_regions(extents: &[Extent]) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut pos = 0u64;
    for x in extents {
        if let Extent::Data { len, .. } = x {
            match runs.last_mut() {
                Some(last) if last.0 + last.1 == pos => last.1 += u64::from(*len),
                _ => runs.push((pos, u64::from(*len))),
            }
        }
        pos += x.len();
    }
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(runs.len());
    for (off, len) in runs {
        if let Some(last) = out.last_mut() {
            let rem = last.1 % BLOCK;
            if rem != 0 {
                let pad = BLOCK - rem;
                let gap = off - (last.0 + last.1);
                if gap <= pad {
                    // The hole between is shorter than the padding: store it as zeros.
                    last.1 = off + len - last.0;
                    continue;
                }
                last.1 += pad;
            }
        }
        out.push((off, len));
    }
    out
}

/// Writes a sparse member's map into its GNU header (the file's logical `size`, the first
/// regions) and returns the extension blocks that carry the rest. A file that ends in a
/// hole gets a last, empty region at its end, as GNU tar writes it, so both readers know
/// the full size from the map.
fn sparse_map(
    gnu: &mut tar::GnuHeader,
    size: u64,
    regions: &[(u64, u64)],
) -> Vec<tar::GnuExtSparseHeader> {
    let mut map = regions.to_vec();
    if map.last().is_none_or(|r| r.0 + r.1 < size) {
        map.push((size, 0));
    }
    gnu.set_real_size(size);
    let (head, rest) = map.split_at(map.len().min(SPARSE_IN_HEADER));
    for (slot, (off, len)) in gnu.sparse.iter_mut().zip(head) {
        slot.set_offset(*off);
        slot.set_length(*len);
    }
    gnu.set_is_extended(!rest.is_empty());
    let groups: Vec<&[(u64, u64)]> = rest.chunks(SPARSE_IN_EXTENSION).collect();
    let last = groups.len().saturating_sub(1);
    groups
        .iter()
        .enumerate()
        .map(|(i, group)| {
            let mut ext = tar::GnuExtSparseHeader::new();
            for (slot, (off, len)) in ext.sparse_mut().iter_mut().zip(group.iter()) {
                slot.set_offset(*off);
                slot.set_length(*len);
            }
            ext.set_is_extended(i < last);
            ext
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ObjectId;

    fn data(len: u32) -> Extent {
        Extent::Data {
            id: ObjectId::of(b"x"),
            len,
        }
    }

    fn hole(len: u64) -> Extent {
        Extent::Hole { len }
    }

    #[test]
    fn pax_records_count_their_own_length() {
        for (key, value) in [
            (&b"path"[..], &b"a"[..]),
            (b"mtime", b"1700000000.123456789"),
            (b"k", &[b'v'; 90][..]),
            (b"k", &[b'v'; 94][..]),
            (b"k", &[b'v'; 995][..]),
        ] {
            let mut out = Vec::new();
            pax_record(&mut out, key, value);
            let (len, _) = std::str::from_utf8(&out).unwrap().split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), out.len(), "{key:?}");
            assert!(out.ends_with(b"\n"));
        }
    }

    #[test]
    fn pax_times_are_exact_before_and_after_1970() {
        assert_eq!(pax_time(1_700_000_000, 123_456_789), "1700000000.123456789");
        assert_eq!(pax_time(5, 1), "5.000000001");
        assert_eq!(pax_time(-86_400, 0), "-86400");
        assert_eq!(pax_time(-2, 500_000_000), "-1.500000000");
        assert_eq!(pax_time(-1, 999_999_999), "-0.000000001");
        // Every one of them reads back as the same pair.
        for (s, n) in [
            (-2i64, 500_000_000u32),
            (-1, 999_999_999),
            (-86_400, 0),
            (7, 9),
        ] {
            assert_eq!(crate::unpack::parse_pax_time(&pax_time(s, n)), Some((s, n)));
        }
    }

    #[test]
    fn xattr_names_escape_what_would_end_a_pax_key() {
        assert_eq!(escape_xattr_name(b"user.a=b%c"), b"user.a%3Db%25c");
        assert_eq!(
            crate::unpack::unescape_xattr_name(&escape_xattr_name(b"user.a=b%c%3D")),
            b"user.a=b%c%3D"
        );
    }

    #[test]
    fn data_regions_merge_runs_and_keep_blocks_whole() {
        // Aligned data: one region per run of data.
        let x = [hole(4096), data(4096), data(8192), hole(4096), data(100)];
        assert_eq!(data_regions(&x), vec![(4096, 12288), (20480, 100)]);
        // A region of 1000 bytes is widened by the 24 zeros of a long hole after it.
        let x = [data(1000), hole(10_000), data(512)];
        assert_eq!(data_regions(&x), vec![(0, 1024), (11_000, 512)]);
        // A hole shorter than the padding is swallowed whole.
        let x = [data(1000), hole(10), data(512), hole(1 << 20)];
        assert_eq!(data_regions(&x), vec![(0, 1522)]);
        // All holes: no region.
        assert_eq!(data_regions(&[hole(1 << 30)]), vec![]);
    }

    #[test]
    fn long_sparse_maps_continue_in_extension_blocks() {
        let regions: Vec<(u64, u64)> = (0..30).map(|i| (i * 8192, 512)).collect();
        let mut h = Header::new_gnu();
        let ext = sparse_map(h.as_gnu_mut().unwrap(), 1 << 20, &regions);
        // 30 regions and the empty one at the end: 4 in the header, 21 + 6 after it.
        assert_eq!(ext.len(), 2);
        let gnu = h.as_gnu().unwrap();
        assert!(gnu.is_extended());
        assert_eq!(gnu.real_size().unwrap(), 1 << 20);
        assert!(ext[0].is_extended());
        assert!(!ext[1].is_extended());
        assert_eq!(ext[1].sparse()[5].offset().unwrap(), 1 << 20);
        assert_eq!(ext[1].sparse()[5].length().unwrap(), 0);
    }
}
