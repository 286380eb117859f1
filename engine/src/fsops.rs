//! File-descriptor-relative filesystem operations.
//!
//! Invariant: every operation inside a container root is relative to an open directory
//! descriptor and never follows a symlink in the live tree. Paths are single validated names,
//! never strings with slashes, so a symlink planted by the container cannot redirect a read or
//! a write outside the root.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, AtFlags, Mode, OFlags};

pub use rustix::fs::{FileType, Stat};

fn err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// Opens a directory given by an absolute or relative host path (the container root itself).
/// The last component must not be a symlink.
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    rfs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)
}

/// Opens the subdirectory `name` of `dir`; fails (ELOOP or ENOTDIR) if it is a symlink or
/// anything but a directory.
pub fn open_dir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<OwnedFd> {
    rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(err)
}

/// Opens the regular file `name` of `dir` for reading without following a symlink and
/// without blocking if it turned into a FIFO; the caller checks the type with `fstat`.
pub fn open_file_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<File> {
    rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map(File::from)
    .map_err(err)
}

/// Creates the regular file `name` in `dir` (it must not exist), owner-only until its
/// metadata is applied.
pub fn create_file_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<File> {
    rfs::openat(
        dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    )
    .map(File::from)
    .map_err(err)
}

/// `lstat` of one name in `dir`.
pub fn lstat_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Stat> {
    rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(err)
}

/// `fstat`.
pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<Stat> {
    rfs::fstat(fd).map_err(err)
}

/// The names in a directory, without `.` and `..`, in directory order.
pub fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<CString>> {
    let mut out = Vec::new();
    let mut d = rfs::Dir::read_from(dir).map_err(err)?;
    while let Some(entry) = d.read() {
        let entry = entry.map_err(err)?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

/// The target of the symlink `name` in `dir`, as bytes.
pub fn read_link_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Vec<u8>> {
    rfs::readlinkat(dir, name, Vec::new())
        .map(|c| c.into_bytes())
        .map_err(err)
}

/// The kind of a stat result.
pub fn file_type(st: &Stat) -> FileType {
    FileType::from_raw_mode(st.st_mode)
}

/// A path through `/proc/self/fd` naming `name` inside `dir` without resolving `name`
/// itself: used for the `l*xattr` calls that have no fd-relative form.
fn proc_path(dir: BorrowedFd<'_>, name: &CStr) -> CString {
    use std::os::fd::AsRawFd;
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.to_bytes());
    // The name has no NUL (it is a CStr), so this cannot fail.
    CString::new(p).unwrap_or_default()
}

fn is_unsupported(e: &rustix::io::Errno) -> bool {
    *e == rustix::io::Errno::NOTSUP || *e == rustix::io::Errno::OPNOTSUPP
}

fn collect_xattrs(
    list: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
    get: impl Fn(&CStr, &mut [u8]) -> rustix::io::Result<usize>,
) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let n = loop {
        match list(&mut names) {
            Ok(n) => break n,
            Err(e) if e == rustix::io::Errno::RANGE => names.resize(names.len() * 4, 0),
            Err(e) if is_unsupported(&e) => return Ok(Vec::new()),
            Err(e) => return Err(err(e)),
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let cname = CString::new(name).map_err(io::Error::other)?;
        let mut value = vec![0u8; 256];
        let len = loop {
            match get(&cname, &mut value) {
                Ok(len) => break Some(len),
                Err(e) if e == rustix::io::Errno::RANGE && value.len() < 1 << 17 => {
                    value.resize(value.len() * 4, 0)
                }
                // Removed between list and get.
                Err(e) if e == rustix::io::Errno::NODATA => break None,
                Err(e) => return Err(err(e)),
            }
        };
        if let Some(len) = len {
            value.truncate(len);
            out.push((name.to_vec(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// All extended attributes of an open file or directory.
pub fn xattrs_fd(fd: BorrowedFd<'_>) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    collect_xattrs(
        |buf| rfs::flistxattr(fd, buf),
        |name, buf| rfs::fgetxattr(fd, name, buf),
    )
}

/// All extended attributes of `name` in `dir`, not following it if it is a symlink.
pub fn xattrs_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let path = proc_path(dir, name);
    collect_xattrs(
        |buf| rfs::llistxattr(&path, buf),
        |n, buf| rfs::lgetxattr(&path, n, buf),
    )
}

/// Sets extended attributes on an open file or directory.
pub fn set_xattrs_fd(fd: BorrowedFd<'_>, xattrs: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
    for (k, v) in xattrs {
        let k = CString::new(k.clone()).map_err(io::Error::other)?;
        rfs::fsetxattr(fd, &k, v, rfs::XattrFlags::empty()).map_err(err)?;
    }
    Ok(())
}

/// Sets extended attributes on `name` in `dir` without following it.
pub fn set_xattrs_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    xattrs: &[(Vec<u8>, Vec<u8>)],
) -> io::Result<()> {
    let path = proc_path(dir, name);
    for (k, v) in xattrs {
        let k = CString::new(k.clone()).map_err(io::Error::other)?;
        rfs::lsetxattr(&path, &k, v, rfs::XattrFlags::empty()).map_err(err)?;
    }
    Ok(())
}

/// Where the next data starts at or after `offset`, or `None` past the last data.
pub fn seek_data(file: &File, offset: u64) -> io::Result<Option<u64>> {
    match rfs::seek(file.as_fd(), rfs::SeekFrom::Data(offset)) {
        Ok(pos) => Ok(Some(pos)),
        Err(e) if e == rustix::io::Errno::NXIO => Ok(None),
        Err(e) => Err(err(e)),
    }
}

/// Where the next hole starts at or after `offset` (the end of the file counts as a hole).
pub fn seek_hole(file: &File, offset: u64) -> io::Result<u64> {
    rfs::seek(file.as_fd(), rfs::SeekFrom::Hole(offset)).map_err(err)
}

/// Timestamps that set mtime (and atime to the same value).
fn times(sec: i64, nsec: u32) -> rfs::Timestamps {
    let t = rfs::Timespec {
        tv_sec: sec,
        tv_nsec: nsec.into(),
    };
    rfs::Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// The metadata written back onto a restored entry.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
    /// Extended attributes.
    pub xattrs: &'a [(Vec<u8>, Vec<u8>)],
    /// Modification time: seconds and nanoseconds.
    pub mtime: (i64, u32),
}

/// Applies owner, permission bits, xattrs and mtime to an open file or directory, in the
/// order that keeps them all: chown first (it clears setuid/setgid and capabilities), then
/// chmod, then xattrs, then the time.
pub fn apply_meta_fd(fd: BorrowedFd<'_>, m: &Meta<'_>) -> io::Result<()> {
    let Meta {
        uid,
        gid,
        mode,
        xattrs,
        mtime,
    } = *m;
    rfs::fchown(
        fd,
        Some(rustix::process::Uid::from_raw(uid)),
        Some(rustix::process::Gid::from_raw(gid)),
    )
    .map_err(err)?;
    rfs::fchmod(fd, Mode::from_raw_mode(mode)).map_err(err)?;
    set_xattrs_fd(fd, xattrs)?;
    rfs::futimens(fd, &times(mtime.0, mtime.1)).map_err(err)
}

/// Applies metadata to `name` in `dir` without following it (symlinks, devices, FIFOs).
/// Symlinks have no permission bits of their own, so `mode` is ignored for them.
pub fn apply_meta_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    is_symlink: bool,
    m: &Meta<'_>,
) -> io::Result<()> {
    let Meta {
        uid,
        gid,
        mode,
        xattrs,
        mtime,
    } = *m;
    rfs::chownat(
        dir,
        name,
        Some(rustix::process::Uid::from_raw(uid)),
        Some(rustix::process::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(err)?;
    if !is_symlink {
        // fchmodat has no NOFOLLOW on Linux, but `name` was just created by us as a device
        // or FIFO in a directory we hold open, and devices are never symlinks.
        rfs::chmodat(dir, name, Mode::from_raw_mode(mode), AtFlags::empty()).map_err(err)?;
    }
    set_xattrs_at(dir, name, xattrs)?;
    rfs::utimensat(
        dir,
        name,
        &times(mtime.0, mtime.1),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(err)
}

/// Creates a directory (owner-only until its metadata is applied).
pub fn mkdir_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    rfs::mkdirat(dir, name, Mode::from_raw_mode(0o700)).map_err(err)
}

/// Creates a symlink with the given target bytes.
pub fn symlink_at(target: &[u8], dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let target = CString::new(target).map_err(io::Error::other)?;
    rfs::symlinkat(&target, dir, name).map_err(err)
}

/// Creates a device node or FIFO.
pub fn mknod_at(dir: BorrowedFd<'_>, name: &CStr, kind: FileType, rdev: u64) -> io::Result<()> {
    rfs::mknodat(dir, name, kind, Mode::from_raw_mode(0o600), rdev).map_err(err)
}

/// Creates a hard link `new_dir/new_name` to `old_dir/old_name` (never following symlinks).
pub fn link_at(
    old_dir: BorrowedFd<'_>,
    old_name: &CStr,
    new_dir: BorrowedFd<'_>,
    new_name: &CStr,
) -> io::Result<()> {
    rfs::linkat(old_dir, old_name, new_dir, new_name, AtFlags::empty()).map_err(err)
}

/// The inode flags that forbid changing an inode (or a directory's entries): immutable `i`
/// and append-only `a`. Work that must change such an inode clears them first and sets the
/// snapshot's flags afterwards.
pub const PROTECTIVE_FLAGS: u32 = 0x10 | 0x20;

/// Whether an error means the filesystem keeps no inode flags (tmpfs before Linux 6.0,
/// overlayfs on some kernels, FUSE): then there are none to read or set.
fn no_flags_here(e: &rustix::io::Errno) -> bool {
    matches!(
        *e,
        rustix::io::Errno::NOTTY | rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::INVAL
    )
}

/// The inode flags of an open file or directory (`FS_IOC_GETFLAGS`, what `lsattr` shows),
/// only the bits a snapshot keeps ([`crate::tree::FLAGS_KEPT`]); 0 where the filesystem
/// keeps none.
pub fn inode_flags(fd: BorrowedFd<'_>) -> io::Result<u32> {
    match rfs::ioctl_getflags(fd) {
        Ok(f) => Ok(f.bits() & crate::tree::FLAGS_KEPT),
        Err(e) if no_flags_here(&e) => Ok(0),
        Err(e) => Err(err(e)),
    }
}

/// Gives the bits of `mask` the values in `flags` on an open file or directory, leaving the
/// others (extents, say) as they are; nothing is written when they already match. On a
/// filesystem without flags, setting none is not an error.
pub fn set_inode_flags(fd: BorrowedFd<'_>, flags: u32, mask: u32) -> io::Result<()> {
    let now = match rfs::ioctl_getflags(fd) {
        Ok(f) => f.bits(),
        Err(e) if no_flags_here(&e) && flags & mask == 0 => return Ok(()),
        Err(e) => return Err(err(e)),
    };
    let want = (now & !mask) | (flags & mask);
    if want == now {
        return Ok(());
    }
    rfs::ioctl_setflags(fd, rfs::IFlags::from_bits_retain(want)).map_err(err)
}

/// Clears immutable and append-only on an open inode, so it (or, for a directory, its
/// entries) can be changed.
pub fn clear_protection(fd: BorrowedFd<'_>) -> io::Result<()> {
    set_inode_flags(fd, 0, PROTECTIVE_FLAGS)
}

/// Removes `name` in `dir` and, if it is a directory, everything below it. Symlinks are
/// removed, never followed. Immutable and append-only flags inside are cleared as needed
/// (`dir` itself must allow removing its entries).
pub fn remove_all_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    let st = lstat_at(dir, name)?;
    if file_type(&st) == FileType::Directory {
        let sub = open_dir_at(dir, name)?;
        clear_protection(sub.as_fd())?;
        for child in list_dir(sub.as_fd())? {
            remove_all_at(sub.as_fd(), &child)?;
        }
        rfs::unlinkat(dir, name, AtFlags::REMOVEDIR).map_err(err)
    } else {
        match rfs::unlinkat(dir, name, AtFlags::empty()) {
            Err(rustix::io::Errno::PERM) if file_type(&st) == FileType::RegularFile => {
                clear_protection(open_file_at(dir, name)?.as_fd())?;
                rfs::unlinkat(dir, name, AtFlags::empty()).map_err(err)
            }
            r => r.map_err(err),
        }
    }
}

/// Removes the directory tree at `path` through descriptors, never following a symlink
/// inside it (only `path`'s parent is resolved by name). A `path` that is not there is not an
/// error; one without a last component (`/`, `..`) is `InvalidInput`.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let parent = path.parent().unwrap_or(Path::new("/"));
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no directory to remove", path.display()),
        )
    })?;
    let name = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(name))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let pfd = open_root(parent)?;
    match remove_all_at(pfd.as_fd(), &name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Renames `old_dir/old_name` to `new_dir/new_name`, atomically replacing a non-directory
/// there. Neither name is resolved through a symlink.
pub fn rename_at(
    old_dir: BorrowedFd<'_>,
    old_name: &CStr,
    new_dir: BorrowedFd<'_>,
    new_name: &CStr,
) -> io::Result<()> {
    rfs::renameat(old_dir, old_name, new_dir, new_name).map_err(err)
}

/// Removes extended attributes that are not in `want` from an open file or directory.
pub fn remove_other_xattrs_fd(fd: BorrowedFd<'_>, want: &[(Vec<u8>, Vec<u8>)]) -> io::Result<()> {
    for (k, _) in xattrs_fd(fd)? {
        if !want.iter().any(|(w, _)| *w == k) {
            let k = CString::new(k).map_err(io::Error::other)?;
            rfs::fremovexattr(fd, &k).map_err(err)?;
        }
    }
    Ok(())
}

/// Removes extended attributes that are not in `want` from `name` in `dir` (not followed).
pub fn remove_other_xattrs_at(
    dir: BorrowedFd<'_>,
    name: &CStr,
    want: &[(Vec<u8>, Vec<u8>)],
) -> io::Result<()> {
    let path = proc_path(dir, name);
    for (k, _) in xattrs_at(dir, name)? {
        if !want.iter().any(|(w, _)| *w == k) {
            let k = CString::new(k).map_err(io::Error::other)?;
            rfs::lremovexattr(&path, &k).map_err(err)?;
        }
    }
    Ok(())
}

/// A second descriptor for the same open directory.
pub fn dup(fd: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    fd.try_clone_to_owned()
}

/// Creates a directory with the given permission bits.
pub fn mkdir_mode_at(dir: BorrowedFd<'_>, name: &CStr, mode: u32) -> io::Result<()> {
    rfs::mkdirat(dir, name, Mode::from_raw_mode(mode)).map_err(err)
}

/// Removes a non-directory entry.
pub fn unlink_at(dir: BorrowedFd<'_>, name: &CStr) -> io::Result<()> {
    rfs::unlinkat(dir, name, AtFlags::empty()).map_err(err)
}
