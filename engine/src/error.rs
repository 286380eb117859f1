//! The engine's error: what went wrong, and for which container, snapshot or path.

use crate::capture::CaptureError;
use crate::ids::ContainerId;
use crate::materialize::MaterializeError;
use crate::store::StoreError;

/// Why an engine operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The container has no live root filesystem (never created, or deleted).
    #[error("container {0} has no root filesystem")]
    NoSuchRoot(ContainerId),
    /// A root filesystem already exists for this container.
    #[error("container {0} already has a root filesystem")]
    RootExists(ContainerId),
    /// No snapshot of this container has that name (or, uniquely, that alias).
    #[error("container {container} has no snapshot named {name:?}")]
    NoSuchSnapshot {
        /// The container.
        container: ContainerId,
        /// The name asked for.
        name: String,
    },
    /// No entry at this path (nor at the others in `also`) in the snapshot.
    #[error(
        "snapshot {snapshot} of container {container} has nothing at {}",
        std::iter::once(path).chain(also).map(|p| format!("{p:?}")).collect::<Vec<_>>().join(" nor at ")
    )]
    NoSuchPath {
        /// The container.
        container: ContainerId,
        /// The snapshot.
        snapshot: String,
        /// The path asked for (the first it lacks, in path order).
        path: String,
        /// Other paths asked for together that it lacks too.
        also: Vec<String>,
    },
    /// Several snapshots share the alias used as a name.
    #[error(
        "alias {alias:?} of container {container} names several snapshots ({}); use one of their names",
        names.join(", ")
    )]
    AmbiguousAlias {
        /// The container.
        container: ContainerId,
        /// The alias.
        alias: String,
        /// The snapshots that have it.
        names: Vec<String>,
    },
    /// Another operation holds the container.
    #[error("another operation is running on container {0}; try again when it finishes")]
    Busy(ContainerId),
    /// The disk holding the data directory is full.
    #[error(
        "out of disk space while {0}; free some space (delete snapshots, then run GC) and retry"
    )]
    NoSpace(String),
    /// The live tree is in a state the operation cannot safely work on (a partial restore
    /// whose parent folder is a symlink or a file in the container).
    #[error("{0}")]
    LiveConflict(String),
    /// The caller passed something unusable.
    #[error("{0}")]
    Invalid(String),

    /// A shared store's operation outlived its lease (its node paused) and garbage
    /// collection on another node fenced it: nothing was committed.
    #[error(
        "this operation outlived its lease (operation {0}; the node paused or lost the \
         database) and was fenced by garbage collection: nothing was committed, try again"
    )]
    Fenced(String),
    /// Reading the live tree failed.
    #[error(transparent)]
    Capture(#[from] CaptureError),
    /// Writing a tree failed.
    #[error(transparent)]
    Materialize(#[from] MaterializeError),
    /// The object store failed or found damage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The metadata database failed.
    #[error("metadata database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The caller's [`crate::snapshot::ReadHooks::before_read`] refused (a container that
    /// could not be frozen).
    #[error("cannot start reading the live tree: {0}")]
    Hook(String),
    /// A fail point fired (tests only: the `failpoints` feature).
    #[error("fail point {0} fired")]
    Injected(String),
    /// A filesystem operation outside capture and materialize failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl EngineError {
    /// Whether the root cause is a full disk (ENOSPC or EDQUOT) anywhere in the chain.
    pub fn is_out_of_space(&self) -> bool {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = cur {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && matches!(io.raw_os_error(), Some(28) | Some(122))
            {
                return true;
            }
            cur = e.source();
        }
        false
    }

    /// Turns an error whose cause is a full disk into [`EngineError::NoSpace`], naming what
    /// was being done.
    pub fn classify(self, doing: &str) -> Self {
        if self.is_out_of_space() && !matches!(self, EngineError::NoSpace(_)) {
            EngineError::NoSpace(doing.to_string())
        } else {
            self
        }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| EngineError::Io { context, source }
    }
}
