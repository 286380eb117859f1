//! The service's one error type: a kind, a sentence, and optionally a hint that a front end
//! may spell in its own terms.
//!
//! The service knows no transport, so its messages name no HTTP route. Where the next step is
//! another call ("list the snapshots", "copy it into a new container"), the error carries a
//! [`Hint`]; the REST edge writes it as the route (`GET /api/v1/...`), and the dashboard leaves
//! it out (its pages offer the action). The REST answer also carries the hint itself, so the
//! CLI, which reads REST answers, names its own command instead of the route.

pub use types::{ErrorKind, Hint};

/// What went wrong, by kind, with a message a user can act on.
///
/// For [`ErrorKind::Internal`] the message holds the cause chain for the log; front ends show
/// a generic sentence instead, never the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// Decides the HTTP status (in `server/src/http/status.rs`) and the dashboard's headline.
    pub kind: ErrorKind,
    /// A sentence without internals (except for `Internal`, see above).
    pub message: String,
    /// The call that would help next, for front ends that can name it.
    pub hint: Option<Hint>,
}

/// The result of every service call.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $kind:ident),* $(,)?) => {
        impl ServiceError {
            $(
                $(#[$doc])*
                pub fn $name(message: impl Into<String>) -> Self {
                    ServiceError::new(ErrorKind::$kind, message)
                }
            )*
        }
    };
}

constructors! {
    /// The input was refused.
    bad_request => BadRequest,
    /// No valid token.
    unauthorized => Unauthorized,
    /// The token may not do this.
    forbidden => Forbidden,
    /// No such object among what the caller sees.
    not_found => NotFound,
    /// Another operation holds the object, or the name is taken.
    conflict => Conflict,
    /// The input is larger than allowed.
    payload_too_large => PayloadTooLarge,
    /// Too many requests with this token.
    too_many_requests => TooManyRequests,
    /// No room left in the data directory.
    insufficient_storage => InsufficientStorage,
    /// A host facility is missing.
    unavailable => Unavailable,
    /// Stored data failed its checks.
    damaged => Damaged,
}

impl ServiceError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ServiceError {
            kind,
            message: message.into(),
            hint: None,
        }
    }

    /// A fault on our side; `cause` (with its chain) is kept for the log.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        ServiceError::new(ErrorKind::Internal, format!("{:#}", cause.into()))
    }

    /// Adds the next step a front end may name.
    pub fn with_hint(mut self, hint: Hint) -> Self {
        self.hint = Some(hint);
        self
    }
}

impl From<anyhow::Error> for ServiceError {
    fn from(e: anyhow::Error) -> Self {
        ServiceError::internal(e)
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        if db_unreachable(&e) {
            return ServiceError::unavailable(format!(
                "the metadata database is unreachable ({e}); nothing was changed. Try again \
                 when it is back"
            ));
        }
        ServiceError::internal(e)
    }
}

/// Whether a database error means the server is down or restarting (a retry may work),
/// rather than a fault in the statement: connection I/O, an exhausted or closed pool, or
/// PostgreSQL's "shutting down" and "starting up" codes (class 57P).
fn db_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| c.starts_with("57P")),
        _ => false,
    }
}

/// Whether an error came from the S3 store (or the database listing its packs) being down
/// or refusing: a [`engine::s3::RemoteStoreError`] inside an I/O error anywhere in the
/// chain. (`io::Error::source` skips its own payload, so each I/O error is opened here.)
fn remote_store_failed(e: &(dyn std::error::Error + 'static)) -> bool {
    use engine::s3::RemoteStoreError;
    let mut cur = Some(e);
    while let Some(err) = cur {
        let inside_io = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .is_some_and(|inner| inner.is::<RemoteStoreError>());
        if inside_io || err.is::<RemoteStoreError>() {
            return true;
        }
        cur = err.source();
    }
    false
}

impl From<engine::EngineError> for ServiceError {
    fn from(e: engine::EngineError) -> Self {
        use engine::EngineError as E;
        if e.is_out_of_space() {
            return ServiceError::insufficient_storage(e.classify("working").to_string());
        }
        if remote_store_failed(&e) {
            return ServiceError::unavailable(format!(
                "{e}. Nothing was changed; try again when the store is back"
            ));
        }
        match e {
            E::NoSuchRoot(c) => ServiceError::conflict(format!(
                "container {c} has no live filesystem (it was deleted); copy one of its \
                 snapshots into a new container instead"
            )),
            E::NoSuchSnapshot { container, name } => ServiceError::not_found(format!(
                "container {container} has no snapshot named {name:?} (it may have expired or \
                 been deleted)"
            ))
            .with_hint(Hint::ListSnapshots {
                container: container.to_string(),
            }),
            e @ E::NoSuchPath { .. } => ServiceError::not_found(e.to_string()),
            e @ (E::AmbiguousAlias { .. } | E::Busy(_) | E::RootExists(_) | E::LiveConflict(_)) => {
                ServiceError::conflict(e.to_string())
            }
            e @ E::NoSpace(_) => ServiceError::insufficient_storage(e.to_string()),
            E::Invalid(m) => ServiceError::bad_request(m),
            e @ E::Fenced(_) => ServiceError::unavailable(e.to_string()),
            e @ E::Hook(_) => ServiceError::internal(anyhow::anyhow!(e)),
            E::Db(e) => ServiceError::from(e),
            E::Store(engine::store::StoreError::Damaged(d)) => ServiceError::damaged(format!(
                "stored data is damaged, nothing was changed: {d}. Run a verify to see which \
                 snapshots are affected"
            )),
            E::Store(engine::store::StoreError::Missing(id)) => ServiceError::damaged(format!(
                "object {id} is missing from the store, nothing was changed. Run a verify to \
                 see which snapshots are affected"
            )),
            other => ServiceError::internal(anyhow::Error::new(other)),
        }
    }
}
