//! Writing a snapshot's tree into an empty directory (the core of `copy`, and of restore
//! for whatever is missing in the live tree).
//!
//! Every object is read through the store, which checks its hash. Everything is created
//! relative to directory descriptors with `O_EXCL`/`O_NOFOLLOW`, so a name that already
//! exists (or a planted symlink) makes the operation fail rather than write through it.
//! Directory metadata is applied after the directory's children (so their creation does not
//! change its mtime), through the directory's own descriptor.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::fsops::{self, FileType};
use crate::ids::ObjectId;
use crate::pack::ObjectKind;
use crate::store::{ObjectStore, StoreError};
use crate::tree::{
    Entry, EntryKind, Extent, FLAGS_KEPT, ROOT_NAME, Tree, TreeError, validate_name,
};

/// Why materializing failed.
#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    /// Writing to the target failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An object is missing or damaged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A tree object is malformed (for example a hostile name).
    #[error("tree object {id} is invalid: {source}")]
    Tree {
        /// The object.
        id: ObjectId,
        /// Why the tree is invalid.
        #[source]
        source: TreeError,
    },
    /// The top tree is not a snapshot root.
    #[error("object {0} is not a snapshot root")]
    NotARoot(ObjectId),
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaterializeStats {
    /// Regular files written (hard links not counted twice).
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Bytes of file data written.
    pub bytes: u64,
}

/// Reads and validates a tree object.
pub fn load_tree(store: &ObjectStore, id: &ObjectId) -> Result<Tree, MaterializeError> {
    let bytes = store.read(id, ObjectKind::Tree)?;
    Tree::decode(&bytes).map_err(|source| MaterializeError::Tree { id: *id, source })
}

/// The root entry of a snapshot's top tree.
pub fn load_root(store: &ObjectStore, top: &ObjectId) -> Result<Entry, MaterializeError> {
    let tree = load_tree(store, top)?;
    match tree.entries.as_slice() {
        [e] if e.name == ROOT_NAME && matches!(e.kind, EntryKind::Dir { .. }) => Ok(e.clone()),
        _ => Err(MaterializeError::NotARoot(*top)),
    }
}

pub(crate) fn meta(e: &Entry) -> fsops::Meta<'_> {
    fsops::Meta {
        uid: e.uid,
        gid: e.gid,
        mode: e.mode,
        xattrs: &e.xattrs,
        mtime: (e.mtime_sec, e.mtime_nsec),
    }
}

struct Writer<'a> {
    store: &'a ObjectStore,
    stats: MaterializeStats,
    /// First name written for each hardlink group: its directories (one per target) and
    /// name.
    links: HashMap<u64, (Dirs, CString)>,
}

/// The same directory in each target tree, in target order.
type Dirs = Arc<Vec<OwnedFd>>;

pub(crate) fn io_at(path: &Path) -> impl FnOnce(io::Error) -> MaterializeError + '_ {
    move |source| MaterializeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the snapshot `top` into the existing, empty directory `target`, and gives
/// `target` the root directory's metadata.
///
/// Two phases. First, directories are filled in parallel (one task per directory): every
/// entry except hard-linked files is created with its content and metadata. Second, one
/// ordered pass creates the hard-linked files (the first name with content, the others as
/// links) and applies each directory's metadata after its children, so creating entries
/// cannot disturb a directory's restored mtime.
pub fn materialize(
    store: &ObjectStore,
    top: &ObjectId,
    target: &Path,
) -> Result<MaterializeStats, MaterializeError> {
    materialize_many(store, top, &[target])
}

/// [`materialize`] into several empty directories at once, from one read of the snapshot:
/// each tree is decoded and each chunk read (and hash-checked) once, then written into every
/// target. The stats count one target's files and bytes.
pub fn materialize_many(
    store: &ObjectStore,
    top: &ObjectId,
    targets: &[&Path],
) -> Result<MaterializeStats, MaterializeError> {
    let Some(first) = targets.first() else {
        return Ok(MaterializeStats::default());
    };
    let root = load_root(store, top)?;
    let EntryKind::Dir { tree } = root.kind else {
        return Err(MaterializeError::NotARoot(*top));
    };
    let fds = targets
        .iter()
        .map(|t| fsops::open_root(t).map_err(io_at(t)))
        .collect::<Result<Vec<_>, _>>()?;
    let fds: Dirs = Arc::new(fds);
    let shared = Shared {
        store,
        files: AtomicU64::new(0),
        dirs: AtomicU64::new(0),
        bytes: AtomicU64::new(0),
        error: Mutex::new(None),
        failed: AtomicBool::new(false),
        flagged: AtomicBool::new(root.flags != 0),
    };
    rayon::scope(|s| fill_dir(&shared, s, fds.clone(), tree, first.to_path_buf()));
    if let Some(e) = shared.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut w = Writer {
        store,
        stats: MaterializeStats::default(),
        links: HashMap::new(),
    };
    w.finish_dir(&fds, &tree, first)?;
    for (fd, t) in fds.iter().zip(targets) {
        fsops::apply_meta_fd(fd.as_fd(), &meta(&root)).map_err(io_at(t))?;
    }
    // Inode flags last: an immutable file could not be linked to, an immutable or
    // append-only directory not filled. The pass runs only when some entry has flags.
    if shared.flagged.load(Ordering::Relaxed) {
        apply_flags(store, &fds, &tree, first)?;
        for (fd, t) in fds.iter().zip(targets) {
            fsops::set_inode_flags(fd.as_fd(), root.flags, FLAGS_KEPT).map_err(io_at(t))?;
        }
    }
    Ok(MaterializeStats {
        files: shared.files.into_inner() + w.stats.files,
        dirs: shared.dirs.into_inner() + 1,
        bytes: shared.bytes.into_inner() + w.stats.bytes,
    })
}

/// State shared by the parallel fill tasks.
struct Shared<'a> {
    store: &'a ObjectStore,
    files: AtomicU64,
    dirs: AtomicU64,
    bytes: AtomicU64,
    /// The first error; once set, the remaining tasks stop early.
    error: Mutex<Option<MaterializeError>>,
    failed: AtomicBool,
    /// Whether some entry has inode flags (then a last pass sets them).
    flagged: AtomicBool,
}

impl Shared<'_> {
    fn fail(&self, e: MaterializeError) {
        self.failed.store(true, Ordering::Relaxed);
        self.error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(e);
    }
}

/// Phase one for one directory: creates its entries (not hard-linked files) and spawns a
/// task per subdirectory.
fn fill_dir<'s>(
    sh: &'s Shared<'s>,
    scope: &rayon::Scope<'s>,
    dirs: Dirs,
    tree_id: ObjectId,
    path: PathBuf,
) {
    if sh.failed.load(Ordering::Relaxed) {
        return;
    }
    let result = (|| -> Result<(), MaterializeError> {
        let tree = load_tree(sh.store, &tree_id)?;
        for e in tree.entries {
            // Decoding validated the name already; checking again here costs nothing and
            // keeps this function safe on its own.
            validate_name(&e.name).map_err(|source| MaterializeError::Tree {
                id: tree_id,
                source,
            })?;
            let name =
                CString::new(e.name.clone()).map_err(|err| io_at(&path)(io::Error::other(err)))?;
            let child = path.join(std::ffi::OsStr::from_bytes(&e.name));
            fail::fail_point!("materialize::entry", |_| Err(io_at(&child)(
                io::Error::other("fail point materialize::entry")
            )));
            if e.flags != 0 {
                sh.flagged.store(true, Ordering::Relaxed);
            }
            match &e.kind {
                EntryKind::Dir { tree } => {
                    let mut subs = Vec::with_capacity(dirs.len());
                    for d in dirs.iter() {
                        fsops::mkdir_at(d.as_fd(), &name).map_err(io_at(&child))?;
                        subs.push(fsops::open_dir_at(d.as_fd(), &name).map_err(io_at(&child))?);
                    }
                    let sub = Arc::new(subs);
                    sh.dirs.fetch_add(1, Ordering::Relaxed);
                    let tree = *tree;
                    scope.spawn(move |s| fill_dir(sh, s, sub, tree, child));
                }
                EntryKind::File { .. } if e.link_group != 0 => {}
                _ => {
                    let bytes = create_entry(sh.store, &dirs, &name, &e, &child)?;
                    if matches!(e.kind, EntryKind::File { .. }) {
                        sh.files.fetch_add(1, Ordering::Relaxed);
                        sh.bytes.fetch_add(bytes, Ordering::Relaxed);
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        sh.fail(e);
    }
}

/// Creates one non-directory entry, with its content and metadata, in each of `dirs`;
/// returns the data bytes written into one of them.
fn create_entry(
    store: &ObjectStore,
    dirs: &[OwnedFd],
    name: &CStr,
    e: &Entry,
    path: &Path,
) -> Result<u64, MaterializeError> {
    if let EntryKind::File { size, extents } = &e.kind {
        let files = dirs
            .iter()
            .map(|d| fsops::create_file_at(d.as_fd(), name).map_err(io_at(path)))
            .collect::<Result<Vec<_>, _>>()?;
        let bytes = write_content_many(store, &files, extents, path)?;
        for file in &files {
            file.set_len(*size).map_err(io_at(path))?;
            fsops::apply_meta_fd(file.as_fd(), &meta(e)).map_err(io_at(path))?;
        }
        return Ok(bytes);
    }
    for d in dirs {
        let d = d.as_fd();
        let meta_at =
            |symlink: bool| fsops::apply_meta_at(d, name, symlink, &meta(e)).map_err(io_at(path));
        match &e.kind {
            EntryKind::Symlink { target } => {
                fsops::symlink_at(target, d, name).map_err(io_at(path))?;
                meta_at(true)?;
            }
            EntryKind::CharDevice { rdev } => {
                fsops::mknod_at(d, name, FileType::CharacterDevice, *rdev).map_err(io_at(path))?;
                meta_at(false)?;
            }
            EntryKind::BlockDevice { rdev } => {
                fsops::mknod_at(d, name, FileType::BlockDevice, *rdev).map_err(io_at(path))?;
                meta_at(false)?;
            }
            EntryKind::Fifo => {
                fsops::mknod_at(d, name, FileType::Fifo, 0).map_err(io_at(path))?;
                meta_at(false)?;
            }
            EntryKind::File { .. } | EntryKind::Dir { .. } => {
                return Err(io_at(path)(io::Error::other(
                    "files and directories are created elsewhere",
                )));
            }
        }
    }
    Ok(0)
}

impl Writer<'_> {
    /// Phase two for one directory, recursively: hard-linked files, then each
    /// subdirectory's metadata after its own children.
    fn finish_dir(
        &mut self,
        dirs: &Dirs,
        tree_id: &ObjectId,
        path: &Path,
    ) -> Result<(), MaterializeError> {
        let tree = load_tree(self.store, tree_id)?;
        for e in &tree.entries {
            let name =
                CString::new(e.name.clone()).map_err(|err| io_at(path)(io::Error::other(err)))?;
            let child = path.join(std::ffi::OsStr::from_bytes(&e.name));
            match &e.kind {
                EntryKind::Dir { tree } => {
                    let sub = Arc::new(open_subdirs(dirs, &name, &child)?);
                    self.finish_dir(&sub, tree, &child)?;
                    for d in sub.iter() {
                        fsops::apply_meta_fd(d.as_fd(), &meta(e)).map_err(io_at(&child))?;
                    }
                }
                EntryKind::File { .. } if e.link_group != 0 => {
                    if let Some((first_dirs, first_name)) = self.links.get(&e.link_group) {
                        for (first, d) in first_dirs.iter().zip(dirs.iter()) {
                            fsops::link_at(first.as_fd(), first_name, d.as_fd(), &name)
                                .map_err(io_at(&child))?;
                        }
                    } else {
                        self.stats.bytes += create_entry(self.store, dirs, &name, e, &child)?;
                        self.stats.files += 1;
                        self.links
                            .insert(e.link_group, (dirs.clone(), name.clone()));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The directory `name` in each of `dirs` (one per target), opened.
fn open_subdirs(
    dirs: &[OwnedFd],
    name: &CStr,
    path: &Path,
) -> Result<Vec<OwnedFd>, MaterializeError> {
    dirs.iter()
        .map(|d| fsops::open_dir_at(d.as_fd(), name).map_err(io_at(path)))
        .collect()
}

/// Gives every file and directory of the tree `tree_id`, written below each of `dirs`, the
/// snapshot's inode flags: innermost first, so a directory made immutable is already full.
pub(crate) fn apply_flags(
    store: &ObjectStore,
    dirs: &[OwnedFd],
    tree_id: &ObjectId,
    path: &Path,
) -> Result<(), MaterializeError> {
    let tree = load_tree(store, tree_id)?;
    for e in &tree.entries {
        let name =
            CString::new(e.name.clone()).map_err(|err| io_at(path)(io::Error::other(err)))?;
        let child = path.join(std::ffi::OsStr::from_bytes(&e.name));
        match &e.kind {
            EntryKind::Dir { tree } => {
                let subs = open_subdirs(dirs, &name, &child)?;
                apply_flags(store, &subs, tree, &child)?;
                for sub in &subs {
                    fsops::set_inode_flags(sub.as_fd(), e.flags, FLAGS_KEPT)
                        .map_err(io_at(&child))?;
                }
            }
            EntryKind::File { .. } if e.flags != 0 => {
                for d in dirs {
                    let f = fsops::open_file_at(d.as_fd(), &name).map_err(io_at(&child))?;
                    fsops::set_inode_flags(f.as_fd(), e.flags, FLAGS_KEPT)
                        .map_err(io_at(&child))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes a file's extents into an empty file through the store (every chunk hash-checked);
/// holes are skipped so they stay holes. Returns the data bytes written. The caller sets the
/// final length.
pub(crate) fn write_content(
    store: &ObjectStore,
    file: &std::fs::File,
    extents: &[Extent],
    path: &Path,
) -> Result<u64, MaterializeError> {
    write_content_many(store, std::slice::from_ref(file), extents, path)
}

/// [`write_content`] into several files, each chunk read once.
fn write_content_many(
    store: &ObjectStore,
    files: &[std::fs::File],
    extents: &[Extent],
    path: &Path,
) -> Result<u64, MaterializeError> {
    let mut offset = 0u64;
    let mut written = 0u64;
    for x in extents {
        match x {
            Extent::Data { id, len } => {
                let data = store.read(id, ObjectKind::Chunk)?;
                for file in files {
                    file.write_all_at(&data, offset).map_err(io_at(path))?;
                }
                offset += u64::from(*len);
                written += u64::from(*len);
            }
            Extent::Hole { len } => offset += len,
        }
    }
    Ok(written)
}
