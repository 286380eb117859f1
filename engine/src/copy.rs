//! `copy`: a new container root from a snapshot (or from another container's live state).

use crate::capture::capture;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::materialize::materialize;
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
        if from == to {
            return Err(EngineError::Invalid(
                "a container cannot be copied onto itself".into(),
            ));
        }
        let snapshot = match &source {
            CopySource::Snapshot(name) => Some(self.get(from, name).await?),
            CopySource::Live => None,
        };
        // Live copies read the source: hold its lock so no restore runs under the reader.
        let _source_guard = match snapshot {
            None => {
                if !self.inner.catalog.root_exists(from).await? {
                    return Err(EngineError::NoSuchRoot(*from));
                }
                Some(self.lock(from).await?)
            }
            Some(_) => None,
        };
        let _guard = self.lock(to).await?;
        if self.inner.catalog.root_exists(to).await? {
            return Err(EngineError::RootExists(*to));
        }
        let _lease = self.lease().await;
        let top = snapshot.as_ref().map(|s| s.top_tree);
        let src_root = self.root_path(from);
        let dst_root = self.root_path(to);
        let dst_root2 = dst_root.clone();
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
                prepare_empty_root(&dst_root)?;
                materialize(&e.inner.store, &top, &dst_root)?;
                Ok(())
            })
            .await
            .map_err(|e| e.classify("copying a container"));
        if let Err(err) = made {
            self.discard_partial_root(&dst_root2).await;
            return Err(err);
        }
        let now = chrono::Utc::now();
        self.inner.catalog.add_root(to, now).await?;
        if let Some(s) = snapshot {
            self.inner.catalog.touch(from, &s.name, now).await?;
        }
        Ok(())
    }
}
