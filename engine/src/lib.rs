//! Snapline's snapshot engine.
//!
//! The engine captures a container's root filesystem into a content-addressed store and
//! restores it exactly. It knows nothing about HTTP, tokens or the dashboard.
//!
//! Building blocks, one module per noun:
//! - [`ids`]: typed identifiers ([`ContainerId`], [`ObjectId`]);
//! - [`chunker`]: content-defined chunking of file data (FastCDC);
//! - [`pack`]: immutable pack files of compressed, hash-checked objects;
//! - [`tree`]: the canonical encoding of one directory (a Merkle tree node);
//! - [`storage`]: where pack files live ([`storage::PackStorage`]);
//! - [`store`]: the object store, packs plus their index;
//! - [`fsops`]: descriptor-relative filesystem calls that never follow a symlink;
//! - [`capture`]: reading a live tree into objects;
//! - [`materialize`]: writing a snapshot into an empty directory.

pub mod capture;
pub mod chunker;
pub mod fsops;
pub mod ids;
pub mod materialize;
pub mod pack;
pub mod storage;
pub mod store;
pub mod tree;

pub use ids::{ContainerId, IdError, ObjectId};
