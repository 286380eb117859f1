//! Image tar streams: exact unpacking of what `tar` (GNU, POSIX format) writes, and every
//! path attack of RELIABILITY.md refused with nothing outside the root touched.

mod common;

use common::open_engine as open;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use engine::{ContainerId, EngineError, RootSource};

fn cid(n: u8) -> ContainerId {
    ContainerId::from_bytes([n; 12])
}

#[tokio::test]
async fn a_gnu_tar_of_the_fixture_unpacks_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    common::build_fixture(&src);
    // The sparse gigabyte is left out: GNU tar without --sparse would store a gigabyte of
    // zeros, and docker export does not write sparse entries either.
    fs::remove_file(src.join("sparse.img")).unwrap();
    let tarball = tmp.path().join("image.tar");
    let out = Command::new("tar")
        .args([
            "--format=posix",
            "--xattrs",
            "--xattrs-include=*",
            "--numeric-owner",
            "-C",
        ])
        .arg(&src)
        .args(["-cf"])
        .arg(&tarball)
        .arg(".")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = open(tmp.path()).await;
    e.create_root(
        &cid(1),
        RootSource::Tar(Box::new(fs::File::open(&tarball).unwrap())),
    )
    .await
    .unwrap();
    let (want, got) = (
        common::describe(&src),
        common::describe(&e.root_path(&cid(1))),
    );
    for (path, d) in &want {
        assert_eq!(got.get(path), Some(d), "{}", path.display());
    }
    assert_eq!(want.len(), got.len());
}

/// Runs GNU tar, failing the test with its message.
fn gnu_tar(args: &[&std::ffi::OsStr]) {
    let out = Command::new("tar").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "tar {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Issue 16 #6: times before 1970. GNU tar's default format stores them in base-256 (a
/// negative two's-complement field), pax stores them as a decimal with a fraction. Whatever
/// the format, the imported root must equal what GNU tar itself extracts from the archive,
/// on files, folders and symlinks.
#[tokio::test]
async fn times_before_1970_come_back_as_gnu_tar_extracts_them() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    // 1960-01-01, a day and a half second before the epoch, one second before it, and
    // far ahead (beyond what 11 octal digits hold).
    let times: [(&str, i64, i64); 5] = [
        ("sixties", -315_619_200, 0),
        ("day-before", -86_401, 500_000_000),
        ("second-before", -1, 0),
        ("epoch", 0, 0),
        ("far-ahead", 10_000_000_000, 250_000_000),
    ];
    for (name, sec, nsec) in times {
        let dir = src.join(format!("{name}.d"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join("file"), name.as_bytes()).unwrap();
        std::os::unix::fs::symlink("file", dir.join("link")).unwrap();
        for p in [dir.join("file"), dir.join("link"), dir.clone()] {
            common::set_mtime(&p, sec, nsec);
        }
    }
    common::set_mtime(&src, -315_619_200, 0);
    let e = open(tmp.path()).await;
    for (n, format) in ["gnu", "oldgnu", "posix"].into_iter().enumerate() {
        let tarball = tmp.path().join(format!("{format}.tar"));
        let os = |s: &str| std::ffi::OsString::from(s);
        gnu_tar(&[
            &os(&format!("--format={format}")),
            &os("--numeric-owner"),
            &os("-C"),
            src.as_os_str(),
            &os("-cf"),
            tarball.as_os_str(),
            &os("."),
        ]);
        let extracted = tmp.path().join(format!("{format}.out"));
        fs::create_dir(&extracted).unwrap();
        gnu_tar(&[
            &os("--numeric-owner"),
            &os("--same-owner"),
            &os("-p"),
            &os("-C"),
            extracted.as_os_str(),
            &os("-xf"),
            tarball.as_os_str(),
        ]);
        let c = cid(10 + n as u8);
        e.create_root(
            &c,
            RootSource::Tar(Box::new(fs::File::open(&tarball).unwrap())),
        )
        .await
        .unwrap();
        let (want, got) = (
            common::describe(&extracted),
            common::describe(&e.root_path(&c)),
        );
        assert_eq!(got, want, "format {format}");
        // And GNU tar did keep the times before 1970 (so the comparison means something).
        let sixties = want.get(Path::new("sixties.d/file")).unwrap();
        assert!(sixties.contains("mtime=-315619200."), "{format}: {sixties}");
    }
    // pax keeps the fraction: a day and half a second before the epoch, not a second late.
    let pax = common::describe(&e.root_path(&cid(12)));
    assert!(
        pax[Path::new("day-before.d/file")].contains("mtime=-86401.500000000"),
        "{}",
        pax[Path::new("day-before.d/file")]
    );
}

/// A tar built entry by entry, including entries a normal tar tool would never write.
struct Evil {
    b: tar::Builder<Vec<u8>>,
}

impl Evil {
    fn new() -> Self {
        Evil {
            b: tar::Builder::new(Vec::new()),
        }
    }
    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o755);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h
    }
    /// Writes a raw name into the header, bypassing the builder's own path checks.
    fn raw(mut self, kind: tar::EntryType, name: &[u8], link: Option<&[u8]>, data: &[u8]) -> Self {
        let mut h = Self::header(kind, data.len() as u64);
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
        if let Some(l) = link {
            gnu.linkname[..l.len()].copy_from_slice(l);
        }
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }
    fn bytes(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

fn sentinel(tmp: &Path) -> (PathBuf, common::Tree) {
    let s = tmp.join("sentinel");
    fs::create_dir_all(s.join("etc")).unwrap();
    fs::write(s.join("etc/passwd"), b"root:x:0:0\n").unwrap();
    fs::write(s.join("victim"), b"keep me").unwrap();
    let d = common::describe(&s);
    (s, d)
}

#[tokio::test]
async fn path_attacks_in_a_tar_are_refused_and_nothing_outside_changes() {
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    let tmp = tempfile::tempdir().unwrap();
    let (s, before) = sentinel(tmp.path());
    let abs = s.to_str().unwrap().as_bytes().to_vec();
    let abs_victim = [abs.as_slice(), b"/victim"].concat();
    let e = open(tmp.path()).await;

    // Each attack with the reason its refusal must give (so it is refused for the right
    // reason, not by accident).
    let attacks: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "dot-dot",
            "'..'",
            Evil::new().raw(Regular, b"../escape", None, b"x").bytes(),
        ),
        (
            "deep dot-dot",
            "'..'",
            Evil::new()
                .raw(Regular, b"a/b/../../../escape", None, b"x")
                .bytes(),
        ),
        (
            "symlink then file beneath",
            "symlink",
            Evil::new()
                .raw(Symlink, b"evil", Some(&abs), b"")
                .raw(Regular, b"evil/victim", None, b"overwritten")
                .bytes(),
        ),
        (
            "symlink then directory beneath",
            "symlink",
            Evil::new()
                .raw(Symlink, b"evil", Some(&abs), b"")
                .raw(Directory, b"evil/newdir/", None, b"")
                .bytes(),
        ),
        (
            "symlink to /etc then passwd",
            "symlink",
            Evil::new()
                .raw(Symlink, b"etc", Some(b"/etc"), b"")
                .raw(Regular, b"etc/passwd", None, b"pwned")
                .bytes(),
        ),
        (
            "hard link to an absolute host path",
            "link target",
            Evil::new().raw(Link, b"h", Some(&abs_victim), b"").bytes(),
        ),
        (
            "hard link with dot-dot",
            "'..'",
            Evil::new()
                .raw(Link, b"h", Some(b"../../sentinel/victim"), b"")
                .bytes(),
        ),
        (
            "hard link behind a symlink",
            "link target",
            Evil::new()
                .raw(Symlink, b"evil", Some(&abs), b"")
                .raw(Link, b"h", Some(b"evil/victim"), b"")
                .bytes(),
        ),
        (
            "directory replaced by a symlink",
            "replace a directory",
            Evil::new()
                .raw(Directory, b"d/", None, b"")
                .raw(Symlink, b"d", Some(&abs), b"")
                .bytes(),
        ),
        (
            "a file named like the root",
            "root itself",
            Evil::new().raw(Regular, b"./", None, b"x").bytes(),
        ),
    ];
    for (i, (what, reason, bytes)) in attacks.into_iter().enumerate() {
        let c = cid(10 + i as u8);
        let r = e
            .create_root(&c, RootSource::Tar(Box::new(std::io::Cursor::new(bytes))))
            .await;
        match &r {
            Err(EngineError::Invalid(m)) => assert!(
                m.contains(reason),
                "{what}: refused for another reason: {m}"
            ),
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(common::describe(&s), before, "{what}: the sentinel changed");
        assert!(
            !e.root_path(&c).exists(),
            "{what}: a partial root was left behind"
        );
    }
    // Not even an empty directory appeared outside.
    assert!(!tmp.path().join("escape").exists());
    assert!(!s.join("newdir").exists());

    // A well-formed archive with a symlink that points outside is fine: it is only a link.
    let ok = Evil::new()
        .raw(Directory, b"etc/", None, b"")
        .raw(Regular, b"etc/hostname", None, b"box\n")
        .raw(Symlink, b"host-link", Some(&abs_victim), b"")
        .raw(Link, b"etc/hostname-again", Some(b"./etc/hostname"), b"")
        .bytes();
    e.create_root(
        &cid(99),
        RootSource::Tar(Box::new(std::io::Cursor::new(ok))),
    )
    .await
    .unwrap();
    let root = e.root_path(&cid(99));
    assert_eq!(fs::read(root.join("etc/hostname-again")).unwrap(), b"box\n");
    assert_eq!(
        fs::read_link(root.join("host-link")).unwrap(),
        Path::new(std::str::from_utf8(&abs_victim).unwrap())
    );
    assert_eq!(common::describe(&s), before);
}

#[tokio::test]
async fn garbage_is_not_an_image() {
    let tmp = tempfile::tempdir().unwrap();
    let e = open(tmp.path()).await;
    let r = e
        .create_root(
            &cid(1),
            RootSource::Tar(Box::new(std::io::Cursor::new(vec![0x42u8; 10_000]))),
        )
        .await;
    assert!(matches!(r, Err(EngineError::Invalid(_))), "{r:?}");
    assert!(!e.root_path(&cid(1)).exists());
}
