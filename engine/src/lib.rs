//! Snapline's snapshot engine.
//!
//! The engine captures a container's root filesystem into a content-addressed store and
//! restores it exactly. It knows nothing about HTTP, tokens or the dashboard. The front type
//! is [`Engine`]; each command lives in its own module.
//!
//! Building blocks, one module per noun:
//! - [`ids`]: typed identifiers ([`ContainerId`], [`ObjectId`]);
//! - [`chunker`]: content-defined chunking of file data (FastCDC);
//! - [`pack`]: immutable pack files of compressed, hash-checked objects;
//! - [`tree`]: the canonical encoding of one directory (a Merkle tree node);
//! - [`storage`]: where pack files live ([`storage::PackStorage`]): a local directory, or an
//!   S3 bucket ([`s3`]) read through a node's disk cache ([`pack_cache`]);
//! - [`store`]: the object store, packs plus their index;
//! - [`fsops`]: descriptor-relative filesystem calls that never follow a symlink;
//! - [`capture`]: reading a live tree into objects;
//! - [`materialize`]: writing a snapshot into an empty directory;
//! - [`statcache`]: per-container file identities, so snapshots read only what changed;
//! - [`catalog`]: snapshots, roots and the restore journal in the metadata database;
//! - [`progress`]: the [`Progress`] trait through which long operations report how far they got;
//! - [`unpack`]: safe unpacking of image tar streams;
//! - [`tarball`]: the tar encoding of a snapshot's tree (what an export streams);
//! - [`selection`]: the paths a partial restore makes exact.
//!
//! Commands: [`roots`] (create and delete container roots), [`snapshot`], [`edit`] (alias and
//! expiry), [`restore`], [`copy`], [`delete`] (delete and expire), [`gc`] (plan and collect),
//! [`verify`], [`diff`], [`browse`] (list a directory, read a file), [`export`] (a snapshot
//! as a tar stream).

#![deny(missing_docs)]

pub mod browse;
pub mod capture;
pub mod catalog;
pub mod chunker;
pub mod copy;
pub mod db;
pub mod delete;
pub mod diff;
pub mod edit;
mod engine;
pub mod error;
pub mod export;
pub mod fsops;
pub mod gc;
pub mod ids;
pub mod materialize;
pub mod ops;
pub mod pack;
pub mod pack_cache;
pub mod progress;
pub mod restore;
pub mod roots;
pub mod s3;
pub mod selection;
pub mod snapshot;
pub mod statcache;
pub mod storage;
pub mod store;
pub mod tarball;
pub mod tree;
pub mod unpack;
pub mod verify;

pub use browse::{EntryInfo, FileReader};
pub use catalog::{JournalEntry, SnapshotEdit, SnapshotInfo};
pub use copy::CopySource;
pub use db::{DbPool, DbRow, DbTx, Dialect};
pub use delete::Deleted;
pub use diff::{Change, ChangeKind, Diff, DiffTarget};
pub use engine::{DEFAULT_GC_MIN_AGE, DEFAULT_LOCK_WAIT, Engine, StoreConfig, migrate};
pub use error::EngineError;
pub use export::{ExportOptions, TarExport};
pub use gc::{GcPlan, GcReport, ORPHAN_SWEEP_EVERY};
pub use ids::{ContainerId, IdError, ObjectId};
pub use progress::{Progress, ProgressUpdate};
pub use restore::{Recovery, RestoreStats};
pub use roots::RootSource;
pub use s3::S3Options;
pub use selection::Selection;
pub use snapshot::{ReadHooks, SnapshotOptions};
pub use verify::{Damage, VerifyReport};

/// The environment variable naming fail points for a whole server process (debug builds
/// only, see [`fail_points_from_env`]).
pub const FAIL_POINTS_ENV: &str = "SNAPLINE_FAILPOINTS";

/// Configures the fail points that [`FAIL_POINTS_ENV`] names ([`configure_fail_points`]),
/// so tests that run a server binary can stop it at an exact step and `kill -9` it there.
/// Returns how many were set (0 when the variable is unset).
pub fn fail_points_from_env() -> Result<usize, String> {
    match std::env::var(FAIL_POINTS_ENV) {
        Ok(spec) => configure_fail_points(&spec),
        Err(_) => Ok(0),
    }
}

/// Configures fail points from `spec`, `name=actions;…` in the `fail` crate's syntax
/// (`s3::after_upload=pause` stops every upload's task once its object is in the bucket).
/// Fail points exist only in builds with the `fail/failpoints` feature, which the
/// workspace's tests turn on; anywhere else this configures nothing that runs. Returns how
/// many were set. Errors: an entry that is not `name=actions`, or actions the `fail` crate
/// cannot parse, named.
pub fn configure_fail_points(spec: &str) -> Result<usize, String> {
    let mut set = 0;
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| format!("{FAIL_POINTS_ENV}: `{entry}` is not name=actions"))?;
        fail::cfg(name.trim(), actions.trim())
            .map_err(|e| format!("{FAIL_POINTS_ENV}: `{entry}`: {e}"))?;
        set += 1;
    }
    Ok(set)
}

#[cfg(test)]
mod fail_points_tests {
    #[test]
    fn entries_are_set_and_bad_ones_named() {
        assert_eq!(
            super::configure_fail_points("test::env_a=return; test::env_b=off;"),
            Ok(2)
        );
        let e = super::configure_fail_points("nonsense").unwrap_err();
        assert!(e.contains("`nonsense` is not name=actions"), "{e}");
        assert!(super::configure_fail_points("test::env_c=notanaction(").is_err());
        fail::remove("test::env_a");
        fail::remove("test::env_b");
    }
}
