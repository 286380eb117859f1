//! `diff`: what changed between two snapshots, or between a snapshot and the live tree.
//!
//! Equal subtrees have equal ids, so only the parts that differ are read.

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
    /// Same type and content; owner, mode, mtime or xattrs differ.
    MetadataOnly,
    /// A different type under the same name (a file became a directory, say).
    TypeChanged,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Path relative to the root, `/`-separated (bytes that are not UTF-8 are shown
    /// replaced).
    pub path: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The entry's type on the newer side (the older one for removals): `file`, `dir`,
    /// `symlink`, `char-device`, `block-device` or `fifo`.
    pub entry_type: &'static str,
    /// For [`ChangeKind::TypeChanged`]: the type on the older side (`entry_type` is the
    /// newer one). `None` for every other kind.
    pub previous_type: Option<&'static str>,
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
}

struct Differ<'a> {
    store: &'a ObjectStore,
    out: Diff,
    limit: usize,
}

impl Differ<'_> {
    fn push(&mut self, path: String, kind: ChangeKind, entry_type: &'static str) {
        self.push_change(Change {
            path,
            kind,
            entry_type,
            previous_type: None,
        });
    }

    fn push_change(&mut self, change: Change) {
        if self.out.changes.len() >= self.limit {
            self.out.truncated = true;
        } else {
            self.out.changes.push(change);
        }
    }

    fn trees(&mut self, a: &ObjectId, b: &ObjectId, prefix: &str) -> Result<(), EngineError> {
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

    fn entries(&mut self, x: &Entry, y: &Entry, prefix: &str) -> Result<(), EngineError> {
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
                    path,
                    kind: ChangeKind::TypeChanged,
                    entry_type: t,
                    previous_type: Some(type_name(&x.kind)),
                });
                return Ok(());
            }
        };
        if content_differs {
            self.push(path, ChangeKind::Modified, t);
        } else if !meta_equal(x, y) {
            self.push(path, ChangeKind::MetadataOnly, t);
        }
        Ok(())
    }
}

fn join(prefix: &str, name: &[u8]) -> String {
    let name = String::from_utf8_lossy(name);
    if prefix.is_empty() {
        name.into_owned()
    } else {
        format!("{prefix}/{name}")
    }
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
    };
    if !meta_equal(&ra, &rb) {
        d.push(String::new(), ChangeKind::MetadataOnly, "dir");
    }
    if let (EntryKind::Dir { tree: ta }, EntryKind::Dir { tree: tb }) = (&ra.kind, &rb.kind) {
        d.trees(ta, tb, "")?;
    }
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
                let _lease = self.lease().await;
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
        let _lease = self.lease().await;
        self.blocking(move |e| diff_tops(&e.inner.store, &a.top_tree, &b, limit))
            .await
    }
}
