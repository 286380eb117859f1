//! Unpacking an image tar stream (for example `docker export`) into a fresh root, safely.
//!
//! The tar crate only parses; every file is created here, relative to directory descriptors
//! opened with `O_NOFOLLOW`, so an archive cannot reach outside the root:
//! - `..` components are refused; leading `/` and `.` components are dropped;
//! - a path whose parent is a symlink (`evil -> /etc`, then `evil/passwd`) is refused:
//!   opening `evil` as a directory without following it fails;
//! - a hard link must name a regular file already unpacked inside the root, resolved the
//!   same way;
//! - an entry never replaces a directory with something else, so the metadata deferred to
//!   the end for directories can only land on directories, and it is applied through
//!   descriptors too.
//!
//! If anything is refused, the caller removes the whole partial root: nothing outside it
//! was created or changed.

use std::ffi::{CStr, CString};
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use crate::error::EngineError;
use crate::fsops::{self, FileType, Meta};
use crate::tree::validate_name;

/// What an unpack created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Regular files created.
    pub files: u64,
    /// Directories created.
    pub dirs: u64,
    /// Symlinks and hard links created.
    pub links: u64,
    /// Bytes of file data written.
    pub bytes: u64,
}

fn refused(path: &[u8], reason: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid(format!(
        "the image has an unsafe or invalid entry {:?}: {reason}",
        String::from_utf8_lossy(path)
    ))
}

/// The components of an archive path, validated.
fn components(path: &[u8]) -> Result<Vec<CString>, EngineError> {
    let mut out = Vec::new();
    for c in path.split(|b| *b == b'/') {
        match c {
            b"" | b"." => continue,
            b".." => return Err(refused(path, "it contains '..'")),
            _ => {
                validate_name(c).map_err(|e| refused(path, e))?;
                out.push(CString::new(c).map_err(|e| refused(path, e))?);
            }
        }
    }
    Ok(out)
}

fn io_err(path: &[u8]) -> impl FnOnce(io::Error) -> EngineError + '_ {
    move |e| EngineError::Io {
        context: format!("cannot unpack {:?}", String::from_utf8_lossy(path)),
        source: e,
    }
}

/// Opens the directory at `parts` under `root`, creating missing directories (mode 0755 until
/// the archive says otherwise) when `create` is set. Symlinks are never followed.
fn open_dirs(
    root: BorrowedFd<'_>,
    parts: &[CString],
    create: bool,
    path: &[u8],
) -> Result<OwnedFd, EngineError> {
    let mut cur = fsops::dup(root).map_err(io_err(path))?;
    for p in parts {
        let next = match fsops::open_dir_at(cur.as_fd(), p) {
            Ok(fd) => fd,
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {
                fsops::mkdir_mode_at(cur.as_fd(), p, 0o755).map_err(io_err(path))?;
                fsops::open_dir_at(cur.as_fd(), p).map_err(io_err(path))?
            }
            Err(e) if matches!(e.raw_os_error(), Some(20) | Some(40)) => {
                return Err(refused(
                    path,
                    format!("{:?} is a symlink or not a directory", p),
                ));
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        cur = next;
    }
    Ok(cur)
}

/// Makes room for a new non-directory entry: removes an earlier non-directory of the same
/// name; refuses to replace a directory.
fn clear_for(dir: BorrowedFd<'_>, name: &CStr, path: &[u8]) -> Result<(), EngineError> {
    match fsops::lstat_at(dir, name) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(path)(e)),
        Ok(st) if fsops::file_type(&st) == FileType::Directory => {
            Err(refused(path, "it would replace a directory"))
        }
        Ok(_) => fsops::unlink_at(dir, name).map_err(io_err(path)),
    }
}

struct Attrs {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, u32),
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Attrs {
    fn meta(&self) -> Meta<'_> {
        Meta {
            uid: self.uid,
            gid: self.gid,
            mode: self.mode,
            xattrs: &self.xattrs,
            mtime: self.mtime,
        }
    }
}

fn attrs<R: Read>(entry: &mut tar::Entry<'_, R>, path: &[u8]) -> Result<Attrs, EngineError> {
    let h = entry.header();
    let bad = |e: io::Error| refused(path, e);
    let mut a = Attrs {
        mode: h.mode().map_err(bad)? & 0o7777,
        uid: u32::try_from(h.uid().map_err(bad)?).map_err(|e| refused(path, e))?,
        gid: u32::try_from(h.gid().map_err(bad)?).map_err(|e| refused(path, e))?,
        mtime: (header_mtime(h).map_err(bad)?, 0),
        xattrs: Vec::new(),
    };
    if let Some(pax) = entry.pax_extensions().map_err(|e| refused(path, e))? {
        for ext in pax {
            let ext = ext.map_err(|e| refused(path, e))?;
            let key = ext.key_bytes();
            if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                a.xattrs
                    .push((unescape_xattr_name(name), ext.value_bytes().to_vec()));
            } else if key == b"mtime"
                && let Some(t) = std::str::from_utf8(ext.value_bytes())
                    .ok()
                    .and_then(parse_pax_time)
            {
                // An unreadable pax time leaves the header's whole seconds, as before.
                a.mtime = t;
            }
        }
    }
    a.xattrs.sort();
    Ok(a)
}

/// The header's mtime in whole seconds, negative before 1970. The field is octal text, or
/// (when its first byte has the high bit set) GNU tar's base-256: a big-endian two's
/// complement number whose first byte gives up its top bit as the marker, bit 6 being the
/// sign. GNU tar writes every time before 1970 that way (tar-rs reads only non-negative
/// numbers, so 1960 became 0).
fn header_mtime(h: &tar::Header) -> io::Result<i64> {
    let field = &h.as_old().mtime;
    if field[0] & 0x80 == 0 {
        return h
            .mtime()
            .and_then(|t| i64::try_from(t).map_err(io::Error::other));
    }
    base256(field).ok_or_else(|| io::Error::other("mtime out of range"))
}

/// A GNU base-256 numeric field (see [`header_mtime`]), `None` beyond `i64`.
fn base256(field: &[u8]) -> Option<i64> {
    let sign = if field[0] & 0x40 != 0 { -64i128 } else { 0 };
    let mut v: i128 = i128::from(field[0] & 0x3f) + sign;
    for b in &field[1..] {
        v = v.checked_mul(256)?.checked_add(i128::from(*b))?;
    }
    i64::try_from(v).ok()
}

/// A pax time (decimal seconds, optionally negative, with up to nanosecond digits; more
/// digits are cut) as `(seconds, nanoseconds)` with nanoseconds in `0..1e9`: `-1.5` is
/// `(-2, 500000000)`, half a second before `-1`. `None` when it is not such a number.
pub(crate) fn parse_pax_time(v: &str) -> Option<(i64, u32)> {
    let (negative, digits) = match v.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sec: i64 = whole.parse().ok()?;
    let nine: String = frac.chars().take(9).collect();
    let nsec: u32 = format!("{nine:0<9}").parse().ok()?;
    Some(match (negative, nsec) {
        (false, _) => (sec, nsec),
        (true, 0) => (-sec, 0),
        (true, n) => (-sec - 1, 1_000_000_000 - n),
    })
}

/// Undoes GNU tar's escaping of `%` and `=` in the xattr names of pax keys (`%25`, `%3D`);
/// any other `%` stays as it is.
pub(crate) fn unescape_xattr_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        match &name[i..] {
            [b'%', b'2', b'5', ..] => {
                out.push(b'%');
                i += 3;
            }
            [b'%', b'3', b'D', ..] => {
                out.push(b'=');
                i += 3;
            }
            [b, ..] => {
                out.push(*b);
                i += 1;
            }
            [] => break,
        }
    }
    out
}

/// Counts the bytes the `tar` crate pulls from the archive. Reading a GNU sparse member,
/// the crate yields zeros for its holes without reading the archive: a read that moved
/// this count came from the archive (data), one that did not is a hole.
struct Counted<R> {
    inner: R,
    read: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// Writes a GNU sparse member's data at its offsets and leaves its holes unwritten, so the
/// file is as sparse as the archive says (a read of zeros that did not come from the
/// archive is a hole of the map). Returns the bytes written.
fn write_sparse<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    file: &std::fs::File,
    archive_read: &std::cell::Cell<u64>,
) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let size = entry.size();
    let mut buf = vec![0u8; 256 * 1024];
    let (mut pos, mut written) = (0u64, 0u64);
    loop {
        let before = archive_read.get();
        let n = entry.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if archive_read.get() != before {
            file.write_all_at(&buf[..n], pos)?;
            written += n as u64;
        }
        pos += n as u64;
    }
    // The map's last region may be a hole: the size comes from the map, not the writes.
    file.set_len(size.max(pos))?;
    Ok(written)
}

/// Unpacks `reader` into the empty directory `root`.
pub fn unpack_tar<R: Read>(reader: R, root: &Path) -> Result<UnpackStats, EngineError> {
    let root_fd = fsops::open_root(root)
        .map_err(EngineError::io(format!("cannot open {}", root.display())))?;
    let archive_read = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let mut archive = tar::Archive::new(Counted {
        inner: reader,
        read: archive_read.clone(),
    });
    let mut stats = UnpackStats::default();
    // Directory metadata is applied last (deepest first), so creating children does not
    // change the times, and a read-only directory does not block its own children.
    let mut dirs: Vec<(Vec<CString>, Attrs)> = Vec::new();
    let entries = archive.entries().map_err(|e| {
        EngineError::Invalid(format!("the image is not a readable tar stream: {e}"))
    })?;
    for entry in entries {
        let mut entry = entry
            .map_err(|e| EngineError::Invalid(format!("the image tar stream is damaged: {e}")))?;
        let path = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let parts = components(&path)?;
        let a = attrs(&mut entry, &path)?;
        if parts.is_empty() {
            if kind.is_dir() {
                dirs.push((parts, a));
                continue;
            }
            return Err(refused(&path, "it names the root itself"));
        }
        let (name, parents) = parts
            .split_last()
            .ok_or_else(|| refused(&path, "empty path"))?;
        let dir = open_dirs(root_fd.as_fd(), parents, true, &path)?;
        let d = dir.as_fd();
        match kind {
            tar::EntryType::Directory => {
                match fsops::lstat_at(d, name) {
                    Ok(st) if fsops::file_type(&st) == FileType::Directory => {}
                    Ok(_) => return Err(refused(&path, "a directory would replace another entry")),
                    Err(_) => {
                        fsops::mkdir_mode_at(d, name, 0o755).map_err(io_err(&path))?;
                        stats.dirs += 1;
                    }
                }
                dirs.push((parts.clone(), a));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                clear_for(d, name, &path)?;
                let mut file = fsops::create_file_at(d, name).map_err(io_err(&path))?;
                stats.bytes += if kind == tar::EntryType::GNUSparse {
                    write_sparse(&mut entry, &file, &archive_read)
                } else {
                    io::copy(&mut entry, &mut file)
                }
                .map_err(io_err(&path))?;
                fsops::apply_meta_fd(file.as_fd(), &a.meta()).map_err(io_err(&path))?;
                stats.files += 1;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| refused(&path, "a symlink without a target"))?
                    .into_owned();
                if target.is_empty() || target.contains(&0) {
                    return Err(refused(&path, "invalid symlink target"));
                }
                clear_for(d, name, &path)?;
                fsops::symlink_at(&target, d, name).map_err(io_err(&path))?;
                fsops::apply_meta_at(d, name, true, &a.meta()).map_err(io_err(&path))?;
                stats.links += 1;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| refused(&path, "a hard link without a target"))?
                    .into_owned();
                let tparts = components(&target)?;
                let (tname, tparents) = tparts
                    .split_last()
                    .ok_or_else(|| refused(&path, "a hard link to the root"))?;
                let tdir = open_dirs(root_fd.as_fd(), tparents, false, &target).map_err(|_| {
                    refused(&path, "its link target is not a file inside the image")
                })?;
                match fsops::lstat_at(tdir.as_fd(), tname) {
                    Ok(st) if fsops::file_type(&st) == FileType::RegularFile => {}
                    _ => {
                        return Err(refused(
                            &path,
                            "its link target is not a regular file inside the image",
                        ));
                    }
                }
                clear_for(d, name, &path)?;
                fsops::link_at(tdir.as_fd(), tname, d, name).map_err(io_err(&path))?;
                stats.links += 1;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let h = entry.header();
                let major = h
                    .device_major()
                    .map_err(|e| refused(&path, e))?
                    .unwrap_or(0);
                let minor = h
                    .device_minor()
                    .map_err(|e| refused(&path, e))?
                    .unwrap_or(0);
                let t = match kind {
                    tar::EntryType::Char => FileType::CharacterDevice,
                    tar::EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                clear_for(d, name, &path)?;
                fsops::mknod_at(d, name, t, rustix::fs::makedev(major, minor))
                    .map_err(io_err(&path))?;
                fsops::apply_meta_at(d, name, false, &a.meta()).map_err(io_err(&path))?;
            }
            other => return Err(refused(&path, format!("unsupported entry type {other:?}"))),
        }
    }
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0.len()));
    for (parts, a) in dirs {
        let fd = open_dirs(root_fd.as_fd(), &parts, false, b"(directory metadata)")?;
        fsops::apply_meta_fd(fd.as_fd(), &a.meta()).map_err(io_err(b"(directory metadata)"))?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::base256;

    /// Encodes `v` as GNU tar does (`to_base256` in GNU tar's create.c), for the round trip.
    fn gnu(v: i64) -> [u8; 12] {
        let mut out = [0u8; 12];
        let mut x = i128::from(v);
        for b in out.iter_mut().rev() {
            *b = (x & 0xff) as u8;
            x >>= 8;
        }
        out[0] |= 0x80;
        out
    }

    #[test]
    fn base256_reads_negative_and_large_times() {
        for v in [
            0,
            1,
            -1,
            -86_401,
            -315_619_200,
            10_000_000_000,
            i64::MIN,
            i64::MAX,
        ] {
            assert_eq!(base256(&gnu(v)), Some(v), "{v}");
        }
        // 1960-01-01 as GNU tar 1.34 writes it.
        let mut sixties = [0xffu8; 12];
        sixties[8..].copy_from_slice(&(-315_619_200i32).to_be_bytes());
        assert_eq!(base256(&sixties), Some(-315_619_200));
        // Beyond i64: refused, not wrapped.
        let mut huge = [0u8; 12];
        huge[0] = 0x80;
        huge[1] = 0x01;
        assert_eq!(base256(&huge), None);
    }
}
