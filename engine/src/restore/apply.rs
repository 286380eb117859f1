//! Phase 3 of a restore: make the live tree equal the snapshot, through descriptors.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use super::{RestoreStats, child_rel, cname, lstat_opt, stat_meta_matches};
use crate::engine::Engine;
use crate::fsops::{self, FileType, Stat};
use crate::ids::ObjectId;
use crate::materialize::{MaterializeError, io_at, load_tree, meta};
use crate::statcache::{Cached, Stamp, StatCache};
use crate::tree::{Entry, EntryKind, FLAGS_KEPT};

pub(super) struct Applier<'a> {
    pub(super) engine: &'a Engine,
    pub(super) staging: OwnedFd,
    pub(super) staged: &'a HashMap<Vec<u8>, CString>,
    /// First name placed for each hardlink group: directory, name, inode.
    pub(super) links: HashMap<u64, (Arc<OwnedFd>, CString, u64)>,
    pub(super) cache_in: &'a StatCache,
    pub(super) cache_out: StatCache,
    pub(super) stats: RestoreStats,
    /// Inode flags to set once everything else is in place, innermost first: a directory,
    /// or a file named in one, and its flags. Immutable or append-only inodes could not be
    /// linked to or changed before that.
    pub(super) flags_todo: Vec<(Arc<OwnedFd>, Option<CString>, u32)>,
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
    pub(super) fn set_flags(&mut self, root: &Path) -> Result<(), MaterializeError> {
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

    pub(super) fn dir(
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

    pub(super) fn entry(
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
