//! What an action did, as the timeline says it: [`Done`] (an action's answer, carried signed
//! in the address after a plain form) and [`Copied`] (what a copy or a fork made).

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
use super::query_escape;
use super::{ContainerView, RestoreOutcome, Schedule, Snapshot, SnapshotVerified};

/// What a timeline card action did: the action's own answer, which the timeline puts in
/// words. With JavaScript it is the action's value; after a plain form (no JavaScript) it
/// travels in the address the browser is sent back to, as `done=<JSON>&sig=<hex>`.
///
/// The signature is a BLAKE3 keyed hash under a key derived from the session's token, which
/// only the server reads (the cookie is HttpOnly). So a link made by someone else cannot
/// make a user's timeline claim, say, that a snapshot verified clean: an outcome whose
/// signature does not hold is not shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "of", rename_all = "snake_case")]
pub enum Done {
    Taken(Snapshot),
    Restored(Box<RestoreOutcome>),
    /// The deleted snapshot's name.
    Deleted(String),
    Copied(Copied),
    Saved(Snapshot),
    /// The snapshot's name, its report, and how many objects were damaged (the report's
    /// list may be cut to [`Done::LISTED`]); made by [`Done::verified`].
    Verified {
        name: String,
        report: SnapshotVerified,
        damaged: usize,
    },
    Published(types::Image),
    /// The schedule as saved.
    ScheduleSaved(Schedule),
    /// The schedule was turned off.
    ScheduleOff,
    /// A container was started, stopped, paused, resumed or deleted.
    Container(super::ContainerActed),
    /// A project was deleted (its name).
    ProjectDeleted(String),
    /// A container was made (its name).
    ContainerCreated(String),
    /// An example of the API docs was deleted (its name).
    ExampleDeleted(String),
    /// The user's run history was cleared: how many runs went.
    RunsCleared(u64),
    /// The user's drafts were cleared: how many went.
    DraftsCleared(u64),
}

impl Done {
    /// The outcomes the docs page and the System page say, in words (the timeline's are in
    /// its own module, with their links and lists).
    pub fn sentence(&self) -> Option<String> {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        Some(match self {
            Done::ProjectDeleted(name) => format!("Project {name} deleted."),
            Done::ContainerCreated(name) => format!("Created {name}."),
            Done::ExampleDeleted(name) => format!("Example \u{201c}{name}\u{201d} deleted."),
            Done::RunsCleared(n) => format!(
                "Your run history is cleared ({} deleted).",
                plural(*n, "run", "runs")
            ),
            Done::DraftsCleared(n) => format!(
                "Your drafts are cleared ({} deleted): every form starts from its example again.",
                plural(*n, "draft", "drafts")
            ),
            _ => return None,
        })
    }
}

impl Done {
    /// Damaged objects and failed copies an outcome lists at most.
    pub const LISTED: usize = 20;
    /// Characters of each failure's message kept.
    const MESSAGE: usize = 200;

    /// A verify's outcome.
    pub fn verified(name: String, report: SnapshotVerified) -> Done {
        Done::Verified {
            name,
            damaged: report.damaged.len(),
            report,
        }
    }

    /// The outcome cut to what the page shows, so that its address stays short (a few KB
    /// at most: 50 failed copies of 200 characters).
    pub fn trimmed(self) -> Done {
        match self {
            Done::Verified {
                name,
                mut report,
                damaged,
            } => {
                report.damaged.truncate(Self::LISTED);
                Done::Verified {
                    name,
                    report,
                    damaged,
                }
            }
            Done::Copied(mut c) => {
                for (_, why) in &mut c.failed {
                    *why = why.chars().take(Self::MESSAGE).collect();
                }
                Done::Copied(c)
            }
            other => other,
        }
    }
}

#[cfg(feature = "ssr")]
impl Done {
    fn key(token: &str) -> [u8; 32] {
        blake3::derive_key(
            "snapline dashboard: plain-form outcome v1",
            token.as_bytes(),
        )
    }

    /// The query (`done=…&sig=…`) that carries this outcome to the session of `token`.
    pub fn to_query(&self, token: &str) -> String {
        let json = serde_json::to_string(&self.clone().trimmed()).unwrap_or_default();
        let sig = blake3::keyed_hash(&Self::key(token), json.as_bytes());
        format!("done={}&sig={}", query_escape(&json), sig.to_hex())
    }

    /// The outcome of [`Done::to_query`]'s values, if `sig` is its signature for the session
    /// of `token` (compared in constant time); `None` otherwise.
    pub fn from_query(token: &str, json: &str, sig: &str) -> Option<Done> {
        let sig = blake3::Hash::from_hex(sig).ok()?;
        (blake3::keyed_hash(&Self::key(token), json.as_bytes()) == sig)
            .then(|| serde_json::from_str(json).ok())
            .flatten()
    }
}

/// What a copy or a fork made: each new container (id, name), and each name that failed with
/// why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copied {
    pub made: Vec<(String, String)>,
    pub failed: Vec<(String, String)>,
}

impl Copied {
    /// A single copy.
    pub fn one(c: &ContainerView) -> Self {
        Copied {
            made: vec![(c.id.clone(), c.name.clone())],
            failed: Vec::new(),
        }
    }
}

/// From the REST answer of a fork.
impl From<types::ContainersCopied> for Copied {
    fn from(r: types::ContainersCopied) -> Self {
        let mut out = Copied::default();
        for item in r.results {
            match (item.container, item.error) {
                (Some(c), _) => out.made.push((c.id, c.name)),
                (None, e) => out.failed.push((
                    item.name,
                    e.map(|e| e.message).unwrap_or_else(|| "not made".into()),
                )),
            }
        }
        out
    }
}
