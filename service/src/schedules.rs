//! Automatic snapshots per container, as Incus's `snapshots.schedule`: a cron expression
//! (or `@hourly`, `@daily`, `@weekly`), an expiry for the snapshots it takes, an alias
//! pattern, whether stopped containers are included, and a keep policy (restic's
//! `forget --keep-*`, see [`crate::retention`]) over the snapshots it took.

use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{Caller, Service, fmt_time, now, parse_time};
use crate::error::{Hint, ServiceError};
use engine::ContainerId;
use types::ContainerStatus;

/// Alias of scheduled snapshots unless the schedule says otherwise (strftime, UTC).
pub const DEFAULT_ALIAS_PATTERN: &str = "auto-%Y%m%d-%H%M";

pub use types::{Schedule, ScheduleSpec};

/// Parses a schedule; the error says what a valid one looks like.
pub fn parse_cron(s: &str) -> Result<croner::Cron, ServiceError> {
    let bad = |why: String| {
        ServiceError::bad_request(format!(
            "schedule {s:?} is not valid ({why}): use five cron fields like \"0 3 * * *\" \
             (minute hour day month weekday, UTC) or @hourly, @daily, @weekly"
        ))
    };
    if s.len() > 100 {
        return Err(bad("longer than 100 characters".into()));
    }
    if let Some(why) = cron_problem(s) {
        return Err(bad(why));
    }
    // The fields were checked in our words above; what the library still refuses is said
    // without its internal terms.
    croner::Cron::new(s)
        .parse()
        .map_err(|_| bad("the library that reads it refused it".into()))
}

/// What is wrong with cron text `s`, field by field, in Snapline's words; `None` when each
/// field holds only numbers in its range (or names where cron allows them), `*`, lists,
/// ranges and steps. The `@` shorthands are left to the parser.
fn cron_problem(s: &str) -> Option<String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("weekday", 0, 7),
    ];
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    if s.trim_start().starts_with('@') {
        return None;
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Some(format!(
            "it has {} field{}; a schedule has five",
            fields.len(),
            if fields.len() == 1 { "" } else { "s" }
        ));
    }
    for (text, (what, lo, hi)) in fields.iter().zip(FIELDS) {
        let names: &[&str] = match what {
            "month" => &MONTHS,
            "weekday" => &DAYS,
            _ => &[],
        };
        for part in text.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (part, None),
            };
            if let Some(st) = step
                && !st.parse::<u32>().is_ok_and(|n| n >= 1 && n <= hi.max(1))
            {
                return Some(format!(
                    "the {what} field {text:?} has the step {st:?}; a step is a whole number \
                     from 1 to {}",
                    hi.max(1)
                ));
            }
            if range == "*" {
                continue;
            }
            for value in range.splitn(2, '-') {
                let known = names.iter().any(|n| value.eq_ignore_ascii_case(n));
                let number = value.parse::<u32>().ok();
                match number {
                    Some(n) if (lo..=hi).contains(&n) => {}
                    Some(_) => {
                        return Some(format!(
                            "the {what} field {text:?} is out of range: {what} values are {lo} to {hi}"
                        ));
                    }
                    None if known => {}
                    None => {
                        return Some(format!(
                            "the {what} field {text:?} is not a number, `*`, a list (1,15), a \
                             range (1-5) or a step (*/10)"
                        ));
                    }
                }
            }
        }
    }
    None
}

fn next_after(cron: &croner::Cron, t: DateTime<Utc>) -> Result<DateTime<Utc>, ServiceError> {
    cron.find_next_occurrence(&t, false).map_err(|e| {
        ServiceError::bad_request(format!(
            "the schedule never fires after {}: {e}",
            fmt_time(t)
        ))
    })
}

/// The alias a pattern gives at `t`; refused when the pattern is not valid strftime or the
/// alias would be too long.
pub fn render_alias(pattern: &str, t: DateTime<Utc>) -> Result<String, ServiceError> {
    use std::fmt::Write;
    let mut out = String::new();
    write!(out, "{}", t.format(pattern)).map_err(|_| {
        ServiceError::bad_request(format!(
            "alias_pattern {pattern:?} is not a valid strftime pattern (for example \
             {DEFAULT_ALIAS_PATTERN})"
        ))
    })?;
    engine::snapshot::validate_alias(&out)?;
    Ok(out)
}

fn row_to_schedule(r: &engine::DbRow) -> Result<Schedule, ServiceError> {
    Ok(Schedule {
        container_id: r.try_get("container_id")?,
        schedule: r.try_get("cron")?,
        expiry: r.try_get("expiry_days")?,
        alias_pattern: r.try_get("alias_pattern")?,
        include_stopped: r.try_get::<i64, _>("include_stopped")? != 0,
        next_run_at: r.try_get("next_run_at")?,
        last_run_at: r.try_get("last_run_at")?,
        last_error: r.try_get("last_error")?,
        keep: crate::retention::apply::stored_policy(r.try_get("keep_policy")?)?,
    })
}

impl Service {
    /// Sets (or replaces) a container's schedule. A PUT replaces everything: a spec without
    /// `keep` removes the policy. Counts above [`types::MAX_KEEP`] are refused (400, naming
    /// the field and the range); zero counts are dropped and an all-zero policy is none.
    pub async fn set_schedule(
        &self,
        caller: &Caller,
        id: &ContainerId,
        spec: ScheduleSpec,
    ) -> Result<Schedule, ServiceError> {
        let c = self.container_row(caller, id).await?;
        if c.deleted() {
            return Err(ServiceError::conflict(format!(
                "container {id} was deleted; there is nothing to snapshot on a schedule"
            )));
        }
        // The length is the text as sent, spaces included, as the schema states it
        // (`maxLength` 100), so the docs page's check and this one agree.
        if spec.schedule.chars().count() > 100 {
            return Err(ServiceError::bad_request(format!(
                "schedule is {} characters long; at most 100 are allowed",
                spec.schedule.chars().count()
            )));
        }
        let cron = parse_cron(spec.schedule.trim())?;
        if let Some(d) = spec.expiry {
            super::snapshots::validate_expiry(d)?;
        }
        let pattern = spec
            .alias_pattern
            .unwrap_or_else(|| DEFAULT_ALIAS_PATTERN.to_string());
        render_alias(&pattern, now())?;
        let keep = crate::retention::apply::accepted_policy(spec.keep)?;
        let keep = keep
            .map(|k| serde_json::to_string(&k))
            .transpose()
            .map_err(|e| {
                ServiceError::internal(anyhow::anyhow!("cannot write the keep policy: {e}"))
            })?;
        let next = next_after(&cron, now())?;
        sqlx::query(
            "INSERT INTO schedules (container_id, cron, expiry_days, alias_pattern, \
             include_stopped, next_run_at, created_at, keep_policy) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (container_id) DO UPDATE SET cron = excluded.cron, \
             expiry_days = excluded.expiry_days, alias_pattern = excluded.alias_pattern, \
             include_stopped = excluded.include_stopped, next_run_at = excluded.next_run_at, \
             keep_policy = excluded.keep_policy, last_error = NULL",
        )
        .bind(c.id.as_str())
        .bind(spec.schedule.trim())
        .bind(spec.expiry)
        .bind(&pattern)
        .bind(spec.include_stopped.unwrap_or(false) as i64)
        .bind(fmt_time(next))
        .bind(fmt_time(now()))
        .bind(keep)
        .execute(self.db())
        .await?;
        self.get_schedule(caller, id).await
    }

    /// A container's schedule; 404 when it has none.
    pub async fn get_schedule(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<Schedule, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let r = sqlx::query("SELECT * FROM schedules WHERE container_id = $1")
            .bind(c.id.as_str())
            .fetch_optional(self.db())
            .await?
            .ok_or_else(|| {
                ServiceError::not_found(format!("container {id} has no snapshot schedule"))
                    .with_hint(Hint::SetSchedule {
                        container: id.to_string(),
                    })
            })?;
        row_to_schedule(&r)
    }

    /// Removes a container's schedule.
    pub async fn delete_schedule(
        &self,
        caller: &Caller,
        id: &ContainerId,
    ) -> Result<(), ServiceError> {
        let c = self.container_row(caller, id).await?;
        let mut tx = self.db().begin().await?;
        let r = sqlx::query("DELETE FROM schedules WHERE container_id = $1")
            .bind(c.id.as_str())
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 0 {
            return Err(ServiceError::not_found(format!(
                "container {id} has no snapshot schedule"
            )));
        }
        // The snapshots it took stay, from now on as if taken by hand: a later schedule's
        // keep policy never deletes what an earlier schedule took.
        sqlx::query("DELETE FROM scheduled_snapshots WHERE container_id = $1")
            .bind(c.id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the snapshots whose time has come (at most one per schedule, however long the
    /// server was down). Returns how many were taken.
    pub async fn run_due_schedules(&self, at: DateTime<Utc>) -> Result<u64, ServiceError> {
        let rows = sqlx::query(
            // The live root is on its node: only that node can snapshot it.
            "SELECT s.*, c.status AS status FROM schedules s JOIN containers c \
             ON c.id = s.container_id WHERE s.next_run_at <= $1 AND c.node_id = $2",
        )
        .bind(fmt_time(at))
        .bind(self.server_id())
        .fetch_all(self.db())
        .await?;
        let mut taken = 0;
        for r in &rows {
            let s = row_to_schedule(r)?;
            let status: String = r.try_get("status")?;
            let status = ContainerStatus::parse(&status);
            let cron = parse_cron(&s.schedule)?;
            let next = next_after(&cron, at)?;
            let due = parse_time(&s.next_run_at)?;
            // Deleted and half-made containers are skipped; stopped ones unless asked for.
            let skip = matches!(
                status,
                None | Some(ContainerStatus::Deleted | ContainerStatus::Creating)
            ) || (status != Some(ContainerStatus::Running) && !s.include_stopped);
            let outcome = if skip {
                Ok(false)
            } else {
                self.scheduled_snapshot(&s, due).await.map(|_| true)
            };
            let error = outcome.as_ref().err().map(|e| e.to_string());
            if let Err(e) = &outcome {
                tracing::warn!(container = %s.container_id, error = %e, "scheduled snapshot failed");
            }
            taken += u64::from(matches!(outcome, Ok(true)));
            sqlx::query(
                "UPDATE schedules SET next_run_at = $1, last_run_at = $2, last_error = $3 \
                 WHERE container_id = $4",
            )
            .bind(fmt_time(next))
            .bind(fmt_time(at))
            .bind(error)
            .bind(&s.container_id)
            .execute(self.db())
            .await?;
        }
        Ok(taken)
    }

    async fn scheduled_snapshot(
        &self,
        s: &Schedule,
        due: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let alias = render_alias(&s.alias_pattern, due)?;
        let system = Caller {
            token_id: "scheduler".into(),
            admin: true,
            projects: Vec::new(),
        };
        let id = super::parse_id("container id", &s.container_id)?;
        let c = self.container_row(&system, &id).await?;
        let _guard = self.lock(&c.id).await?;
        let alias = self.free_alias(&c.id, alias).await?;
        let snap = self.snapshot_locked(&c, Some(alias), s.expiry).await?;
        // Marked under the same lock, so a retention pass never sees it unmarked; a crash
        // before this line leaves it unmarked, which only ever keeps it.
        self.mark_scheduled(&c.id, &snap.name, now()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn bad_cron_text_is_explained_field_by_field() {
        for (text, says) in [
            ("every tuesday-ish", "it has 2 fields; a schedule has five"),
            ("bogus", "it has 1 field;"),
            (
                "61 25 * * *",
                "the minute field \"61\" is out of range: minute values are 0 to 59",
            ),
            (
                "0 25 * * *",
                "the hour field \"25\" is out of range: hour values are 0 to 23",
            ),
            ("0 3 0 * *", "day of month field \"0\""),
            ("0 3 * 13 *", "month values are 1 to 12"),
            ("0 3 * * 8", "weekday values are 0 to 7"),
            ("*/0 * * * *", "a step is a whole number from 1 to 59"),
            (
                "0 3 * * mon-fry",
                "weekday field \"mon-fry\" is not a number",
            ),
            ("0 0 3 * * *", "it has 6 fields"),
        ] {
            let e = parse_cron(text).unwrap_err().message;
            assert!(e.contains(says), "{text}: {e}");
            assert!(
                !e.contains("Component") && !e.contains("Pattern"),
                "{text}: {e}"
            );
        }
        for good in [
            "0 3 * * *",
            "*/15 * * * *",
            "0 9-17 * * mon-fri",
            "0 0 1,15 jan-jun *",
            "@daily",
        ] {
            assert!(parse_cron(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn schedules_parse_and_fire_when_expected() {
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 10, 17, 0).unwrap();
        let hourly = parse_cron("@hourly").unwrap();
        assert_eq!(
            next_after(&hourly, t).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 29, 11, 0, 0).unwrap()
        );
        let nightly = parse_cron("30 3 * * *").unwrap();
        assert_eq!(
            next_after(&nightly, t).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 30, 3, 30, 0).unwrap()
        );
        for bad in ["", "every day", "61 * * * *", "* * * * * *", "@sometimes"] {
            assert!(parse_cron(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn alias_patterns_render_and_bad_ones_are_refused() {
        let t = Utc.with_ymd_and_hms(2026, 11, 29, 10, 17, 0).unwrap();
        assert_eq!(
            render_alias(DEFAULT_ALIAS_PATTERN, t).unwrap(),
            "auto-20261129-1017"
        );
        assert!(render_alias("%Q-bad", t).is_err());
        assert!(render_alias(&"x".repeat(101), t).is_err());
        assert!(render_alias("line\nbreak", t).is_err());
    }
}
