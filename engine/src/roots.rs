//! Creating and deleting container roots.

use std::path::{Path, PathBuf};

use crate::capture::capture;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::fsops;
use crate::ids::ContainerId;
use crate::materialize::materialize;

/// What a new root starts from.
pub enum RootSource {
    /// An empty directory (mode 0755, owned by root).
    Empty,
    /// A copy of a host directory (an unpacked image). It is read through descriptors and
    /// never followed outside itself.
    Directory(PathBuf),
    /// A tar stream of a root filesystem (the output of `docker export`), unpacked safely
    /// (see [`crate::unpack`]).
    Tar(Box<dyn std::io::Read + Send>),
}

impl std::fmt::Debug for RootSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RootSource::Empty => f.write_str("Empty"),
            RootSource::Directory(p) => write!(f, "Directory({})", p.display()),
            RootSource::Tar(_) => f.write_str("Tar(..)"),
        }
    }
}

impl Engine {
    /// Creates the container's root filesystem.
    pub async fn create_root(
        &self,
        c: &ContainerId,
        source: RootSource,
    ) -> Result<(), EngineError> {
        let _guard = self.lock(c).await?;
        if self.inner.catalog.root_exists(c).await? {
            return Err(EngineError::RootExists(*c));
        }
        let root = self.root_path(c);
        let _lease = self.lease().await?;
        let root2 = root.clone();
        let made = self
            .blocking(move |e| {
                prepare_empty_root(&root)?;
                match source {
                    RootSource::Empty => {}
                    RootSource::Directory(dir) => {
                        // Images go through the store: the image's objects are shared with
                        // every snapshot of every container made from it.
                        let w = e.inner.store.writer();
                        let (top, _) = capture(&dir, &w)?;
                        w.finish()?;
                        materialize(&e.inner.store, &top, &root)?;
                    }
                    RootSource::Tar(reader) => {
                        crate::unpack::unpack_tar(reader, &root)?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(|e| e.classify("creating the container's root filesystem"));
        if let Err(err) = made {
            self.discard_partial_root(&root2).await;
            return Err(err);
        }
        self.inner.catalog.add_root(c, chrono::Utc::now()).await
    }

    /// Removes the directory of a root whose creation failed: nothing half-made stays
    /// behind. Best effort: a leftover is also cleared by the next creation.
    pub(crate) async fn discard_partial_root(&self, root: &Path) {
        let dir = root.parent().map(Path::to_path_buf);
        let _ = self
            .blocking(move |_| {
                if let Some(dir) = dir {
                    remove_tree(&dir)?;
                }
                Ok(())
            })
            .await;
    }

    /// Deletes the container's live root filesystem. Its snapshots stay.
    pub async fn delete_root(&self, c: &ContainerId) -> Result<(), EngineError> {
        let _guard = self.lock(c).await?;
        if !self.inner.catalog.root_exists(c).await? {
            return Err(EngineError::NoSuchRoot(*c));
        }
        // Mark first: a crash halfway leaves a deleted container with leftover files (swept
        // again on the next delete), never a live container with half its files.
        self.inner
            .catalog
            .mark_root_deleted(c, chrono::Utc::now())
            .await?;
        // An unfinished restore has nothing left to finish.
        self.inner.catalog.journal_end(c).await?;
        let dir = self.root_path(c).parent().map(Path::to_path_buf);
        self.blocking(move |_| {
            if let Some(dir) = dir {
                remove_tree(&dir)?;
            }
            Ok(())
        })
        .await
    }
}

/// Creates `root` (and its parent, mode 0700) empty; an existing leftover is removed first.
pub(crate) fn prepare_empty_root(root: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::DirBuilderExt;
    if let Some(parent) = root.parent() {
        if parent.exists() {
            remove_tree(parent)?;
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(parent)
            .map_err(EngineError::io(format!(
                "cannot create {}",
                parent.display()
            )))?;
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(root)
        .map_err(EngineError::io(format!("cannot create {}", root.display())))
}

/// [`fsops::remove_tree`] with the engine's error.
fn remove_tree(path: &Path) -> Result<(), EngineError> {
    fsops::remove_tree(path).map_err(EngineError::io(format!("cannot remove {}", path.display())))
}

/// Creates an empty staging directory (mode 0700), removing any leftover of an earlier run.
pub(crate) fn prepare_staging(path: &Path) -> Result<(), EngineError> {
    use std::os::unix::fs::DirBuilderExt;
    if path.exists() {
        remove_tree(path)?;
    }
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(path)
        .map_err(EngineError::io(format!("cannot create {}", path.display())))
}
