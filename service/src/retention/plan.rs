//! The keep policy as a pure function: which scheduled snapshots a [`KeepPolicy`] keeps,
//! which it deletes, and why. No clock, no database: [`plan`] sees only the snapshots, so
//! the preview and the job agree, and tests can age snapshots at will.
//!
//! # The rule (restic's `forget --keep-last/-hourly/-daily/-weekly/-monthly`)
//!
//! 1. Only [`Origin::Scheduled`] snapshots are candidates. Snapshots taken by hand and pinned
//!    ones are [`Plan::untouched`]: never kept or deleted by a rule, never counted.
//! 2. Candidates are walked from the newest to the oldest (`created_at`, then name, both
//!    descending: the catalog's order).
//! 3. Each rule with a count N > 0 has a bucket function: `last` gives every snapshot a
//!    bucket of its own; `hourly` the UTC hour (`2026-11-29 14:00`), `daily` the UTC date,
//!    `weekly` the ISO 8601 week (Monday to Sunday, so 2026-12-31 and 2027-01-01 are both
//!    in 2026-W53), `monthly` the UTC year and month. A snapshot whose bucket differs from
//!    the last bucket the rule kept is the newest of a new bucket: the rule keeps it and
//!    has one count fewer. A rule whose count reached 0 keeps nothing more.
//! 4. When a rule still has counts left at the oldest candidate, that oldest candidate is
//!    kept as well (`oldest daily`), as restic 0.17 does: "If there are not enough snapshots
//!    to keep one for each duration related --keep-{within-,}* option, the oldest snapshot
//!    is kept additionally".
//! 5. A snapshot kept by any rule is kept, with every rule that kept it as a reason; the
//!    others are deleted, with what each rule said about them.
//!
//! Buckets are computed in UTC on purpose: a server's local time zone would shift a
//! snapshot between days at a DST change, and UTC has none.
//!
//! Invariant: with a non-empty policy and at least one candidate, the newest candidate is
//! always kept (every active rule keeps the first bucket it sees).

use chrono::{DateTime, Datelike, Timelike, Utc};
use types::KeepPolicy;

/// Who made a snapshot, as far as retention cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Taken by the container's schedule: the policy decides.
    Scheduled,
    /// Taken by a schedule, then pinned (its expiry set to never): never touched.
    Pinned,
    /// Taken by hand, the API, a restore's safety snapshot or the demo: never touched.
    Manual,
}

/// A snapshot as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub alias: Option<String>,
    pub created_at: DateTime<Utc>,
    pub origin: Origin,
}

/// One rule of a [`KeepPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Last,
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

impl Rule {
    /// Every rule, in the order restic applies them (and reasons are listed).
    pub const ALL: [Rule; 5] = [
        Rule::Last,
        Rule::Hourly,
        Rule::Daily,
        Rule::Weekly,
        Rule::Monthly,
    ];

    /// The field name in `keep` (`daily`).
    pub fn name(self) -> &'static str {
        match self {
            Rule::Last => "last",
            Rule::Hourly => "hourly",
            Rule::Daily => "daily",
            Rule::Weekly => "weekly",
            Rule::Monthly => "monthly",
        }
    }

    /// The rule's count in `p`; 0 when absent.
    fn count(self, p: &KeepPolicy) -> u32 {
        let c = match self {
            Rule::Last => p.last,
            Rule::Hourly => p.hourly,
            Rule::Daily => p.daily,
            Rule::Weekly => p.weekly,
            Rule::Monthly => p.monthly,
        };
        c.unwrap_or(0)
    }

    /// What this rule counts, in the plural (`days`), for reasons.
    /// What the rule counts, in the number `n` asks for (`1 newer day`, `2 newer days`).
    fn units(self, n: usize) -> &'static str {
        let (one, many) = match self {
            Rule::Last => ("snapshot", "snapshots"),
            Rule::Hourly => ("hour", "hours"),
            Rule::Daily => ("day", "days"),
            Rule::Weekly => ("week", "weeks"),
            Rule::Monthly => ("month", "months"),
        };
        if n == 1 { one } else { many }
    }

    /// The bucket of a snapshot at position `nr` (newest first) taken at `t`.
    fn bucket(self, t: DateTime<Utc>, nr: usize) -> Bucket {
        match self {
            Rule::Last => Bucket::Nth(nr),
            Rule::Hourly => Bucket::Hour(t.year(), t.month(), t.day(), t.hour()),
            Rule::Daily => Bucket::Day(t.year(), t.month(), t.day()),
            Rule::Weekly => {
                let w = t.iso_week();
                Bucket::Week(w.year(), w.week())
            }
            Rule::Monthly => Bucket::Month(t.year(), t.month()),
        }
    }
}

/// A calendar period (UTC) of a rule, or a snapshot's own place for `last`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Nth(usize),
    Hour(i32, u32, u32, u32),
    Day(i32, u32, u32),
    /// ISO 8601 week-based year and week number (1 to 53).
    Week(i32, u32),
    Month(i32, u32),
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Bucket::Nth(n) => write!(f, "#{}", n + 1),
            Bucket::Hour(y, m, d, h) => write!(f, "{y:04}-{m:02}-{d:02} {h:02}:00"),
            Bucket::Day(y, m, d) => write!(f, "{y:04}-{m:02}-{d:02}"),
            Bucket::Week(y, w) => write!(f, "{y:04}-W{w:02}"),
            Bucket::Month(y, m) => write!(f, "{y:04}-{m:02}"),
        }
    }
}

/// Why a snapshot is kept, deleted or left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The rule kept it as the newest snapshot of `bucket`.
    Kept {
        rule: Rule,
        bucket: Bucket,
    },
    /// The rule had counts left at the oldest candidate (restic's "oldest").
    Oldest {
        rule: Rule,
    },
    /// The rule saw a newer snapshot of the same bucket first.
    Superseded {
        rule: Rule,
        bucket: Bucket,
        by: String,
    },
    /// The rule had already kept its `count` buckets.
    Full {
        rule: Rule,
        count: u32,
    },
    /// There is no policy: everything scheduled stays (until its expiry).
    NoPolicy,
    Manual,
    Pinned,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Kept {
                rule: Rule::Last, ..
            } => f.write_str("last"),
            Reason::Kept { rule, bucket } => write!(f, "{} {bucket}", rule.name()),
            Reason::Oldest { rule } => write!(f, "oldest {}", rule.name()),
            Reason::Superseded { rule, bucket, by } => {
                write!(f, "{} {bucket}: {by} is newer", rule.name())
            }
            Reason::Full { rule, count } => {
                write!(
                    f,
                    "{}: {count} newer {} kept",
                    rule.name(),
                    rule.units(*count as usize)
                )
            }
            Reason::NoPolicy => f.write_str("no policy"),
            Reason::Manual => f.write_str("manual"),
            Reason::Pinned => f.write_str("pinned"),
        }
    }
}

/// A snapshot and the reasons for what happens to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub snapshot: Candidate,
    pub reasons: Vec<Reason>,
}

/// What a policy does to a container's snapshots. Each list is newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub keep: Vec<Decision>,
    pub delete: Vec<Decision>,
    pub untouched: Vec<Decision>,
}

impl Plan {
    /// The names of the snapshots to delete, newest first.
    pub fn delete_names(&self) -> Vec<&str> {
        self.delete
            .iter()
            .map(|d| d.snapshot.name.as_str())
            .collect()
    }
}

/// Applies `policy` to `snapshots` (any order) and says what happens to each; see the module
/// documentation for the rule. `None` or an empty policy keeps every scheduled snapshot.
pub fn plan(policy: Option<&KeepPolicy>, mut snapshots: Vec<Candidate>) -> Plan {
    snapshots.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.name.cmp(&a.name))
    });
    let mut out = Plan::default();
    let mut candidates = Vec::new();
    for s in snapshots {
        match s.origin {
            Origin::Scheduled => candidates.push(s),
            Origin::Pinned => out.untouched.push(decided(s, Reason::Pinned)),
            Origin::Manual => out.untouched.push(decided(s, Reason::Manual)),
        }
    }
    let Some(policy) = policy.filter(|p| !p.is_empty()) else {
        out.keep = candidates
            .into_iter()
            .map(|s| decided(s, Reason::NoPolicy))
            .collect();
        return out;
    };
    // Per active rule: the counts left, the last bucket it kept and the snapshot it kept
    // there.
    struct State {
        rule: Rule,
        count: u32,
        left: u32,
        last: Option<(Bucket, String)>,
    }
    let mut rules: Vec<State> = Rule::ALL
        .into_iter()
        .map(|rule| (rule, rule.count(policy)))
        .filter(|&(_, n)| n > 0)
        .map(|(rule, count)| State {
            rule,
            count,
            left: count,
            last: None,
        })
        .collect();
    let oldest = candidates.len().saturating_sub(1);
    for (nr, s) in candidates.into_iter().enumerate() {
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        for st in &mut rules {
            if st.left == 0 {
                dropped.push(Reason::Full {
                    rule: st.rule,
                    count: st.count,
                });
                continue;
            }
            let bucket = st.rule.bucket(s.created_at, nr);
            match &st.last {
                Some((b, by)) if *b == bucket => {
                    if nr == oldest {
                        kept.push(Reason::Oldest { rule: st.rule });
                    } else {
                        dropped.push(Reason::Superseded {
                            rule: st.rule,
                            bucket,
                            by: by.clone(),
                        });
                    }
                }
                _ => {
                    kept.push(Reason::Kept {
                        rule: st.rule,
                        bucket,
                    });
                    st.left -= 1;
                    st.last = Some((bucket, s.name.clone()));
                }
            }
        }
        if kept.is_empty() {
            out.delete.push(Decision {
                snapshot: s,
                reasons: dropped,
            });
        } else {
            out.keep.push(Decision {
                snapshot: s,
                reasons: kept,
            });
        }
    }
    out
}

fn decided(snapshot: Candidate, why: Reason) -> Decision {
    Decision {
        snapshot,
        reasons: vec![why],
    }
}
