//! Garbage collection: mark every object reachable from a snapshot, then delete packs that
//! hold nothing live and repack packs that are mostly garbage.
//!
//! Safety: the whole collection (mark and sweep) runs under the exclusive GC lease. Every
//! operation that may reuse objects already in the store (snapshot, copy, restore, root
//! creation) holds the lease shared from before its first reuse decision until its catalog
//! row is committed, so no object a running operation relies on can be swept. A long reader
//! (an export) pins its tree instead (`Engine::pin`): marking counts pinned trees as live,
//! and a read that finds its object moved by a repack follows it. A repacked
//! object's new pack is durable before its old pack is deleted, so a crash at any point
//! leaves every live object in at least one complete pack.

use std::collections::{HashMap, HashSet};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ObjectId;
use crate::materialize::load_tree;
use crate::pack::BlobEntry;
use crate::store::ObjectStore;
use crate::tree::{EntryKind, Extent};

/// A pack is repacked when at least this share of its stored bytes is garbage.
const REPACK_DEAD_SHARE: f64 = 0.3;

/// What a collection would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcPlan {
    /// Objects reachable from some snapshot.
    pub live_objects: u64,
    /// Objects no snapshot reaches.
    pub dead_objects: u64,
    /// Stored bytes of the dead objects.
    pub dead_bytes: u64,
    /// Packs holding only dead objects: deleted.
    pub delete_packs: Vec<ObjectId>,
    /// Packs mostly dead: their live objects are rewritten, then they are deleted.
    pub repack_packs: Vec<ObjectId>,
    /// Stored bytes the collection frees.
    pub reclaimable_bytes: u64,
}

/// What a collection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// The plan it executed. With a shared store, `delete_packs` are the condemned packs
    /// this run deleted, and `repack_packs` the packs whose live objects it wrote again
    /// before condemning them (a later run deletes them).
    pub plan: GcPlan,
    /// Bytes of new packs written by repacking.
    pub repacked_bytes: u64,
    /// Shared store: packs this run condemned (a later run deletes them).
    pub condemned_packs: Vec<ObjectId>,
    /// Shared store: condemned packs found in use again and kept.
    pub recovered_packs: Vec<ObjectId>,
    /// Shared store: operations fenced because their lease lapsed.
    pub fenced_ops: u64,
    /// S3 store: the bucket's unrecorded objects this run deleted (the sweep runs on a
    /// node's first collection, then every [`ORPHAN_SWEEP_EVERY`]).
    pub orphans: crate::s3::OrphanSweep,
}

/// How often a node lists its S3 bucket for orphan objects (LIST is slow and billed; the
/// space it reclaims comes only from crashes between an upload and its row).
pub const ORPHAN_SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Every object reachable from `tops`: trees and chunks. Shared subtrees are walked once.
/// Fails if a tree cannot be read: sweeping with an incomplete mark could delete live data.
pub fn mark(store: &ObjectStore, tops: &[ObjectId]) -> Result<HashSet<ObjectId>, EngineError> {
    let mut seen: HashSet<ObjectId> = HashSet::new();
    let mut stack: Vec<ObjectId> = tops.to_vec();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let tree = load_tree(store, &id)?;
        for e in tree.entries {
            match e.kind {
                EntryKind::Dir { tree } => stack.push(tree),
                EntryKind::File { extents, .. } => {
                    for x in extents {
                        if let Extent::Data { id, .. } = x {
                            seen.insert(id);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(seen)
}

/// Stored bytes of the objects in `ids` (those the store has).
pub fn stored_bytes(store: &ObjectStore, ids: &HashSet<ObjectId>) -> u64 {
    ids.iter()
        .filter_map(|id| store.locate(id))
        .map(|l| u64::from(l.entry.stored_len))
        .sum()
}

/// Who reaches an object, for [`Engine::exclusive_bytes_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// Reached only by the walker with this index.
    One(usize),
    /// Reached by two walkers or more.
    Shared,
}

/// Stored bytes only the walker `i` reaches, for every walker, in one pass over the store.
///
/// Invariant: a tree marked `Shared` has only `Shared` descendants. A tree's first walker
/// visits all of its descendants; when a second walker reaches it, it is marked `Shared`
/// and walked again, which marks every descendant `Shared`. So a walker stops at a `Shared`
/// tree, and at a tree it owns already, and each tree is read at most twice in all.
fn exclusive_per_walker(
    store: &ObjectStore,
    walkers: &[(usize, ObjectId)],
    count: usize,
) -> Result<Vec<u64>, EngineError> {
    let mut owner: HashMap<ObjectId, Owner> = HashMap::new();
    // Records walker `w` reaching `id`; says whether anything changed.
    let mut reach = |id: ObjectId, w: usize| match owner.get(&id).copied() {
        None => {
            owner.insert(id, Owner::One(w));
            true
        }
        Some(Owner::One(j)) if j != w => {
            owner.insert(id, Owner::Shared);
            true
        }
        Some(_) => false,
    };
    for &(w, top) in walkers {
        let mut stack = vec![top];
        while let Some(id) = stack.pop() {
            if !reach(id, w) {
                continue;
            }
            for e in load_tree(store, &id)?.entries {
                match e.kind {
                    EntryKind::Dir { tree } => stack.push(tree),
                    EntryKind::File { extents, .. } => {
                        for x in extents {
                            if let Extent::Data { id, .. } = x {
                                reach(id, w);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    let mut bytes = vec![0u64; count];
    for (id, o) in &owner {
        if let (Owner::One(w), Some(l)) = (o, store.locate(id))
            && let Some(b) = bytes.get_mut(*w)
        {
            *b += u64::from(l.entry.stored_len);
        }
    }
    Ok(bytes)
}

fn plan_with(store: &ObjectStore, live: &HashSet<ObjectId>) -> Result<GcPlan, EngineError> {
    let by_pack = store.objects_by_pack();
    let mut plan = GcPlan::default();
    let mut indexed: HashSet<ObjectId> = HashSet::new();
    for (pack, entries) in &by_pack {
        indexed.insert(*pack);
        let (alive, dead): (Vec<&BlobEntry>, Vec<&BlobEntry>) =
            entries.iter().partition(|e| live.contains(&e.id));
        let dead_bytes: u64 = dead.iter().map(|e| u64::from(e.stored_len)).sum();
        let total: u64 = entries.iter().map(|e| u64::from(e.stored_len)).sum();
        plan.live_objects += alive.len() as u64;
        plan.dead_objects += dead.len() as u64;
        plan.dead_bytes += dead_bytes;
        if alive.is_empty() {
            plan.delete_packs.push(*pack);
            plan.reclaimable_bytes += total;
        } else if total > 0 && dead_bytes as f64 / total as f64 >= REPACK_DEAD_SHARE {
            plan.repack_packs.push(*pack);
            plan.reclaimable_bytes += dead_bytes;
        }
    }
    // Packs the index never reads from (duplicates left by an interrupted repack or by two
    // snapshots storing the same object at once) hold nothing needed.
    for pack in store.list_packs()? {
        if !indexed.contains(&pack) {
            plan.delete_packs.push(pack);
        }
    }
    plan.delete_packs.sort();
    plan.repack_packs.sort();
    Ok(plan)
}

impl Engine {
    /// What a collection would do now (a dry run).
    pub async fn gc_plan(&self) -> Result<GcPlan, EngineError> {
        let _lease = self.lease().await?;
        let tops = self.live_tops().await?;
        self.blocking(move |e| {
            let live = mark(&e.inner.store, &tops)?;
            plan_with(&e.inner.store, &live)
        })
        .await
    }

    /// Collects garbage. Waits for running snapshots to commit and holds new ones back
    /// until it is done.
    pub async fn gc(&self) -> Result<GcReport, EngineError> {
        if self.inner.remote.is_some() {
            return self.gc_shared().await;
        }
        let _exclusive = self.inner.gc_lease.clone().write_owned().await;
        let tops = self.live_tops().await?;
        self.blocking(move |e| {
            let store = &e.inner.store;
            let live = mark(store, &tops)?;
            let plan = plan_with(store, &live)?;
            let by_pack = store.objects_by_pack();
            let w = store.relocating_writer();
            for pack in &plan.repack_packs {
                for entry in by_pack.get(pack).into_iter().flatten() {
                    if live.contains(&entry.id) {
                        let raw = store.read(&entry.id, entry.kind)?;
                        w.add(entry.kind, entry.id, &raw)?;
                    }
                }
            }
            let repacked_bytes = w.finish()?;
            fail::fail_point!("gc::after_repack", |_| Err(EngineError::Injected(
                "gc::after_repack".into()
            )));
            for pack in plan.delete_packs.iter().chain(&plan.repack_packs) {
                fail::fail_point!("gc::between_deletes", |_| Err(EngineError::Injected(
                    "gc::between_deletes".into()
                )));
                store.remove_pack(pack)?;
            }
            Ok(GcReport {
                plan,
                repacked_bytes,
                ..Default::default()
            })
        })
        .await
        .map_err(|e| e.classify("collecting garbage"))
    }

    /// Collects garbage in a store several nodes share ([`crate::ops`]): one node at a
    /// time (the cluster's GC lock), without stopping any node's operations.
    ///
    /// 1. Fence the operations whose lease lapsed.
    /// 2. Read the condemned packs and reload the index (other nodes' packs included).
    /// 3. Choose the condemned packs old enough, whose condemnation no registered
    ///    operation predates. Only then mark: an operation that predates a condemnation may
    ///    commit up to the moment the check passes, and the mark must see that commit.
    /// 4. Delete those the mark finds unused; recover every condemned pack found in use.
    /// 5. Repack the packs mostly dead (their live objects into new, recorded packs).
    /// 6. Condemn the packs the mark finds unused and the repacked ones, bumping the epoch
    ///    in the same transaction. They are deleted by a later run.
    async fn gc_shared(&self) -> Result<GcReport, EngineError> {
        let db = self.inner.catalog.db().clone();
        let lock = crate::db::cluster_lock(&db, crate::db::ClusterLock::Gc).await?;
        let result = self.gc_shared_locked(&db).await;
        lock.release().await;
        result.map_err(|e| e.classify("collecting garbage"))
    }

    async fn gc_shared_locked(&self, db: &crate::DbPool) -> Result<GcReport, EngineError> {
        use crate::ops;
        let fenced_ops = ops::fence_lapsed(db).await?;
        ops::purge_tombstones(db).await?;
        let (epoch, condemned) = ops::condemned_packs(db).await?;
        self.inner
            .store
            .set_condemned(epoch, condemned.iter().map(|c| c.id).collect());
        // Tombstones are gone already; the rest are candidates.
        let condemned: Vec<&ops::Condemned> = condemned.iter().filter(|c| !c.deleted).collect();
        self.blocking(|e| Ok(e.inner.store.reload()?)).await?;
        // Operations that may reuse stored objects; a pinning one (an export) reuses
        // nothing, and the mark below keeps its tree.
        let oldest_op: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(started_epoch) FROM store_ops WHERE pinned_tree IS NULL",
        )
        .fetch_one(db)
        .await?;
        let now = chrono::Utc::now();
        let min_age = chrono::Duration::from_std(self.inner.gc_min_age).unwrap_or_default();
        let ripe: HashSet<ObjectId> = condemned
            .iter()
            .filter(|c| {
                let old_enough = chrono::DateTime::parse_from_rfc3339(&c.at)
                    .map(|t| now.signed_duration_since(t) >= min_age)
                    .unwrap_or(false);
                old_enough && oldest_op.is_none_or(|o| o >= c.epoch)
            })
            .map(|c| c.id)
            .collect();
        fail::fail_point!("gc::before_mark", |_| Err(EngineError::Injected(
            "gc::before_mark".into()
        )));
        let tops = self.live_tops().await?;
        let (live, plan) = self
            .blocking(move |e| {
                let live = mark(&e.inner.store, &tops)?;
                let plan = plan_with(&e.inner.store, &live)?;
                Ok((live, plan))
            })
            .await?;
        // Packs holding a live object, as the index reads it (it prefers copies outside
        // condemned packs, so a condemned pack here has the only copy).
        let by_pack = self.inner.store.objects_by_pack();
        let in_use = |p: &ObjectId| {
            by_pack
                .get(p)
                .is_some_and(|entries| entries.iter().any(|e| live.contains(&e.id)))
        };
        let mut report = GcReport {
            fenced_ops,
            ..Default::default()
        };
        // A pack whose footer this node cannot read is not known to be unused: never
        // condemned nor deleted here (its cached tail was fetched again already).
        let damaged: HashSet<ObjectId> = self
            .inner
            .store
            .damaged_packs()
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        for c in &condemned {
            let pack = &c.id;
            if in_use(pack) {
                sqlx::query(
                    "UPDATE packs SET condemned_epoch = NULL, condemned_at = NULL WHERE id = $1",
                )
                .bind(pack.to_hex())
                .execute(db)
                .await?;
                report.recovered_packs.push(*pack);
            } else if ripe.contains(pack) && !damaged.contains(pack) {
                fail::fail_point!("gc::before_sweep", |_| Err(EngineError::Injected(
                    "gc::before_sweep".into()
                )));
                let p = *pack;
                self.blocking(move |e| Ok(e.inner.store.remove_pack(&p)?))
                    .await?;
                report.plan.delete_packs.push(*pack);
            }
        }
        let known: HashSet<ObjectId> = condemned.iter().map(|c| c.id).collect();
        let mut newly: Vec<ObjectId> = plan
            .delete_packs
            .iter()
            .filter(|p| !known.contains(p) && !damaged.contains(p))
            .copied()
            .collect();
        // Packs mostly dead: their live objects are written again into new packs (recorded
        // before anything is condemned), and the old packs are condemned with the unused
        // ones. Every index prefers the copies outside condemned packs, and an old pack is
        // deleted only once no operation that might read it from before remains.
        let repack: Vec<ObjectId> = plan
            .repack_packs
            .iter()
            .filter(|p| !known.contains(p) && !damaged.contains(p))
            .copied()
            .collect();
        if !repack.is_empty() {
            let todo = repack.clone();
            report.repacked_bytes = self
                .blocking(move |e| {
                    let store = &e.inner.store;
                    let w = store.relocating_writer();
                    for pack in &todo {
                        for entry in by_pack.get(pack).into_iter().flatten() {
                            if live.contains(&entry.id) {
                                let raw = store.read(&entry.id, entry.kind)?;
                                w.add(entry.kind, entry.id, &raw)?;
                            }
                        }
                    }
                    Ok(w.finish()?)
                })
                .await?;
            fail::fail_point!("gc::after_repack", |_| Err(EngineError::Injected(
                "gc::after_repack".into()
            )));
            report.plan.repack_packs = repack.clone();
            newly.extend(repack);
        }
        if !newly.is_empty() {
            let mut tx = crate::db::begin_write(db).await?;
            let epoch: i64 = sqlx::query_scalar(
                "UPDATE store_epoch SET epoch = epoch + 1 WHERE singleton = 1 RETURNING epoch",
            )
            .fetch_one(&mut *tx)
            .await?;
            let at = crate::catalog::fmt_time(now);
            for p in &newly {
                sqlx::query(
                    "UPDATE packs SET condemned_epoch = $1, condemned_at = $2 \
                     WHERE id = $3 AND condemned_epoch IS NULL",
                )
                .bind(epoch)
                .bind(&at)
                .bind(p.to_hex())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        }
        report.condemned_packs = newly;
        if let Some(remote) = self.inner.remote.clone() {
            let due = self
                .inner
                .last_orphan_sweep
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_none_or(|t| t.elapsed() >= ORPHAN_SWEEP_EVERY);
            if due {
                // Beyond the window in which a writer may still record its upload, plus GC's
                // minimum age for the clocks' disagreement.
                let grace = remote.record_within() + self.inner.gc_min_age;
                match remote.sweep_orphans(grace).await {
                    Ok(sweep) => {
                        *self
                            .inner
                            .last_orphan_sweep
                            .lock()
                            .unwrap_or_else(|e| e.into_inner()) = Some(std::time::Instant::now());
                        report.orphans = sweep;
                    }
                    // Space only: the collection itself succeeded, and the next one retries.
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot sweep the bucket for orphan packs")
                    }
                }
            }
        }
        report.plan.live_objects = plan.live_objects;
        report.plan.dead_objects = plan.dead_objects;
        report.plan.dead_bytes = plan.dead_bytes;
        Ok(report)
    }

    /// [`Engine::exclusive_bytes`] of every live snapshot of a container, by name, in one
    /// pass over the store (a timeline of 1,000 snapshots reads each tree at most twice,
    /// not once per snapshot).
    pub async fn exclusive_bytes_all(
        &self,
        c: &crate::ids::ContainerId,
    ) -> Result<HashMap<String, u64>, EngineError> {
        let mine = self.list(c).await?;
        let all = self.inner.catalog.all_snapshots().await?;
        let index: HashMap<&str, usize> = mine
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        // Every other snapshot (other containers, expired rows still holding their
        // objects) walks as one more walker, so what it reaches counts as shared.
        let others = mine.len();
        let walkers: Vec<(usize, ObjectId)> = all
            .iter()
            .map(|s| {
                let w = match index.get(s.name.as_str()) {
                    Some(&i) if s.container == *c => i,
                    _ => others,
                };
                (w, s.top_tree)
            })
            .collect();
        let bytes = self
            .blocking(move |e| exclusive_per_walker(&e.inner.store, &walkers, others))
            .await?;
        Ok(mine.into_iter().map(|s| s.name).zip(bytes).collect())
    }

    /// For each live snapshot of a container, oldest first: the stored bytes of everything
    /// that snapshot and the older ones reach (what the container's history occupies in the
    /// store at that point, objects shared with its image or other containers included).
    pub async fn stored_history(
        &self,
        c: &crate::ids::ContainerId,
    ) -> Result<Vec<(String, u64)>, EngineError> {
        let mut snaps = self.list(c).await?;
        snaps.reverse();
        self.blocking(move |e| {
            let store = &e.inner.store;
            let mut seen: HashSet<ObjectId> = HashSet::new();
            let mut total = 0u64;
            let mut out = Vec::with_capacity(snaps.len());
            let mut add = |id: ObjectId, total: &mut u64| {
                let new = seen.insert(id);
                if new && let Some(l) = store.locate(&id) {
                    *total += u64::from(l.entry.stored_len);
                }
                new
            };
            for s in snaps {
                // A tree already counted has all its descendants counted too.
                let mut stack = vec![s.top_tree];
                while let Some(id) = stack.pop() {
                    if !add(id, &mut total) {
                        continue;
                    }
                    for entry in load_tree(store, &id)?.entries {
                        match entry.kind {
                            EntryKind::Dir { tree } => stack.push(tree),
                            EntryKind::File { extents, .. } => {
                                for x in extents {
                                    if let Extent::Data { id, .. } = x {
                                        add(id, &mut total);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                out.push((s.name, total));
            }
            Ok(out)
        })
        .await
    }

    /// Bytes that deleting this snapshot would free: the stored bytes of objects that no
    /// other snapshot (of any container) reaches.
    pub async fn exclusive_bytes(
        &self,
        c: &crate::ids::ContainerId,
        name: &str,
    ) -> Result<u64, EngineError> {
        let target = self.get(c, name).await?;
        let all = self.inner.catalog.all_top_trees().await?;
        self.blocking(move |e| {
            let mut others: Vec<ObjectId> = all;
            // Remove one occurrence: another snapshot with the same top tree shares it all.
            if let Some(i) = others.iter().position(|t| *t == target.top_tree) {
                others.remove(i);
            }
            let mine = mark(&e.inner.store, &[target.top_tree])?;
            let rest = mark(&e.inner.store, &others)?;
            let only: HashSet<ObjectId> = mine.difference(&rest).copied().collect();
            Ok(stored_bytes(&e.inner.store, &only))
        })
        .await
    }
}
