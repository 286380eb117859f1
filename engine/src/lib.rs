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
