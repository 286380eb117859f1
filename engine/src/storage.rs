//! Where pack files live, behind a narrow trait.
//!
//! The engine only ever puts a whole pack (atomically and durably), reads ranges of it,
//! lists, and deletes. That small surface is what makes the in-memory and fault-injecting
//! implementations for tests possible.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::ids::ObjectId;

/// What a pack holds. Trees are kept apart from file data so that marking (GC), browsing
/// and diffing read only tree packs: small, few, and kept for good in a remote store's
/// local cache (restic, kopia and rustic separate them for the same reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PackKind {
    /// File content chunks.
    Data,
    /// Directory trees.
    Tree,
}

impl PackKind {
    /// The name used in object keys and in the `packs` table: `data` or `tree`.
    pub fn as_str(self) -> &'static str {
        match self {
            PackKind::Data => "data",
            PackKind::Tree => "tree",
        }
    }

    /// The kind named `data` or `tree`.
    pub fn parse(s: &str) -> Option<PackKind> {
        match s {
            "data" => Some(PackKind::Data),
            "tree" => Some(PackKind::Tree),
            _ => None,
        }
    }
}

/// Storage of immutable pack files, named by the hash of their bytes.
pub trait PackStorage: Send + Sync {
    /// Stores a pack. When this returns `Ok`, the pack survives a crash or power cut; on
    /// error, no partial pack is visible under its name.
    fn put(&self, id: &ObjectId, kind: PackKind, bytes: &[u8]) -> io::Result<()>;
    /// Reads `len` bytes at `offset`. A short pack is an error, never a short read.
    fn read_at(&self, id: &ObjectId, offset: u64, len: usize) -> io::Result<Vec<u8>>;
    /// Reads the last `len` bytes of a pack of `total` bytes: its footer and trailer, read
    /// when the store opens. A remote storage keeps them in its local cache for good.
    fn read_tail(&self, id: &ObjectId, total: u64, len: usize) -> io::Result<Vec<u8>> {
        let offset = total
            .checked_sub(len as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "pack too short"))?;
        self.read_at(id, offset, len)
    }
    /// Reads a whole pack.
    fn read_all(&self, id: &ObjectId) -> io::Result<Vec<u8>>;
    /// A pack's size in bytes.
    fn len(&self, id: &ObjectId) -> io::Result<u64>;
    /// The ids of all packs.
    fn list(&self) -> io::Result<Vec<ObjectId>>;
    /// Removes a pack (missing is not an error).
    fn delete(&self, id: &ObjectId) -> io::Result<()>;
    /// Whether other writers changed the list of packs since this storage last listed it
    /// (a shared store; a local one is this process's alone).
    fn changed(&self) -> io::Result<bool> {
        Ok(false)
    }
    /// Drops any local copy of a pack (a remote storage's cache), so that the next read
    /// fetches it again: called when what was read failed its checks.
    fn forget_cached(&self, _id: &ObjectId) {}
}

/// Packs as files under a directory: `packs/<first two hex digits>/<id>.pack`.
pub struct LocalPackStorage {
    root: PathBuf,
    /// Open pack files, so reading thousands of chunks does not open thousands of files.
    /// Packs are immutable, so a cached handle never sees stale bytes; a deleted pack's
    /// handle is dropped with it.
    open: Mutex<std::collections::HashMap<ObjectId, std::sync::Arc<fs::File>>>,
}

/// Open pack handles kept at most (each pack is ~16 MiB, so this covers ~4 GiB of packs).
const MAX_OPEN_PACKS: usize = 256;

impl LocalPackStorage {
    /// Opens (and creates, mode 0700) the pack directory under `root`, removing temporary
    /// files that a crash left half-written (no pack is ever read from `tmp/`).
    pub fn open(root: &Path) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let packs = root.join("packs");
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(packs.join("tmp"))?;
        for leftover in fs::read_dir(packs.join("tmp"))? {
            let _ = fs::remove_file(leftover?.path());
        }
        Ok(LocalPackStorage {
            root: packs,
            open: Mutex::new(std::collections::HashMap::new()),
        })
    }

    fn handle(&self, id: &ObjectId) -> io::Result<std::sync::Arc<fs::File>> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = open.get(id) {
            return Ok(f.clone());
        }
        let f = std::sync::Arc::new(fs::File::open(self.path(id))?);
        if open.len() >= MAX_OPEN_PACKS {
            open.clear();
        }
        open.insert(*id, f.clone());
        Ok(f)
    }

    fn path(&self, id: &ObjectId) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(&hex[..2]).join(format!("{hex}.pack"))
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

impl PackStorage for LocalPackStorage {
    /// The kind is not kept: local packs are read in place, so keeping them apart buys
    /// nothing here.
    fn put(&self, id: &ObjectId, _kind: PackKind, bytes: &[u8]) -> io::Result<()> {
        let dest = self.path(id);
        if dest.exists() {
            // Content-addressed: an existing pack with this name has these bytes.
            return Ok(());
        }
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        fs::create_dir_all(&dir)?;
        // Write under a temporary name, sync, then rename: never a half pack under its name.
        // The temporary name is unique per write: two writers may store the same pack (the
        // same bytes) at once, and each must have its own file until the rename.
        static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let tmp = self.root.join("tmp").join(format!(
            "{}.{}.{}",
            id.to_hex(),
            std::process::id(),
            WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            // An fsync error is final for this write: the pack is abandoned, never retried.
            f.sync_all()?;
            fail::fail_point!("storage::before_rename", |_| Err(io::Error::other(
                "fail point storage::before_rename"
            )));
            fs::rename(&tmp, &dest)?;
            sync_dir(&dir)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    fn read_at(&self, id: &ObjectId, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let f = self.handle(id)?;
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }

    fn read_all(&self, id: &ObjectId) -> io::Result<Vec<u8>> {
        fs::read(self.path(id))
    }

    fn len(&self, id: &ObjectId) -> io::Result<u64> {
        Ok(self.handle(id)?.metadata()?.len())
    }

    fn list(&self) -> io::Result<Vec<ObjectId>> {
        let mut out = Vec::new();
        for dir in fs::read_dir(&self.root)? {
            let dir = dir?;
            if dir.file_name() == "tmp" || !dir.file_type()?.is_dir() {
                continue;
            }
            for f in fs::read_dir(dir.path())? {
                let name = f?.file_name();
                let name = name.to_string_lossy();
                if let Some(hex) = name.strip_suffix(".pack")
                    && let Ok(id) = ObjectId::from_hex(hex)
                {
                    out.push(id);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, id: &ObjectId) -> io::Result<()> {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Packs in memory, for tests. Tests may reach in to damage packs.
#[derive(Default)]
pub struct MemoryPackStorage {
    /// The packs by id.
    pub packs: Mutex<BTreeMap<ObjectId, Vec<u8>>>,
}

impl MemoryPackStorage {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<ObjectId, Vec<u8>>> {
        self.packs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl PackStorage for MemoryPackStorage {
    fn put(&self, id: &ObjectId, _kind: PackKind, bytes: &[u8]) -> io::Result<()> {
        self.lock().insert(*id, bytes.to_vec());
        Ok(())
    }

    fn read_at(&self, id: &ObjectId, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let packs = self.lock();
        let p = packs
            .get(id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such pack"))?;
        let start = usize::try_from(offset).map_err(io::Error::other)?;
        p.get(start..start.saturating_add(len))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "pack too short"))
    }

    fn read_all(&self, id: &ObjectId) -> io::Result<Vec<u8>> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such pack"))
    }

    fn len(&self, id: &ObjectId) -> io::Result<u64> {
        self.lock()
            .get(id)
            .map(|p| p.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such pack"))
    }

    fn list(&self) -> io::Result<Vec<ObjectId>> {
        Ok(self.lock().keys().copied().collect())
    }

    fn delete(&self, id: &ObjectId) -> io::Result<()> {
        self.lock().remove(id);
        Ok(())
    }
}

/// Checks the [`PackStorage`] contract on an empty storage: put (twice), list, ranged and
/// short reads, tails, lengths, read_all and idempotent delete. Panics on the first
/// breach. Every storage's tests call it (the S3 one against a real Garage server).
pub fn check_contract(s: &dyn PackStorage) {
    let a = ObjectId::of(b"pack a");
    let b = ObjectId::of(b"pack b");
    s.put(&a, PackKind::Data, b"pack a bytes").unwrap();
    s.put(&b, PackKind::Tree, b"pack b").unwrap();
    s.put(&a, PackKind::Data, b"pack a bytes").unwrap();
    let mut ids = vec![a, b];
    ids.sort();
    assert_eq!(s.list().unwrap(), ids);
    assert_eq!(s.len(&a).unwrap(), 12);
    assert_eq!(s.read_at(&a, 5, 1).unwrap(), b"a");
    assert_eq!(s.read_tail(&a, 12, 5).unwrap(), b"bytes");
    assert!(s.read_at(&b, 4, 10).is_err(), "short read must fail");
    assert_eq!(s.read_all(&b).unwrap(), b"pack b");
    assert_eq!(s.read_at(&b, 0, 4).unwrap(), b"pack");
    s.delete(&a).unwrap();
    s.delete(&a).unwrap();
    assert_eq!(s.list().unwrap(), vec![b]);
    assert!(s.read_all(&a).is_err());
    assert!(s.read_at(&a, 0, 1).is_err());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_pack_stored_by_many_threads_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(LocalPackStorage::open(tmp.path()).unwrap());
        let bytes = vec![42u8; 1 << 20];
        let id = ObjectId::of(&bytes);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| s.put(&id, PackKind::Data, &bytes).unwrap());
            }
        });
        assert_eq!(s.read_all(&id).unwrap(), bytes);
        assert_eq!(
            fs::read_dir(tmp.path().join("packs/tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn local_storage_contract() {
        let tmp = tempfile::tempdir().unwrap();
        let s = LocalPackStorage::open(tmp.path()).unwrap();
        check_contract(&s);
        // No temporary files are left behind.
        assert_eq!(
            fs::read_dir(tmp.path().join("packs/tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_crash_leftover_in_tmp_is_removed_at_open() {
        let tmp = tempfile::tempdir().unwrap();
        LocalPackStorage::open(tmp.path()).unwrap();
        let leftover = tmp.path().join("packs/tmp/abc.123");
        fs::write(&leftover, b"half a pack").unwrap();
        let s = LocalPackStorage::open(tmp.path()).unwrap();
        assert!(!leftover.exists());
        assert!(s.list().unwrap().is_empty());
    }

    #[test]
    fn memory_storage_contract() {
        check_contract(&MemoryPackStorage::default());
    }
}
