//! `diff`: what changed between two snapshots, or between a snapshot and the live tree.
//!
//! Equal subtrees have equal ids, so only the parts that differ are read.

use std::collections::{HashMap, HashSet};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::{ContainerId, ObjectId};
use crate::materialize::{load_root, load_tree};
use crate::store::ObjectStore;
use crate::tree::{Entry, EntryKind};

/// How an entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Present only in the newer side.
    Added,
    /// Present only in the older side.
    Removed,
    /// Same type, different content (data, symlink target or device number).
    Modified,
    /// Same type and content; owner, mode, mtime, xattrs, inode flags or hard links differ.
    MetadataOnly,
    /// A different type under the same name (a file became a directory, say).
    TypeChanged,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path relative to the root, `/`-separated (bytes that are not UTF-8 are shown
    /// replaced, so two paths can look alike here).
    pub path: String,
    /// The same path, exactly: what tells such paths apart.
    pub path_bytes: Vec<u8>,
    /// What happened.
    pub kind: ChangeKind,
    /// The entry's type on the newer side (the older one for removals): `file`, `dir`,
    /// `symlink`, `char-device`, `block-device` or `fifo`.
    pub entry_type: &'static str,
    /// For [`ChangeKind::TypeChanged`]: the type on the older side (`entry_type` is the
    /// newer one). `None` for every other kind.
    pub previous_type: Option<&'static str>,
    /// For a file whose hard links changed (it joined, left or moved between link groups):
    /// the other names it shares its inode with on the newer side, as `/`-separated paths
    /// relative to the root, sorted; empty when it stands alone there. `None` when its
    /// links did not change. A change of links alone is reported as
    /// [`ChangeKind::MetadataOnly`].
    pub hard_links: Option<Vec<String>>,
}

/// The changes, in path order, possibly cut at a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// The changes, in path order.
    pub changes: Vec<Change>,
    /// Whether more changes exist than were returned.
    pub truncated: bool,
}

/// The other side of a diff.
#[derive(Debug, Clone)]
pub enum DiffTarget {
    /// Another snapshot of the same container (by name or unambiguous alias).
    Snapshot(String),
    /// The container's live root as it is now.
    Live,
}

/// The type name of an entry kind.
pub fn type_name(k: &EntryKind) -> &'static str {
    match k {
        EntryKind::File { .. } => "file",
        EntryKind::Dir { .. } => "dir",
        EntryKind::Symlink { .. } => "symlink",
        EntryKind::CharDevice { .. } => "char-device",
        EntryKind::BlockDevice { .. } => "block-device",
        EntryKind::Fifo => "fifo",
    }
}

fn meta_equal(a: &Entry, b: &Entry) -> bool {
    a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.mtime_sec == b.mtime_sec
        && a.mtime_nsec == b.mtime_nsec
        && a.xattrs == b.xattrs
        && a.flags == b.flags
}

/// A file whose link group differs between the sides. Link groups are numbered by inode,
/// so a different number alone proves nothing (a restore gives a group a new inode): the
/// group's members on each side decide, once the walk is over.
struct LinkCandidate {
    path: Vec<u8>,
    older: u64,
    newer: u64,
    entry_type: &'static str,
    /// Where it falls among the changes (the walk's order).
    seq: usize,
    /// The index of the change already reported for this path, if any.
    change: Option<usize>,
}

struct Differ<'a> {
    store: &'a ObjectStore,
    out: Diff,
    limit: usize,
    /// The walk order of each change in `out.changes`.
    seqs: Vec<usize>,
    next_seq: usize,
    links: Vec<LinkCandidate>,
}

impl Differ<'_> {
    fn push(&mut self, path: Vec<u8>, kind: ChangeKind, entry_type: &'static str) {
        self.push_change(Change {
            path: shown(&path),
            path_bytes: path,
            kind,
            entry_type,
            previous_type: None,
            hard_links: None,
        });
    }

    /// Records a change; returns its index, or `None` past the limit.
    fn push_change(&mut self, change: Change) -> Option<usize> {
        self.next_seq += 1;
        if self.out.changes.len() >= self.limit {
            self.out.truncated = true;
            None
        } else {
            self.out.changes.push(change);
            self.seqs.push(self.next_seq);
            Some(self.out.changes.len() - 1)
        }
    }

    fn trees(&mut self, a: &ObjectId, b: &ObjectId, prefix: &[u8]) -> Result<(), EngineError> {
        if a == b || self.out.truncated {
            return Ok(());
        }
        let (ta, tb) = (load_tree(self.store, a)?, load_tree(self.store, b)?);
        let (mut i, mut j) = (0, 0);
        while i < ta.entries.len() || j < tb.entries.len() {
            let order = match (ta.entries.get(i), tb.entries.get(j)) {
                (Some(x), Some(y)) => x.name.cmp(&y.name),
                (Some(_), None) => std::cmp::Ordering::Less,
                _ => std::cmp::Ordering::Greater,
            };
            match order {
                std::cmp::Ordering::Less => {
                    let x = &ta.entries[i];
                    self.push(
                        join(prefix, &x.name),
                        ChangeKind::Removed,
                        type_name(&x.kind),
                    );
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    let y = &tb.entries[j];
                    self.push(join(prefix, &y.name), ChangeKind::Added, type_name(&y.kind));
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    self.entries(&ta.entries[i], &tb.entries[j], prefix)?;
                    i += 1;
                    j += 1;
                }
            }
        }
        Ok(())
    }

    fn entries(&mut self, x: &Entry, y: &Entry, prefix: &[u8]) -> Result<(), EngineError> {
        let path = join(prefix, &y.name);
        let t = type_name(&y.kind);
        let content_differs = match (&x.kind, &y.kind) {
            (EntryKind::Dir { tree: a }, EntryKind::Dir { tree: b }) => {
                if !meta_equal(x, y) {
                    self.push(path.clone(), ChangeKind::MetadataOnly, t);
                }
                return self.trees(a, b, &path);
            }
            (
                EntryKind::File {
                    size: sa,
                    extents: ea,
                },
                EntryKind::File {
                    size: sb,
                    extents: eb,
                },
            ) => sa != sb || ea != eb,
            (EntryKind::Symlink { target: a }, EntryKind::Symlink { target: b }) => a != b,
            (EntryKind::CharDevice { rdev: a }, EntryKind::CharDevice { rdev: b })
            | (EntryKind::BlockDevice { rdev: a }, EntryKind::BlockDevice { rdev: b }) => a != b,
            (EntryKind::Fifo, EntryKind::Fifo) => false,
            _ => {
                self.push_change(Change {
                    path: shown(&path),
                    path_bytes: path,
                    kind: ChangeKind::TypeChanged,
                    entry_type: t,
                    previous_type: Some(type_name(&x.kind)),
                    hard_links: None,
                });
                return Ok(());
            }
        };
        let change = if content_differs {
            self.push_change(Change {
                path: shown(&path),
                path_bytes: path.clone(),
                kind: ChangeKind::Modified,
                entry_type: t,
                previous_type: None,
                hard_links: None,
            })
        } else if !meta_equal(x, y) {
            self.push_change(Change {
                path: shown(&path),
                path_bytes: path.clone(),
                kind: ChangeKind::MetadataOnly,
                entry_type: t,
                previous_type: None,
                hard_links: None,
            })
        } else {
            None
        };
        if x.link_group != y.link_group && !self.out.truncated {
            self.next_seq += 1;
            self.links.push(LinkCandidate {
                path,
                older: x.link_group,
                newer: y.link_group,
                entry_type: t,
                seq: change.map_or(self.next_seq, |i| self.seqs[i]),
                change,
            });
        }
        Ok(())
    }

    /// Settles the link candidates: a file whose fellow names differ between the sides gets
    /// `hard_links` (and a metadata change if nothing else changed). Reads both whole trees,
    /// but only when some file's link group number changed.
    fn settle_links(&mut self, a: &ObjectId, b: &ObjectId) -> Result<(), EngineError> {
        if self.links.is_empty() {
            return Ok(());
        }
        let older: HashSet<u64> = self.links.iter().map(|l| l.older).collect();
        let newer: HashSet<u64> = self.links.iter().map(|l| l.newer).collect();
        let (ga, gb) = (
            link_members(self.store, a, &older)?,
            link_members(self.store, b, &newer)?,
        );
        let others = |groups: &HashMap<u64, Vec<Vec<u8>>>, g: u64, path: &[u8]| -> Vec<Vec<u8>> {
            groups
                .get(&g)
                .filter(|_| g != 0)
                .map(|m| m.iter().filter(|p| p.as_slice() != path).cloned().collect())
                .unwrap_or_default()
        };
        let mut added = Vec::new();
        for l in std::mem::take(&mut self.links) {
            let (before, after) = (others(&ga, l.older, &l.path), others(&gb, l.newer, &l.path));
            if before == after {
                continue;
            }
            let after: Vec<String> = after.iter().map(|p| shown(p)).collect();
            match l.change {
                Some(i) => self.out.changes[i].hard_links = Some(after),
                None => added.push((
                    l.seq,
                    Change {
                        path: shown(&l.path),
                        path_bytes: l.path,
                        kind: ChangeKind::MetadataOnly,
                        entry_type: l.entry_type,
                        previous_type: None,
                        hard_links: Some(after),
                    },
                )),
            }
        }
        if added.is_empty() {
            return Ok(());
        }
        let mut all: Vec<(usize, Change)> = std::mem::take(&mut self.seqs)
            .into_iter()
            .zip(std::mem::take(&mut self.out.changes))
            .chain(added)
            .collect();
        all.sort_by_key(|(seq, _)| *seq);
        if all.len() > self.limit {
            all.truncate(self.limit);
            self.out.truncated = true;
        }
        self.out.changes = all.into_iter().map(|(_, c)| c).collect();
        Ok(())
    }
}

/// The paths (sorted) of every file of the tree under `top` whose link group is in `groups`.
fn link_members(
    store: &ObjectStore,
    top: &ObjectId,
    groups: &HashSet<u64>,
) -> Result<HashMap<u64, Vec<Vec<u8>>>, EngineError> {
    fn walk(
        store: &ObjectStore,
        tree: &ObjectId,
        prefix: &[u8],
        groups: &HashSet<u64>,
        out: &mut HashMap<u64, Vec<Vec<u8>>>,
    ) -> Result<(), EngineError> {
        for e in load_tree(store, tree)?.entries {
            match &e.kind {
                EntryKind::Dir { tree } => walk(store, tree, &join(prefix, &e.name), groups, out)?,
                EntryKind::File { .. } if e.link_group != 0 && groups.contains(&e.link_group) => {
                    out.entry(e.link_group)
                        .or_default()
                        .push(join(prefix, &e.name));
                }
                _ => {}
            }
        }
        Ok(())
    }
    let mut out = HashMap::new();
    if let EntryKind::Dir { tree } = load_root(store, top)?.kind {
        walk(store, &tree, b"", groups, &mut out)?;
    }
    for members in out.values_mut() {
        members.sort();
    }
    Ok(out)
}

fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(prefix.len() + 1 + name.len());
    if !prefix.is_empty() {
        p.extend_from_slice(prefix);
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// A path as text, bytes that are not UTF-8 replaced.
fn shown(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// The changes from top tree `a` to top tree `b`, at most `limit` of them.
pub fn diff_tops(
    store: &ObjectStore,
    a: &ObjectId,
    b: &ObjectId,
    limit: usize,
) -> Result<Diff, EngineError> {
    let (ra, rb) = (load_root(store, a)?, load_root(store, b)?);
    let mut d = Differ {
        store,
        out: Diff::default(),
        limit,
        seqs: Vec::new(),
        next_seq: 0,
        links: Vec::new(),
    };
    if !meta_equal(&ra, &rb) {
        d.push(Vec::new(), ChangeKind::MetadataOnly, "dir");
    }
    if let (EntryKind::Dir { tree: ta }, EntryKind::Dir { tree: tb }) = (&ra.kind, &rb.kind) {
        d.trees(ta, tb, b"")?;
    }
    d.settle_links(a, b)?;
    Ok(d.out)
}

impl Engine {
    /// What changed from snapshot `from` to `to` (another snapshot, or the live tree), at
    /// most `limit` changes.
    pub async fn diff(
        &self,
        c: &ContainerId,
        from: &str,
        to: DiffTarget,
        limit: usize,
    ) -> Result<Diff, EngineError> {
        self.diff_with_hooks(c, from, to, limit, None).await
    }

    /// [`Engine::diff`], with `hooks` called around the reading of the live tree when `to`
    /// is [`DiffTarget::Live`] (a caller freezes the container there for one instant).
    pub async fn diff_with_hooks(
        &self,
        c: &ContainerId,
        from: &str,
        to: DiffTarget,
        limit: usize,
        hooks: Option<std::sync::Arc<dyn crate::snapshot::ReadHooks>>,
    ) -> Result<Diff, EngineError> {
        let a = self.get(c, from).await?;
        let b = match to {
            DiffTarget::Snapshot(name) => self.get(c, &name).await?.top_tree,
            DiffTarget::Live => {
                let _guard = self.lock(c).await?;
                if !self.inner.catalog.root_exists(c).await? {
                    return Err(EngineError::NoSuchRoot(*c));
                }
                let _lease = self.lease().await?;
                let c2 = *c;
                // The live tree is captured like a snapshot (only changed files are read);
                // its new objects become garbage unless a snapshot keeps them.
                return self
                    .blocking(move |e| {
                        let (top, _, _) = e.capture_live(&c2, None, hooks.as_deref())?;
                        diff_tops(&e.inner.store, &a.top_tree, &top, limit)
                    })
                    .await
                    .map_err(|e| e.classify("reading the live tree for a diff"));
            }
        };
        let _lease = self.lease().await?;
        self.blocking(move |e| diff_tops(&e.inner.store, &a.top_tree, &b, limit))
            .await
    }
}
