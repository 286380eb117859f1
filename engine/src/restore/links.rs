//! Hard links across the edge of a partial restore.
//!
//! A selected file may share its inode, in the snapshot, with names outside the selection
//! (`/fid/hl2` with `/fid/hl1`). Restoring the file alone must give it back that link, or
//! the restore never settles: the diff goes on reporting the link, and the confirmation goes
//! on promising it. It may not change anything outside the selection, though. So the file is
//! linked to an outside name only when that name's live inode is still exactly the
//! snapshot's file (content, owner, mode, mtime, xattrs and flags): linking then changes
//! nothing there but the link count, which becomes the snapshot's. When no outside name is
//! intact, the selected names of the group are restored as one inode of their own, and the
//! outside names are left as they are.

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

use super::stage::same_content;
use super::stat_meta_matches;
use crate::error::EngineError;
use crate::fsops::{self, FileType};
use crate::ids::ObjectId;
use crate::materialize::load_tree;
use crate::selection::Target;
use crate::store::ObjectStore;
use crate::tree::{Entry, EntryKind};

/// Link groups a partial restore joins to a live name outside its paths: group → the name's
/// directory (open), the name, and its inode. The restore's applier starts from this map, so
/// the first selected name of a group is linked to that inode like any later name.
pub(super) type Links = HashMap<u64, (Arc<OwnedFd>, CString, u64)>;

/// The intact live names outside the selection of each link group that `targets` hold.
/// Reads only; a name that cannot be read, or that changed, is passed over.
pub(super) fn outside(
    store: &ObjectStore,
    root_tree: &ObjectId,
    targets: &[Target],
    live: &OwnedFd,
) -> Result<Links, EngineError> {
    let mut groups = HashSet::new();
    for t in targets {
        groups_in(store, &t.entry, &mut groups)?;
    }
    let mut out = Links::new();
    if groups.is_empty() {
        return Ok(out);
    }
    let selected: HashSet<&[Vec<u8>]> = targets.iter().map(|t| t.parts.as_slice()).collect();
    let mut members = Vec::new();
    members_outside(
        store,
        root_tree,
        &mut Vec::new(),
        &selected,
        &groups,
        &mut members,
    )?;
    for (parts, e) in members {
        if out.contains_key(&e.link_group) {
            continue;
        }
        if let Some(found) = intact(live, &parts, &e) {
            out.insert(e.link_group, found);
        }
    }
    Ok(out)
}

/// The link groups of the files at and below `e`.
fn groups_in(store: &ObjectStore, e: &Entry, out: &mut HashSet<u64>) -> Result<(), EngineError> {
    match &e.kind {
        EntryKind::File { .. } if e.link_group != 0 => {
            out.insert(e.link_group);
        }
        EntryKind::Dir { tree } => {
            for child in &load_tree(store, tree)?.entries {
                groups_in(store, child, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every file of `groups` in the tree `tree` (at `parts`), skipping the selected paths.
fn members_outside(
    store: &ObjectStore,
    tree: &ObjectId,
    parts: &mut Vec<Vec<u8>>,
    selected: &HashSet<&[Vec<u8>]>,
    groups: &HashSet<u64>,
    out: &mut Vec<(Vec<Vec<u8>>, Entry)>,
) -> Result<(), EngineError> {
    for e in load_tree(store, tree)?.entries {
        parts.push(e.name.clone());
        if !selected.contains(parts.as_slice()) {
            match &e.kind {
                EntryKind::File { .. } if groups.contains(&e.link_group) => {
                    out.push((parts.clone(), e));
                }
                EntryKind::Dir { tree } => {
                    members_outside(store, tree, parts, selected, groups, out)?;
                }
                _ => {}
            }
        }
        parts.pop();
    }
    Ok(())
}

/// The live name at `parts` with its directory and inode, if it is still exactly the
/// snapshot's file `e`. Opens each directory without following a symlink.
fn intact(live: &OwnedFd, parts: &[Vec<u8>], e: &Entry) -> Option<(Arc<OwnedFd>, CString, u64)> {
    let EntryKind::File { size, extents } = &e.kind else {
        return None;
    };
    let mut dir = fsops::dup(live.as_fd()).ok()?;
    for name in &parts[..parts.len() - 1] {
        let c = CString::new(name.clone()).ok()?;
        let st = fsops::lstat_at(dir.as_fd(), &c).ok()?;
        if fsops::file_type(&st) != FileType::Directory {
            return None;
        }
        dir = fsops::open_dir_at(dir.as_fd(), &c).ok()?;
    }
    let name = CString::new(parts.last()?.clone()).ok()?;
    let st = fsops::lstat_at(dir.as_fd(), &name).ok()?;
    if fsops::file_type(&st) != FileType::RegularFile
        || st.st_size as u64 != *size
        || !stat_meta_matches(&st, e)
    {
        return None;
    }
    let f = fsops::open_file_at(dir.as_fd(), &name).ok()?;
    if fsops::xattrs_fd(f.as_fd()).ok()? != e.xattrs
        || fsops::inode_flags(f.as_fd()).ok()? != e.flags
    {
        return None;
    }
    same_content(&dir, &name, extents).then(|| (Arc::new(dir), name, st.st_ino))
}
