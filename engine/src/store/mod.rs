//! The content-addressed object store: packs plus an index of where each object lives.
//!
//! The index is rebuilt from the packs' footers when the store opens, so it can never
//! disagree with the packs: an object is known exactly when a complete pack holding it
//! exists. New objects become visible only after their pack is durably stored.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use crate::ids::ObjectId;
use crate::pack::{self, BlobEntry, ObjectKind, PackBuilder, PackError};
use crate::storage::{PackKind, PackStorage};

mod writer;
pub use writer::StoreWriter;

/// Where an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// The pack holding it.
    pub pack: ObjectId,
    /// Its entry in that pack.
    pub entry: BlobEntry,
}

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage failed (disk full, permissions, I/O error).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// No pack holds this object.
    #[error("object {0} is missing from the store")]
    Missing(ObjectId),
    /// The object is not of the expected kind.
    #[error("object {id} is a {found:?}, expected a {expected:?}")]
    WrongKind {
        /// The object.
        id: ObjectId,
        /// The kind the caller asked for.
        expected: ObjectKind,
        /// The kind the store holds.
        found: ObjectKind,
    },
    /// A pack or object failed its checks.
    #[error(transparent)]
    Damaged(#[from] PackError),
}

impl StoreError {
    fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
        let context = context.into();
        move |source| StoreError::Io { context, source }
    }
}

/// Packs and their index.
#[derive(Clone)]
pub struct ObjectStore {
    storage: Arc<dyn PackStorage>,
    index: Arc<RwLock<HashMap<ObjectId, Location>>>,
    damaged: Arc<RwLock<Vec<(ObjectId, PackError)>>>,
    /// Packs that GC condemned (a store shared by nodes, [`crate::ops`]): still readable,
    /// but never reused by a writer, and the index prefers any other copy of an object.
    condemned: Arc<RwLock<HashSet<ObjectId>>>,
    /// The store epoch the condemned set was read at: an older read never replaces a newer
    /// one (two operations registering at once may set it in either order).
    condemned_epoch: Arc<std::sync::atomic::AtomicI64>,
    /// Whether other nodes write to this store too: the index is then reloaded when an
    /// object is missing or its pack is gone.
    shared: bool,
    /// When the index was last built: a shared store's index is rebuilt at least hourly,
    /// well inside the day a deleted pack's tombstone lasts.
    built_at: Arc<std::sync::Mutex<std::time::Instant>>,
}

impl ObjectStore {
    /// Opens a store, reading every pack's header, trailer and footer (a few KiB each, so a
    /// large store opens in milliseconds). Packs whose footer is damaged are left out of the
    /// index and listed by [`ObjectStore::damaged_packs`]; they never make the open fail, so
    /// a damaged store can still be verified and partly restored. Damage inside objects is
    /// found when they are read (every read is hash-checked) and by `verify`.
    pub fn open(storage: Arc<dyn PackStorage>) -> Result<Self, StoreError> {
        let (index, damaged) = Self::build_index(storage.as_ref(), &HashSet::new())?;
        Ok(ObjectStore {
            storage,
            index: Arc::new(RwLock::new(index)),
            damaged: Arc::new(RwLock::new(damaged)),
            condemned: Arc::new(RwLock::new(HashSet::new())),
            condemned_epoch: Arc::new(std::sync::atomic::AtomicI64::new(i64::MIN)),
            shared: false,
            built_at: Arc::new(std::sync::Mutex::new(std::time::Instant::now())),
        })
    }

    /// Marks the store as shared with other nodes (an S3 store): see [`ObjectStore::reload`].
    pub fn shared(mut self) -> Self {
        self.shared = true;
        self
    }

    /// A new pack for a writer. A shared store's packs are salted: two nodes packing the
    /// same objects in the same order must not make one pack id, or a writer could revive a
    /// condemned pack by name while GC deletes it.
    fn new_pack(&self) -> PackBuilder {
        if self.shared {
            PackBuilder::salted()
        } else {
            PackBuilder::new()
        }
    }

    /// Rebuilds the index from the storage's current list of packs (a remote storage's
    /// footers come from its cache): picks up packs other nodes wrote and forgets packs
    /// that were deleted. Objects in condemned packs are indexed only where no other copy
    /// exists.
    pub fn reload(&self) -> Result<(), StoreError> {
        let condemned = self
            .condemned
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let started = std::time::Instant::now();
        let (index, damaged) = Self::build_index(self.storage.as_ref(), &condemned)?;
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = index;
        *self.damaged.write().unwrap_or_else(|p| p.into_inner()) = damaged;
        *self.built_at.lock().unwrap_or_else(|p| p.into_inner()) = started;
        Ok(())
    }

    /// Reloads the index when another node stored or deleted packs since this one last
    /// listed them (the store's version moved), or when it is over an hour old.
    /// Operations call it as they start, so a node reuses what other nodes stored (an
    /// image is kept once) and forgets packs that are gone.
    pub fn reload_if_changed(&self) -> Result<(), StoreError> {
        let old = self
            .built_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
            > std::time::Duration::from_secs(3600);
        let changed = self
            .storage
            .changed()
            .map_err(StoreError::io("cannot read the store's version"))?;
        if old || changed {
            self.reload()?;
        }
        Ok(())
    }

    /// Sets the condemned packs, read from the database at store epoch `epoch` (read
    /// before the packs) by a registering operation or by GC. Writers skip objects only
    /// where a copy outside these packs exists. A set read at an older epoch than the one
    /// held is ignored: otherwise an operation that registered before a condemnation could
    /// hide it from one that registered after, and the latter could reuse a pack that GC
    /// then deletes.
    pub fn set_condemned(&self, epoch: i64, packs: HashSet<ObjectId>) {
        let mut held = self.condemned.write().unwrap_or_else(|p| p.into_inner());
        let current = self
            .condemned_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        if epoch >= current {
            *held = packs;
            self.condemned_epoch
                .store(epoch, std::sync::atomic::Ordering::Release);
        }
    }

    /// Whether a writer may reuse the stored copy of `id`: it is indexed, and not in a
    /// condemned pack.
    pub fn reusable(&self, id: &ObjectId) -> bool {
        match self.locate(id) {
            Some(loc) => !self
                .condemned
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&loc.pack),
            None => false,
        }
    }

    #[allow(clippy::type_complexity)]
    fn build_index(
        storage: &dyn PackStorage,
        condemned: &HashSet<ObjectId>,
    ) -> Result<(HashMap<ObjectId, Location>, Vec<(ObjectId, PackError)>), StoreError> {
        use rayon::prelude::*;
        let mut packs = storage
            .list()
            .map_err(StoreError::io("cannot list packs"))?;
        // Packs in use first: an object in both a live and a condemned pack is read from
        // the live one.
        packs.sort_by_key(|p| condemned.contains(p));
        // One tail read per pack; a remote storage answers each in a round trip, so they
        // run in parallel.
        let footers: Vec<(ObjectId, Result<Vec<BlobEntry>, PackError>)> = packs
            .par_iter()
            .map(|pack_id| -> Result<_, StoreError> {
                Ok((*pack_id, Self::footer(storage, pack_id)?))
            })
            .collect::<Result<_, _>>()?;
        let mut index = HashMap::new();
        let mut damaged = Vec::new();
        for (pack_id, footer) in footers {
            match footer {
                Ok(entries) => {
                    for entry in entries {
                        index.entry(entry.id).or_insert(Location {
                            pack: pack_id,
                            entry,
                        });
                    }
                }
                Err(e) => damaged.push((pack_id, e)),
            }
        }
        Ok((index, damaged))
    }

    /// A pack's index, from its tail ([`pack::TAIL_GUESS`] bytes, then more if its footer is
    /// longer). An unreadable tail is damage (the pack is left out of the index), except
    /// for an I/O error of the storage itself, which fails the open: a store that cannot be
    /// read must not look empty.
    fn footer(
        storage: &dyn PackStorage,
        pack_id: &ObjectId,
    ) -> Result<Result<Vec<BlobEntry>, PackError>, StoreError> {
        let name = pack_id.to_hex();
        let total = storage
            .len(pack_id)
            .map_err(StoreError::io(format!("cannot read pack {pack_id}")))?;
        let mut want = pack::TAIL_GUESS.min(usize::try_from(total).unwrap_or(usize::MAX));
        let mut refetched = false;
        loop {
            let tail = match storage.read_tail(pack_id, total, want) {
                Ok(tail) => tail,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Ok(Err(PackError::Damaged {
                        pack: name,
                        reason: format!("unreadable footer ({e})"),
                    }));
                }
                Err(e) => {
                    return Err(StoreError::Io {
                        context: format!("cannot read the footer of pack {pack_id}"),
                        source: e,
                    });
                }
            };
            match pack::read_footer_from_tail(&name, total, &tail) {
                // A remote storage's cached tail may be what is bad: drop it and read the
                // tail from the store itself, once.
                Err(_) if !refetched => {
                    storage.forget_cached(pack_id);
                    refetched = true;
                }
                Ok(Err(more)) if more > want => want = more,
                Ok(Err(_)) => {
                    return Ok(Err(PackError::Damaged {
                        pack: name,
                        reason: "footer length out of range".into(),
                    }));
                }
                Ok(Ok(entries)) => return Ok(Ok(entries)),
                Err(e) => return Ok(Err(e)),
            }
        }
    }

    /// Packs found damaged when the store opened.
    pub fn damaged_packs(&self) -> Vec<(ObjectId, PackError)> {
        self.damaged
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Where an object is, if the store has it.
    pub fn locate(&self, id: &ObjectId) -> Option<Location> {
        self.index
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    /// Whether the store has an object.
    pub fn contains(&self, id: &ObjectId) -> bool {
        self.locate(id).is_some()
    }

    /// Number of objects known.
    pub fn object_count(&self) -> usize {
        self.index.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Reads an object and checks its kind, length and hash.
    pub fn read(&self, id: &ObjectId, kind: ObjectKind) -> Result<Vec<u8>, StoreError> {
        match self.read_once(id, kind) {
            // Another node may have written the object, or deleted the pack this index
            // reads it from after writing it again elsewhere: reload, then read once more.
            // A damaged read may come from a bad cached copy: drop it, so that the pack is
            // fetched again.
            Err(StoreError::Missing(_) | StoreError::Damaged(_)) if self.shared => {
                if let Some(loc) = self.locate(id) {
                    self.storage.forget_cached(&loc.pack);
                }
                self.reload()?;
                self.read_once(id, kind)
            }
            other => other,
        }
    }

    fn read_once(&self, id: &ObjectId, kind: ObjectKind) -> Result<Vec<u8>, StoreError> {
        let loc = self.locate(id).ok_or(StoreError::Missing(*id))?;
        match self.read_at(id, kind, &loc) {
            // A reader without the GC lease (a pinned export) can lose a race with a repack:
            // the object moved to a new pack and its old pack is gone. Follow it, once.
            Err(e @ StoreError::Damaged(_)) => match self.locate(id) {
                Some(moved) if moved.pack != loc.pack => self.read_at(id, kind, &moved),
                _ => Err(e),
            },
            other => other,
        }
    }

    /// [`ObjectStore::read`] from one location.
    fn read_at(
        &self,
        id: &ObjectId,
        kind: ObjectKind,
        loc: &Location,
    ) -> Result<Vec<u8>, StoreError> {
        if loc.entry.kind != kind {
            return Err(StoreError::WrongKind {
                id: *id,
                expected: kind,
                found: loc.entry.kind,
            });
        }
        let stored = self
            .storage
            .read_at(&loc.pack, loc.entry.offset, loc.entry.stored_len as usize)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::NotFound => {
                    StoreError::Damaged(PackError::BadObject {
                        id: *id,
                        reason: format!("its pack {} is missing or truncated ({e})", loc.pack),
                    })
                }
                _ => StoreError::Io {
                    context: format!("cannot read object {id} from pack {}", loc.pack),
                    source: e,
                },
            })?;
        Ok(pack::decode_blob(&loc.entry, &stored)?)
    }

    /// A writer that adds objects through new packs.
    pub fn writer(&self) -> StoreWriter<'_> {
        StoreWriter::new(self, false)
    }

    /// A writer for repacking: it stores objects even when the store has them, and points
    /// the index at the new copies once they are durable.
    pub(crate) fn relocating_writer(&self) -> StoreWriter<'_> {
        StoreWriter::new(self, true)
    }

    /// Stores one pack durably and makes its objects visible.
    fn store_pack(
        &self,
        builder: PackBuilder,
        kind: PackKind,
        relocate: bool,
    ) -> Result<u64, StoreError> {
        let (pack_id, bytes, entries) = builder.finish();
        self.storage
            .put(&pack_id, kind, &bytes)
            .map_err(StoreError::io(format!("cannot store pack {pack_id}")))?;
        let condemned = self.condemned.read().unwrap_or_else(|p| p.into_inner());
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        for entry in entries {
            let loc = Location {
                pack: pack_id,
                entry,
            };
            match index.get(&entry.id) {
                // A new copy of an object whose indexed copy is condemned is read from now on.
                Some(old) if !relocate && !condemned.contains(&old.pack) => {}
                _ => {
                    index.insert(entry.id, loc);
                }
            }
        }
        Ok(bytes.len() as u64)
    }

    /// Every indexed object, grouped by the pack the index reads it from.
    pub fn objects_by_pack(&self) -> HashMap<ObjectId, Vec<BlobEntry>> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        let mut out: HashMap<ObjectId, Vec<BlobEntry>> = HashMap::new();
        for loc in index.values() {
            out.entry(loc.pack).or_default().push(loc.entry);
        }
        out
    }

    /// Every pack in storage, including ones the index no longer reads from.
    pub fn list_packs(&self) -> Result<Vec<ObjectId>, StoreError> {
        self.storage
            .list()
            .map_err(StoreError::io("cannot list packs"))
    }

    /// Reads a whole pack (verification).
    pub fn read_pack(&self, pack: &ObjectId) -> Result<Vec<u8>, StoreError> {
        self.storage
            .read_all(pack)
            .map_err(StoreError::io(format!("cannot read pack {pack}")))
    }

    /// Forgets every object the index reads from `pack`, then deletes the pack. The caller
    /// guarantees that nothing live needs those objects (or that they were relocated).
    pub(crate) fn remove_pack(&self, pack: &ObjectId) -> Result<(), StoreError> {
        {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            index.retain(|_, loc| loc.pack != *pack);
        }

        self.storage
            .delete(pack)
            .map_err(StoreError::io(format!("cannot delete pack {pack}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{LocalPackStorage, MemoryPackStorage};

    #[test]
    fn an_older_condemned_set_never_replaces_a_newer_one() {
        let store = ObjectStore::open(Arc::new(MemoryPackStorage::default())).unwrap();
        let (p, q) = (ObjectId::of(b"p"), ObjectId::of(b"q"));
        store.set_condemned(5, [p].into());
        // A registration that read the database before the condemnation comes in late.
        store.set_condemned(4, HashSet::new());
        assert!(store.condemned.read().unwrap().contains(&p));
        // The same epoch or a newer one replaces it (a recovery, a later condemnation).
        store.set_condemned(5, [q].into());
        assert_eq!(*store.condemned.read().unwrap(), [q].into());
        store.set_condemned(6, HashSet::new());
        assert!(store.condemned.read().unwrap().is_empty());
    }

    fn put_some(store: &ObjectStore, n: usize) -> Vec<(ObjectId, Vec<u8>)> {
        let w = store.writer();
        let objs: Vec<(ObjectId, Vec<u8>)> = (0..n)
            .map(|i| {
                let data = format!("object number {i}").repeat(i % 7 + 1).into_bytes();
                (ObjectId::of(&data), data)
            })
            .collect();
        for (id, data) in &objs {
            w.add(ObjectKind::Chunk, *id, data).unwrap();
        }
        // Not visible before the pack is stored.
        assert!(n == 0 || !store.contains(&objs[0].0));
        w.finish().unwrap();
        objs
    }

    #[test]
    fn objects_survive_reopen_and_dedupe() {
        let tmp = tempfile::tempdir().unwrap();
        let storage = Arc::new(LocalPackStorage::open(tmp.path()).unwrap());
        let store = ObjectStore::open(storage.clone()).unwrap();
        let objs = put_some(&store, 50);
        let w = store.writer();
        assert!(!w.add(ObjectKind::Chunk, objs[3].0, &objs[3].1).unwrap());
        assert_eq!(w.finish().unwrap(), 0);

        let reopened = ObjectStore::open(storage).unwrap();
        assert_eq!(reopened.object_count(), 50);
        for (id, data) in &objs {
            assert_eq!(&reopened.read(id, ObjectKind::Chunk).unwrap(), data);
        }
        assert!(matches!(
            reopened.read(&objs[0].0, ObjectKind::Tree),
            Err(StoreError::WrongKind { .. })
        ));
        assert!(matches!(
            reopened.read(&ObjectId::of(b"nope"), ObjectKind::Chunk),
            Err(StoreError::Missing(_))
        ));
    }

    #[test]
    fn damage_is_reported_not_returned() {
        let storage = Arc::new(MemoryPackStorage::default());
        let store = ObjectStore::open(storage.clone()).unwrap();
        let objs = put_some(&store, 5);
        let loc = store.locate(&objs[2].0).unwrap();
        // Flip one bit inside the stored object.
        storage.packs.lock().unwrap().get_mut(&loc.pack).unwrap()[loc.entry.offset as usize] ^= 1;
        assert!(matches!(
            store.read(&objs[2].0, ObjectKind::Chunk),
            Err(StoreError::Damaged(_))
        ));
        // Reopening reads only footers: the object stays indexed and still fails its check.
        let reopened = ObjectStore::open(storage.clone()).unwrap();
        assert!(reopened.damaged_packs().is_empty());
        assert!(matches!(
            reopened.read(&objs[2].0, ObjectKind::Chunk),
            Err(StoreError::Damaged(_))
        ));
        // A flipped bit in the footer is found at open: the pack is left out and reported.
        let n = storage.packs.lock().unwrap()[&loc.pack].len();
        storage.packs.lock().unwrap().get_mut(&loc.pack).unwrap()[n - 50] ^= 1;
        let reopened = ObjectStore::open(storage.clone()).unwrap();
        assert_eq!(reopened.damaged_packs().len(), 1);
        assert!(!reopened.contains(&objs[2].0));

        // A missing pack makes its objects unreadable with a clear error.
        storage.packs.lock().unwrap().clear();
        assert!(matches!(
            store.read(&objs[0].0, ObjectKind::Chunk),
            Err(StoreError::Damaged(_))
        ));
    }
}
