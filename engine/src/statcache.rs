//! The per-container stat cache: what each regular file's content was when it was last read,
//! and the `stat` identity it had then (like git's index).
//!
//! A snapshot re-reads a file only when its identity changed. The identity includes `ctime`,
//! which no user can set, so a file cannot be changed without missing the cache. A file
//! modified within the timestamp granularity before the cache was taken ("racily clean") is
//! never trusted: its entry is only used when its mtime is older than the capture start by
//! more than [`RACY_MARGIN_NS`], and the same holds for its ctime.
//!
//! The cache is an optimization: it is written without fsync, and a missing, truncated or
//! garbled cache is simply empty. An entry is only ever used when the file's whole identity
//! still matches, so a stale cache cannot cause a wrong snapshot.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use crate::fsops::Stat;
use crate::ids::ObjectId;
use crate::tree::Extent;

const MAGIC: &[u8; 8] = b"SLSTAT03";

/// Files modified less than this before a capture started are re-read (coarse kernel
/// timestamps can make two different writes share one mtime).
pub const RACY_MARGIN_NS: i128 = 50_000_000;

/// The identity of a file at the moment its content was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Inode number.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Type and permission bits (`st_mode`).
    pub mode: u32,
    /// Modification time, ns since the epoch.
    pub mtime_ns: i128,
    /// Status change time, ns since the epoch (no user can set it).
    pub ctime_ns: i128,
}

impl Stamp {
    /// The stamp of a stat result.
    pub fn of(st: &Stat) -> Stamp {
        Stamp {
            ino: st.st_ino,
            size: st.st_size as u64,
            mode: st.st_mode,
            mtime_ns: i128::from(st.st_mtime) * 1_000_000_000 + i128::from(st.st_mtime_nsec),
            ctime_ns: i128::from(st.st_ctime) * 1_000_000_000 + i128::from(st.st_ctime_nsec),
        }
    }
}

/// One cached file: its content and its xattrs (any xattr change updates ctime, so a stamp
/// match covers them too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    /// The identity the file had when read.
    pub stamp: Stamp,
    /// Its content.
    pub extents: Vec<Extent>,
    /// Its extended attributes, sorted.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Its inode flags ([`crate::tree::FLAGS_KEPT`] bits; `chattr` changes the ctime too).
    pub flags: u32,
}

/// Path (relative to the root, `/`-separated bytes) to cached content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatCache {
    /// When the capture that produced this cache started, in ns since the epoch.
    pub started_ns: i128,
    /// Relative path to cached file.
    pub files: HashMap<Vec<u8>, Cached>,
}

impl StatCache {
    /// An empty cache for a capture starting now.
    pub fn starting_now() -> StatCache {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        StatCache {
            started_ns: now,
            files: HashMap::new(),
        }
    }

    /// The cached content of `path` if the file still has exactly the recorded identity and
    /// was not modified too close to the capture that recorded it.
    pub fn lookup(&self, path: &[u8], stamp: &Stamp) -> Option<&Cached> {
        let c = self.files.get(path)?;
        // Both times must predate the capture by the margin: a file deleted and recreated
        // in the same coarse clock tick can reuse the inode and show the same mtime, size
        // and mode, but then its ctime is recent.
        let settled = self.started_ns - RACY_MARGIN_NS;
        (c.stamp == *stamp && stamp.mtime_ns < settled && stamp.ctime_ns < settled).then_some(c)
    }

    /// Loads a cache; anything unreadable gives an empty cache.
    pub fn load(path: &Path) -> StatCache {
        std::fs::read(path)
            .ok()
            .and_then(|b| decode(&b))
            .unwrap_or_default()
    }

    /// Saves the cache (temporary file, then rename).
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, encode(self))?;
        std::fs::rename(&tmp, path)
    }
}

fn encode(c: &StatCache) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&c.started_ns.to_le_bytes());
    out.extend_from_slice(&(c.files.len() as u64).to_le_bytes());
    for (path, f) in &c.files {
        out.extend_from_slice(&(path.len() as u32).to_le_bytes());
        out.extend_from_slice(path);
        out.extend_from_slice(&f.stamp.ino.to_le_bytes());
        out.extend_from_slice(&f.stamp.size.to_le_bytes());
        out.extend_from_slice(&f.stamp.mode.to_le_bytes());
        out.extend_from_slice(&f.stamp.mtime_ns.to_le_bytes());
        out.extend_from_slice(&f.stamp.ctime_ns.to_le_bytes());
        out.extend_from_slice(&(f.extents.len() as u32).to_le_bytes());
        for x in &f.extents {
            match x {
                Extent::Data { id, len } => {
                    out.push(0);
                    out.extend_from_slice(id.as_bytes());
                    out.extend_from_slice(&u64::from(*len).to_le_bytes());
                }
                Extent::Hole { len } => {
                    out.push(1);
                    out.extend_from_slice(&[0u8; 32]);
                    out.extend_from_slice(&len.to_le_bytes());
                }
            }
        }
        out.extend_from_slice(&(f.xattrs.len() as u32).to_le_bytes());
        for (k, v) in &f.xattrs {
            out.extend_from_slice(&(k.len() as u32).to_le_bytes());
            out.extend_from_slice(k);
            out.extend_from_slice(&(v.len() as u32).to_le_bytes());
            out.extend_from_slice(v);
        }
        out.extend_from_slice(&f.flags.to_le_bytes());
    }
    out
}

fn decode(b: &[u8]) -> Option<StatCache> {
    let mut r = b.strip_prefix(MAGIC)?;
    fn take<'a>(r: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if r.len() < n {
            return None;
        }
        let (h, t) = r.split_at(n);
        *r = t;
        Some(h)
    }
    let u32_ =
        |r: &mut &[u8]| take(r, 4).map(|s| u32::from_le_bytes(s.try_into().unwrap_or_default()));
    let u64_ =
        |r: &mut &[u8]| take(r, 8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or_default()));
    let i128_ =
        |r: &mut &[u8]| take(r, 16).map(|s| i128::from_le_bytes(s.try_into().unwrap_or_default()));
    let started_ns = i128_(&mut r)?;
    let count = u64_(&mut r)? as usize;
    let mut files = HashMap::with_capacity(count.min(r.len() / 64));
    for _ in 0..count {
        let plen = u32_(&mut r)? as usize;
        let path = take(&mut r, plen)?.to_vec();
        let stamp = Stamp {
            ino: u64_(&mut r)?,
            size: u64_(&mut r)?,
            mode: u32_(&mut r)?,
            mtime_ns: i128_(&mut r)?,
            ctime_ns: i128_(&mut r)?,
        };
        let n = u32_(&mut r)? as usize;
        let mut extents = Vec::with_capacity(n.min(r.len() / 41));
        for _ in 0..n {
            let tag = take(&mut r, 1)?[0];
            let id = ObjectId::from_bytes(take(&mut r, 32)?.try_into().ok()?);
            let len = u64_(&mut r)?;
            extents.push(match tag {
                0 => Extent::Data {
                    id,
                    len: u32::try_from(len).ok()?,
                },
                1 => Extent::Hole { len },
                _ => return None,
            });
        }
        let nx = u32_(&mut r)? as usize;
        let mut xattrs = Vec::with_capacity(nx.min(r.len() / 8));
        for _ in 0..nx {
            let kl = u32_(&mut r)? as usize;
            let k = take(&mut r, kl)?.to_vec();
            let vl = u32_(&mut r)? as usize;
            let v = take(&mut r, vl)?.to_vec();
            xattrs.push((k, v));
        }
        let flags = u32_(&mut r)?;
        files.insert(
            path,
            Cached {
                stamp,
                extents,
                xattrs,
                flags,
            },
        );
    }
    r.is_empty().then_some(StatCache { started_ns, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(mtime_ns: i128) -> Stamp {
        Stamp {
            ino: 7,
            size: 10,
            mode: 0o100644,
            mtime_ns,
            ctime_ns: mtime_ns,
        }
    }

    #[test]
    fn round_trips_and_garbage_is_empty() {
        let mut c = StatCache {
            started_ns: 5_000_000_000,
            files: HashMap::new(),
        };
        c.files.insert(
            b"etc/hostname".to_vec(),
            Cached {
                stamp: stamp(1),
                extents: vec![
                    Extent::Data {
                        id: ObjectId::of(b"x"),
                        len: 10,
                    },
                    Extent::Hole { len: 99 },
                ],
                xattrs: vec![(b"user.a".to_vec(), b"1".to_vec())],
                flags: 0x10 | 0x40,
            },
        );
        let bytes = encode(&c);
        assert_eq!(decode(&bytes), Some(c.clone()));
        for cut in [0, 8, bytes.len() - 1] {
            assert_eq!(decode(&bytes[..cut]), None);
        }
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("cache");
        c.save(&p).unwrap();
        assert_eq!(StatCache::load(&p), c);
        std::fs::write(&p, b"garbage").unwrap();
        assert_eq!(StatCache::load(&p), StatCache::default());
    }

    #[test]
    fn racily_clean_and_changed_files_miss() {
        let mut c = StatCache {
            started_ns: 10_000_000_000,
            files: HashMap::new(),
        };
        c.files.insert(
            b"old".to_vec(),
            Cached {
                stamp: stamp(1_000_000_000),
                extents: vec![],
                xattrs: vec![],
                flags: 0,
            },
        );
        c.files.insert(
            b"racy".to_vec(),
            Cached {
                stamp: stamp(9_990_000_000),
                extents: vec![],
                xattrs: vec![],
                flags: 0,
            },
        );
        assert!(c.lookup(b"old", &stamp(1_000_000_000)).is_some());
        assert!(c.lookup(b"racy", &stamp(9_990_000_000)).is_none());
        let mut changed = stamp(1_000_000_000);
        changed.ctime_ns += 1;
        assert!(c.lookup(b"old", &changed).is_none());
        assert!(c.lookup(b"missing", &stamp(1)).is_none());
    }
}
