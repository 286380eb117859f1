//! Tree objects: one directory's entries, in a canonical, versioned binary encoding.
//!
//! A tree holds everything needed to recreate its entries exactly: type, permission bits
//! (with setuid/setgid/sticky), owner, mtime to the nanosecond, xattrs, inode flags (those
//! `lsattr` shows, for files and directories), file extents (chunks and holes), symlink
//! target, device numbers and hardlink group. A directory entry points
//! at its subtree by id, so trees form a Merkle tree: an unchanged subtree has the same id in
//! every snapshot and is stored once.
//!
//! Invariants of an encoded tree (checked by [`Tree::decode`], which treats its input as
//! hostile):
//! - entry names are 1..=255 bytes, contain neither `/` nor NUL, and are not `.` or `..`;
//! - names are strictly increasing (sorted, no duplicates), xattr names likewise;
//! - every length is checked against the bytes that remain before anything is allocated.
//!
//! The encoding is canonical: `decode(encode(t)) == t` and `encode(decode(b)) == b` for every
//! accepted `b`, so equal trees always have equal ids.

use crate::ids::ObjectId;

const MAGIC: &[u8; 4] = b"SLTR";
/// Version 1 has no inode flags; version 2 adds a `u32` of them after each entry's link
/// group. A tree whose entries all have no flags is written as version 1, so trees made
/// before flags existed keep their ids; a version 2 tree without any flag is not canonical
/// and is refused.
const VERSION: u8 = 1;
const VERSION_FLAGS: u8 = 2;

/// The inode flags a snapshot keeps (`FS_IOC_GETFLAGS`, as `chattr` sets them): secure
/// deletion `s`, undeletable `u`, compress `c`, synchronous `S`, immutable `i`, append-only
/// `a`, no dump `d`, no atime `A`, data journaling `j`, no tail-merging `t`, synchronous
/// directory `D`, top of hierarchy `T`, no copy-on-write `C`, DAX `x`, project inheritance
/// `P` and casefold `F`. Others (extents `e`, inline data, encryption, verity, the htree
/// index) describe how the filesystem stores the inode, not a choice a user made, and cannot
/// be set back.
pub const FLAGS_KEPT: u32 = 0x1
    | 0x2
    | 0x4
    | 0x8
    | 0x10
    | 0x20
    | 0x40
    | 0x80
    | 0x4000
    | 0x8000
    | 0x1_0000
    | 0x2_0000
    | 0x80_0000
    | 0x200_0000
    | 0x2000_0000
    | 0x4000_0000;

/// Bytes of the smallest possible encoded entry: a FIFO with a one-byte name and no xattrs
/// (name length 4 + name 1 + kind 1 + mode, uid, gid 12 + mtime 12 + link group 8 +
/// xattr count 4).
const MIN_ENTRY_LEN: usize = 42;

/// Longest entry name Linux allows.
pub const MAX_NAME: usize = 255;
/// Longest symlink target accepted (PATH_MAX).
pub const MAX_LINK_TARGET: usize = 4096;
/// Longest xattr name (XATTR_NAME_MAX).
pub const MAX_XATTR_NAME: usize = 255;
/// Largest xattr value (XATTR_SIZE_MAX).
pub const MAX_XATTR_VALUE: usize = 64 * 1024;

/// Name of the single entry of a snapshot's top tree, which carries the root directory's
/// own metadata.
pub const ROOT_NAME: &[u8] = b"root";

/// Why bytes are not a valid tree, or an entry name is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// Wrong magic or an unknown encoding version.
    #[error("not a tree object (bad magic or unknown version {0})")]
    Header(u8),
    /// The bytes end early, or a length exceeds what remains.
    #[error("tree object is truncated")]
    Truncated,
    /// Bytes follow the last entry.
    #[error("tree object has {0} trailing bytes")]
    Trailing(usize),
    /// A name that cannot be a path component.
    #[error("invalid entry name {name:?}: {reason}")]
    BadName {
        /// The name (lossy).
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Entries out of order or duplicated.
    #[error("entries are not in strictly increasing name order at {0:?}")]
    Order(String),
    /// An unknown entry type tag.
    #[error("unknown entry kind {0}")]
    Kind(u8),
    /// A field out of range.
    #[error("invalid field in entry {name:?}: {reason}")]
    Field {
        /// The entry's name (lossy).
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Checks that `name` can be one component of a path inside a root: non-empty, at most 255
/// bytes, no `/`, no NUL, not `.` or `..`. Every name that reaches the filesystem passes here.
pub fn validate_name(name: &[u8]) -> Result<(), TreeError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > MAX_NAME {
        Some("longer than 255 bytes")
    } else if name.contains(&b'/') {
        Some("contains '/'")
    } else if name.contains(&0) {
        Some("contains NUL")
    } else if name == b"." || name == b".." {
        Some("is '.' or '..'")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(TreeError::BadName {
            name: String::from_utf8_lossy(name).into_owned(),
            reason,
        }),
    }
}

/// A piece of a regular file's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extent {
    /// Bytes stored as a chunk object.
    Data {
        /// The chunk.
        id: ObjectId,
        /// Its length.
        len: u32,
    },
    /// A hole: `len` bytes of zeros that occupy no disk blocks.
    Hole {
        /// Bytes of the hole.
        len: u64,
    },
}

impl Extent {
    /// Bytes of the file this extent covers.
    pub fn len(&self) -> u64 {
        match self {
            Extent::Data { len, .. } => u64::from(*len),
            Extent::Hole { len } => *len,
        }
    }

    /// Whether the extent covers no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What an entry is, with what only that kind has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file; its extents cover exactly `size` bytes.
    File {
        /// Logical size in bytes.
        size: u64,
        /// Data and holes, in order, covering `size` bytes.
        extents: Vec<Extent>,
    },
    /// A directory and the id of its tree.
    Dir {
        /// The directory's tree object.
        tree: ObjectId,
    },
    /// A symbolic link; the target is stored as bytes and never resolved.
    Symlink {
        /// The target, as stored by the filesystem.
        target: Vec<u8>,
    },
    /// A character device.
    CharDevice {
        /// Device number (`makedev(major, minor)`).
        rdev: u64,
    },
    /// A block device.
    BlockDevice {
        /// Device number (`makedev(major, minor)`).
        rdev: u64,
    },
    /// A named pipe (recorded, never opened).
    Fifo,
}

impl EntryKind {
    fn tag(&self) -> u8 {
        match self {
            EntryKind::File { .. } => 1,
            EntryKind::Dir { .. } => 2,
            EntryKind::Symlink { .. } => 3,
            EntryKind::CharDevice { .. } => 4,
            EntryKind::BlockDevice { .. } => 5,
            EntryKind::Fifo => 6,
        }
    }
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name, as bytes (Linux names need not be UTF-8).
    pub name: Vec<u8>,
    /// Type and type-specific data.
    pub kind: EntryKind,
    /// Permission bits, including setuid, setgid and sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime_sec: i64,
    /// Modification time, nanoseconds part (0..1e9).
    pub mtime_nsec: u32,
    /// Extended attributes, sorted by name.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// For files with more than one link: a key shared by every name of the same inode within
    /// one snapshot; 0 when the file has a single link.
    pub link_group: u64,
    /// Inode flags (`FS_*_FL`, only [`FLAGS_KEPT`] bits), for files and directories; 0 for
    /// other types and where the filesystem has none.
    pub flags: u32,
}

/// A directory's entries, sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tree {
    /// Entries in strictly increasing byte order of their names.
    pub entries: Vec<Entry>,
}

impl Tree {
    /// Sorts entries and xattrs into canonical order. Call before [`Tree::encode`] when
    /// entries were collected in directory order.
    pub fn canonicalize(&mut self) {
        self.entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in &mut self.entries {
            e.xattrs.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }

    /// The canonical encoding. The tree must be canonical (see [`Tree::canonicalize`]);
    /// a tree that is not fails to decode, which tests catch.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.entries.len() * 64);
        out.extend_from_slice(MAGIC);
        let with_flags = self.entries.iter().any(|e| e.flags != 0);
        out.push(if with_flags { VERSION_FLAGS } else { VERSION });
        put_u32(&mut out, self.entries.len() as u32);
        for e in &self.entries {
            put_bytes(&mut out, &e.name);
            out.push(e.kind.tag());
            put_u32(&mut out, e.mode);
            put_u32(&mut out, e.uid);
            put_u32(&mut out, e.gid);
            out.extend_from_slice(&e.mtime_sec.to_le_bytes());
            put_u32(&mut out, e.mtime_nsec);
            put_u64(&mut out, e.link_group);
            if with_flags {
                put_u32(&mut out, e.flags);
            }
            put_u32(&mut out, e.xattrs.len() as u32);
            for (k, v) in &e.xattrs {
                put_bytes(&mut out, k);
                put_bytes(&mut out, v);
            }
            match &e.kind {
                EntryKind::File { size, extents } => {
                    put_u64(&mut out, *size);
                    put_u32(&mut out, extents.len() as u32);
                    for x in extents {
                        match x {
                            Extent::Data { id, len } => {
                                out.push(0);
                                out.extend_from_slice(id.as_bytes());
                                put_u32(&mut out, *len);
                            }
                            Extent::Hole { len } => {
                                out.push(1);
                                put_u64(&mut out, *len);
                            }
                        }
                    }
                }
                EntryKind::Dir { tree } => out.extend_from_slice(tree.as_bytes()),
                EntryKind::Symlink { target } => put_bytes(&mut out, target),
                EntryKind::CharDevice { rdev } | EntryKind::BlockDevice { rdev } => {
                    put_u64(&mut out, *rdev)
                }
                EntryKind::Fifo => {}
            }
        }
        out
    }

    /// The id of the encoded tree.
    pub fn id(&self) -> ObjectId {
        ObjectId::of(&self.encode())
    }

    /// Decodes and validates a tree. Never panics and never allocates more than the input
    /// justifies, whatever the bytes.
    pub fn decode(bytes: &[u8]) -> Result<Tree, TreeError> {
        let mut r = Reader { buf: bytes };
        if r.take(4)? != MAGIC {
            return Err(TreeError::Header(0));
        }
        let version = r.u8()?;
        if version != VERSION && version != VERSION_FLAGS {
            return Err(TreeError::Header(version));
        }
        let with_flags = version == VERSION_FLAGS;
        let count = r.u32()? as usize;
        // Bound the allocation by the input: no entry is shorter than MIN_ENTRY_LEN.
        if count > r.buf.len() / MIN_ENTRY_LEN {
            return Err(TreeError::Truncated);
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.bytes(MAX_NAME)?.to_vec();
            validate_name(&name)?;
            if let Some(prev) = entries.last()
                && prev.name.as_slice() >= name.as_slice()
            {
                return Err(TreeError::Order(
                    String::from_utf8_lossy(&name).into_owned(),
                ));
            }
            let field = |reason: &'static str| TreeError::Field {
                name: String::from_utf8_lossy(&name).into_owned(),
                reason,
            };
            let tag = r.u8()?;
            let mode = r.u32()?;
            if mode & !0o7777 != 0 {
                return Err(field("mode has bits beyond 0o7777"));
            }
            let uid = r.u32()?;
            let gid = r.u32()?;
            let mtime_sec =
                i64::from_le_bytes(r.take(8)?.try_into().map_err(|_| TreeError::Truncated)?);
            let mtime_nsec = r.u32()?;
            if mtime_nsec >= 1_000_000_000 {
                return Err(field("mtime nanoseconds out of range"));
            }
            let link_group = r.u64()?;
            let flags = if with_flags { r.u32()? } else { 0 };
            if flags & !FLAGS_KEPT != 0 {
                return Err(field("unknown inode flags"));
            }
            let nx = r.u32()? as usize;
            if nx > r.buf.len() / 8 {
                return Err(TreeError::Truncated);
            }
            let mut xattrs: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(nx);
            for _ in 0..nx {
                let k = r.bytes(MAX_XATTR_NAME)?.to_vec();
                if k.is_empty() || k.contains(&0) {
                    return Err(field("invalid xattr name"));
                }
                if let Some((prev, _)) = xattrs.last()
                    && prev.as_slice() >= k.as_slice()
                {
                    return Err(field("xattrs not in strictly increasing order"));
                }
                let v = r.bytes(MAX_XATTR_VALUE)?.to_vec();
                xattrs.push((k, v));
            }
            let kind = match tag {
                1 => {
                    let size = r.u64()?;
                    let n = r.u32()? as usize;
                    if n > r.buf.len() / 9 {
                        return Err(TreeError::Truncated);
                    }
                    let mut extents = Vec::with_capacity(n);
                    let mut covered: u64 = 0;
                    for _ in 0..n {
                        let x = match r.u8()? {
                            0 => {
                                let id = ObjectId::from_bytes(
                                    r.take(32)?.try_into().map_err(|_| TreeError::Truncated)?,
                                );
                                let len = r.u32()?;
                                if len == 0 {
                                    return Err(field("empty data extent"));
                                }
                                Extent::Data { id, len }
                            }
                            1 => {
                                let len = r.u64()?;
                                if len == 0 {
                                    return Err(field("empty hole"));
                                }
                                Extent::Hole { len }
                            }
                            _ => return Err(field("unknown extent type")),
                        };
                        covered = covered
                            .checked_add(x.len())
                            .ok_or_else(|| field("extents overflow"))?;
                        extents.push(x);
                    }
                    if covered != size {
                        return Err(field("extents do not cover the file size"));
                    }
                    EntryKind::File { size, extents }
                }
                2 => EntryKind::Dir {
                    tree: ObjectId::from_bytes(
                        r.take(32)?.try_into().map_err(|_| TreeError::Truncated)?,
                    ),
                },
                3 => {
                    let target = r.bytes(MAX_LINK_TARGET)?.to_vec();
                    if target.is_empty() || target.contains(&0) {
                        return Err(field("invalid symlink target"));
                    }
                    EntryKind::Symlink { target }
                }
                4 => EntryKind::CharDevice { rdev: r.u64()? },
                5 => EntryKind::BlockDevice { rdev: r.u64()? },
                6 => EntryKind::Fifo,
                other => return Err(TreeError::Kind(other)),
            };
            if link_group != 0 && !matches!(kind, EntryKind::File { .. }) {
                return Err(field("only regular files can be hardlinked"));
            }
            if flags != 0 && !matches!(kind, EntryKind::File { .. } | EntryKind::Dir { .. }) {
                return Err(field("only files and directories have inode flags"));
            }
            entries.push(Entry {
                name,
                kind,
                mode,
                uid,
                gid,
                mtime_sec,
                mtime_nsec,
                xattrs,
                link_group,
                flags,
            });
        }
        if !r.buf.is_empty() {
            return Err(TreeError::Trailing(r.buf.len()));
        }
        if with_flags && entries.iter().all(|e| e.flags == 0) {
            return Err(TreeError::Header(version));
        }
        Ok(Tree { entries })
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_u32(out, b.len() as u32);
    out.extend_from_slice(b);
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TreeError> {
        if self.buf.len() < n {
            return Err(TreeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, TreeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, TreeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, TreeError> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }

    /// A length-prefixed byte string of at most `max` bytes.
    fn bytes(&mut self, max: usize) -> Result<&'a [u8], TreeError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(TreeError::Truncated);
        }
        self.take(len)
    }
}

#[cfg(test)]
mod tests;
