//! Helpers for the engine's integration tests: fixture trees and an exact tree comparison.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString};
use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Mode, OFlags};

/// Everything `lstat` and `getxattr` see of every entry under `root` (the root included),
/// keyed by relative path. Hardlinks are described by the first path of their inode, in
/// sorted order, so two trees with the same link structure describe the same. Works through
/// directory descriptors, so paths longer than PATH_MAX are fine.
pub fn describe(root: &Path) -> Tree {
    let fd = rustix::fs::open(root, OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
    let mut raw = Vec::new();
    let st = rustix::fs::fstat(&fd).unwrap();
    raw.push((PathBuf::new(), st, flags_of(&fd), xattrs_of(&fd, c".")));
    walk(&fd, Path::new(""), &mut raw);
    raw.sort_by(|a, b| a.0.cmp(&b.0));
    let mut first_of_inode: HashMap<u64, PathBuf> = HashMap::new();
    let mut out = BTreeMap::new();
    for (rel, m, extra, xattrs) in raw {
        let ft = rustix::fs::FileType::from_raw_mode(m.st_mode);
        let mut d = format!(
            "mode={:o} uid={} gid={} mtime={}.{:09}",
            m.st_mode, m.st_uid, m.st_gid, m.st_mtime, m.st_mtime_nsec
        );
        if ft == rustix::fs::FileType::RegularFile && m.st_nlink > 1 {
            match first_of_inode.get(&m.st_ino) {
                Some(first) => d += &format!(" link-of={}", first.display()),
                None => {
                    first_of_inode.insert(m.st_ino, rel.clone());
                    d += &format!(" nlink={}", m.st_nlink);
                }
            }
        }
        if ft == rustix::fs::FileType::RegularFile {
            // Holes stay holes: allocated space is compared in 1 MiB steps.
            d += &format!(
                " size={} alloc_mib={}",
                m.st_size,
                m.st_blocks * 512 / (1 << 20)
            );
        } else if ft == rustix::fs::FileType::CharacterDevice
            || ft == rustix::fs::FileType::BlockDevice
        {
            d += &format!(" rdev={}", m.st_rdev);
        }
        d += &extra;
        d += &format!(" xattrs={xattrs:?}");
        out.insert(rel, d);
    }
    out
}

/// The inode flags a snapshot keeps (what `lsattr` shows, less how the filesystem stores
/// the inode), as ` flags=0x..`; empty when there are none.
pub fn flags_of<F: std::os::fd::AsFd>(fd: &F) -> String {
    match rustix::fs::ioctl_getflags(fd) {
        Ok(f) if f.bits() & engine::tree::FLAGS_KEPT != 0 => {
            format!(" flags={:#x}", f.bits() & engine::tree::FLAGS_KEPT)
        }
        _ => String::new(),
    }
}

/// A described tree: relative path to everything seen about it.
pub type Tree = BTreeMap<PathBuf, String>;

type Raw = (PathBuf, rustix::fs::Stat, String, Vec<(String, Vec<u8>)>);

fn walk(dir: &OwnedFd, rel: &Path, out: &mut Vec<Raw>) {
    let mut d = rustix::fs::Dir::read_from(dir).unwrap();
    let mut names = Vec::new();
    while let Some(e) = d.read() {
        let e = e.unwrap();
        let n = e.file_name().to_owned();
        if n.to_bytes() != b"." && n.to_bytes() != b".." {
            names.push(n);
        }
    }
    for name in names {
        let path = rel.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        let st = rustix::fs::statat(dir, &name, AtFlags::SYMLINK_NOFOLLOW).unwrap();
        let ft = rustix::fs::FileType::from_raw_mode(st.st_mode);
        let mut extra = String::new();
        match ft {
            rustix::fs::FileType::Directory => {
                let sub = rustix::fs::openat(
                    dir,
                    &name,
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .unwrap();
                let x = xattrs_of(&sub, c".");
                out.push((path.clone(), st, flags_of(&sub), x));
                walk(&sub, &path, out);
                continue;
            }
            rustix::fs::FileType::RegularFile => {
                let f = rustix::fs::openat(
                    dir,
                    &name,
                    OFlags::RDONLY | OFlags::NOFOLLOW,
                    Mode::empty(),
                )
                .unwrap();
                extra = flags_of(&f);
                extra += &format!(
                    " content={}",
                    content_digest(&fs::File::from(f), st.st_size as u64)
                );
            }
            rustix::fs::FileType::Symlink => {
                let t = rustix::fs::readlinkat(dir, &name, Vec::new()).unwrap();
                extra = format!(" -> {:?}", t);
            }
            _ => {}
        }
        let x = xattrs_of(dir, &name);
        out.push((path, st, extra, x));
    }
}

/// A digest of a file's data regions (offset, length and bytes), read extent by extent so a
/// sparse terabyte costs nothing; holes are part of the digest by their absence.
fn content_digest(f: &fs::File, size: u64) -> String {
    use std::os::unix::fs::FileExt;
    let mut h = blake3::Hasher::new();
    let mut pos = 0u64;
    while pos < size {
        let Ok(start) = rustix::fs::seek(f, rustix::fs::SeekFrom::Data(pos)) else {
            break;
        };
        let end = rustix::fs::seek(f, rustix::fs::SeekFrom::Hole(start))
            .unwrap()
            .min(size);
        let mut buf = vec![0u8; 1 << 20];
        let mut at = start;
        while at < end {
            let n = ((end - at) as usize).min(buf.len());
            f.read_exact_at(&mut buf[..n], at).unwrap();
            h.update(&at.to_le_bytes());
            h.update(&buf[..n]);
            at += n as u64;
        }
        pos = end;
    }
    h.finalize().to_hex()[..16].to_string()
}

fn xattrs_of(dir: &OwnedFd, name: &CStr) -> Vec<(String, Vec<u8>)> {
    use std::os::fd::AsRawFd;
    let p = CString::new(format!(
        "/proc/self/fd/{}/{}",
        dir.as_raw_fd(),
        name.to_string_lossy()
    ))
    .unwrap();
    let mut names = vec![0u8; 65536];
    let n = rustix::fs::llistxattr(&p, &mut names).unwrap_or(0);
    let mut out = Vec::new();
    for xn in names[..n].split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let cn = CString::new(xn).unwrap();
        let mut v = vec![0u8; 65536];
        let len = rustix::fs::lgetxattr(&p, &cn, &mut v).unwrap();
        v.truncate(len);
        out.push((String::from_utf8_lossy(xn).into_owned(), v));
    }
    out.sort();
    out
}

/// Sets an xattr without following symlinks.
pub fn set_xattr(path: &Path, name: &str, value: &[u8]) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    rustix::fs::lsetxattr(&c, &n, value, rustix::fs::XattrFlags::empty()).unwrap();
}

/// Sets mtime (and atime) to the nanosecond without following symlinks.
pub fn set_mtime(path: &Path, sec: i64, nsec: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: sec,
        tv_nsec: nsec,
    };
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    rustix::fs::utimensat(
        rustix::fs::CWD,
        &c,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// Changes owner without following symlinks.
pub fn lchown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
}

/// Creates a device node or FIFO.
pub fn mknod(path: &Path, kind: rustix::fs::FileType, mode: u32, dev: u64) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    rustix::fs::mknodat(rustix::fs::CWD, &c, kind, Mode::from_raw_mode(mode), dev).unwrap();
}

/// A deterministic pseudo-random byte string.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A tree with every kind of entry and attribute the engine must keep.
pub fn build_fixture(root: &Path) {
    fs::create_dir_all(root.join("etc/empty.d")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::write(root.join("etc/hostname"), b"snapline\n").unwrap();
    fs::write(root.join("etc/empty-file"), b"").unwrap();
    fs::write(root.join("usr/bin/big"), noise(3 * 1024 * 1024 + 5, 1)).unwrap();
    fs::write(root.join("usr/bin/zeros"), vec![0u8; 700_000]).unwrap();

    let su = root.join("usr/bin/sudo");
    fs::write(&su, b"#!/bin/sh\n").unwrap();
    lchown(&su, 0, 0);
    fs::set_permissions(&su, fs::Permissions::from_mode(0o4755)).unwrap();
    let sticky = root.join("tmp");
    fs::create_dir(&sticky).unwrap();
    fs::set_permissions(&sticky, fs::Permissions::from_mode(0o1777)).unwrap();
    let sg = root.join("usr/bin/sgid");
    fs::write(&sg, b"x").unwrap();
    lchown(&sg, 1000, 50);
    fs::set_permissions(&sg, fs::Permissions::from_mode(0o2710)).unwrap();

    let ping = root.join("usr/bin/ping");
    fs::write(&ping, b"ping").unwrap();
    set_xattr(
        &ping,
        "security.capability",
        &[
            1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    set_xattr(&ping, "user.note", b"needs cap_net_raw");
    set_xattr(&root.join("etc"), "user.dir-attr", b"on a directory");

    // Sparse: 1 GiB with 64 KiB of data in the middle and a hole at the end.
    let sparse = fs::File::create(root.join("sparse.img")).unwrap();
    sparse.set_len(1 << 30).unwrap();
    std::os::unix::fs::FileExt::write_all_at(&sparse, &noise(65536, 5), 512 << 20).unwrap();
    drop(sparse);

    std::os::unix::fs::symlink("/etc/passwd", root.join("abs-link")).unwrap();
    std::os::unix::fs::symlink("../nowhere/at/all", root.join("etc/dangling")).unwrap();
    std::os::unix::fs::symlink("hostname", root.join("etc/rel-link")).unwrap();
    lchown(&root.join("etc/rel-link"), 1000, 1000);

    fs::hard_link(root.join("etc/hostname"), root.join("usr/hostname-link")).unwrap();
    fs::hard_link(root.join("etc/hostname"), root.join("hostname-link-2")).unwrap();

    mknod(&root.join("etc/fifo"), rustix::fs::FileType::Fifo, 0o640, 0);
    mknod(
        &root.join("null"),
        rustix::fs::FileType::CharacterDevice,
        0o666,
        rustix::fs::makedev(1, 3),
    );
    mknod(
        &root.join("loop0"),
        rustix::fs::FileType::BlockDevice,
        0o660,
        rustix::fs::makedev(7, 0),
    );

    let odd = root.join("names");
    fs::create_dir(&odd).unwrap();
    for name in [
        "unicodé ✓ 名前",
        "new\nline",
        "  spaces  ",
        "-dash",
        "...",
        "x".repeat(255).as_str(),
    ] {
        fs::write(odd.join(name), name.as_bytes()).unwrap();
    }

    // Deeper than PATH_MAX: 20 levels of 250-byte names, made through descriptors.
    fs::create_dir(root.join("deep")).unwrap();
    let mut dir = rustix::fs::open(
        root.join("deep"),
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    )
    .unwrap();
    for i in 0..20 {
        let name = CString::new(format!("{i:02}{}", "d".repeat(248))).unwrap();
        rustix::fs::mkdirat(&dir, &name, Mode::from_raw_mode(0o755)).unwrap();
        dir = rustix::fs::openat(
            &dir,
            &name,
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
    }
    let leaf = rustix::fs::openat(
        &dir,
        c"leaf",
        OFlags::WRONLY | OFlags::CREATE,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&leaf, b"deep inside").unwrap();

    set_mtime(&root.join("etc/hostname"), 1_700_000_000, 123_456_789);
    set_mtime(&root.join("abs-link"), 1_600_000_000, 999_999_999);
    set_mtime(&root.join("etc"), 1_500_000_000, 1);
    set_mtime(root, 1_650_000_000, 42);
}

/// The test's database for `dir`: a real SQLite file `dir/meta.db` (WAL, synchronous=FULL,
/// as the server runs it), or a PostgreSQL database of its own when the tests run on one
/// (`engine::db::scratch_url`).
pub async fn pool(dir: &Path) -> engine::DbPool {
    engine::db::open(&engine::db::scratch_url(dir, "meta.db"))
        .await
        .unwrap()
}

/// Opens the engine on `dir/data` with the database `dir/meta.db`.
pub async fn try_open_engine(dir: &Path) -> Result<engine::Engine, engine::EngineError> {
    engine::Engine::open(&dir.join("data"), pool(dir).await).await
}

/// Opens the engine on `dir/data` with the database `dir/meta.db`.
pub async fn open_engine(dir: &Path) -> engine::Engine {
    try_open_engine(dir).await.unwrap()
}
