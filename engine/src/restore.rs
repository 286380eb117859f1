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
use crate::fsops::{self, FileType, Stat};
use crate::ids::{ContainerId, ObjectId};
use crate::materialize::{MaterializeError, io_at, load_root, load_tree, meta, write_content};
use crate::selection::{self, Selection};
use crate::statcache::{Cached, Stamp, StatCache};
use crate::tree::{Entry, EntryKind, Extent, FLAGS_KEPT};

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

struct Staged {
    /// Staged file name (in the staging directory) per relative path.
    files: HashMap<Vec<u8>, CString>,
    stats: RestoreStats,
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

/// Whether a live regular file already has the entry's content (by the stat cache).
fn content_matches(cache: &StatCache, rel: &[u8], st: &Stat, extents: &[Extent]) -> bool {
    fsops::file_type(st) == FileType::RegularFile
        && cache
            .lookup(rel, &Stamp::of(st))
            .is_some_and(|c| c.extents == extents)
}

/// Whether the live regular file `name` holds exactly `extents` (read and hashed chunk by
/// chunk; holes must read as zeros). Any error reading it means "no": it is rewritten.
fn same_content(dir: &OwnedFd, name: &CStr, extents: &[Extent]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = fsops::open_file_at(dir.as_fd(), name) else {
        return false;
    };
    let mut buf = Vec::new();
    let mut pos = 0u64;
    for x in extents {
        match x {
            Extent::Data { id, len } => {
                buf.resize(*len as usize, 0);
                if f.read_exact(&mut buf).is_err() || ObjectId::of(&buf) != *id {
                    return false;
                }
            }
            Extent::Hole { len } => {
                let end = pos + len;
                // A real hole up to `end` is skipped; data there must read as zeros.
                match fsops::seek_data(&f, pos) {
                    Ok(None) => {}
                    Ok(Some(d)) if d >= end => {}
                    Ok(Some(_)) => {
                        let mut left = *len;
                        buf.resize(1 << 20, 0);
                        while left > 0 {
                            let n = left.min(1 << 20) as usize;
                            if f.read_exact(&mut buf[..n]).is_err()
                                || buf[..n].iter().any(|b| *b != 0)
                            {
                                return false;
                            }
                            left -= n as u64;
                        }
                    }
                    Err(_) => return false,
                }
                if f.seek(SeekFrom::Start(end)).is_err() {
                    return false;
                }
            }
        }
        pos += x.len();
    }
    // Nothing after the last extent.
    f.read(&mut [0u8; 1]).is_ok_and(|n| n == 0)
}

/// Whether a live entry's stat shows the entry's owner, mode and mtime.
fn stat_meta_matches(st: &Stat, e: &Entry) -> bool {
    st.st_mode & 0o7777 == e.mode
        && st.st_uid == e.uid
        && st.st_gid == e.gid
        && st.st_mtime == e.mtime_sec
        && st.st_mtime_nsec as u32 == e.mtime_nsec
}

struct Stager<'a> {
    engine: &'a Engine,
    cache: &'a StatCache,
    staging: OwnedFd,
    staging_path: PathBuf,
    staged: Staged,
    seen_groups: HashSet<u64>,
    /// Live inodes (device, inode) kept in place so far, one per file or link group of the
    /// snapshot. A second name of a kept inode must be staged anew: otherwise two files the
    /// snapshot holds apart would stay one inode, and writing one would change the other.
    kept: HashSet<(u64, u64)>,
    next: u64,
}

impl Stager<'_> {
    fn dir(
        &mut self,
        live: Option<&OwnedFd>,
        tree: &ObjectId,
        path: &Path,
        rel: &[u8],
    ) -> Result<(), MaterializeError> {
        let tree = load_tree(&self.engine.inner.store, tree)?;
        for e in &tree.entries {
            let child = path.join(std::ffi::OsStr::new(
                &String::from_utf8_lossy(&e.name).into_owned(),
            ));
            self.entry(live, e, &child, child_rel(rel, &e.name))?;
        }
        Ok(())
    }

    /// Stages what entry `e` (named `e.name` in the live directory `live`, absent when that
    /// directory does not exist) needs: every file whose content differs, recursively.
    fn entry(
        &mut self,
        live: Option<&OwnedFd>,
        e: &Entry,
        path: &Path,
        rel: Vec<u8>,
    ) -> Result<(), MaterializeError> {
        let name = cname(&e.name, path)?;
        let st = match live {
            Some(fd) => lstat_opt(fd.as_fd(), &name, path)?,
            None => None,
        };
        match &e.kind {
            EntryKind::Dir { tree } => {
                let sub = match (&st, live) {
                    (Some(st), Some(fd)) if fsops::file_type(st) == FileType::Directory => {
                        fsops::open_dir_at(fd.as_fd(), &name).ok()
                    }
                    _ => None,
                };
                self.dir(sub.as_ref(), tree, path, &rel)?;
            }
            EntryKind::File { size, extents } => {
                if e.link_group != 0 && !self.seen_groups.insert(e.link_group) {
                    return Ok(()); // a later name of the same inode: linked at apply time
                }
                // The stat cache answers for settled files; a racily clean one (or one the
                // cache never saw) is read and compared, so an unchanged file keeps its
                // inode: a partial restore must not split it from hard links outside the
                // selection.
                let unchanged = st.as_ref().is_some_and(|st| {
                    content_matches(self.cache, &rel, st, extents)
                        || (fsops::file_type(st) == FileType::RegularFile
                            && st.st_size as u64 == *size
                            && live.is_some_and(|fd| same_content(fd, &name, extents)))
                });
                // Hard links: a live inode can stand for one snapshot file (or one link group,
                // through its first name) only. Names of it outside the snapshot are removed
                // at apply time, and the group's other names are linked to it there.
                let keep = unchanged
                    && st
                        .as_ref()
                        .is_some_and(|st| self.kept.insert((st.st_dev, st.st_ino)));
                if !keep {
                    self.stage_file(e, *size, extents, path, rel)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn stage_file(
        &mut self,
        e: &Entry,
        size: u64,
        extents: &[Extent],
        path: &Path,
        rel: Vec<u8>,
    ) -> Result<(), MaterializeError> {
        self.next += 1;
        let sname = CString::new(format!("f{}", self.next))
            .map_err(|err| io_at(path)(std::io::Error::other(err)))?;
        let file = fsops::create_file_at(self.staging.as_fd(), &sname)
            .map_err(io_at(&self.staging_path))?;
        self.staged.stats.bytes_written +=
            write_content(&self.engine.inner.store, &file, extents, path)?;
        file.set_len(size).map_err(io_at(path))?;
        fsops::apply_meta_fd(file.as_fd(), &meta(e)).map_err(io_at(path))?;
        self.staged.stats.files_written += 1;
        self.staged.files.insert(rel, sname);
        Ok(())
    }
}

struct Applier<'a> {
    engine: &'a Engine,
    staging: OwnedFd,
    staged: &'a HashMap<Vec<u8>, CString>,
    /// First name placed for each hardlink group: directory, name, inode.
    links: HashMap<u64, (Arc<OwnedFd>, CString, u64)>,
    cache_in: &'a StatCache,
    cache_out: StatCache,
    stats: RestoreStats,
    /// Inode flags to set once everything else is in place, innermost first: a directory,
    /// or a file named in one, and its flags. Immutable or append-only inodes could not be
    /// linked to or changed before that.
    flags_todo: Vec<(Arc<OwnedFd>, Option<CString>, u32)>,
}

/// EXDEV (a file cannot be renamed or linked into a folder on another filesystem) in words a
/// person can act on: the folder is a mount the host made inside the container's root.
fn across_mounts(e: std::io::Error) -> std::io::Error {
    if e.raw_os_error() != Some(rustix::io::Errno::XDEV.raw_os_error()) {
        return e;
    }
    std::io::Error::new(
        e.kind(),
        "its folder is on another filesystem than the container's root (a mount made on the \
         host), and a restore cannot move files across a mount: unmount it, or restore other \
         paths",
    )
}

/// Runs `op` on the entry `name` of `d`; when it fails with EPERM because that entry is
/// immutable or append-only (`chattr +i`/`+a`), clears those flags and runs it once more.
/// The snapshot's flags are set again at the end of the restore.
fn unprotected<T>(
    d: BorrowedFd<'_>,
    name: &CStr,
    op: impl Fn() -> std::io::Result<T>,
) -> std::io::Result<T> {
    match op() {
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::PERM.raw_os_error()) => {
            let st = fsops::lstat_at(d, name)?;
            match fsops::file_type(&st) {
                FileType::RegularFile => {
                    fsops::clear_protection(fsops::open_file_at(d, name)?.as_fd())?
                }
                FileType::Directory => {
                    fsops::clear_protection(fsops::open_dir_at(d, name)?.as_fd())?
                }
                _ => return Err(e),
            }
            op()
        }
        r => r,
    }
}

impl Applier<'_> {
    /// Sets the flags gathered in `flags_todo`, in the order gathered (children before their
    /// directory).
    fn set_flags(&mut self, root: &Path) -> Result<(), MaterializeError> {
        for (dir, name, flags) in std::mem::take(&mut self.flags_todo) {
            match name {
                None => fsops::set_inode_flags(dir.as_fd(), flags, FLAGS_KEPT),
                Some(n) => fsops::open_file_at(dir.as_fd(), &n)
                    .and_then(|f| fsops::set_inode_flags(f.as_fd(), flags, FLAGS_KEPT)),
            }
            .map_err(io_at(root))?;
        }
        Ok(())
    }

    fn remove(
        &mut self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
    ) -> Result<(), MaterializeError> {
        match fsops::remove_all_at(dir, name) {
            Ok(()) => {
                self.stats.removed += 1;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_at(path)(e)),
        }
    }

    fn dir(
        &mut self,
        dir: &Arc<OwnedFd>,
        tree: &ObjectId,
        path: &Path,
        rel: &[u8],
    ) -> Result<(), MaterializeError> {
        let tree = load_tree(&self.engine.inner.store, tree)?;
        // An immutable or append-only directory refuses new and removed entries: cleared
        // here, set again as the snapshot has it once its entries are done.
        fsops::clear_protection(dir.as_fd()).map_err(io_at(path))?;
        let wanted: HashSet<&[u8]> = tree.entries.iter().map(|e| e.name.as_slice()).collect();
        for live in fsops::list_dir(dir.as_fd()).map_err(io_at(path))? {
            if !wanted.contains(live.to_bytes()) {
                self.remove(dir.as_fd(), &live, path)?;
            }
        }
        for e in &tree.entries {
            let name = cname(&e.name, path)?;
            let child = path.join(std::ffi::OsStr::new(
                &String::from_utf8_lossy(&e.name).into_owned(),
            ));
            let rel = child_rel(rel, &e.name);
            self.entry(dir, &name, e, &child, &rel)?;
        }
        Ok(())
    }

    fn entry(
        &mut self,
        dir: &Arc<OwnedFd>,
        name: &CStr,
        e: &Entry,
        path: &Path,
        rel: &[u8],
    ) -> Result<(), MaterializeError> {
        let d = dir.as_fd();
        fail::fail_point!("restore::apply_entry", |_| Err(io_at(path)(
            std::io::Error::other("fail point restore::apply_entry")
        )));
        let mut st = lstat_opt(d, name, path)?;
        let compatible = match (&st, &e.kind) {
            (None, _) => false,
            (Some(st), EntryKind::Dir { .. }) => fsops::file_type(st) == FileType::Directory,
            (Some(st), EntryKind::File { .. }) => fsops::file_type(st) == FileType::RegularFile,
            (Some(st), EntryKind::Symlink { target }) => {
                fsops::file_type(st) == FileType::Symlink
                    && fsops::read_link_at(d, name).ok().as_ref() == Some(target)
            }
            (Some(st), EntryKind::CharDevice { rdev }) => {
                fsops::file_type(st) == FileType::CharacterDevice && st.st_rdev == *rdev
            }
            (Some(st), EntryKind::BlockDevice { rdev }) => {
                fsops::file_type(st) == FileType::BlockDevice && st.st_rdev == *rdev
            }
            (Some(st), EntryKind::Fifo) => fsops::file_type(st) == FileType::Fifo,
        };
        if st.is_some() && !compatible {
            self.remove(d, name, path)?;
            st = None;
        }
        match &e.kind {
            EntryKind::Dir { tree } => {
                if st.is_none() {
                    fsops::mkdir_at(d, name).map_err(io_at(path))?;
                }
                let sub = Arc::new(fsops::open_dir_at(d, name).map_err(io_at(path))?);
                self.dir(&sub, tree, path, rel)?;
                let now = fsops::fstat(sub.as_fd()).map_err(io_at(path))?;
                let xattrs = fsops::xattrs_fd(sub.as_fd()).map_err(io_at(path))?;
                if !stat_meta_matches(&now, e) || xattrs != e.xattrs {
                    fsops::remove_other_xattrs_fd(sub.as_fd(), &e.xattrs).map_err(io_at(path))?;
                    fsops::apply_meta_fd(sub.as_fd(), &meta(e)).map_err(io_at(path))?;
                    self.stats.metadata_fixed += 1;
                }
                if fsops::inode_flags(sub.as_fd()).map_err(io_at(path))? != e.flags {
                    self.flags_todo.push((sub, None, e.flags));
                }
            }
            EntryKind::File { extents, .. } => {
                if e.link_group != 0
                    && let Some((first_dir, first_name, ino)) =
                        self.links.get(&e.link_group).cloned()
                {
                    // Already a name of the right inode: nothing to do.
                    if st.as_ref().is_some_and(|st| st.st_ino == ino) {
                        return Ok(());
                    }
                    if st.is_some() {
                        self.remove(d, name, path)?;
                    }
                    unprotected(first_dir.as_fd(), &first_name, || {
                        fsops::link_at(first_dir.as_fd(), &first_name, d, name)
                    })
                    .map_err(across_mounts)
                    .map_err(io_at(path))?;
                    return Ok(());
                }
                let live_flags = if let Some(sname) = self.staged.get(rel) {
                    // Atomic replacement; the staged file already has its metadata, and no
                    // flags (made in the staging directory, which has none to inherit).
                    unprotected(d, name, || {
                        fsops::rename_at(self.staging.as_fd(), sname, d, name)
                    })
                    .map_err(across_mounts)
                    .map_err(io_at(path))?;
                    0
                } else {
                    let live = st.as_ref().ok_or_else(|| {
                        io_at(path)(std::io::Error::other("file vanished during the restore"))
                    })?;
                    let cached = self.cache_in.lookup(rel, &Stamp::of(live));
                    let xattrs_ok = cached.is_some_and(|c| c.xattrs == e.xattrs);
                    let mut flags = cached.map(|c| c.flags);
                    if !stat_meta_matches(live, e) || !xattrs_ok || flags.is_none() {
                        let f = fsops::open_file_at(d, name).map_err(io_at(path))?;
                        let now = fsops::inode_flags(f.as_fd()).map_err(io_at(path))?;
                        flags = Some(now);
                        if !stat_meta_matches(live, e) || !xattrs_ok {
                            if now & fsops::PROTECTIVE_FLAGS != 0 {
                                fsops::clear_protection(f.as_fd()).map_err(io_at(path))?;
                                flags = Some(now & !fsops::PROTECTIVE_FLAGS);
                            }
                            fsops::remove_other_xattrs_fd(f.as_fd(), &e.xattrs)
                                .map_err(io_at(path))?;
                            fsops::apply_meta_fd(f.as_fd(), &meta(e)).map_err(io_at(path))?;
                            self.stats.metadata_fixed += 1;
                        }
                    }
                    flags.unwrap_or(0)
                };
                if live_flags != e.flags {
                    self.flags_todo
                        .push((dir.clone(), Some(name.to_owned()), e.flags));
                }
                let now = fsops::lstat_at(d, name).map_err(io_at(path))?;
                if e.link_group != 0 {
                    self.links
                        .insert(e.link_group, (dir.clone(), name.to_owned(), now.st_ino));
                }
                self.cache_out.files.insert(
                    rel.to_vec(),
                    Cached {
                        stamp: Stamp::of(&now),
                        extents: extents.clone(),
                        xattrs: e.xattrs.clone(),
                        flags: e.flags,
                    },
                );
            }
            EntryKind::Symlink { target } => {
                if st.is_none() {
                    fsops::symlink_at(target, d, name).map_err(io_at(path))?;
                }
                self.special_meta(d, name, true, st.as_ref(), e, path)?;
            }
            EntryKind::CharDevice { rdev } | EntryKind::BlockDevice { rdev } => {
                if st.is_none() {
                    let t = if matches!(e.kind, EntryKind::CharDevice { .. }) {
                        FileType::CharacterDevice
                    } else {
                        FileType::BlockDevice
                    };
                    fsops::mknod_at(d, name, t, *rdev).map_err(io_at(path))?;
                }
                self.special_meta(d, name, false, st.as_ref(), e, path)?;
            }
            EntryKind::Fifo => {
                if st.is_none() {
                    fsops::mknod_at(d, name, FileType::Fifo, 0).map_err(io_at(path))?;
                }
                self.special_meta(d, name, false, st.as_ref(), e, path)?;
            }
        }
        Ok(())
    }

    fn special_meta(
        &mut self,
        d: BorrowedFd<'_>,
        name: &CStr,
        symlink: bool,
        st: Option<&Stat>,
        e: &Entry,
        path: &Path,
    ) -> Result<(), MaterializeError> {
        let xattrs = fsops::xattrs_at(d, name).map_err(io_at(path))?;
        // Symlinks have no permission bits of their own: compare everything else.
        let meta_ok = st.is_some_and(|st| {
            if symlink {
                st.st_uid == e.uid
                    && st.st_gid == e.gid
                    && st.st_mtime == e.mtime_sec
                    && st.st_mtime_nsec as u32 == e.mtime_nsec
            } else {
                stat_meta_matches(st, e)
            }
        });
        if !meta_ok || xattrs != e.xattrs {
            fsops::remove_other_xattrs_at(d, name, &e.xattrs).map_err(io_at(path))?;
            fsops::apply_meta_at(d, name, symlink, &meta(e)).map_err(io_at(path))?;
            self.stats.metadata_fixed += 1;
        }
        Ok(())
    }
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
        let snap = self.get(c, name_or_alias).await?;
        if let Some(pending) = self.inner.catalog.journal_get(c).await? {
            check_covers(&pending, sel)?;
        }
        let _lease = self.lease().await;
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
        let mut out = Recovery::default();
        for j in self.inner.catalog.journal_all().await? {
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
                let _lease = self.lease().await;
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
                        for t in selection::resolve(&e.inner.store, &top, sel, c2, &name2)? {
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
