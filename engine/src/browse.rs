//! Browsing a snapshot: list a directory, read one file (streamed, hash-checked).

use std::io::Read;

use chrono::{DateTime, Utc};

use crate::diff::type_name;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::materialize::{load_root, load_tree};
use crate::pack::ObjectKind;
use crate::tree::{Entry, EntryKind, Extent, validate_name};

/// One entry of a snapshot directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The name (non-UTF-8 bytes shown replaced, so two names can look alike here).
    pub name: String,
    /// The name's bytes, exactly: what tells such names apart.
    pub name_bytes: Vec<u8>,
    /// `file`, `dir`, `symlink`, `char-device`, `block-device` or `fifo`.
    pub entry_type: &'static str,
    /// Logical size of a file; 0 for the rest.
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time.
    pub mtime: DateTime<Utc>,
    /// A symlink's target.
    pub link_target: Option<String>,
}

fn info(e: &Entry) -> EntryInfo {
    EntryInfo {
        name: String::from_utf8_lossy(&e.name).into_owned(),
        name_bytes: e.name.clone(),
        entry_type: type_name(&e.kind),
        size: match &e.kind {
            EntryKind::File { size, .. } => *size,
            _ => 0,
        },
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        mtime: DateTime::from_timestamp(e.mtime_sec, e.mtime_nsec).unwrap_or_default(),
        link_target: match &e.kind {
            EntryKind::Symlink { target } => Some(String::from_utf8_lossy(target).into_owned()),
            _ => None,
        },
    }
}

/// Streams a file out of the store: chunk by chunk (each hash-checked), holes as zeros.
/// Memory: one chunk at a time.
pub struct FileReader {
    engine: Engine,
    extents: std::vec::IntoIter<Extent>,
    buf: Vec<u8>,
    pos: usize,
    hole_left: u64,
    /// The file's logical size.
    pub size: u64,
}

impl FileReader {
    /// The file's logical size (holes included).
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Read for FileReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos < self.buf.len() {
                let n = (self.buf.len() - self.pos).min(out.len());
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if self.hole_left > 0 {
                let n = (self.hole_left.min(out.len() as u64)) as usize;
                out[..n].fill(0);
                self.hole_left -= n as u64;
                return Ok(n);
            }
            match self.extents.next() {
                None => return Ok(0),
                Some(Extent::Hole { len }) => self.hole_left = len,
                Some(Extent::Data { id, .. }) => {
                    self.buf = self
                        .engine
                        .inner
                        .store
                        .read(&id, ObjectKind::Chunk)
                        .map_err(std::io::Error::other)?;
                    self.pos = 0;
                }
            }
        }
    }
}

impl Engine {
    /// Resolves `path` (`/`-separated bytes, relative to the root; `""` or `"/"` is the
    /// root; names need not be UTF-8) inside a snapshot without following symlinks.
    async fn lookup(
        &self,
        c: &ContainerId,
        snapshot: &str,
        path: &[u8],
    ) -> Result<Entry, EngineError> {
        let s = self.get(c, snapshot).await?;
        let path = path.to_vec();
        let c = *c;
        self.blocking(move |e| {
            let shown = String::from_utf8_lossy(&path).into_owned();
            let mut entry = load_root(&e.inner.store, &s.top_tree)?;
            let mut walked = String::new();
            for part in path.split(|b| *b == b'/').filter(|p| !p.is_empty()) {
                validate_name(part).map_err(|err| {
                    EngineError::Invalid(format!("invalid path {shown:?}: {err}"))
                })?;
                let EntryKind::Dir { tree } = &entry.kind else {
                    return Err(EngineError::Invalid(format!(
                        "{walked:?} in snapshot {} is not a directory",
                        s.name
                    )));
                };
                let tree = load_tree(&e.inner.store, tree)?;
                entry = tree
                    .entries
                    .into_iter()
                    .find(|x| x.name == part)
                    .ok_or_else(|| EngineError::NoSuchPath {
                        container: c,
                        snapshot: s.name.clone(),
                        path: shown.clone(),
                        also: Vec::new(),
                    })?;
                walked.push('/');
                walked.push_str(&String::from_utf8_lossy(part));
            }
            Ok(entry)
        })
        .await
    }

    /// The entries of a directory in a snapshot, sorted by name.
    pub async fn list_dir(
        &self,
        c: &ContainerId,
        snapshot: &str,
        path: impl AsRef<[u8]>,
    ) -> Result<Vec<EntryInfo>, EngineError> {
        let path = path.as_ref();
        let dir = self.lookup(c, snapshot, path).await?;
        let EntryKind::Dir { tree } = dir.kind else {
            return Err(EngineError::Invalid(format!(
                "{:?} is not a directory",
                String::from_utf8_lossy(path)
            )));
        };
        self.blocking(move |e| {
            Ok(load_tree(&e.inner.store, &tree)?
                .entries
                .iter()
                .map(info)
                .collect())
        })
        .await
    }

    /// A reader over one regular file of a snapshot.
    pub async fn read_file(
        &self,
        c: &ContainerId,
        snapshot: &str,
        path: impl AsRef<[u8]>,
    ) -> Result<FileReader, EngineError> {
        let path = path.as_ref();
        let f = self.lookup(c, snapshot, path).await?;
        let EntryKind::File { size, extents } = f.kind else {
            return Err(EngineError::Invalid(format!(
                "{:?} is not a regular file",
                String::from_utf8_lossy(path)
            )));
        };
        Ok(FileReader {
            engine: self.clone(),
            extents: extents.into_iter(),
            buf: Vec::new(),
            pos: 0,
            hole_left: 0,
            size,
        })
    }
}
