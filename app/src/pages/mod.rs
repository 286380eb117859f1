//! One module per route.

pub mod containers;
pub mod docs;
pub mod not_found;
pub mod signin;
pub mod timeline;
