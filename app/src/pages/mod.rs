//! One module per route.

pub mod containers;
pub mod diff;
pub mod docs;
pub mod files;
pub mod not_found;
pub mod schedule;
pub mod signin;
pub mod storage;
pub mod timeline;
