//! [`StoreWriter`]: adding objects to the store, packed and stored by worker threads while
//! the callers go on reading and hashing.

use std::collections::HashSet;
use std::sync::Arc;

use super::{ObjectStore, StoreError};
use crate::ids::ObjectId;
use crate::pack::{ObjectKind, PackBuilder};
use crate::storage::PackKind;

/// Adds objects to the store. Objects the store (or this writer) already has are skipped.
///
/// Compression and pack writing run on worker threads (one per core), each filling its own
/// packs, while the callers go on reading and hashing: a snapshot is as fast as the slower
/// of the two, not their sum. The writer is shared by reference, so several threads may add
/// at once (the capture reads files in parallel). Memory is bounded by the queue (64 objects
/// of at most one chunk each) plus one pack per worker.
///
/// Invariant: an object added here is readable from the store only after the pack holding it
/// was stored durably, which [`StoreWriter::finish`] guarantees for every object added.
pub struct StoreWriter<'a> {
    store: &'a ObjectStore,
    pending: std::sync::Mutex<HashSet<ObjectId>>,
    relocate: bool,
    /// Trees, packed apart from chunks by the adding threads themselves (trees are small
    /// and few: one pack holds a large snapshot's), so a snapshot writes one tree pack.
    trees: std::sync::Mutex<PackBuilder>,
    trees_written: std::sync::atomic::AtomicU64,
    tx: Option<std::sync::mpsc::SyncSender<(ObjectKind, ObjectId, Vec<u8>)>>,
    workers: Vec<std::thread::JoinHandle<u64>>,
    /// The first error of a worker; the worker stops, and the next `add` or `finish` reports it.
    failed: Arc<std::sync::Mutex<Option<StoreError>>>,
    /// Set once a failure was reported by `add`: `finish` must not then claim success.
    broken: std::sync::atomic::AtomicBool,
}

impl<'a> StoreWriter<'a> {
    pub(super) fn new(store: &'a ObjectStore, relocate: bool) -> Self {
        let n = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        let (tx, rx) = std::sync::mpsc::sync_channel::<(ObjectKind, ObjectId, Vec<u8>)>(64);
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let failed = Arc::new(std::sync::Mutex::new(None));
        let workers = (0..n)
            .map(|_| {
                let (store, rx, failed) = (store.clone(), rx.clone(), failed.clone());
                std::thread::spawn(move || {
                    let run = || -> Result<u64, StoreError> {
                        let mut pack = store.new_pack();
                        let mut written = 0;
                        loop {
                            let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                            let Ok((kind, id, raw)) = job else { break };
                            pack.add(kind, id, &raw);
                            if pack.is_full() {
                                written += store.store_pack(
                                    std::mem::replace(&mut pack, store.new_pack()),
                                    PackKind::Data,
                                    relocate,
                                )?;
                            }
                        }
                        if !pack.is_empty() {
                            written += store.store_pack(pack, PackKind::Data, relocate)?;
                        }
                        Ok(written)
                    };
                    run().unwrap_or_else(|e| {
                        failed
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .get_or_insert(e);
                        0
                    })
                })
            })
            .collect();
        StoreWriter {
            store,
            pending: std::sync::Mutex::new(HashSet::new()),
            relocate,
            trees: std::sync::Mutex::new(store.new_pack()),
            trees_written: std::sync::atomic::AtomicU64::new(0),
            tx: Some(tx),
            workers,
            failed,
            broken: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl StoreWriter<'_> {
    /// Adds an object unless it is already stored; returns whether it was new. `raw` is only
    /// copied when the object is new.
    pub fn add(&self, kind: ObjectKind, id: ObjectId, raw: &[u8]) -> Result<bool, StoreError> {
        if !self.relocate && self.store.reusable(&id) {
            return Ok(false);
        }
        if !self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id)
        {
            return Ok(false);
        }
        let failed = self
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if kind == ObjectKind::Tree && !failed {
            return self.add_tree(id, raw).map(|()| true);
        }
        let sent = (!failed)
            .then(|| self.tx.as_ref().map(|tx| tx.send((kind, id, raw.to_vec()))))
            .flatten();
        if !matches!(sent, Some(Ok(()))) {
            // A worker failed (disk full, say) and the others stopped with it.
            return Err(self.take_failure());
        }
        Ok(true)
    }

    /// Whether the store or this writer already has the object.
    pub fn has(&self, id: &ObjectId) -> bool {
        self.store.reusable(id)
            || self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(id)
    }

    /// Adds a tree to the tree pack, storing the pack when it is full.
    fn add_tree(&self, id: ObjectId, raw: &[u8]) -> Result<(), StoreError> {
        let full = {
            let mut trees = self.trees.lock().unwrap_or_else(|p| p.into_inner());
            trees.add(ObjectKind::Tree, id, raw);
            trees
                .is_full()
                .then(|| std::mem::replace(&mut *trees, self.store.new_pack()))
        };
        if let Some(pack) = full {
            self.store_trees(pack)?;
        }
        Ok(())
    }

    fn store_trees(&self, pack: PackBuilder) -> Result<(), StoreError> {
        match self.store.store_pack(pack, PackKind::Tree, self.relocate) {
            Ok(n) => {
                self.trees_written
                    .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                self.failed
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get_or_insert(e);
                Err(self.take_failure())
            }
        }
    }

    fn take_failure(&self) -> StoreError {
        self.broken
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .unwrap_or_else(|| StoreError::Io {
                context: "the pack writers stopped".into(),
                source: std::io::Error::other("pack writer gone"),
            })
    }

    fn join(&mut self) -> Result<u64, StoreError> {
        self.tx = None;
        let mut total = 0;
        let mut panicked = false;
        for w in self.workers.drain(..) {
            match w.join() {
                Ok(n) => total += n,
                Err(_) => panicked = true,
            }
        }
        if let Some(e) = self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            return Err(e);
        }
        if panicked || self.broken.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(StoreError::Io {
                context: "a pack writer failed or panicked".into(),
                source: std::io::Error::other("pack writer stopped"),
            });
        }
        let trees = std::mem::take(&mut *self.trees.lock().unwrap_or_else(|p| p.into_inner()));
        if !trees.is_empty() {
            self.store_trees(trees)?;
        }
        Ok(total
            + self
                .trees_written
                .swap(0, std::sync::atomic::Ordering::Relaxed))
    }

    /// Waits until every added object is in a durable pack; returns the bytes of packs
    /// written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        self.join()
    }
}

impl Drop for StoreWriter<'_> {
    fn drop(&mut self) {
        // An abandoned writer still stops its threads (their packs may be stored; nothing
        // references them, so GC removes them).
        let _ = self.join();
    }
}
