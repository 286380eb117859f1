//! A node's disk cache of a remote store's packs (`<data-dir>/cache`).
//!
//! - **Tails** (a pack's footer and trailer, read when the store opens) are kept for good:
//!   a few KiB per pack, so a restart reads no pack from the remote store.
//! - **Tree packs** are kept for good: GC's mark, browsing and diffing read only trees, and
//!   trees are a small part of a store.
//! - **Data packs** are kept in a least-recently-used set bounded by the budget
//!   (`--cache-mb`). A node's own uploads go in too, so restoring a snapshot on the node
//!   that took it downloads nothing while it fits.
//!
//! The cache is disposable: every object read from it is hash-checked like any other
//! read, a file that fails is dropped ([`PackCache::forget`]) and fetched again, and
//! deleting the directory loses nothing. Files are written under a temporary name,
//! synced, then renamed, so a crash never leaves a torn file under a pack's name.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::ids::ObjectId;
use crate::storage::PackKind;

/// The cache of one node. Cheap to share (`Arc`); every method is thread-safe.
pub struct PackCache {
    dir: PathBuf,
    budget: u64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Cached whole packs: kind, size and last use (a logical clock).
    packs: HashMap<ObjectId, Entry>,
    /// Bytes of cached data packs (tree packs are not counted against the budget).
    data_bytes: u64,
    clock: u64,
    /// Open handles of cached packs, so thousands of chunk reads do not open thousands of
    /// files. A handle stays valid after its file is evicted (unlinked).
    open: HashMap<ObjectId, Arc<fs::File>>,
}

#[derive(Clone, Copy)]
struct Entry {
    kind: PackKind,
    size: u64,
    used: u64,
}

impl PackCache {
    /// Opens (creating, mode 0700) the cache in `dir`, with `budget` bytes for data packs.
    /// Files left by an interrupted write are removed; the packs already there are kept,
    /// oldest (by modification time) first in line for eviction.
    pub fn open(dir: &Path, budget: u64) -> io::Result<PackCache> {
        use std::os::unix::fs::DirBuilderExt;
        for sub in ["tmp", "packs", "tails"] {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir.join(sub))?;
        }
        for leftover in fs::read_dir(dir.join("tmp"))? {
            let _ = fs::remove_file(leftover?.path());
        }
        let mut found = Vec::new();
        for f in fs::read_dir(dir.join("packs"))? {
            let f = f?;
            let name = f.file_name();
            let name = name.to_string_lossy();
            let Some((hex, kind)) = name.split_once('.') else {
                continue;
            };
            let (Ok(id), Some(kind)) = (ObjectId::from_hex(hex), PackKind::parse(kind)) else {
                continue;
            };
            let meta = f.metadata()?;
            found.push((meta.modified().ok(), id, kind, meta.len()));
        }
        found.sort_by_key(|(modified, ..)| *modified);
        let mut state = State::default();
        for (_, id, kind, size) in found {
            state.clock += 1;
            if kind == PackKind::Data {
                state.data_bytes += size;
            }
            state.packs.insert(
                id,
                Entry {
                    kind,
                    size,
                    used: state.clock,
                },
            );
        }
        let cache = PackCache {
            dir: dir.to_path_buf(),
            budget,
            state: Mutex::new(state),
        };
        cache.evict(&mut cache.lock());
        Ok(cache)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pack_path(&self, id: &ObjectId, kind: PackKind) -> PathBuf {
        self.dir
            .join("packs")
            .join(format!("{}.{}", id.to_hex(), kind.as_str()))
    }

    fn tail_path(&self, id: &ObjectId) -> PathBuf {
        self.dir.join("tails").join(id.to_hex())
    }

    /// Reads `len` bytes at `offset` of a cached pack; `None` when the pack is not cached.
    /// A cached pack shorter than the range is an error, as for any storage.
    pub fn read_at(&self, id: &ObjectId, offset: u64, len: usize) -> Option<io::Result<Vec<u8>>> {
        let file = {
            let mut state = self.lock();
            state.clock += 1;
            let clock = state.clock;
            let kind = {
                let entry = state.packs.get_mut(id)?;
                entry.used = clock;
                entry.kind
            };
            match state.open.get(id) {
                Some(f) => f.clone(),
                None => match fs::File::open(self.pack_path(id, kind)) {
                    Ok(f) => {
                        let f = Arc::new(f);
                        if state.open.len() >= 256 {
                            state.open.clear();
                        }
                        state.open.insert(*id, f.clone());
                        f
                    }
                    Err(_) => {
                        // Deleted behind our back: forget it and fetch again.
                        drop(state);
                        self.forget(id);
                        return None;
                    }
                },
            }
        };
        let mut buf = vec![0u8; len];
        Some(file.read_exact_at(&mut buf, offset).map(|()| buf))
    }

    /// Whether a whole pack is cached.
    pub fn has(&self, id: &ObjectId) -> bool {
        self.lock().packs.contains_key(id)
    }

    /// Keeps a whole pack, evicting the least recently used data packs beyond the budget.
    /// Tree packs are never evicted.
    pub fn insert(&self, id: &ObjectId, kind: PackKind, bytes: &[u8]) -> io::Result<()> {
        if self.has(id) {
            return Ok(());
        }
        self.write_file(&self.pack_path(id, kind), bytes)?;
        let mut state = self.lock();
        state.clock += 1;
        let used = state.clock;
        let size = bytes.len() as u64;
        if state
            .packs
            .insert(id.to_owned(), Entry { kind, size, used })
            .is_none()
            && kind == PackKind::Data
        {
            state.data_bytes += size;
        }
        self.evict(&mut state);
        Ok(())
    }

    /// Drops a pack and its tail (deleted from the store, or found damaged here).
    pub fn forget(&self, id: &ObjectId) {
        let mut state = self.lock();
        state.open.remove(id);
        if let Some(e) = state.packs.remove(id) {
            if e.kind == PackKind::Data {
                state.data_bytes -= e.size;
            }
            let _ = fs::remove_file(self.pack_path(id, e.kind));
        }
        drop(state);
        let _ = fs::remove_file(self.tail_path(id));
    }

    /// The cached tail of a pack, if it has at least `len` bytes: its last `len` bytes.
    pub fn tail(&self, id: &ObjectId, len: usize) -> Option<Vec<u8>> {
        let bytes = fs::read(self.tail_path(id)).ok()?;
        let start = bytes.len().checked_sub(len)?;
        Some(bytes[start..].to_vec())
    }

    /// Keeps a pack's tail for good (replacing a shorter one).
    pub fn put_tail(&self, id: &ObjectId, tail: &[u8]) -> io::Result<()> {
        self.write_file(&self.tail_path(id), tail)
    }

    /// Bytes of data packs cached now, and the budget.
    pub fn usage(&self) -> (u64, u64) {
        (self.lock().data_bytes, self.budget)
    }

    fn write_file(&self, dest: &Path, bytes: &[u8]) -> io::Result<()> {
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = self.dir.join("tmp").join(format!(
            "{}.{}",
            std::process::id(),
            WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, dest)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes least recently used data packs until the data bytes fit the budget.
    fn evict(&self, state: &mut State) {
        while state.data_bytes > self.budget {
            let Some((&id, &entry)) = state
                .packs
                .iter()
                .filter(|(_, e)| e.kind == PackKind::Data)
                .min_by_key(|(_, e)| e.used)
            else {
                break;
            };
            state.packs.remove(&id);
            state.open.remove(&id);
            state.data_bytes -= entry.size;
            let _ = fs::remove_file(self.pack_path(&id, entry.kind));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ObjectId {
        ObjectId::of(&[n])
    }

    #[test]
    fn data_packs_are_evicted_least_recently_used_first_and_trees_never() {
        let tmp = tempfile::tempdir().unwrap();
        let c = PackCache::open(tmp.path(), 300).unwrap();
        c.insert(&id(1), PackKind::Data, &[1; 100]).unwrap();
        c.insert(&id(2), PackKind::Data, &[2; 100]).unwrap();
        c.insert(&id(9), PackKind::Tree, &[9; 1000]).unwrap();
        c.insert(&id(3), PackKind::Data, &[3; 100]).unwrap();
        // Pack 1 is used again, so pack 2 is now the least recently used.
        assert_eq!(c.read_at(&id(1), 10, 2).unwrap().unwrap(), vec![1, 1]);
        c.insert(&id(4), PackKind::Data, &[4; 100]).unwrap();
        assert!(c.has(&id(1)) && c.has(&id(3)) && c.has(&id(4)));
        assert!(
            !c.has(&id(2)),
            "the least recently used data pack goes first"
        );
        assert!(c.read_at(&id(2), 0, 1).is_none());
        assert!(c.has(&id(9)), "tree packs stay whatever the budget");
        assert_eq!(c.usage(), (300, 300));
        assert!(
            c.read_at(&id(9), 999, 2).unwrap().is_err(),
            "short read fails"
        );
        // Reopened: the same packs, and the budget still holds.
        drop(c);
        let c = PackCache::open(tmp.path(), 200).unwrap();
        assert_eq!(c.usage().0, 200);
        assert!(c.has(&id(9)));
        c.forget(&id(9));
        assert!(!c.has(&id(9)));
        assert_eq!(
            fs::read_dir(tmp.path().join("packs")).unwrap().count(),
            2,
            "two data packs fit 200 bytes"
        );
    }

    #[test]
    fn tails_are_kept_and_cut_to_the_length_asked() {
        let tmp = tempfile::tempdir().unwrap();
        let c = PackCache::open(tmp.path(), 0).unwrap();
        assert!(c.tail(&id(1), 4).is_none());
        c.put_tail(&id(1), b"0123456789").unwrap();
        assert_eq!(c.tail(&id(1), 4).unwrap(), b"6789");
        assert!(
            c.tail(&id(1), 11).is_none(),
            "a longer tail must be fetched"
        );
        fs::write(tmp.path().join("tmp/1.2"), b"torn").unwrap();
        let c = PackCache::open(tmp.path(), 0).unwrap();
        assert_eq!(fs::read_dir(tmp.path().join("tmp")).unwrap().count(), 0);
        assert_eq!(c.tail(&id(1), 10).unwrap(), b"0123456789");
    }
}
