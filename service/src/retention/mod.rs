//! Retention policies of scheduled snapshots (issue 15): restic's `forget --keep-*` rules,
//! applied by the background jobs to the snapshots a schedule took, and previewed without
//! deleting anything.
//!
//! - [`plan`]: the rule as a pure function over snapshots (the "plan" of house style), with
//!   the exact rule in its documentation;
//! - `apply`: the service side: which snapshots a schedule took (the `scheduled_snapshots`
//!   table), the preview, and the job that executes a plan through the ordinary delete
//!   path.

pub(crate) mod apply;
pub mod plan;
#[cfg(test)]
mod tests;

pub use plan::{Bucket, Candidate, Decision, Origin, Plan, Reason, Rule, plan};
