//! The trees `snapline-bench` works on: the base tree (given, a Debian minimal root made
//! with debootstrap, or a generated tree of the same shape), its scaled copies, and the fixed
//! change applied between the first and the incremental snapshot.

use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

use crate::{XorShift, say};

/// Files the change modifies.
pub const MODIFIED_FILES: usize = 20;
/// Files the change deletes (at most; a file also chosen for modification is kept).
pub const DELETED_FILES: usize = 10;
/// Bytes overwritten in the middle of each modified file.
pub const MODIFY_BYTES: usize = 4096;
/// Size in bytes of the one file the change adds (5 MiB).
pub const ADDED_BYTES: usize = 5 << 20;

/// Disk usage (allocated blocks) of a path.
pub fn du(p: &Path) -> u64 {
    let Ok(m) = fs::symlink_metadata(p) else {
        return 0;
    };
    let mut n = m.blocks() * 512;
    if m.is_dir()
        && let Ok(rd) = fs::read_dir(p)
    {
        for e in rd.flatten() {
            n += du(&e.path());
        }
    }
    n
}

/// Appends every regular file under `root.join(rel)` to `out`, recursively, as (path relative
/// to `root`, size in bytes); symlinks and unreadable entries are skipped.
pub fn regular_files(root: &Path, rel: &Path, out: &mut Vec<(PathBuf, u64)>) {
    let Ok(rd) = fs::read_dir(root.join(rel)) else {
        return;
    };
    for e in rd.flatten() {
        let r = rel.join(e.file_name());
        let Ok(m) = fs::symlink_metadata(root.join(&r)) else {
            continue;
        };
        if m.is_dir() {
            regular_files(root, &r, out);
        } else if m.is_file() {
            out.push((r, m.len()));
        }
    }
}

/// A tree shaped like a minimal Debian root: ~10,000 files in ~1,500 directories, mostly
/// small, a few large, about half compressible, some symlinks.
pub fn generate_tree(dir: &Path) -> anyhow::Result<()> {
    let mut r = XorShift(0x5eed_1234_abcd_ef01);
    let words: Vec<&[u8]> = vec![
        b"config ",
        b"usr/share ",
        b"libc.so.6 ",
        b"# comment\n",
        b"Package: ",
        b"0x00 ",
    ];
    let mut dirs = vec![PathBuf::new()];
    for i in 0..1500 {
        let parent = dirs[(r.next_u64() as usize) % dirs.len()].clone();
        let d = parent.join(format!("d{i}"));
        fs::create_dir_all(dir.join(&d))?;
        dirs.push(d);
    }
    for i in 0..10_000u32 {
        let d = &dirs[(r.next_u64() as usize) % dirs.len()];
        let roll = r.next_u64() % 1000;
        let size = match roll {
            0..=649 => (r.next_u64() % 4096) as usize,
            650..=949 => 4096 + (r.next_u64() % 61_440) as usize,
            950..=997 => 65_536 + (r.next_u64() % 458_752) as usize,
            _ => (1 << 20) + (r.next_u64() % (3 << 20)) as usize,
        };
        let data = if r.next_u64().is_multiple_of(2) {
            r.bytes(size)
        } else {
            let mut v = Vec::with_capacity(size);
            while v.len() < size {
                v.extend_from_slice(words[(r.next_u64() as usize) % words.len()]);
            }
            v.truncate(size);
            v
        };
        fs::write(dir.join(d).join(format!("f{i}")), data)?;
        if i.is_multiple_of(40) {
            let _ = std::os::unix::fs::symlink(format!("f{i}"), dir.join(d).join(format!("l{i}")));
        }
    }
    Ok(())
}

/// The base tree: given, cached Debian, a fresh debootstrap, or a generated tree.
///
/// `given` is a directory to use as it is; `cache` is where a built tree is kept between
/// runs. Returns the tree's path and what kind of tree it is, for the report.
pub fn base_tree(given: Option<&Path>, cache: &Path) -> anyhow::Result<(PathBuf, String)> {
    if let Some(t) = given {
        return Ok((t.to_path_buf(), "given".into()));
    }
    fs::create_dir_all(cache)?;
    let debian = cache.join("debian-minbase");
    if debian.join("etc/debian_version").exists() {
        return Ok((debian, "debian bookworm minbase (debootstrap)".into()));
    }
    let have_debootstrap = Command::new("debootstrap")
        .arg("--version")
        .output()
        .is_ok();
    if have_debootstrap {
        say("building a Debian minimal root with debootstrap (once; cached)");
        let tmp = cache.join("debian-minbase.tmp");
        let _ = fs::remove_dir_all(&tmp);
        let ok = Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&tmp)
            .arg("http://deb.debian.org/debian")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            fs::rename(&tmp, &debian)?;
            return Ok((debian, "debian bookworm minbase (debootstrap)".into()));
        }
        say("debootstrap failed; using a generated tree of the same shape");
    }
    let generated = cache.join("generated");
    if !generated.join(".complete").exists() {
        say("generating a tree shaped like a Debian minimal root (once; cached)");
        let _ = fs::remove_dir_all(&generated);
        generate_tree(&generated)?;
        fs::write(generated.join(".complete"), b"")?;
    }
    Ok((generated, "generated (Debian-like shape)".into()))
}

/// `cp -a FROM/. TO`: copies a tree with its metadata, making `to` first.
pub fn cp_a(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    let st = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()?;
    if !st.success() {
        bail!("cp -a {} {} failed", from.display(), to.display());
    }
    Ok(())
}

/// The tree at the requested scale: `scale` copies of the base side by side.
pub fn scaled_tree(base: &Path, scale: u32, cache: &Path) -> anyhow::Result<PathBuf> {
    if scale == 1 {
        return Ok(base.to_path_buf());
    }
    let name = format!(
        "{}-x{scale}",
        base.file_name().and_then(|n| n.to_str()).unwrap_or("tree")
    );
    let dir = cache.join(name);
    if !dir.join(".complete").exists() {
        say(format!("building the {scale}x tree (once; cached)"));
        let _ = fs::remove_dir_all(&dir);
        for i in 0..scale {
            cp_a(base, &dir.join(format!("copy-{i}")))?;
        }
        fs::write(dir.join(".complete"), b"")?;
    }
    Ok(dir)
}

/// The fixed change, chosen deterministically from the sorted file list.
pub struct Change {
    /// Files to modify, relative to the tree.
    pub modify: Vec<PathBuf>,
    /// Files to delete, relative to the tree.
    pub delete: Vec<PathBuf>,
    /// Bytes the change writes: the modified ranges and the added file.
    pub changed_bytes: u64,
}

/// Plans the change for `tree`; fails when the tree has too few (large enough) files.
pub fn plan_change(tree: &Path) -> anyhow::Result<Change> {
    let mut files = Vec::new();
    regular_files(tree, Path::new(""), &mut files);
    files.sort();
    let big: Vec<&PathBuf> = files
        .iter()
        .filter(|(_, s)| *s >= MODIFY_BYTES as u64 * 2)
        .map(|(p, _)| p)
        .collect();
    if big.len() < MODIFIED_FILES || files.len() < MODIFIED_FILES + DELETED_FILES * 3 {
        bail!("the tree is too small for the bench's change");
    }
    let modify: Vec<PathBuf> = (0..MODIFIED_FILES)
        .map(|i| big[i * big.len() / MODIFIED_FILES].clone())
        .collect();
    let delete: Vec<PathBuf> = (0..DELETED_FILES)
        .map(|i| {
            files[(i * files.len() / DELETED_FILES + files.len() / 20) % files.len()]
                .0
                .clone()
        })
        .filter(|p| !modify.contains(p))
        .collect();
    Ok(Change {
        modify,
        delete,
        changed_bytes: (MODIFIED_FILES * MODIFY_BYTES + ADDED_BYTES) as u64,
    })
}

/// Applies `change` to the tree at `live`: overwrites the middle of each modified file with
/// pseudo-random bytes, deletes the deleted files and adds `bench-added.bin`.
pub fn apply_change(live: &Path, change: &Change) -> anyhow::Result<()> {
    let mut r = XorShift(0xc0ffee);
    for p in &change.modify {
        let f = fs::OpenOptions::new().write(true).open(live.join(p))?;
        let len = f.metadata()?.len();
        std::os::unix::fs::FileExt::write_all_at(
            &f,
            &r.bytes(MODIFY_BYTES),
            len / 2 - MODIFY_BYTES as u64 / 2,
        )?;
    }
    for p in &change.delete {
        let _ = fs::remove_file(live.join(p));
    }
    fs::File::create(live.join("bench-added.bin"))?.write_all(&r.bytes(ADDED_BYTES))?;
    Ok(())
}
