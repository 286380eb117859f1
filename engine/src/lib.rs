//! Snapline's snapshot engine.
//!
//! The engine captures a container's root filesystem into a content-addressed store and
//! restores it exactly. It knows nothing about HTTP, tokens or the dashboard: the server and
//! the CLI drive it through one front type (added with the engine issue), and every command
//! lives in its own module.
//!
//! For now the crate holds the typed identifiers that every layer above shares, so that no
//! layer passes bare strings around.

pub mod ids;

pub use ids::{ContainerId, IdError};
