//! Reading a live directory tree into tree and chunk objects.
//!
//! The walk holds one directory descriptor per level and opens each child relative to it with
//! `O_NOFOLLOW`; a directory swapped for a symlink mid-walk fails to open instead of being
//! followed, so nothing outside the root is ever read into a snapshot. FIFOs and devices are
//! recorded from `lstat`, never opened. Sparse files are read extent by extent
//! (`SEEK_DATA`/`SEEK_HOLE`), so holes cost nothing.

use std::ffi::CStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use rayon::prelude::*;

use crate::chunker;
use crate::fsops::{self, FileType, Stat};
use crate::ids::ObjectId;
use crate::pack::ObjectKind;
use crate::progress::{Progress, ProgressUpdate};
use crate::statcache::{Cached, Stamp, StatCache};
use crate::store::{StoreError, StoreWriter};
use crate::tree::{Entry, EntryKind, Extent, ROOT_NAME, Tree, TreeError};

/// How often one entry is looked at again when its type changes under the capture.
const MAX_RETRIES: u32 = 16;

/// Files between two progress reports.
pub const PROGRESS_EVERY: u64 = 256;

/// What a capture saw and stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Regular files recorded.
    pub files: u64,
    /// Directories recorded (the root included).
    pub dirs: u64,
    /// Symlinks, devices and FIFOs recorded.
    pub specials: u64,
    /// Sockets skipped (they cannot be restored meaningfully).
    pub sockets_skipped: u64,
    /// Logical bytes of regular files.
    pub logical_bytes: u64,
    /// Regular files whose content was read (the others came from the stat cache).
    pub files_read: u64,
    /// Objects that were new to the store.
    pub new_objects: u64,
    /// Raw bytes of the new objects.
    pub new_bytes: u64,
}

/// Why a capture failed.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading the live tree failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Storing objects failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The tree could not be encoded (a name the encoding refuses).
    #[error("cannot record {path}: {source}")]
    Tree {
        /// The path concerned.
        path: PathBuf,
        /// Why the tree is invalid.
        #[source]
        source: TreeError,
    },
}

/// Counters shared by the threads of one capture.
#[derive(Default)]
struct Counters {
    files: AtomicU64,
    dirs: AtomicU64,
    specials: AtomicU64,
    sockets_skipped: AtomicU64,
    logical_bytes: AtomicU64,
    files_read: AtomicU64,
    new_objects: AtomicU64,
    new_bytes: AtomicU64,
}

impl Counters {
    fn stats(&self) -> CaptureStats {
        CaptureStats {
            files: self.files.load(Relaxed),
            dirs: self.dirs.load(Relaxed),
            specials: self.specials.load(Relaxed),
            sockets_skipped: self.sockets_skipped.load(Relaxed),
            logical_bytes: self.logical_bytes.load(Relaxed),
            files_read: self.files_read.load(Relaxed),
            new_objects: self.new_objects.load(Relaxed),
            new_bytes: self.new_bytes.load(Relaxed),
        }
    }
}

/// One capture. The entries of each directory are handled in parallel (rayon), and so are
/// sibling directories: reading, chunking and hashing use every core while the store's
/// workers compress. Each directory's tree is built once all its entries are done, so the
/// result does not depend on the order the threads finish in (trees are canonicalised).
struct Walker<'w, 's> {
    writer: &'w StoreWriter<'s>,
    counters: Counters,
    old: &'w StatCache,
    new: Mutex<StatCache>,
    progress: Option<&'w dyn Progress>,
}

thread_local! {
    // The chunker's window, one per thread, reused for every file that thread reads.
    static CHUNK_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> CaptureError + '_ {
    move |source| CaptureError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Like [`io_at`] for the child `name` of `dir`; the path is only built when there is an
/// error to report.
fn io_child<'p>(dir: &'p Path, name: &'p CStr) -> impl FnOnce(io::Error) -> CaptureError + 'p {
    move |source| CaptureError::Io {
        path: dir.join(std::ffi::OsStr::from_bytes(name.to_bytes())),
        source,
    }
}

fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// Captures the directory at `root` and everything below it, without a stat cache. Returns
/// the id of the top tree: one entry named [`ROOT_NAME`] describing the root directory
/// itself.
pub fn capture(
    root: &Path,
    writer: &StoreWriter<'_>,
) -> Result<(ObjectId, CaptureStats), CaptureError> {
    capture_cached(root, writer, &StatCache::default()).map(|(id, stats, _)| (id, stats))
}

/// Captures like [`capture`], reading only files whose identity differs from `old`, and
/// returns the stat cache for the next capture.
///
/// The caller must hold the GC lease until the snapshot is recorded: content taken from the
/// cache refers to objects that are only checked to exist, not rewritten.
pub fn capture_cached(
    root: &Path,
    writer: &StoreWriter<'_>,
    old: &StatCache,
) -> Result<(ObjectId, CaptureStats, StatCache), CaptureError> {
    capture_with_progress(root, writer, old, None)
}

/// Captures like [`capture_cached`], reporting progress every [`PROGRESS_EVERY`] files.
pub fn capture_with_progress(
    root: &Path,
    writer: &StoreWriter<'_>,
    old: &StatCache,
    progress: Option<&dyn Progress>,
) -> Result<(ObjectId, CaptureStats, StatCache), CaptureError> {
    let fd = fsops::open_root(root).map_err(io_at(root))?;
    let w = Walker {
        writer,
        counters: Counters::default(),
        old,
        new: Mutex::new(StatCache::starting_now()),
        progress,
    };
    let st = fsops::fstat(fd.as_fd()).map_err(io_at(root))?;
    let subtree = w.dir(fd.as_fd(), root, b"")?;
    let xattrs = fsops::xattrs_fd(fd.as_fd()).map_err(io_at(root))?;
    let flags = fsops::inode_flags(fd.as_fd()).map_err(io_at(root))?;
    let top = Tree {
        entries: vec![meta_entry(
            ROOT_NAME.to_vec(),
            &st,
            xattrs,
            flags,
            EntryKind::Dir { tree: subtree },
        )],
    };
    let id = w.put_tree(top, root)?;
    w.report();
    let new = w.new.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok((id, w.counters.stats(), new))
}

fn meta_entry(
    name: Vec<u8>,
    st: &Stat,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    flags: u32,
    kind: EntryKind,
) -> Entry {
    let link_group = if matches!(kind, EntryKind::File { .. }) && st.st_nlink > 1 {
        st.st_ino
    } else {
        0
    };
    Entry {
        name,
        kind,
        mode: st.st_mode & 0o7777,
        uid: st.st_uid,
        gid: st.st_gid,
        mtime_sec: st.st_mtime,
        mtime_nsec: st.st_mtime_nsec as u32,
        xattrs,
        link_group,
        flags,
    }
}

impl Walker<'_, '_> {
    fn report(&self) {
        if let Some(p) = self.progress {
            p.update(ProgressUpdate {
                phase: "snapshot",
                files: self.counters.files.load(Relaxed),
                bytes: self.counters.logical_bytes.load(Relaxed),
            });
        }
    }

    fn file_done(&self, size: u64) {
        self.counters.logical_bytes.fetch_add(size, Relaxed);
        let files = self.counters.files.fetch_add(1, Relaxed) + 1;
        if files.is_multiple_of(PROGRESS_EVERY) {
            self.report();
        }
    }

    fn stored(&self, len: u64) {
        self.counters.new_objects.fetch_add(1, Relaxed);
        self.counters.new_bytes.fetch_add(len, Relaxed);
    }

    fn remember(&self, rel: &[u8], cached: Cached) {
        self.new
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .files
            .insert(rel.to_vec(), cached);
    }

    fn put_tree(&self, mut tree: Tree, path: &Path) -> Result<ObjectId, CaptureError> {
        tree.canonicalize();
        let bytes = tree.encode();
        // Decoding what we encode keeps hostile names out of the store at the source.
        Tree::decode(&bytes).map_err(|source| CaptureError::Tree {
            path: path.to_path_buf(),
            source,
        })?;
        let id = ObjectId::of(&bytes);
        let len = bytes.len() as u64;
        if self.writer.add(ObjectKind::Tree, id, &bytes)? {
            self.stored(len);
        }
        self.counters.dirs.fetch_add(1, Relaxed);
        Ok(id)
    }

    fn dir(&self, dir: BorrowedFd<'_>, path: &Path, rel: &[u8]) -> Result<ObjectId, CaptureError> {
        let names = fsops::list_dir(dir).map_err(io_at(path))?;
        let entries = names
            .par_iter()
            .map(|name| {
                let mut child_rel = Vec::with_capacity(rel.len() + 1 + name.to_bytes().len());
                child_rel.extend_from_slice(rel);
                if !child_rel.is_empty() {
                    child_rel.push(b'/');
                }
                child_rel.extend_from_slice(name.to_bytes());
                self.entry(dir, name, path, &child_rel, 0)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tree = Tree {
            entries: entries.into_iter().flatten().collect(),
        };
        self.put_tree(tree, path)
    }

    /// Records the entry `name` of `dir` (whose path is `path`); `None` when it vanished or
    /// is a socket. An entry whose type changes between the `lstat` and the next call is
    /// looked at again, at most [`MAX_RETRIES`] times (a running container may replace files,
    /// but one that swaps a path in a tight loop must not recurse without bound).
    fn entry(
        &self,
        dir: BorrowedFd<'_>,
        name: &CStr,
        path: &Path,
        rel: &[u8],
        retries: u32,
    ) -> Result<Option<Entry>, CaptureError> {
        if retries > MAX_RETRIES {
            return Err(io_child(path, name)(io::Error::other(
                "it kept changing type while being read; retry the snapshot when the \
                 container is quieter",
            )));
        }
        let st = match fsops::lstat_at(dir, name) {
            Ok(st) => st,
            Err(e) if vanished(&e) => return Ok(None),
            Err(e) => return Err(io_child(path, name)(e)),
        };
        let bytes = name.to_bytes().to_vec();
        let entry = match fsops::file_type(&st) {
            FileType::Directory => {
                let fd = match fsops::open_dir_at(dir, name) {
                    Ok(fd) => fd,
                    // Replaced by something else since the lstat: record what is there now.
                    Err(e) if vanished(&e) => return Ok(None),
                    Err(e) if matches!(e.raw_os_error(), Some(20) | Some(40)) => {
                        return self.entry(dir, name, path, rel, retries + 1);
                    }
                    Err(e) => return Err(io_child(path, name)(e)),
                };
                let child = path.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
                let st = fsops::fstat(fd.as_fd()).map_err(io_at(&child))?;
                let tree = self.dir(fd.as_fd(), &child, rel)?;
                let xattrs = fsops::xattrs_fd(fd.as_fd()).map_err(io_at(&child))?;
                let flags = fsops::inode_flags(fd.as_fd()).map_err(io_at(&child))?;
                meta_entry(bytes, &st, xattrs, flags, EntryKind::Dir { tree })
            }
            FileType::RegularFile => {
                // A file whose identity matches the cache is not even opened: any change to
                // its content, mode, owner, times or xattrs would have changed its ctime.
                let stamp = Stamp::of(&st);
                if let Some(c) = self
                    .old
                    .lookup(rel, &stamp)
                    .filter(|c| self.all_stored(&c.extents))
                {
                    let (extents, xattrs) = (c.extents.clone(), c.xattrs.clone());
                    let size = extents.iter().map(Extent::len).sum();
                    self.remember(rel, c.clone());
                    self.file_done(size);
                    return Ok(Some(meta_entry(
                        bytes,
                        &st,
                        xattrs,
                        c.flags,
                        EntryKind::File { size, extents },
                    )));
                }
                let file = match fsops::open_file_at(dir, name) {
                    Ok(f) => f,
                    Err(e) if vanished(&e) => return Ok(None),
                    Err(e) if e.raw_os_error() == Some(40) => {
                        return self.entry(dir, name, path, rel, retries + 1);
                    }
                    Err(e) => return Err(io_child(path, name)(e)),
                };
                let st = fsops::fstat(file.as_fd()).map_err(io_child(path, name))?;
                if fsops::file_type(&st) != FileType::RegularFile {
                    // Swapped for a FIFO or device after the lstat: look again, never read it.
                    return self.entry(dir, name, path, rel, retries + 1);
                }
                let stamp = Stamp::of(&st);
                self.counters.files_read.fetch_add(1, Relaxed);
                let (size, extents) =
                    self.file_content(&file, st.st_size as u64)
                        .map_err(|e| match e {
                            CaptureError::Io { source, .. } => io_child(path, name)(source),
                            other => other,
                        })?;
                let xattrs = fsops::xattrs_fd(file.as_fd()).map_err(io_child(path, name))?;
                let flags = fsops::inode_flags(file.as_fd()).map_err(io_child(path, name))?;
                if size == stamp.size {
                    self.remember(
                        rel,
                        Cached {
                            stamp,
                            extents: extents.clone(),
                            xattrs: xattrs.clone(),
                            flags,
                        },
                    );
                }
                self.file_done(size);
                meta_entry(bytes, &st, xattrs, flags, EntryKind::File { size, extents })
            }
            FileType::Symlink => {
                let target = match fsops::read_link_at(dir, name) {
                    Ok(t) => t,
                    Err(e) if vanished(&e) => return Ok(None),
                    // EINVAL: no longer a symlink since the lstat; look again.
                    Err(e) if e.raw_os_error() == Some(22) => {
                        return self.entry(dir, name, path, rel, retries + 1);
                    }
                    Err(e) => return Err(io_child(path, name)(e)),
                };
                let xattrs = match fsops::xattrs_at(dir, name) {
                    Ok(x) => x,
                    // Removed since the lstat: a running container may do that.
                    Err(e) if vanished(&e) => return Ok(None),
                    Err(e) => return Err(io_child(path, name)(e)),
                };
                self.counters.specials.fetch_add(1, Relaxed);
                meta_entry(bytes, &st, xattrs, 0, EntryKind::Symlink { target })
            }
            kind @ (FileType::CharacterDevice | FileType::BlockDevice | FileType::Fifo) => {
                let xattrs = match fsops::xattrs_at(dir, name) {
                    Ok(x) => x,
                    // Removed since the lstat: a running container may do that.
                    Err(e) if vanished(&e) => return Ok(None),
                    Err(e) => return Err(io_child(path, name)(e)),
                };
                let kind = match kind {
                    FileType::CharacterDevice => EntryKind::CharDevice { rdev: st.st_rdev },
                    FileType::BlockDevice => EntryKind::BlockDevice { rdev: st.st_rdev },
                    _ => EntryKind::Fifo,
                };
                self.counters.specials.fetch_add(1, Relaxed);
                meta_entry(bytes, &st, xattrs, 0, kind)
            }
            _ => {
                self.counters.sockets_skipped.fetch_add(1, Relaxed);
                return Ok(None);
            }
        };
        Ok(Some(entry))
    }

    /// Whether every data extent's chunk is in the store (GC may have removed chunks of
    /// deleted snapshots that the cache still names).
    fn all_stored(&self, extents: &[Extent]) -> bool {
        extents.iter().all(|x| match x {
            Extent::Data { id, .. } => self.writer.has(id),
            Extent::Hole { .. } => true,
        })
    }

    /// Reads a regular file's data extents, recording holes as holes. Returns the size the
    /// extents cover (the file may shrink while it is read).
    fn file_content(&self, file: &File, size: u64) -> Result<(u64, Vec<Extent>), CaptureError> {
        let mut extents = Vec::new();
        let mut pos = 0u64;
        while pos < size {
            let data = fsops::seek_data(file, pos)?;
            let start = match data {
                Some(d) if d < size => d,
                _ => size,
            };
            if start > pos {
                extents.push(Extent::Hole { len: start - pos });
                pos = start;
            }
            if pos >= size {
                break;
            }
            let end = fsops::seek_hole(file, pos)?.min(size);
            let mut at = pos;
            let read = CHUNK_BUF.with_borrow_mut(|buf| {
                chunker::chunk_read::<CaptureError>(
                    |b| {
                        // Positioned reads: the descriptor's offset is shared with the
                        // SEEK_DATA/SEEK_HOLE calls, so it is never used for data.
                        let want = (end - at).min(b.len() as u64) as usize;
                        let n = file.read_at(&mut b[..want], at)?;
                        at += n as u64;
                        Ok(n)
                    },
                    buf,
                    |id, data| {
                        let len = data.len() as u32;
                        if self.writer.add(ObjectKind::Chunk, id, data)? {
                            self.stored(u64::from(len));
                        }
                        extents.push(Extent::Data { id, len });
                        Ok(())
                    },
                )
            })?;
            pos += read;
            if pos < end {
                // The file shrank while we read it.
                break;
            }
        }
        Ok((pos, extents))
    }
}

impl From<io::Error> for CaptureError {
    fn from(source: io::Error) -> Self {
        CaptureError::Io {
            path: PathBuf::new(),
            source,
        }
    }
}
