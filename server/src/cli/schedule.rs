//! `snapline schedule ...`: a container's automatic snapshots and their keep policy
//! (restic's `forget --keep-*`), over `GET/PUT/DELETE /api/v1/containers/{id}/schedule` and
//! `GET .../schedule/preview` (the dry run).

use clap::{Args, Subcommand};
use types::{
    Empty, KEEP_FIELDS, KeepPolicy, MAX_KEEP, RetentionEntry, RetentionPreview,
    RetentionPreviewData, Schedule, ScheduleData, ScheduleSpec,
};

use super::{Client, Remote, enc, show, table};

#[derive(Debug, Subcommand)]
pub enum ScheduleCmd {
    /// Show a container's schedule and keep policy.
    Get {
        /// The container's id.
        #[arg(long)]
        container: String,
    },
    /// Set (or replace) a container's schedule and keep policy. It replaces the whole
    /// schedule: without --keep-* flags the schedule has no keep policy.
    Set {
        /// The container's id.
        #[arg(long)]
        container: String,
        /// When, in UTC: @hourly, @daily, @weekly or five cron fields ("0 3 * * *").
        #[arg(long)]
        schedule: String,
        /// Days until each snapshot it takes expires (1 to 3650); omit it to keep them
        /// until the keep policy drops them.
        #[arg(long)]
        expiry: Option<i64>,
        /// strftime pattern of the snapshots' aliases (default auto-%Y%m%d-%H%M).
        #[arg(long)]
        alias_pattern: Option<String>,
        /// Snapshot the container also while it is stopped.
        #[arg(long)]
        include_stopped: bool,
        #[command(flatten)]
        keep: KeepArgs,
    },
    /// Remove a container's schedule and keep policy (its snapshots stay).
    Delete {
        /// The container's id.
        #[arg(long)]
        container: String,
    },
    /// Show which snapshots the keep policy would delete and keep now, and why; deletes
    /// nothing. With --keep-* flags it previews that policy instead of the saved one.
    Preview {
        /// The container's id.
        #[arg(long)]
        container: String,
        #[command(flatten)]
        keep: KeepArgs,
    },
}

/// The keep policy's flags, as restic's `forget --keep-*`; buckets are UTC.
#[derive(Debug, Clone, Args)]
pub struct KeepArgs {
    /// Keep the N newest scheduled snapshots (0 to 10000).
    #[arg(long, value_name = "N", value_parser = count, allow_negative_numbers = true)]
    pub keep_last: Option<u32>,
    /// Keep the newest snapshot of each of the N newest UTC hours that have one.
    #[arg(long, value_name = "N", value_parser = count, allow_negative_numbers = true)]
    pub keep_hourly: Option<u32>,
    /// Keep the newest snapshot of each of the N newest UTC days that have one.
    #[arg(long, value_name = "N", value_parser = count, allow_negative_numbers = true)]
    pub keep_daily: Option<u32>,
    /// Keep the newest snapshot of each of the N newest ISO weeks (UTC) that have one.
    #[arg(long, value_name = "N", value_parser = count, allow_negative_numbers = true)]
    pub keep_weekly: Option<u32>,
    /// Keep the newest snapshot of each of the N newest UTC months that have one.
    #[arg(long, value_name = "N", value_parser = count, allow_negative_numbers = true)]
    pub keep_monthly: Option<u32>,
}

/// One count, checked here with the server's bound so a typo never reaches it.
fn count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n <= MAX_KEEP => Ok(n),
        _ => Err(format!("use a whole number from 0 to {MAX_KEEP}")),
    }
}

impl KeepArgs {
    /// The policy the flags give; `None` without any.
    fn policy(&self) -> Option<KeepPolicy> {
        let counts = [
            self.keep_last,
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
        ];
        counts
            .iter()
            .any(Option::is_some)
            .then(|| KeepPolicy::from_counts(counts))
    }
}

pub async fn schedule(remote: Remote, cmd: ScheduleCmd) -> anyhow::Result<()> {
    let c = Client::new(&remote)?;
    let path = |id: &str| format!("/api/v1/containers/{}/schedule", enc(id));
    match cmd {
        ScheduleCmd::Get { container } => {
            let data: ScheduleData = c.call("GET", &path(&container)).await?;
            show(&remote, &data, |d| print_schedule(&d.schedule))
        }
        ScheduleCmd::Set {
            container,
            schedule,
            expiry,
            alias_pattern,
            include_stopped,
            keep,
        } => {
            let body = ScheduleSpec {
                schedule,
                expiry,
                alias_pattern,
                include_stopped: Some(include_stopped),
                keep: keep.policy(),
            };
            let data: ScheduleData = c.send("PUT", &path(&container), Some(&body)).await?;
            show(&remote, &data, |d| print_schedule(&d.schedule))
        }
        ScheduleCmd::Delete { container } => {
            let data: Empty = c.call("DELETE", &path(&container)).await?;
            show(&remote, &data, |_| {
                println!("Removed the schedule of {container}; its snapshots stay")
            })
        }
        ScheduleCmd::Preview { container, keep } => {
            // Every count is sent when flags are given (0 for the others), so the server
            // previews exactly this policy and not the saved one.
            let query = keep
                .policy()
                .map(|k| {
                    let pairs: Vec<String> = KEEP_FIELDS
                        .iter()
                        .zip(k.counts())
                        .map(|(f, n)| format!("{f}={}", n.unwrap_or(0)))
                        .collect();
                    format!("?{}", pairs.join("&"))
                })
                .unwrap_or_default();
            let data: RetentionPreviewData = c
                .call("GET", &format!("{}/preview{query}", path(&container)))
                .await?;
            let given = !query.is_empty();
            show(&remote, &data, |d| {
                print!("{}", preview_table(&d.preview, given))
            })
        }
    }
}

fn print_schedule(s: &Schedule) {
    println!("schedule        {} (UTC)", s.schedule);
    println!(
        "expiry          {}",
        s.expiry
            .map(|d| format!("{d} days"))
            .unwrap_or_else(|| "none".into())
    );
    println!("alias pattern   {}", s.alias_pattern);
    println!("include stopped {}", s.include_stopped);
    println!(
        "keep            {}",
        s.keep
            .map(|k| k.describe())
            .unwrap_or_else(|| "no policy (each snapshot stays until its expiry)".into())
    );
    println!("next run        {}", s.next_run_at);
    if let Some(t) = &s.last_run_at {
        println!("last run        {t}");
    }
    if let Some(e) = &s.last_error {
        println!("last error      {e}");
    }
}

/// A summary line, then one row per snapshot: deleted first, then kept, then untouched,
/// each newest first, with the reasons. `given`: the policy is the one typed as --keep-*
/// flags (it applies once saved), not the saved one.
fn preview_table(p: &RetentionPreview, given: bool) -> String {
    let when = if given {
        "once saved, on the server's next job pass"
    } else {
        "on the server's next job pass"
    };
    let head = match &p.policy {
        Some(k) => format!(
            "Policy {}: keeps {}, deletes {} ({when}); {} untouched (taken by hand or pinned).\n",
            k.describe(),
            p.keep.len(),
            p.delete.len(),
            p.untouched.len()
        ),
        None => format!(
            "No keep policy: the schedule's {} snapshots stay until their expiry; {} untouched.\n",
            p.keep.len(),
            p.untouched.len()
        ),
    };
    let row = |action: &str, e: &RetentionEntry| {
        vec![
            action.to_string(),
            e.name.clone(),
            e.alias.clone().unwrap_or_else(|| "-".into()),
            e.created_at.clone(),
            e.reasons.join("; "),
        ]
    };
    let rows = p
        .delete
        .iter()
        .map(|e| row("delete", e))
        .chain(p.keep.iter().map(|e| row("keep", e)))
        .chain(p.untouched.iter().map(|e| row("untouched", e)))
        .collect();
    head + &table::render(&["ACTION", "NAME", "ALIAS", "CREATED", "REASONS"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, reasons: &[&str]) -> RetentionEntry {
        RetentionEntry {
            name: name.into(),
            alias: None,
            created_at: "2026-11-29T03:00:00.000Z".into(),
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn counts_are_checked_before_sending() {
        assert_eq!(count("7"), Ok(7));
        assert_eq!(count("10000"), Ok(10000));
        for bad in ["-1", "10001", "1.5", "many"] {
            assert!(count(bad).unwrap_err().contains("0 to 10000"), "{bad}");
        }
    }

    #[test]
    fn the_preview_lists_deletions_first_with_their_reasons() {
        let p = RetentionPreview {
            container_id: "890abcdef12345678901cdef".into(),
            policy: Some(KeepPolicy {
                daily: Some(1),
                ..Default::default()
            }),
            keep: vec![entry("snap-b", &["daily 2026-11-29"])],
            delete: vec![entry("snap-a", &["daily 2026-11-29: snap-b is newer"])],
            untouched: vec![entry("snap-m", &["manual"])],
        };
        let t = preview_table(&p, false);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("Policy daily 1: keeps 1, deletes 1"),
            "{t}"
        );
        assert!(lines[1].starts_with("ACTION"), "{t}");
        assert!(
            lines[2].starts_with("delete")
                && lines[2].ends_with("daily 2026-11-29: snap-b is newer"),
            "{t}"
        );
        assert!(
            lines[3].starts_with("keep") && lines[3].contains("snap-b"),
            "{t}"
        );
        assert!(
            lines[4].starts_with("untouched") && lines[4].ends_with("manual"),
            "{t}"
        );
    }
}
