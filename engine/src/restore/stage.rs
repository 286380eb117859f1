//! Phase 1 of a restore: stage every file whose content differs, reading only.

use std::collections::{HashMap, HashSet};
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::{RestoreStats, child_rel, cname, lstat_opt};
use crate::engine::Engine;
use crate::fsops::{self, FileType, Stat};
use crate::ids::ObjectId;
use crate::materialize::{MaterializeError, io_at, load_tree, meta, write_content};
use crate::statcache::{Stamp, StatCache};
use crate::tree::{Entry, EntryKind, Extent};

pub(super) struct Staged {
    /// Staged file name (in the staging directory) per relative path.
    pub(super) files: HashMap<Vec<u8>, CString>,
    pub(super) stats: RestoreStats,
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
pub(super) fn same_content(dir: &OwnedFd, name: &CStr, extents: &[Extent]) -> bool {
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

pub(super) struct Stager<'a> {
    pub(super) engine: &'a Engine,
    pub(super) cache: &'a StatCache,
    pub(super) staging: OwnedFd,
    pub(super) staging_path: PathBuf,
    pub(super) staged: Staged,
    pub(super) seen_groups: HashSet<u64>,
    /// Live inodes (device, inode) kept in place so far, one per file or link group of the
    /// snapshot. A second name of a kept inode must be staged anew: otherwise two files the
    /// snapshot holds apart would stay one inode, and writing one would change the other.
    pub(super) kept: HashSet<(u64, u64)>,
    pub(super) next: u64,
}

impl Stager<'_> {
    pub(super) fn dir(
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
    pub(super) fn entry(
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
