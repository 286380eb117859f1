//! `copy`: a new container root from a snapshot (or from another container's live state).

use crate::capture::capture;
use crate::catalog::SnapshotInfo;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::materialize::materialize_many;
use crate::roots::prepare_empty_root;

/// What [`Engine::copy`] copies.
#[derive(Debug, Clone)]
pub enum CopySource {
    /// A snapshot (by name, or by an unambiguous alias) of the source container. Works after
    /// the source container was deleted.
    Snapshot(String),
    /// The source container's live root as it is now.
    Live,
}

impl Engine {
    /// Records snapshot `name` (or unambiguous alias) of `from` as the one snapshot of a new
    /// root `to` that has no live files: how an image is published from a snapshot. The new
    /// snapshot points at the same top tree, so nothing is read or written in the store; GC
    /// keeps the objects for as long as either snapshot exists.
    ///
    /// # Errors
    /// [`EngineError::NoSuchSnapshot`], [`EngineError::RootExists`] when `to` was ever used,
    /// [`EngineError::Invalid`] when `to` is `from`.
    pub async fn publish(
        &self,
        from: &ContainerId,
        name: &str,
        to: &ContainerId,
        alias: Option<String>,
    ) -> Result<SnapshotInfo, EngineError> {
        if from == to {
            return Err(EngineError::Invalid(
                "a snapshot cannot be published into its own container".into(),
            ));
        }
        let _guard = self.lock(to).await?;
        // The lease is taken before the source row is read: from then until the new row is
        // committed, no collection can sweep what the source reaches, even if the source is
        // deleted meanwhile (with a shared store, a condemnation after this point waits for
        // this operation).
        let lease = self.lease().await?;
        let src = self.get(from, name).await?;
        let now = chrono::Utc::now();
        let info = SnapshotInfo {
            container: *to,
            name: self.inner.catalog.free_name(to, now).await?,
            alias,
            created_at: now,
            expires_at: None,
            last_used_at: None,
            top_tree: src.top_tree,
            size: src.size,
            file_count: src.file_count,
            added_bytes: 0,
        };
        self.inner
            .catalog
            .insert_published(&info, now, lease.op_id())
            .await?;
        Ok(info)
    }

    /// Creates `to`'s root as a copy of `source` of container `from`.
    pub async fn copy(
        &self,
        from: &ContainerId,
        source: CopySource,
        to: &ContainerId,
    ) -> Result<(), EngineError> {
        self.copy_with_hooks(from, source, to, None).await
    }

    /// [`Engine::copy`], with `hooks` called around the reading of the live tree when
    /// `source` is [`CopySource::Live`] (a caller freezes the container there: frozen for
    /// the reading only, not for writing the new root).
    pub async fn copy_with_hooks(
        &self,
        from: &ContainerId,
        source: CopySource,
        to: &ContainerId,
        hooks: Option<std::sync::Arc<dyn crate::snapshot::ReadHooks>>,
    ) -> Result<(), EngineError> {
        self.copy_many(from, source, std::slice::from_ref(to), hooks)
            .await
    }

    /// Creates the roots of every container in `to` as copies of `source` of `from`, all
    /// from one read: the snapshot's trees and chunks (or the live tree, captured once) are
    /// read once and written into every new root (a fork into N containers, as E2B's
    /// `fork` and Morph's `branch`). All or nothing: on an error no new root remains.
    ///
    /// # Errors
    /// [`EngineError::Invalid`] when `to` is empty, repeats an id or holds `from`;
    /// [`EngineError::RootExists`] when one of `to` already has a root.
    pub async fn copy_many(
        &self,
        from: &ContainerId,
        source: CopySource,
        to: &[ContainerId],
        hooks: Option<std::sync::Arc<dyn crate::snapshot::ReadHooks>>,
    ) -> Result<(), EngineError> {
        let mut sorted = to.to_vec();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != to.len() || to.is_empty() {
            return Err(EngineError::Invalid(
                "copy targets must be distinct, and at least one".into(),
            ));
        }
        if to.contains(from) {
            return Err(EngineError::Invalid(
                "a container cannot be copied onto itself".into(),
            ));
        }
        // The snapshot must exist before anything is locked (its error comes first), and is
        // read again under the lease below, which keeps what it reaches.
        if let CopySource::Snapshot(name) = &source {
            self.get(from, name).await?;
        }
        // Live copies read the source: hold its lock so no restore runs under the reader.
        let _source_guard = match &source {
            CopySource::Live => {
                if !self.inner.catalog.root_exists(from).await? {
                    return Err(EngineError::NoSuchRoot(*from));
                }
                Some(self.lock(from).await?)
            }
            CopySource::Snapshot(_) => None,
        };
        // Locked in id order, so two forks that share targets cannot deadlock.
        let mut guards = Vec::with_capacity(sorted.len());
        for t in &sorted {
            guards.push(self.lock(t).await?);
            if self.inner.catalog.root_exists(t).await? {
                return Err(EngineError::RootExists(*t));
            }
        }
        let _lease = self.lease().await?;
        let snapshot = match &source {
            CopySource::Snapshot(name) => Some(self.get(from, name).await?),
            CopySource::Live => None,
        };
        let top = snapshot.as_ref().map(|s| s.top_tree);
        let src_root = self.root_path(from);
        let dst_roots: Vec<std::path::PathBuf> = to.iter().map(|t| self.root_path(t)).collect();
        let dst_roots2 = dst_roots.clone();
        let made = self
            .blocking(move |e| {
                let top = match top {
                    Some(t) => t,
                    None => {
                        let w = e.inner.store.writer();
                        let (t, _) = crate::snapshot::read_bracketed(hooks.as_deref(), || {
                            Ok(capture(&src_root, &w)?)
                        })?;
                        w.finish()?;
                        t
                    }
                };
                for d in &dst_roots {
                    prepare_empty_root(d)?;
                }
                let targets: Vec<&std::path::Path> =
                    dst_roots.iter().map(|p| p.as_path()).collect();
                materialize_many(&e.inner.store, &top, &targets)?;
                Ok(())
            })
            .await
            .map_err(|e| e.classify("copying a container"));
        if let Err(err) = made {
            for d in &dst_roots2 {
                self.discard_partial_root(d).await;
            }
            return Err(err);
        }
        let now = chrono::Utc::now();
        for t in to {
            self.inner.catalog.add_root(t, now).await?;
        }
        if let Some(s) = snapshot {
            self.inner.catalog.touch(from, &s.name, now).await?;
        }
        Ok(())
    }
}
