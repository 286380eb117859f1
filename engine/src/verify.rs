//! `verify`: check that every snapshot can be restored, and name what cannot.
//!
//! The structural check decodes every tree reachable from every snapshot (each read is
//! hash-checked) and checks that every chunk they name is indexed. The deep check also reads
//! and re-hashes every chunk and every pack file. Damage is reported per object, with the
//! snapshots that need it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::catalog::SnapshotInfo;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::{ContainerId, ObjectId};
use crate::materialize::{MaterializeError, load_tree};
use crate::pack::ObjectKind;
use crate::store::ObjectStore;
use crate::tree::{EntryKind, Extent};

/// One damaged or missing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// The object.
    pub object: ObjectId,
    /// What is wrong with it.
    pub reason: String,
    /// Snapshots that need it: (container, name).
    pub snapshots: Vec<(ContainerId, String)>,
}

/// What [`Engine::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Snapshots checked (expired ones whose rows remain included).
    pub snapshots: u64,
    /// Distinct trees decoded.
    pub trees: u64,
    /// Distinct chunks checked.
    pub chunks: u64,
    /// Whether chunk contents and pack files were re-read and re-hashed.
    pub deep: bool,
    /// Damaged or missing objects.
    pub damaged: Vec<Damage>,
    /// Packs whose bytes do not match their name or whose footer is damaged.
    pub damaged_packs: Vec<(ObjectId, String)>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.damaged.is_empty() && self.damaged_packs.is_empty()
    }
}

struct Checker<'a> {
    store: &'a ObjectStore,
    deep: bool,
    /// Bad objects below each tree (memoized: shared subtrees are checked once).
    below: HashMap<ObjectId, BTreeSet<ObjectId>>,
    reasons: BTreeMap<ObjectId, String>,
    chunks_ok: HashMap<ObjectId, bool>,
}

impl Checker<'_> {
    fn tree(&mut self, id: ObjectId) -> BTreeSet<ObjectId> {
        if let Some(b) = self.below.get(&id) {
            return b.clone();
        }
        let mut bad = BTreeSet::new();
        match load_tree(self.store, &id) {
            Err(e) => {
                let reason = match e {
                    MaterializeError::Store(s) => s.to_string(),
                    other => other.to_string(),
                };
                self.reasons.insert(id, reason);
                bad.insert(id);
            }
            Ok(tree) => {
                for e in tree.entries {
                    match e.kind {
                        EntryKind::Dir { tree } => bad.extend(self.tree(tree)),
                        EntryKind::File { extents, .. } => {
                            for x in extents {
                                if let Extent::Data { id, .. } = x
                                    && !self.chunk(id)
                                {
                                    bad.insert(id);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        self.below.insert(id, bad.clone());
        bad
    }

    fn chunk(&mut self, id: ObjectId) -> bool {
        if let Some(ok) = self.chunks_ok.get(&id) {
            return *ok;
        }
        let result = if self.deep {
            self.store
                .read(&id, ObjectKind::Chunk)
                .map(|_| ())
                .map_err(|e| e.to_string())
        } else {
            match self.store.locate(&id) {
                None => Err(format!("object {id} is missing from the store")),
                Some(l) if l.entry.kind != ObjectKind::Chunk => {
                    Err(format!("object {id} is not a chunk"))
                }
                Some(_) => Ok(()),
            }
        };
        let ok = result.is_ok();
        if let Err(reason) = result {
            self.reasons.insert(id, reason);
        }
        self.chunks_ok.insert(id, ok);
        ok
    }
}

/// Verifies the given snapshots against the store.
pub fn verify_snapshots(
    store: &ObjectStore,
    snapshots: &[SnapshotInfo],
    deep: bool,
) -> Result<VerifyReport, EngineError> {
    let mut c = Checker {
        store,
        deep,
        below: HashMap::new(),
        reasons: BTreeMap::new(),
        chunks_ok: HashMap::new(),
    };
    let mut needed_by: BTreeMap<ObjectId, Vec<(ContainerId, String)>> = BTreeMap::new();
    for s in snapshots {
        for bad in c.tree(s.top_tree) {
            needed_by
                .entry(bad)
                .or_default()
                .push((s.container, s.name.clone()));
        }
    }
    let mut damaged_packs: Vec<(ObjectId, String)> = store
        .damaged_packs()
        .into_iter()
        .map(|(p, e)| (p, e.to_string()))
        .collect();
    if deep {
        for pack in store.list_packs()? {
            let bytes = store.read_pack(&pack)?;
            if ObjectId::of(&bytes) != pack && !damaged_packs.iter().any(|(p, _)| *p == pack) {
                damaged_packs.push((pack, "content does not match its name".into()));
            }
        }
    }
    Ok(VerifyReport {
        snapshots: snapshots.len() as u64,
        trees: c.below.len() as u64,
        chunks: c.chunks_ok.len() as u64,
        deep,
        damaged: needed_by
            .into_iter()
            .map(|(object, snapshots)| Damage {
                reason: c.reasons.get(&object).cloned().unwrap_or_default(),
                object,
                snapshots,
            })
            .collect(),
        damaged_packs,
    })
}

impl Engine {
    /// Verifies every snapshot; with `deep`, re-reads and re-hashes all data.
    pub async fn verify(&self, deep: bool) -> Result<VerifyReport, EngineError> {
        let _lease = self.lease().await?;
        let all = self.inner.catalog.all_snapshots().await?;
        self.blocking(move |e| verify_snapshots(&e.inner.store, &all, deep))
            .await
    }

    /// Verifies one snapshot (by name or unambiguous alias).
    pub async fn verify_snapshot(
        &self,
        c: &ContainerId,
        name: &str,
        deep: bool,
    ) -> Result<VerifyReport, EngineError> {
        let _lease = self.lease().await?;
        let s = self.get(c, name).await?;
        self.blocking(move |e| verify_snapshots(&e.inner.store, &[s], deep))
            .await
    }
}
