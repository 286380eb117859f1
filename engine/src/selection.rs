//! The part of a tree that a partial restore makes exact: a set of absolute paths, checked,
//! normalized, found in the snapshot, and their parent directories found (or made) in the
//! live tree without following a symlink.
//!
//! Invariants of a [`Selection`]:
//! - every path is a list of valid names ([`crate::tree::validate_name`]), never empty (the
//!   root itself is a whole restore, not a selection);
//! - no selected path lies below another selected path (`/etc` swallows `/etc/nginx`), so
//!   every entry is applied once;
//! - paths are sorted bytewise, so staging and applying visit them in the same order (the
//!   first member of a hard-link group is the same in both).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use crate::error::EngineError;
use crate::fsops::{self, FileType};
use crate::ids::{ContainerId, ObjectId};
use crate::materialize::{MaterializeError, io_at, load_root, load_tree, meta};
use crate::tree::{Entry, EntryKind, validate_name};

/// At most this many paths in one partial restore (a request names folders, not file lists).
pub const MAX_PATHS: usize = 100;

/// At most this many bytes per path, as Linux's `PATH_MAX`.
pub const MAX_PATH_BYTES: usize = 4096;

/// Checked, normalized paths of a partial restore (see the module's invariants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    paths: Vec<Vec<Vec<u8>>>,
}

impl Selection {
    /// Checks absolute `/`-separated paths. `None` when one of them is `/` (the whole tree).
    ///
    /// # Errors
    /// [`EngineError::Invalid`] naming the path: none given, more than [`MAX_PATHS`], not
    /// absolute, longer than [`MAX_PATH_BYTES`], or a component that is `.`, `..`, holds a NUL
    /// or is longer than 255 bytes.
    pub fn parse<S: AsRef<[u8]>>(paths: &[S]) -> Result<Option<Selection>, EngineError> {
        if paths.is_empty() {
            return Err(EngineError::Invalid(
                "no path given: name at least one file or folder, like \"/etc/nginx\"".into(),
            ));
        }
        if paths.len() > MAX_PATHS {
            return Err(EngineError::Invalid(format!(
                "{} paths given; at most {MAX_PATHS} per restore (restore a common folder instead)",
                paths.len()
            )));
        }
        let mut out = Vec::with_capacity(paths.len());
        for p in paths {
            let p = p.as_ref();
            let shown = String::from_utf8_lossy(p);
            if !p.starts_with(b"/") {
                return Err(EngineError::Invalid(format!(
                    "path {shown:?} is not absolute: start it with '/', like \"/etc/nginx\""
                )));
            }
            if p.len() > MAX_PATH_BYTES {
                return Err(EngineError::Invalid(format!(
                    "a path of {} bytes is too long (at most {MAX_PATH_BYTES})",
                    p.len()
                )));
            }
            let parts: Vec<Vec<u8>> = p
                .split(|b| *b == b'/')
                .filter(|c| !c.is_empty())
                .map(<[u8]>::to_vec)
                .collect();
            for c in &parts {
                validate_name(c).map_err(|e| {
                    EngineError::Invalid(format!("path {shown:?} is not valid: {e}"))
                })?;
            }
            if parts.is_empty() {
                return Ok(None);
            }
            out.push(parts);
        }
        out.sort();
        out.dedup();
        // Sorted, a path's descendants follow it directly: keep a path only when it does not
        // start with the last kept one.
        let mut kept: Vec<Vec<Vec<u8>>> = Vec::with_capacity(out.len());
        for p in out {
            if kept.last().is_some_and(|k| p.starts_with(k)) {
                continue;
            }
            kept.push(p);
        }
        Ok(Some(Selection { paths: kept }))
    }

    /// The paths as bytes (`/etc/nginx`), sorted, nested ones dropped: what the journal
    /// keeps, exact where a name is not UTF-8.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        self.paths
            .iter()
            .map(|parts| {
                let mut p = Vec::new();
                for c in parts {
                    p.push(b'/');
                    p.extend_from_slice(c);
                }
                p
            })
            .collect()
    }

    /// The paths as the API shows them (`/etc/nginx`), sorted, nested ones dropped.
    pub fn display(&self) -> Vec<String> {
        self.paths.iter().map(|p| display(p)).collect()
    }

    /// The paths, each as its list of names.
    pub(crate) fn parts(&self) -> &[Vec<Vec<u8>>] {
        &self.paths
    }
}

/// `/a/b` for `[a, b]`.
pub(crate) fn display(parts: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for p in parts {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(p));
    }
    s
}

/// A selected path found in a snapshot: the directory entries above it (root first, the
/// root's own entry excluded) and its own entry.
pub(crate) struct Target {
    pub parts: Vec<Vec<u8>>,
    pub parents: Vec<Entry>,
    pub entry: Entry,
}

impl Target {
    /// The path relative to the root, `/`-separated, as the stat cache keys it.
    pub fn rel(&self) -> Vec<u8> {
        self.parts.join(&b'/')
    }
}

/// Finds every selected path in the snapshot whose top tree is `top`.
///
/// # Errors
/// [`EngineError::NoSuchPath`] naming every path the snapshot lacks (or where a parent is
/// not a directory in the snapshot), in path order.
pub(crate) fn resolve(
    store: &crate::store::ObjectStore,
    top: &ObjectId,
    sel: &Selection,
    container: ContainerId,
    snapshot: &str,
) -> Result<Vec<Target>, EngineError> {
    let root = load_root(store, top)?;
    let mut out = Vec::with_capacity(sel.paths.len());
    // Every path the snapshot lacks is named, not only the first.
    let mut missing = Vec::new();
    'paths: for parts in &sel.paths {
        let mut parents = Vec::new();
        let mut cur = root.clone();
        for (i, name) in parts.iter().enumerate() {
            let EntryKind::Dir { tree } = &cur.kind else {
                missing.push(display(parts));
                continue 'paths;
            };
            let tree = load_tree(store, tree)?;
            let Some(next) = tree.entries.into_iter().find(|e| &e.name == name) else {
                missing.push(display(parts));
                continue 'paths;
            };
            if i > 0 {
                parents.push(cur);
            }
            cur = next;
        }
        out.push(Target {
            parts: parts.clone(),
            parents,
            entry: cur,
        });
    }
    if !missing.is_empty() {
        let path = missing.remove(0);
        return Err(EngineError::NoSuchPath {
            container,
            snapshot: snapshot.to_string(),
            path,
            also: missing,
        });
    }
    Ok(out)
}

fn cname(name: &[u8], path: &Path) -> Result<std::ffi::CString, MaterializeError> {
    std::ffi::CString::new(name).map_err(|e| io_at(path)(std::io::Error::other(e)))
}

/// Opens the live directory that holds `t` for reading, following no symlink. `None` when a
/// parent is missing (everything below it will be created).
///
/// # Errors
/// A parent that exists but is not a directory (a file, or a symlink that could lead outside
/// the root) is [`EngineError::LiveConflict`]; this runs before anything changed.
pub(crate) fn open_live_parent(
    root: &OwnedFd,
    root_path: &Path,
    t: &Target,
) -> Result<Option<OwnedFd>, EngineError> {
    let mut cur = fsops::dup(root.as_fd()).map_err(io_at(root_path))?;
    let mut path = root_path.to_path_buf();
    for (i, name) in t.parts[..t.parts.len() - 1].iter().enumerate() {
        path.push(String::from_utf8_lossy(name).as_ref());
        let c = cname(name, &path)?;
        match fsops::lstat_at(cur.as_fd(), &c) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at(&path)(e).into()),
            Ok(st) if fsops::file_type(&st) != FileType::Directory => {
                return Err(not_a_dir(t, i, fsops::file_type(&st)));
            }
            Ok(_) => cur = fsops::open_dir_at(cur.as_fd(), &c).map_err(io_at(&path))?,
        }
    }
    Ok(Some(cur))
}

fn not_a_dir(t: &Target, at: usize, found: FileType) -> EngineError {
    let what = match found {
        FileType::Symlink => "a symlink",
        FileType::RegularFile => "a file",
        _ => "not a folder",
    };
    EngineError::LiveConflict(format!(
        "{} is {what} in the container but a folder in the snapshot; restore {} itself",
        display(&t.parts[..=at]),
        display(&t.parts[..=at]),
    ))
}

/// Live folders a partial restore made, each open with the snapshot entry it was made from.
pub(crate) type Created = Vec<(OwnedFd, Entry)>;

/// Opens (creating what is missing, with the snapshot's metadata) the live directory that
/// holds `t`. Returns it and the directories it created, outermost first, whose metadata the
/// caller applies again once their content is in place (adding entries moves their mtime).
pub(crate) fn make_live_parent(
    root: &OwnedFd,
    root_path: &Path,
    t: &Target,
) -> Result<(Arc<OwnedFd>, Created), EngineError> {
    let mut cur = fsops::dup(root.as_fd()).map_err(io_at(root_path))?;
    let mut path = root_path.to_path_buf();
    let mut created = Vec::new();
    for (i, (name, entry)) in t.parts[..t.parts.len() - 1]
        .iter()
        .zip(&t.parents)
        .enumerate()
    {
        path.push(String::from_utf8_lossy(name).as_ref());
        let c = cname(name, &path)?;
        match fsops::lstat_at(cur.as_fd(), &c) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                fsops::mkdir_at(cur.as_fd(), &c).map_err(io_at(&path))?;
                let fd = fsops::open_dir_at(cur.as_fd(), &c).map_err(io_at(&path))?;
                fsops::apply_meta_fd(fd.as_fd(), &meta(entry)).map_err(io_at(&path))?;
                created.push((fsops::dup(fd.as_fd()).map_err(io_at(&path))?, entry.clone()));
                cur = fd;
            }
            Err(e) => return Err(io_at(&path)(e).into()),
            Ok(st) if fsops::file_type(&st) != FileType::Directory => {
                return Err(not_a_dir(t, i, fsops::file_type(&st)));
            }
            Ok(_) => cur = fsops::open_dir_at(cur.as_fd(), &c).map_err(io_at(&path))?,
        }
    }
    Ok((Arc::new(cur), created))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(p: &[&str]) -> Vec<String> {
        Selection::parse(p).unwrap().unwrap().display()
    }

    #[test]
    fn nested_and_repeated_paths_collapse_and_sort() {
        assert_eq!(
            sel(&[
                "/srv/app/config.yml",
                "/etc/nginx/",
                "/etc//nginx/sites",
                "/etc/nginx"
            ]),
            vec!["/etc/nginx", "/srv/app/config.yml"]
        );
        // A sibling that merely shares a prefix of bytes is not nested.
        assert_eq!(
            sel(&["/etc/nginx", "/etc/nginx2"]),
            vec!["/etc/nginx", "/etc/nginx2"]
        );
    }

    #[test]
    fn the_root_means_the_whole_tree() {
        assert_eq!(Selection::parse(&["/etc", "/"]).unwrap(), None);
        assert_eq!(Selection::parse(&["//"]).unwrap(), None);
    }

    #[test]
    fn bad_paths_are_refused_with_a_reason() {
        let err = |p: &[&str]| Selection::parse(p).unwrap_err().to_string();
        assert!(err(&[]).contains("no path given"));
        assert!(err(&["etc/nginx"]).contains("not absolute"));
        assert!(err(&["/etc/../root"]).contains("'.' or '..'"));
        assert!(err(&["/etc/./x"]).contains("'.' or '..'"));
        assert!(err(&["/a\0b"]).contains("NUL"));
        assert!(err(&[&format!("/{}", "x".repeat(256))]).contains("255"));
        assert!(err(&[&"/a".repeat(2049)]).contains("too long"));
        let many: Vec<String> = (0..101).map(|i| format!("/f{i}")).collect();
        assert!(
            Selection::parse(&many)
                .unwrap_err()
                .to_string()
                .contains("at most 100")
        );
    }
}
