//! The engine's front type. Its methods are thin: each command lives in its own module.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::DbPool;
use tokio::sync::{OwnedMutexGuard, OwnedRwLockReadGuard, RwLock};

use crate::catalog::{Catalog, SnapshotInfo};
use crate::error::EngineError;
use crate::ids::{ContainerId, ObjectId};
use crate::s3::{S3Options, S3PackStorage};
use crate::storage::{LocalPackStorage, PackStorage};
use crate::store::ObjectStore;

/// How long a condemned pack of a shared store waits before a collection may delete it:
/// longer than any clock skew between nodes and any pause short of a lapsed lease.
pub const DEFAULT_GC_MIN_AGE: Duration = Duration::from_secs(300);

/// How long a second operation on the same container waits for the first before it is
/// refused as busy.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Runs the engine's migrations on `db`, the set of its dialect (`migrations/sqlite` or
/// `migrations/postgres`, which starts from the SQLite set's final schema). They share the
/// database with the server's own migrations, so each side ignores the other's applied
/// versions.
pub async fn migrate(db: &DbPool) -> Result<(), sqlx::migrate::MigrateError> {
    let mut m = match crate::Dialect::of(db) {
        crate::Dialect::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        crate::Dialect::Postgres => sqlx::migrate!("./migrations/postgres"),
    };
    m.set_ignore_missing(true);
    m.run(db).await
}

pub(crate) struct Inner {
    /// Exclusive `flock` on the store directory, held for the engine's lifetime: a second
    /// engine (or process) on the same data directory would work from a stale index.
    _dir_lock: std::os::fd::OwnedFd,
    pub(crate) data_dir: PathBuf,
    pub(crate) catalog: Catalog,
    pub(crate) store: ObjectStore,
    /// The S3 storage, when packs are remote (for its figures).
    pub(crate) remote: Option<Arc<S3PackStorage>>,
    locks: Mutex<HashMap<ContainerId, Arc<tokio::sync::Mutex<()>>>>,
    /// Held shared by every operation that may rely on objects already in the store (it
    /// found them present and did not write them); held exclusively by GC's sweep. So GC can
    /// never delete an object that a running snapshot decided to reuse.
    pub(crate) gc_lease: Arc<RwLock<()>>,
    /// Trees GC marks as live besides the catalog's, with how many readers hold each: a
    /// long reader (an export to a slow client) pins its snapshot's top tree instead of
    /// holding the GC lease for hours, which would stall GC and, behind a waiting GC, every
    /// new snapshot. A pin is taken under the shared lease, so GC (exclusive) sees it.
    pub(crate) pins: Mutex<HashMap<ObjectId, usize>>,
    pub(crate) lock_wait: Duration,
    /// This engine instance's id in `store_ops` (a shared store's registered operations).
    pub(crate) owner: String,
    /// How long a registered operation's lease lasts without renewal.
    pub(crate) lease_len: Duration,
    /// How long a condemned pack waits before a collection may delete it (shared store).
    pub(crate) gc_min_age: Duration,
    /// When this engine last swept the bucket for orphan objects (S3 store; `None`: not
    /// yet, so the first collection does).
    pub(crate) last_orphan_sweep: Mutex<Option<std::time::Instant>>,
}

/// An operation's hold on the store: until it is dropped, no collection (this node's, or
/// with a shared store any node's, through the registered operation) deletes what the
/// operation relies on.
pub(crate) struct Lease {
    _local: OwnedRwLockReadGuard<()>,
    op: Option<crate::ops::OpRow>,
}

impl Lease {
    /// The registered operation's id (a shared store only): a commit must still find it.
    pub(crate) fn op_id(&self) -> Option<&str> {
        self.op.as_ref().map(|o| o.id.as_str())
    }
}

/// Keeps a tree (and all it reaches) live for GC until dropped; see [`Engine::pin`].
pub(crate) struct TreePin {
    engine: Engine,
    top: ObjectId,
    /// A shared store's registered operation, now pinning `top` in the database, kept
    /// (and renewed) while the pin lives: other nodes' GC cannot see this process's pins.
    _op: Option<crate::ops::OpRow>,
}

impl Drop for TreePin {
    fn drop(&mut self) {
        let mut pins = self
            .engine
            .inner
            .pins
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = pins.get_mut(&self.top) {
            *n -= 1;
            if *n == 0 {
                pins.remove(&self.top);
            }
        }
    }
}

/// Where an engine keeps its packs.
#[derive(Debug, Clone, Default)]
pub enum StoreConfig {
    /// `<data-dir>/store/packs`: the default, one node.
    #[default]
    Local,
    /// An S3 bucket shared by the nodes of a cluster, with a cache in `<data-dir>/cache`.
    S3(S3Options),
}

/// The snapshot engine over one data directory and one metadata database.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

/// Whether lease renewal is off: a test's way of standing for a paused node (fail point
/// `ops::renew`).
fn renewal_paused() -> bool {
    fail::fail_point!("ops::renew", |_| true);
    false
}

/// Takes the exclusive lock of a store directory, or explains who holds it.
fn lock_data_dir(store: &Path) -> Result<std::os::fd::OwnedFd, EngineError> {
    let fd = crate::fsops::open_root(store)
        .map_err(EngineError::io(format!("cannot open {}", store.display())))?;
    match rustix::fs::flock(&fd, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(fd),
        Err(e) if e == rustix::io::Errno::WOULDBLOCK => Err(EngineError::Invalid(format!(
            "the data directory {} is in use by another Snapline process; stop it or choose another data directory",
            store.parent().unwrap_or(store).display()
        ))),
        Err(e) => Err(EngineError::io(format!("cannot lock {}", store.display()))(
            std::io::Error::from_raw_os_error(e.raw_os_error()),
        )),
    }
}

impl Engine {
    /// Opens the engine: creates `containers/` and `store/` under `data_dir` (mode 0700:
    /// container roots hold setuid files and device nodes that host users must not reach),
    /// migrates the database and reads the store's index.
    pub async fn open(data_dir: &Path, db: DbPool) -> Result<Engine, EngineError> {
        Self::open_with(data_dir, db, &StoreConfig::Local).await
    }

    /// [`Engine::open`] with the packs where `store` says. A database keeps one store: it
    /// refuses a local store once it has used S3, and S3 once it has local snapshots.
    pub async fn open_with(
        data_dir: &Path,
        db: DbPool,
        store: &StoreConfig,
    ) -> Result<Engine, EngineError> {
        use std::os::unix::fs::DirBuilderExt;
        for sub in ["containers", "store"] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(data_dir.join(sub))
                .map_err(EngineError::io(format!(
                    "cannot create {}",
                    data_dir.join(sub).display()
                )))?;
        }
        let dir_lock = lock_data_dir(&data_dir.join("store"))?;
        migrate(&db)
            .await
            .map_err(|e| EngineError::Db(sqlx::Error::Migrate(Box::new(e))))?;
        let store_dir = data_dir.join("store");
        let remote = match store {
            StoreConfig::Local => {
                let remote: Option<String> =
                    sqlx::query_scalar("SELECT store_url FROM store_identity WHERE singleton = 1")
                        .fetch_optional(&db)
                        .await?;
                if let Some(url) = remote {
                    return Err(EngineError::Invalid(format!(
                        "this database keeps its packs in {url}: start with --store {url}"
                    )));
                }
                None
            }
            StoreConfig::S3(opts) => {
                Some(Arc::new(S3PackStorage::connect(opts, db.clone()).await?))
            }
        };
        let shared = remote.is_some();
        let storage: Option<Arc<dyn PackStorage>> =
            remote.clone().map(|r| r as Arc<dyn PackStorage>);
        let store = tokio::task::spawn_blocking(move || -> Result<ObjectStore, EngineError> {
            let storage = match storage {
                Some(s) => s,
                None => Arc::new(LocalPackStorage::open(&store_dir).map_err(EngineError::io(
                    format!("cannot open the store in {}", store_dir.display()),
                ))?),
            };
            let store = ObjectStore::open(storage)?;
            Ok(if shared { store.shared() } else { store })
        })
        .await
        .map_err(|e| EngineError::Invalid(format!("opening the store panicked: {e}")))??;
        let engine = Engine {
            inner: Arc::new(Inner {
                _dir_lock: dir_lock,
                data_dir: data_dir.to_path_buf(),
                catalog: Catalog::new(db),
                store,
                remote,
                locks: Mutex::new(HashMap::new()),
                gc_lease: Arc::new(RwLock::new(())),
                pins: Mutex::new(HashMap::new()),
                lock_wait: DEFAULT_LOCK_WAIT,
                owner: crate::ops::random_id()?,
                lease_len: crate::ops::DEFAULT_LEASE,
                gc_min_age: DEFAULT_GC_MIN_AGE,
                last_orphan_sweep: Mutex::new(None),
            }),
        };
        if shared {
            engine.spawn_lease_renewal();
        }
        engine.sweep_orphans().await?;
        Ok(engine)
    }

    /// Removes container directories that no live root owns: a creation or copy that a
    /// crash interrupted (its row was never written), or a deletion that a crash cut short
    /// (its row says deleted). Runs at open, under the data-directory lock, before any
    /// operation can start. Returns the ids removed.
    async fn sweep_orphans(&self) -> Result<Vec<ContainerId>, EngineError> {
        let dir = self.inner.data_dir.join("containers");
        let entries = std::fs::read_dir(&dir)
            .map_err(EngineError::io(format!("cannot list {}", dir.display())))?;
        let mut removed = Vec::new();
        for e in entries.flatten() {
            let Some(id) = e
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<ContainerId>().ok())
            else {
                continue; // Not ours: leave it alone.
            };
            if self.inner.catalog.root_exists(&id).await? {
                continue;
            }
            let path = e.path();
            self.blocking(move |_| {
                crate::fsops::remove_tree(&path)
                    .map_err(EngineError::io(format!("cannot remove {}", path.display())))
            })
            .await?;
            removed.push(id);
        }
        Ok(removed)
    }

    /// The S3 storage's request figures, when the packs are in S3.
    pub fn s3_stats(&self) -> Option<crate::s3::S3Stats> {
        self.inner.remote.as_ref().map(|r| r.stats())
    }

    /// S3 store: sets how long after its upload began a pack may still be recorded
    /// ([`crate::s3::DEFAULT_RECORD_WITHIN`] unless set); the orphan sweep's grace is this
    /// plus GC's minimum age. Tests shorten it. No effect on a local store.
    pub fn set_record_within(&self, window: Duration) {
        if let Some(remote) = &self.inner.remote {
            remote.set_record_within(window);
        }
    }

    /// The S3 store's URL, when the packs are in S3.
    pub fn remote_store(&self) -> Option<&str> {
        self.inner.remote.as_ref().map(|r| r.url())
    }

    /// Renews this engine's registered operations every third of their lease, for as long
    /// as the engine lives (a shared store only).
    fn spawn_lease_renewal(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(every) = weak.upgrade().map(|i| i.lease_len / 3) {
                tokio::time::sleep(every.max(Duration::from_millis(50))).await;
                let Some(inner) = weak.upgrade() else { break };
                // A test stands for a paused node by turning renewal off.
                if renewal_paused() {
                    continue;
                }
                if let Err(e) =
                    crate::ops::renew(inner.catalog.db(), &inner.owner, inner.lease_len).await
                {
                    tracing::warn!(error = %e, "cannot renew this node's operation leases");
                }
            }
        });
    }

    /// Sets the lease of registered operations (shared store; default
    /// [`crate::ops::DEFAULT_LEASE`]) and how old a condemned pack must be before a
    /// collection deletes it (default [`DEFAULT_GC_MIN_AGE`]). Tests shorten both.
    pub fn with_gc_timing(self, lease: Duration, min_age: Duration) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.lease_len = lease;
                inner.gc_min_age = min_age;
                Engine {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => Engine { inner },
        }
    }

    /// Sets how long an operation waits for another on the same container.
    pub fn with_lock_wait(self, wait: Duration) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                inner.lock_wait = wait;
                Engine {
                    inner: Arc::new(inner),
                }
            }
            Err(inner) => Engine { inner },
        }
    }

    /// The directory holding a container's root filesystem.
    pub fn root_path(&self, c: &ContainerId) -> PathBuf {
        self.inner
            .data_dir
            .join("containers")
            .join(c.as_str())
            .join("root")
    }

    /// The stat cache file of a container (beside its root, never inside it).
    pub(crate) fn stat_cache_path(&self, c: &ContainerId) -> PathBuf {
        self.inner
            .data_dir
            .join("containers")
            .join(c.as_str())
            .join("statcache")
    }

    /// The object store (for verification and tests).
    pub fn store(&self) -> &ObjectStore {
        &self.inner.store
    }

    /// The container's unexpired snapshots, newest first. Works after the container was
    /// deleted.
    pub async fn list(&self, c: &ContainerId) -> Result<Vec<SnapshotInfo>, EngineError> {
        self.inner.catalog.list(c, chrono::Utc::now()).await
    }

    /// One unexpired snapshot, by name or (if unambiguous) alias.
    pub async fn get(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
    ) -> Result<SnapshotInfo, EngineError> {
        self.inner
            .catalog
            .resolve(c, name_or_alias, chrono::Utc::now())
            .await
    }

    /// Serializes operations on one container: waits up to the lock wait, then refuses.
    pub(crate) async fn lock(&self, c: &ContainerId) -> Result<OwnedMutexGuard<()>, EngineError> {
        let m = {
            let mut locks = self.inner.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(*c).or_default().clone()
        };
        tokio::time::timeout(self.inner.lock_wait, m.lock_owned())
            .await
            .map_err(|_| EngineError::Busy(*c))
    }

    /// A GC lease (see [`Inner::gc_lease`]); with a shared store, also a registered
    /// operation ([`crate::ops`]), after which the condemned packs are read so that this
    /// operation never reuses them.
    pub(crate) async fn lease(&self) -> Result<Lease, EngineError> {
        let local = self.inner.gc_lease.clone().read_owned().await;
        let op = match &self.inner.remote {
            None => None,
            Some(_) => {
                let db = self.inner.catalog.db();
                let op = crate::ops::OpRow::register(db, &self.inner.owner, self.inner.lease_len)
                    .await?;
                let (epoch, condemned) = crate::ops::condemned_packs(db).await?;
                self.inner
                    .store
                    .set_condemned(epoch, condemned.into_iter().map(|c| c.id).collect());
                self.blocking(|e| Ok(e.inner.store.reload_if_changed()?))
                    .await?;
                Some(op)
            }
        };
        Ok(Lease { _local: local, op })
    }

    /// Pins tree `top` for GC (see [`Inner::pins`]). The caller holds the GC lease while it
    /// pins, having read `top` from the catalog under that same lease; afterwards it may let
    /// the lease go and keep reading through the pin. With a shared store the registered
    /// operation becomes a pin in the database ([`crate::ops::OpRow::pin_tree`]), which every
    /// node's GC sees; the caller must then check that the snapshot it read `top` from still
    /// exists. Errors: the database, or the operation already fenced.
    pub(crate) async fn pin(&self, lease: Lease, top: ObjectId) -> Result<TreePin, EngineError> {
        {
            let mut pins = self.inner.pins.lock().unwrap_or_else(|p| p.into_inner());
            *pins.entry(top).or_default() += 1;
        }
        // Made before the database pin, so an error below unpins locally (on drop).
        let mut pin = TreePin {
            engine: self.clone(),
            top,
            _op: None,
        };
        let Lease { _local, op } = lease;
        if let Some(op) = &op {
            op.pin_tree(&top).await?;
        }
        pin._op = op;
        Ok(pin)
    }

    /// Every tree GC must keep: the catalog's top trees and the pinned ones. The caller
    /// holds the GC lease (either way).
    pub(crate) async fn live_tops(&self) -> Result<Vec<ObjectId>, EngineError> {
        let mut tops = self.inner.catalog.all_top_trees().await?;
        // A shared store: the trees other nodes' exports pin too.
        if self.inner.remote.is_some() {
            tops.extend(crate::ops::pinned_trees(self.inner.catalog.db()).await?);
        }
        let pins = self.inner.pins.lock().unwrap_or_else(|p| p.into_inner());
        tops.extend(pins.keys().copied());
        Ok(tops)
    }

    /// Runs blocking filesystem work off the async threads.
    pub(crate) async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || f(&me))
            .await
            .map_err(|e| EngineError::Invalid(format!("a worker thread failed: {e}")))?
    }
}
