//! Server functions, under `/rpc/` so that `/api/` stays the REST API's alone. What they
//! carry lives in [`crate::model`] (and the shared wire types of the `types` crate).
//!
//! - [`dashboard`]: sign-in, containers, snapshots, schedules, the System page (a module per
//!   concept);
//! - [`docs`]: the API docs page (operations, Run widgets, runs, drafts, examples);
//! - [`retention`]: a schedule's keep policy from the form, and its preview.

pub mod dashboard;
pub mod docs;
pub mod retention;

pub use dashboard::*;
pub use docs::*;
pub use retention::*;
