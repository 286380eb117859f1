//! Pack files: many compressed objects in one immutable file.
//!
//! A snapshot of 20,000 small files becomes a handful of large sequential writes and a
//! handful of fsyncs. A pack is written once, under a temporary name, synced, then renamed to
//! its final name (the BLAKE3 hash of its bytes): it is never modified afterwards, so a crash
//! leaves either no pack or a complete one.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! "SLPACK01"                                   8-byte magic and version
//! salt       16 random bytes                   only in packs of a shared (S3) store
//! blob*      header (42 bytes) + stored bytes  one per object
//! footer     count u32, then per blob: offset u64 + header (50 bytes each)
//! trailer    footer length u32, BLAKE3 of the footer (32), "SLPKEND1"
//! header   = kind u8, compression u8, raw length u32, stored length u32, object id (32)
//! ```
//!
//! The footer makes a pack self-describing, so the index can be rebuilt from packs alone.

use crate::ids::ObjectId;

const MAGIC: &[u8; 8] = b"SLPACK01";
const END_MAGIC: &[u8; 8] = b"SLPKEND1";
const HEADER_LEN: usize = 42;
const FOOTER_ENTRY_LEN: usize = 8 + HEADER_LEN;
const TRAILER_LEN: usize = 4 + 32 + 8;

/// A pack is closed once it reaches this size (objects are never split across packs).
pub const TARGET_PACK_SIZE: usize = 16 * 1024 * 1024;
/// zstd level for new objects: the fastest level, within a few percent of level 3 on
/// root filesystems (measured by `snapline-bench`), so snapshots keep up with `cp -a`.
pub const ZSTD_LEVEL: i32 = 1;

/// What an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    /// A piece of file content.
    Chunk,
    /// A directory's tree.
    Tree,
}

impl ObjectKind {
    fn tag(self) -> u8 {
        match self {
            ObjectKind::Chunk => 1,
            ObjectKind::Tree => 2,
        }
    }

    fn from_tag(t: u8) -> Option<Self> {
        match t {
            1 => Some(ObjectKind::Chunk),
            2 => Some(ObjectKind::Tree),
            _ => None,
        }
    }
}

/// How a blob's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// As is (compression would not have saved space).
    None,
    /// zstd.
    Zstd,
}

/// Where one object lives inside a pack, and how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobEntry {
    /// The object's id (hash of its raw bytes).
    pub id: ObjectId,
    /// Chunk or tree.
    pub kind: ObjectKind,
    /// Stored form.
    pub compression: Compression,
    /// Offset of the stored bytes in the pack (after the blob's header).
    pub offset: u64,
    /// Length of the stored bytes.
    pub stored_len: u32,
    /// Length of the raw bytes.
    pub raw_len: u32,
}

/// Why a pack or blob cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// The pack file as a whole is unusable.
    #[error("pack {pack} is damaged: {reason}")]
    Damaged {
        /// The pack's id (hex).
        pack: String,
        /// What is wrong.
        reason: String,
    },
    /// One object fails its checks.
    #[error("object {id} is damaged: {reason}")]
    BadObject {
        /// The object.
        id: ObjectId,
        /// What is wrong.
        reason: String,
    },
}

/// Builds one pack in memory (bounded by [`TARGET_PACK_SIZE`] plus one object).
#[derive(Debug)]
pub struct PackBuilder {
    buf: Vec<u8>,
    entries: Vec<BlobEntry>,
}

impl Default for PackBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl PackBuilder {
    /// An empty pack.
    pub fn new() -> Self {
        let mut buf = Vec::with_capacity(1024 * 1024);
        buf.extend_from_slice(MAGIC);
        PackBuilder {
            buf,
            entries: Vec::new(),
        }
    }

    /// An empty pack that starts with 16 random bytes, so that its id is its own even when
    /// another writer packs the same objects in the same order. Readers find blobs through
    /// the footer's offsets, so the salt needs no format change.
    pub fn salted() -> Self {
        use std::io::Read;
        let mut p = Self::new();
        let mut salt = [0u8; 16];
        if std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut salt))
            .is_err()
        {
            // No urandom: the time and the address of this builder still differ per pack.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let seed = format!("{t}:{:p}:{}", &p, std::process::id());
            salt.copy_from_slice(&blake3::hash(seed.as_bytes()).as_bytes()[..16]);
        }
        p.buf.extend_from_slice(&salt);
        p
    }

    /// Compresses and appends an object whose id the caller computed from `raw`.
    pub fn add(&mut self, kind: ObjectKind, id: ObjectId, raw: &[u8]) -> BlobEntry {
        debug_assert_eq!(id, ObjectId::of(raw));
        let compressed = compress(raw);
        let (compression, stored): (Compression, &[u8]) = match &compressed {
            Some(c) if c.len() < raw.len() => (Compression::Zstd, c),
            _ => (Compression::None, raw),
        };
        let entry = BlobEntry {
            id,
            kind,
            compression,
            offset: (self.buf.len() + HEADER_LEN) as u64,
            stored_len: stored.len() as u32,
            raw_len: raw.len() as u32,
        };
        write_header(&mut self.buf, &entry);
        self.buf.extend_from_slice(stored);
        self.entries.push(entry);
        entry
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether no object was added.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the pack reached its target size and should be written.
    pub fn is_full(&self) -> bool {
        self.buf.len() >= TARGET_PACK_SIZE
    }

    /// Closes the pack: returns its id (hash of all its bytes), its bytes and its entries.
    pub fn finish(mut self) -> (ObjectId, Vec<u8>, Vec<BlobEntry>) {
        let footer_start = self.buf.len();
        self.buf
            .extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            self.buf
                .extend_from_slice(&(e.offset - HEADER_LEN as u64).to_le_bytes());
            write_header(&mut self.buf, e);
        }
        let footer_len = self.buf.len() - footer_start;
        let footer_hash = blake3::hash(&self.buf[footer_start..]);
        self.buf
            .extend_from_slice(&(footer_len as u32).to_le_bytes());
        self.buf.extend_from_slice(footer_hash.as_bytes());
        self.buf.extend_from_slice(END_MAGIC);
        let id = ObjectId::of(&self.buf);
        (id, self.buf, self.entries)
    }
}

thread_local! {
    // One zstd context per thread, reused: creating a context costs more than compressing
    // a small file, and snapshots store thousands of them.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// zstd at [`ZSTD_LEVEL`] with this thread's context; `None` if zstd fails (the object is
/// then stored as is).
fn compress(raw: &[u8]) -> Option<Vec<u8>> {
    COMPRESSOR.with_borrow_mut(|c| {
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        c.as_mut()?.compress(raw).ok()
    })
}

/// Decompresses at most `capacity` bytes with this thread's context.
fn decompress(stored: &[u8], capacity: usize) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with_borrow_mut(|d| {
        if d.is_none() {
            *d = Some(zstd::bulk::Decompressor::new()?);
        }
        match d.as_mut() {
            Some(d) => d.decompress(stored, capacity),
            None => Err(std::io::Error::other("no zstd context")),
        }
    })
}

fn write_header(out: &mut Vec<u8>, e: &BlobEntry) {
    out.push(e.kind.tag());
    out.push(match e.compression {
        Compression::None => 0,
        Compression::Zstd => 1,
    });
    out.extend_from_slice(&e.raw_len.to_le_bytes());
    out.extend_from_slice(&e.stored_len.to_le_bytes());
    out.extend_from_slice(e.id.as_bytes());
}

fn read_header(b: &[u8], offset: u64) -> Option<BlobEntry> {
    let kind = ObjectKind::from_tag(b[0])?;
    let compression = match b[1] {
        0 => Compression::None,
        1 => Compression::Zstd,
        _ => return None,
    };
    let raw_len = u32::from_le_bytes(b[2..6].try_into().ok()?);
    let stored_len = u32::from_le_bytes(b[6..10].try_into().ok()?);
    let id = ObjectId::from_bytes(b[10..42].try_into().ok()?);
    Some(BlobEntry {
        id,
        kind,
        compression,
        offset: offset + HEADER_LEN as u64,
        stored_len,
        raw_len,
    })
}

/// Reads and checks a whole pack's footer: the list of its objects. `pack` names the pack
/// in errors. Checks the magic, the trailer, the footer's hash and that every blob lies
/// inside the pack.
pub fn read_footer(pack: &str, bytes: &[u8]) -> Result<Vec<BlobEntry>, PackError> {
    read_footer_with(pack, bytes.len() as u64, |offset, len| {
        let start = usize::try_from(offset).ok()?;
        bytes
            .get(start..start.checked_add(len)?)
            .map(<[u8]>::to_vec)
    })
}

/// Reads a pack's index from its header, trailer and footer only, through `read_at`
/// (`None` when the range is beyond the pack). Opening a store reads just these few KiB per
/// pack; the objects themselves are checked whenever they are read, and `verify` re-hashes
/// whole packs.
pub fn read_footer_with(
    pack: &str,
    total: u64,
    read_at: impl Fn(u64, usize) -> Option<Vec<u8>>,
) -> Result<Vec<BlobEntry>, PackError> {
    footer_of(pack, total, true, read_at)
}

/// How many bytes at the end of a pack [`read_footer_from_tail`] asks for first: the
/// footer of a full data pack (a few hundred chunks, 50 bytes each) fits, so opening a
/// remote store costs one ranged read per pack.
pub const TAIL_GUESS: usize = 64 * 1024;

/// Reads a pack's index from `tail`, the last `tail.len()` bytes of a pack of `total`
/// bytes. Returns `Ok(Err(n))` when the footer is longer than the tail: read the last `n`
/// bytes and call again. The pack's leading magic is checked only when the tail holds the
/// whole pack; otherwise the footer's BLAKE3 in the trailer and the bounds of every blob
/// vouch for the index, and `verify` re-hashes the whole pack.
pub fn read_footer_from_tail(
    pack: &str,
    total: u64,
    tail: &[u8],
) -> Result<Result<Vec<BlobEntry>, usize>, PackError> {
    let start = total.saturating_sub(tail.len() as u64);
    let needed = std::cell::Cell::new(None);
    let result = footer_of(pack, total, start == 0, |offset, len| {
        if offset < start {
            // Inside the pack but before the tail: the caller must read more.
            needed.set(usize::try_from(total.saturating_sub(offset)).ok());
            return None;
        }
        let from = usize::try_from(offset - start).ok()?;
        tail.get(from..from.checked_add(len)?).map(<[u8]>::to_vec)
    });
    match (result, needed.get()) {
        (Err(_), Some(n)) if n > tail.len() => Ok(Err(n)),
        (r, _) => r.map(Ok),
    }
}

fn footer_of(
    pack: &str,
    total: u64,
    check_head: bool,
    read_at: impl Fn(u64, usize) -> Option<Vec<u8>>,
) -> Result<Vec<BlobEntry>, PackError> {
    let damaged = |reason: &str| PackError::Damaged {
        pack: pack.to_string(),
        reason: reason.to_string(),
    };
    let total = usize::try_from(total).map_err(|_| damaged("too large"))?;
    if total < MAGIC.len() + 4 + TRAILER_LEN {
        return Err(damaged("missing header or too short"));
    }
    if check_head {
        let head = read_at(0, MAGIC.len()).ok_or_else(|| damaged("unreadable header"))?;
        if head != MAGIC {
            return Err(damaged("missing header or too short"));
        }
    }
    let trailer = read_at((total - TRAILER_LEN) as u64, TRAILER_LEN)
        .ok_or_else(|| damaged("unreadable trailer"))?;
    if &trailer[36..] != END_MAGIC {
        return Err(damaged("missing end marker (truncated?)"));
    }
    let footer_len = u32::from_le_bytes(trailer[..4].try_into().unwrap_or_default()) as usize;
    let body_end = total - TRAILER_LEN;
    if footer_len < 4 || footer_len > body_end - MAGIC.len() {
        return Err(damaged("footer length out of range"));
    }
    let footer = read_at((body_end - footer_len) as u64, footer_len)
        .ok_or_else(|| damaged("unreadable footer"))?;
    if blake3::hash(&footer).as_bytes() != &trailer[4..36] {
        return Err(damaged("footer checksum mismatch"));
    }
    let count = u32::from_le_bytes(footer[..4].try_into().unwrap_or_default()) as usize;
    if footer.len() != 4 + count * FOOTER_ENTRY_LEN {
        return Err(damaged("footer size does not match its entry count"));
    }
    let data_end = (body_end - footer_len) as u64;
    let mut out = Vec::with_capacity(count);
    for rec in footer[4..].chunks_exact(FOOTER_ENTRY_LEN) {
        let offset = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
        let e = read_header(&rec[8..], offset).ok_or_else(|| damaged("bad blob header"))?;
        if e.offset < MAGIC.len() as u64 || e.offset + u64::from(e.stored_len) > data_end {
            return Err(damaged("blob outside the pack's data"));
        }
        out.push(e);
    }
    Ok(out)
}

/// Turns a blob's stored bytes back into the object, checking its length and hash.
///
/// Every read of every object goes through here: a flipped bit, a truncation or a swapped
/// object is reported, never returned.
pub fn decode_blob(entry: &BlobEntry, stored: &[u8]) -> Result<Vec<u8>, PackError> {
    let bad = |reason: String| PackError::BadObject {
        id: entry.id,
        reason,
    };
    if stored.len() != entry.stored_len as usize {
        return Err(bad(format!(
            "expected {} stored bytes, found {}",
            entry.stored_len,
            stored.len()
        )));
    }
    let raw = match entry.compression {
        Compression::None => stored.to_vec(),
        Compression::Zstd => decompress(stored, entry.raw_len as usize)
            .map_err(|e| bad(format!("cannot decompress: {e}")))?,
    };
    if raw.len() != entry.raw_len as usize {
        return Err(bad(format!(
            "expected {} bytes, decoded {}",
            entry.raw_len,
            raw.len()
        )));
    }
    if ObjectId::of(&raw) != entry.id {
        return Err(bad("content does not match its hash".into()));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build() -> (ObjectId, Vec<u8>, Vec<BlobEntry>, Vec<Vec<u8>>) {
        let objects: Vec<Vec<u8>> = vec![
            b"hello hello hello hello hello hello".to_vec(),
            (0..5000u32).flat_map(|i| i.to_le_bytes()).collect(),
            vec![],
            b"x".to_vec(),
        ];
        let mut p = PackBuilder::new();
        for (i, o) in objects.iter().enumerate() {
            let kind = if i % 2 == 0 {
                ObjectKind::Chunk
            } else {
                ObjectKind::Tree
            };
            p.add(kind, ObjectId::of(o), o);
        }
        let (id, bytes, entries) = p.finish();
        (id, bytes, entries, objects)
    }

    fn stored<'a>(bytes: &'a [u8], e: &BlobEntry) -> &'a [u8] {
        &bytes[e.offset as usize..e.offset as usize + e.stored_len as usize]
    }

    #[test]
    fn round_trip_through_footer() {
        let (id, bytes, entries, objects) = build();
        assert_eq!(id, ObjectId::of(&bytes));
        let footer = read_footer("p", &bytes).unwrap();
        assert_eq!(footer, entries);
        for (e, o) in footer.iter().zip(&objects) {
            assert_eq!(&decode_blob(e, stored(&bytes, e)).unwrap(), o);
        }
        assert_eq!(entries[0].compression, Compression::Zstd);
        assert_eq!(entries[3].compression, Compression::None);
    }

    #[test]
    fn the_footer_is_read_from_a_tail_asking_for_more_when_short() {
        let mut p = PackBuilder::new();
        for i in 0..300u32 {
            let o = format!("object {i} with some words in it");
            p.add(ObjectKind::Chunk, ObjectId::of(o.as_bytes()), o.as_bytes());
        }
        let (_, bytes, entries) = p.finish();
        let total = bytes.len() as u64;
        // 300 entries make a footer of 15 KB: a 1 KiB tail is too short, and says how much.
        let short = &bytes[bytes.len() - 1024..];
        let need = read_footer_from_tail("p", total, short)
            .unwrap()
            .unwrap_err();
        assert_eq!(need, 4 + 300 * FOOTER_ENTRY_LEN + TRAILER_LEN);
        let tail = &bytes[bytes.len() - need..];
        assert_eq!(
            read_footer_from_tail("p", total, tail).unwrap().unwrap(),
            entries
        );
        // The whole pack as the tail: the same entries, and the leading magic is checked.
        assert_eq!(
            read_footer_from_tail("p", total, &bytes).unwrap().unwrap(),
            entries
        );
        let mut no_magic = bytes.clone();
        no_magic[0] ^= 1;
        assert!(read_footer_from_tail("p", total, &no_magic).is_err());
        // A damaged footer in the tail is damage, not a request for more.
        let mut bad = tail.to_vec();
        bad[10] ^= 1;
        assert!(matches!(
            read_footer_from_tail("p", total, &bad),
            Err(PackError::Damaged { .. })
        ));
    }

    #[test]
    fn salted_packs_of_the_same_objects_differ_and_read_back() {
        let o = b"the same object".to_vec();
        let build = |mut p: PackBuilder| {
            p.add(ObjectKind::Chunk, ObjectId::of(&o), &o);
            p.finish()
        };
        let (a, a_bytes, a_entries) = build(PackBuilder::salted());
        let (b, _, _) = build(PackBuilder::salted());
        let (plain1, ..) = build(PackBuilder::new());
        let (plain2, ..) = build(PackBuilder::new());
        assert_eq!(plain1, plain2, "unsalted packs are content-addressed");
        assert_ne!(a, b);
        assert_eq!(read_footer("a", &a_bytes).unwrap(), a_entries);
        let e = a_entries[0];
        assert_eq!(decode_blob(&e, stored(&a_bytes, &e)).unwrap(), o);
    }

    #[test]
    fn every_flipped_bit_in_a_blob_is_detected() {
        let (_, bytes, entries, _) = build();
        let e = entries[1];
        let s = stored(&bytes, &e).to_vec();
        for i in (0..s.len()).step_by(97) {
            for bit in 0..8 {
                let mut flipped = s.clone();
                flipped[i] ^= 1 << bit;
                assert!(
                    decode_blob(&e, &flipped).is_err(),
                    "flip at {i}:{bit} missed"
                );
            }
        }
    }

    #[test]
    fn swapped_objects_are_detected() {
        let (_, bytes, entries, _) = build();
        let mut lying = entries[0];
        lying.id = entries[1].id;
        assert!(decode_blob(&lying, stored(&bytes, &entries[0])).is_err());
    }

    #[test]
    fn truncated_or_damaged_packs_are_refused() {
        let (_, bytes, _, _) = build();
        for cut in [0, 7, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(read_footer("p", &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut damaged = bytes.clone();
        let n = damaged.len();
        damaged[n - TRAILER_LEN - 3] ^= 0x40;
        assert!(read_footer("p", &damaged).is_err());
    }
}
