//! Proxy mode (`snapline serve --upstream URL`): the dashboard over another Snapline's (or a
//! Hoody-compatible) REST API, and `/api` forwarded to it.
//!
//! - [`upstream`]: the upstream's URL and client, and its errors read back into kinds;
//! - [`backend`]: the dashboard's [`app::backend::Backend`] over the upstream's REST API;
//! - [`export`]: a snapshot's tar export, streamed through;
//! - [`views`]: the overview and timeline pages, each assembled from several calls;
//! - [`system`]: this node's status and self-check, the upstream's API description, and the
//!   docs' "Try it" requests;
//! - [`sse`]: the upstream's event stream, read;
//! - [`forward`]: `/api/v1/*` passed through, with the path rule.

pub mod backend;
pub mod client;
mod export;
pub mod forward;
pub mod sse;
mod system;
pub mod upstream;
mod views;

pub use backend::RemoteBackend;
pub use upstream::{Upstream, causes, http_client, status_error};
