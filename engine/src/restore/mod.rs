//! `restore`: make a container's live root exactly a snapshot, changing only what differs.
//!
//! Three phases:
//! 1. **Stage.** Walk the snapshot and the live tree side by side (reading only). Every file
//!    whose content differs is written, with its metadata, into a staging directory beside
//!    the root, reading each chunk through the store (hash-checked). Every tree object is
//!    decoded and validated. A missing or damaged object fails the restore here, before the
//!    live tree is touched.
//! 2. **Journal.** A journal row records the restore before the first change; while it exists
//!    the container must not start, and [`Engine::recover`] finishes it after a crash.
//! 3. **Apply.** Walk again: remove what the snapshot lacks, replace what has the wrong type,
//!    rename staged files into place (atomic per file), create links, devices and FIFOs, and
//!    fix metadata that differs; directories last, through their own descriptors.
//!
//! Apply is idempotent: running it again after a crash converges on the same tree.
//! Everything works through directory descriptors opened with `O_NOFOLLOW`; a symlink in the
//! live tree is removed or replaced, never followed.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::catalog::{JournalEntry, SnapshotInfo};
use crate::engine::Engine;
use crate::error::EngineError;
use crate::fsops::{self, Stat};
use crate::ids::{ContainerId, ObjectId};
use crate::materialize::{MaterializeError, io_at, load_root, meta};
use crate::selection::{self, Selection};
use crate::statcache::StatCache;
use crate::tree::{Entry, EntryKind};

mod apply;
mod links;
mod stage;

use apply::Applier;
use stage::{Staged, Stager};

/// What a restore changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreStats {
    /// Files whose content was written.
    pub files_written: u64,
    /// Bytes of file data written.
    pub bytes_written: u64,
    /// Entries removed from the live tree (a directory counts once).
    pub removed: u64,
    /// Entries whose metadata alone was fixed.
    pub metadata_fixed: u64,
}

fn child_rel(rel: &[u8], name: &[u8]) -> Vec<u8> {
    let mut r = rel.to_vec();
    if !r.is_empty() {
        r.push(b'/');
    }
    r.extend_from_slice(name);
    r
}

fn cname(name: &[u8], path: &Path) -> Result<CString, MaterializeError> {
    CString::new(name).map_err(|e| io_at(path)(std::io::Error::other(e)))
}

fn lstat_opt(
    dir: BorrowedFd<'_>,
    name: &CStr,
    path: &Path,
) -> Result<Option<Stat>, MaterializeError> {
    match fsops::lstat_at(dir, name) {
        Ok(st) => Ok(Some(st)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_at(path)(e)),
    }
}

/// Whether a live entry's stat shows the entry's owner, mode and mtime.
fn stat_meta_matches(st: &Stat, e: &Entry) -> bool {
    st.st_mode & 0o7777 == e.mode
        && st.st_uid == e.uid
        && st.st_gid == e.gid
        && st.st_mtime == e.mtime_sec
        && st.st_mtime_nsec as u32 == e.mtime_nsec
}

impl Engine {
    /// The staging directory of a container: beside its root, on the same filesystem.
    fn staging_path(&self, c: &ContainerId) -> PathBuf {
        self.inner
            .data_dir
            .join("containers")
            .join(c.as_str())
            .join("staging")
    }

    /// Restores the container's live root to a snapshot (by name, or unambiguous alias).
    /// The caller stops the container first; while the restore runs (and, after a crash,
    /// until [`Engine::recover`] finishes it) [`Engine::restore_pending`] is true.
    pub async fn restore(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
    ) -> Result<(SnapshotInfo, RestoreStats), EngineError> {
        self.restore_paths(c, name_or_alias, None).await
    }

    /// Restores only `sel` (every path made exactly as in the snapshot, including deleting
    /// what the snapshot lacks below a folder; the rest of the live tree untouched), or the
    /// whole tree when `sel` is `None`. Same guarantees as a whole restore: staged first, then
    /// journaled (with the paths, so recovery finishes this partial restore, never more),
    /// applied through directory descriptors with no symlink followed.
    ///
    /// A partial restore may run while the container runs: each file is replaced atomically,
    /// but the container can see one path restored before another. Parent folders missing in
    /// the live tree are created with the snapshot's metadata; existing ones keep theirs.
    ///
    /// # Errors
    /// [`EngineError::NoSuchPath`] for a path the snapshot lacks, and
    /// [`EngineError::LiveConflict`] when a live parent of a path is not a folder (a symlink
    /// or a file); both before anything changed.
    pub async fn restore_paths(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
        sel: Option<&Selection>,
    ) -> Result<(SnapshotInfo, RestoreStats), EngineError> {
        let _guard = self.lock(c).await?;
        if !self.inner.catalog.root_exists(c).await? {
            return Err(EngineError::NoSuchRoot(*c));
        }
        // The lease before the row: what the snapshot reaches stays until the restore ends.
        let _lease = self.lease().await?;
        let snap = self.get(c, name_or_alias).await?;
        if let Some(pending) = self.inner.catalog.journal_get(c).await? {
            check_covers(&pending, sel)?;
        }
        let stats = self
            .restore_locked(c, &snap.name, snap.top_tree, sel.cloned())
            .await?;
        self.inner
            .catalog
            .touch(c, &snap.name, chrono::Utc::now())
            .await?;
        Ok((snap, stats))
    }

    /// Checks that the snapshot holds every selected path, without changing anything (a
    /// caller runs this before it stops a container or takes a safety snapshot).
    ///
    /// # Errors
    /// [`EngineError::NoSuchSnapshot`], or [`EngineError::NoSuchPath`] naming the first
    /// missing path.
    pub async fn check_paths(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
        sel: &Selection,
    ) -> Result<(), EngineError> {
        let snap = self.get(c, name_or_alias).await?;
        let sel = sel.clone();
        let c = *c;
        self.blocking(move |e| {
            selection::resolve(&e.inner.store, &snap.top_tree, &sel, c, &snap.name).map(|_| ())
        })
        .await
    }

    /// Whether a restore of the container is in progress, was interrupted, or failed half-way.
    pub async fn restore_pending(&self, c: &ContainerId) -> Result<bool, EngineError> {
        Ok(self.inner.catalog.journal_get(c).await?.is_some())
    }

    /// The restore of the container that has not completed, if any: interrupted by a crash
    /// (`failed` is `None`; [`Engine::recover`] finishes it) or failed while applying
    /// (`failed` says why). Until a restore that covers it completes, the live tree is
    /// partly restored: a caller must not run the container on it.
    pub async fn pending_restore(
        &self,
        c: &ContainerId,
    ) -> Result<Option<JournalEntry>, EngineError> {
        self.inner.catalog.journal_get(c).await
    }

    /// Finishes every restore that a crash interrupted (a partial one only for its paths).
    /// One that fails again, or that had failed while applying, is not retried over and over:
    /// its reason is recorded and it is listed in [`Recovery::failed`], and the others go on.
    /// Only the catalog failing to answer is an error.
    pub async fn recover(&self) -> Result<Recovery, EngineError> {
        self.recover_where(|_| true).await
    }

    /// [`Engine::recover`] for the containers `mine` keeps: the journal is in the shared
    /// database, and a node finishes only the restores of the roots on its own disk.
    pub async fn recover_where(
        &self,
        mine: impl Fn(&ContainerId) -> bool,
    ) -> Result<Recovery, EngineError> {
        let mut out = Recovery::default();
        for j in self.inner.catalog.journal_all().await? {
            if !mine(&j.container) {
                continue;
            }
            if let Some(why) = &j.failed {
                out.failed.push((j.container, why.clone()));
                continue;
            }
            let attempt = async {
                let sel = match &j.paths {
                    Some(p) => Selection::parse(p)?,
                    None => None,
                };
                let _guard = self.lock(&j.container).await?;
                let _lease = self.lease().await?;
                self.restore_locked(&j.container, &j.snapshot, j.top, sel)
                    .await
            };
            match attempt.await {
                Ok(_) => out.finished.push(j.container),
                Err(e) => {
                    let why = within_root(&e.to_string(), &self.root_path(&j.container));
                    // Recorded (restore_locked records apply errors itself; this covers the
                    // rest), so the next start does not try again behind a person's back.
                    self.inner.catalog.journal_fail(&j.container, &why).await?;
                    out.failed.push((j.container, why));
                }
            }
        }
        Ok(out)
    }

    /// The three phases; the caller holds the container lock and the GC lease.
    async fn restore_locked(
        &self,
        c: &ContainerId,
        name: &str,
        top: ObjectId,
        sel: Option<Selection>,
    ) -> Result<RestoreStats, EngineError> {
        let root = self.root_path(c);
        let staging = self.staging_path(c);
        let cache_path = self.stat_cache_path(c);
        let sel = sel.map(Arc::new);

        // Phase 1: stage. Nothing in the live tree changes.
        let (root2, staging2, cache_path2) = (root.clone(), staging.clone(), cache_path.clone());
        let (c2, name2, sel2) = (*c, name.to_string(), sel.clone());
        let staged = self
            .blocking(move |e| {
                crate::roots::prepare_staging(&staging2)?;
                let cache = StatCache::load(&cache_path2);
                let root_entry = load_root(&e.inner.store, &top)?;
                let EntryKind::Dir { tree } = root_entry.kind else {
                    return Err(MaterializeError::NotARoot(top).into());
                };
                let live = fsops::open_root(&root2)
                    .map_err(EngineError::io(format!("cannot open {}", root2.display())))?;
                let mut s = Stager {
                    engine: e,
                    cache: &cache,
                    staging: fsops::open_root(&staging2)
                        .map_err(EngineError::io("cannot open the staging directory"))?,
                    staging_path: staging2.clone(),
                    staged: Staged {
                        files: HashMap::new(),
                        stats: RestoreStats::default(),
                    },
                    seen_groups: HashSet::new(),
                    kept: HashSet::new(),
                    next: 0,
                };
                match &sel2 {
                    None => s.dir(Some(&live), &tree, &root2, b"")?,
                    Some(sel) => {
                        for t in selection::resolve(&e.inner.store, &top, sel, c2, &name2)? {
                            let parent = selection::open_live_parent(&live, &root2, &t)?;
                            let path =
                                root2.join(selection::display(&t.parts).trim_start_matches('/'));
                            s.entry(parent.as_ref(), &t.entry, &path, t.rel())?;
                        }
                    }
                }
                Ok(s.staged)
            })
            .await
            .map_err(|e| e.classify("staging a restore"))?;

        fail::fail_point!("restore::after_stage", |_| Err(EngineError::Injected(
            "restore::after_stage".into()
        )));
        // Phase 2: journal.
        let journal_paths = sel.as_ref().map(|s| s.raw());
        self.inner
            .catalog
            .journal_begin(c, name, &top, journal_paths.as_deref(), chrono::Utc::now())
            .await?;

        // Phase 3: apply.
        let c2 = *c;
        let name2 = name.to_string();
        let stats = self
            .blocking(move |e| {
                let cache_in = StatCache::load(&cache_path);
                let root_entry = load_root(&e.inner.store, &top)?;
                let EntryKind::Dir { tree } = root_entry.kind else {
                    return Err(MaterializeError::NotARoot(top).into());
                };
                let live = Arc::new(
                    fsops::open_root(&root)
                        .map_err(EngineError::io(format!("cannot open {}", root.display())))?,
                );
                let mut a = Applier {
                    engine: e,
                    staging: fsops::open_root(&staging)
                        .map_err(EngineError::io("cannot open the staging directory"))?,
                    staged: &staged.files,
                    links: HashMap::new(),
                    cache_in: &cache_in,
                    cache_out: StatCache::starting_now(),
                    stats: staged.stats.clone(),
                    flags_todo: Vec::new(),
                };
                match &sel {
                    None => {
                        a.dir(&live, &tree, &root, b"")?;
                        fix_root_meta(&live, &root_entry)?;
                        a.flags_todo.push((live.clone(), None, root_entry.flags));
                    }
                    Some(sel) => {
                        // Outside the selection the cache stays valid, under its own capture
                        // time: restored files (recent ctime) are simply read again by the
                        // next snapshot.
                        a.cache_out = cache_in.clone();
                        a.cache_out
                            .files
                            .retain(|k, _| !sel.parts().iter().any(|p| under(k, &p.join(&b'/'))));
                        let targets = selection::resolve(&e.inner.store, &top, sel, c2, &name2)?;
                        // A selected file linked, in the snapshot, to a name outside the
                        // paths is linked to it again where that name is intact.
                        a.links = links::outside(&e.inner.store, &tree, &targets, &live)?;
                        for t in targets {
                            let (parent, created) = selection::make_live_parent(&live, &root, &t)?;
                            let path =
                                root.join(selection::display(&t.parts).trim_start_matches('/'));
                            let leaf = cname(&t.parts[t.parts.len() - 1], &path)?;
                            // The parent is outside the selection: an immutable or
                            // append-only one is opened up for this path and closed again.
                            let parent_flags =
                                fsops::inode_flags(parent.as_fd()).map_err(io_at(&path))?;
                            fsops::clear_protection(parent.as_fd()).map_err(io_at(&path))?;
                            a.entry(&parent, &leaf, &t.entry, &path, &t.rel())?;
                            a.set_flags(&root)?;
                            fsops::set_inode_flags(
                                parent.as_fd(),
                                parent_flags,
                                fsops::PROTECTIVE_FLAGS,
                            )
                            .map_err(io_at(&path))?;
                            // Innermost first: a folder's mtime is final once its children are.
                            for (fd, entry) in created.iter().rev() {
                                fsops::apply_meta_fd(fd.as_fd(), &meta(entry))
                                    .map_err(io_at(&path))?;
                            }
                        }
                    }
                }
                a.set_flags(&root)?;
                // The cache now describes the restored tree: the next snapshot reads nothing
                // it does not have to.
                let _ = a.cache_out.save(&cache_path);
                let _ = fsops::remove_tree(&staging);
                Ok(a.stats)
            })
            .await
            .map_err(|e| e.classify("applying a restore"));
        let stats = match stats {
            Ok(s) => s,
            Err(e) => {
                // The tree is partly restored. The journal row stays, marked with why, so the
                // container is shown as needing attention and is not started on this tree;
                // a restore that covers this one finishes it.
                self.inner
                    .catalog
                    .journal_fail(c, &within_root(&e.to_string(), &self.root_path(c)))
                    .await?;
                return Err(e);
            }
        };

        self.inner.catalog.journal_end(c).await?;
        Ok(stats)
    }
}

/// An error's text with the container's root written as `/`: it is shown to the people
/// who use the container, who know its paths, not the host's.
fn within_root(text: &str, root: &Path) -> String {
    let root = root.to_string_lossy();
    text.replace(&format!("{root}/"), "/").replace(&*root, "/")
}

/// What [`Engine::recover`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Containers whose interrupted restore it finished.
    pub finished: Vec<ContainerId>,
    /// Containers whose restore could not be finished, with why: their trees are partly
    /// restored until a restore that covers the pending one completes.
    pub failed: Vec<(ContainerId, String)>,
}

/// Refuses a restore that would clear the journal of an unfinished one without finishing
/// it: a partial restore of other paths would end the mark on a tree that is still partly
/// restored elsewhere. A whole restore covers anything; paths cover the pending paths when
/// each pending path is one of them or lies below one.
fn check_covers(pending: &JournalEntry, sel: Option<&Selection>) -> Result<(), EngineError> {
    let Some(sel) = sel else { return Ok(()) };
    let new = sel.raw();
    let covered = match &pending.paths {
        None => false,
        Some(old) => old.iter().all(|o| new.iter().any(|n| under(o, n))),
    };
    if covered {
        return Ok(());
    }
    let what = match &pending.paths {
        None => "the whole tree".to_string(),
        Some(p) => p
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>()
            .join(", "),
    };
    Err(EngineError::LiveConflict(format!(
        "the restore of {} ({what}) into container {} did not finish, so its files are partly \
         restored; restore that again (or the whole tree) first, then restore other paths",
        pending.snapshot, pending.container
    )))
}

/// Whether the relative path `k` is `p` or lies below it.
fn under(k: &[u8], p: &[u8]) -> bool {
    k.starts_with(p) && (k.len() == p.len() || k[p.len()] == b'/')
}

/// Gives the root directory the snapshot's owner, mode, xattrs and mtime where they differ.
fn fix_root_meta(live: &OwnedFd, root_entry: &Entry) -> Result<(), EngineError> {
    let now = fsops::fstat(live.as_fd()).map_err(EngineError::io("cannot stat the root"))?;
    let xattrs =
        fsops::xattrs_fd(live.as_fd()).map_err(EngineError::io("cannot read the root's xattrs"))?;
    if !stat_meta_matches(&now, root_entry) || xattrs != root_entry.xattrs {
        fsops::remove_other_xattrs_fd(live.as_fd(), &root_entry.xattrs)
            .map_err(EngineError::io("cannot fix the root's xattrs"))?;
        fsops::apply_meta_fd(live.as_fd(), &meta(root_entry))
            .map_err(EngineError::io("cannot fix the root's metadata"))?;
    }
    Ok(())
}
