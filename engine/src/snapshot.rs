//! `snapshot`: capture a container's live root into the store and record it.

use chrono::{DateTime, Utc};

use crate::capture::{CaptureStats, capture_with_progress};
use crate::catalog::SnapshotInfo;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::ids::ObjectId;
use crate::progress::Progress;
use crate::statcache::StatCache;

/// Longest alias, in characters (the vendor API's limit).
pub const MAX_ALIAS_CHARS: usize = 100;

/// Options of [`Engine::snapshot`].
#[derive(Clone, Default)]
pub struct SnapshotOptions {
    /// A human name (at most 100 characters, no control characters).
    pub alias: Option<String>,
    /// When the snapshot expires; `None` keeps it until deleted.
    pub expires_at: Option<DateTime<Utc>>,
    /// Expire this long after the snapshot's creation time (used when `expires_at` is
    /// `None`), so that "30 days" means exactly 30 days after `created_at`.
    pub expires_after: Option<chrono::Duration>,
    /// Where to report progress, if anywhere.
    pub progress: Option<std::sync::Arc<dyn Progress>>,
    /// What to do right around the reading of the live tree (freeze and thaw the
    /// container, for a point-in-time capture).
    pub read_hooks: Option<std::sync::Arc<dyn ReadHooks>>,
}

/// Runs `read` (the reading of a live tree) between `hooks`' two calls: `after_read` runs
/// whatever `read` returned; a refused `before_read` skips both.
pub(crate) fn read_bracketed<T>(
    hooks: Option<&dyn ReadHooks>,
    read: impl FnOnce() -> Result<T, EngineError>,
) -> Result<T, EngineError> {
    if let Some(h) = hooks {
        h.before_read().map_err(EngineError::Hook)?;
    }
    let out = read();
    if let Some(h) = hooks {
        h.after_read();
    }
    out
}

/// Called on the engine's worker thread right around the reading of the live tree, with
/// every lock and the GC lease already held: a caller that freezes the container there
/// keeps it frozen for the walk and the reading of changed files only, not for waiting on
/// locks, syncing packs or writing the row.
pub trait ReadHooks: Send + Sync {
    /// Right before the first file is read. An error aborts the snapshot
    /// ([`EngineError::Hook`]) and `after_read` is not called.
    fn before_read(&self) -> Result<(), String>;
    /// Right after the last file was read, whether the reading succeeded or not.
    fn after_read(&self);
}

impl std::fmt::Debug for SnapshotOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnapshotOptions")
            .field("alias", &self.alias)
            .field("expires_at", &self.expires_at)
            .field("expires_after", &self.expires_after)
            .field("progress", &self.progress.is_some())
            .field("read_hooks", &self.read_hooks.is_some())
            .finish()
    }
}

/// Checks an alias: at most [`MAX_ALIAS_CHARS`] characters, none of them control characters,
/// not empty.
pub fn validate_alias(alias: &str) -> Result<(), EngineError> {
    if alias.is_empty() {
        return Err(EngineError::Invalid(
            "the alias is empty; omit it or give a name".into(),
        ));
    }
    let n = alias.chars().count();
    if n > MAX_ALIAS_CHARS {
        return Err(EngineError::Invalid(format!(
            "the alias has {n} characters; at most {MAX_ALIAS_CHARS} are allowed"
        )));
    }
    if alias.chars().any(char::is_control) {
        return Err(EngineError::Invalid(
            "the alias contains a control character (newline, tab, ...)".into(),
        ));
    }
    Ok(())
}

impl Engine {
    /// Captures the container's live root into the store, reading only what the stat cache
    /// cannot vouch for, and saves the new cache. Returns the top tree, what was seen and the
    /// bytes of packs written. Blocking; the caller holds the container lock and the GC lease
    /// (the capture may reuse objects already stored).
    pub(crate) fn capture_live(
        &self,
        c: &ContainerId,
        progress: Option<&dyn Progress>,
        hooks: Option<&dyn ReadHooks>,
    ) -> Result<(ObjectId, CaptureStats, u64), EngineError> {
        let cache_path = self.stat_cache_path(c);
        let old = StatCache::load(&cache_path);
        let w = self.inner.store.writer();
        // The live tree is read between the hooks' two calls, whatever the outcome.
        let (top, stats, new) = read_bracketed(hooks, || {
            fail::fail_point!("snapshot::while_reading", |_| Err(EngineError::Injected(
                "snapshot::while_reading".into()
            )));
            Ok(capture_with_progress(
                &self.root_path(c),
                &w,
                &old,
                progress,
            )?)
        })?;
        let written = w.finish()?;
        // Best effort: a cache that cannot be saved only costs a full read next time.
        if new.save(&cache_path).is_err() {
            let _ = std::fs::remove_file(&cache_path);
        }
        Ok((top, stats, written))
    }

    /// Takes a snapshot of the container's live root. The row is written only after every
    /// object it needs is durable, so a crash leaves either no snapshot or a complete one.
    pub async fn snapshot(
        &self,
        c: &ContainerId,
        opts: SnapshotOptions,
    ) -> Result<SnapshotInfo, EngineError> {
        if let Some(a) = &opts.alias {
            validate_alias(a)?;
        }
        let _guard = self.lock(c).await?;
        if !self.inner.catalog.root_exists(c).await? {
            return Err(EngineError::NoSuchRoot(*c));
        }
        // Held until the row is committed: the objects this snapshot found already present
        // must outlive any concurrent GC.
        let lease = self.lease().await?;
        let (c2, progress, hooks) = (*c, opts.progress.clone(), opts.read_hooks.clone());
        let (top, stats, written) = self
            .blocking(move |e| {
                fail::fail_point!("snapshot::before_capture", |_| Err(EngineError::Injected(
                    "snapshot::before_capture".into()
                )));
                let captured = e.capture_live(&c2, progress.as_deref(), hooks.as_deref())?;
                fail::fail_point!("snapshot::after_packs", |_| Err(EngineError::Injected(
                    "snapshot::after_packs".into()
                )));
                Ok(captured)
            })
            .await
            .map_err(|e| e.classify("taking a snapshot"))?;
        fail::fail_point!("snapshot::before_row", |_| Err(EngineError::Injected(
            "snapshot::before_row".into()
        )));
        let created_at = Utc::now();
        let info = SnapshotInfo {
            container: *c,
            name: self.inner.catalog.free_name(c, created_at).await?,
            alias: opts.alias,
            created_at,
            expires_at: opts
                .expires_at
                .or(opts.expires_after.map(|d| created_at + d)),
            last_used_at: None,
            top_tree: top,
            size: stats.logical_bytes,
            file_count: stats.files,
            added_bytes: written,
        };
        self.inner.catalog.insert(&info, lease.op_id()).await?;
        Ok(info)
    }
}
