//! The dashboard's server functions, each a thin call into the [`crate::backend::Backend`]:
//!
//! - [`account`]: signing in and out, and who is signed in;
//! - [`containers`]: the Containers page, container actions, a container's timeline;
//! - [`snapshots`]: the timeline's snapshot actions;
//! - [`schedule`]: a container's automatic snapshots;
//! - [`system`]: the System page (status, self-checks, servers, deleting a project);
//! - [`forms`]: what plain HTML forms (no JavaScript) need: redirects with signed outcomes.

pub mod account;
pub mod containers;
pub mod forms;
pub mod schedule;
pub mod snapshots;
pub mod system;

pub use crate::model::{
    ContainerView, Identity, Overview, Project, RestoreOutcome, Schedule, ScheduleSpec, Snapshot,
    SnapshotChange, SnapshotDiff, SnapshotFiles, SnapshotVerified, SystemCheck, SystemStatus,
    Timeline,
};
pub use account::*;
pub use containers::*;
pub use forms::*;
pub use schedule::*;
pub use snapshots::*;
pub use system::*;
