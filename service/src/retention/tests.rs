//! The keep policy on snapshots aged in time: calendar edges (DST dates, month and year
//! ends, ISO week 53), several snapshots in one bucket, rules that overlap, zero counts,
//! restic's own documented examples, and invariants over many generated histories.

use chrono::{DateTime, Duration, TimeZone, Utc};
use types::KeepPolicy;

use super::plan::{Candidate, Origin, Plan, plan};

/// A time from `2026-11-29T14:05:00Z`.
fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The engine's name for a snapshot taken at `t`.
fn name_of(t: DateTime<Utc>) -> String {
    t.format("snap-%Y%m%d-%H%M%S").to_string()
}

fn snap(t: DateTime<Utc>, origin: Origin) -> Candidate {
    Candidate {
        name: name_of(t),
        alias: Some(t.format("auto-%Y%m%d-%H%M").to_string()),
        created_at: t,
        origin,
    }
}

/// Scheduled snapshots at these times.
fn scheduled(times: &[&str]) -> Vec<Candidate> {
    times
        .iter()
        .map(|t| snap(at(t), Origin::Scheduled))
        .collect()
}

fn policy(f: impl FnOnce(&mut KeepPolicy)) -> KeepPolicy {
    let mut p = KeepPolicy::default();
    f(&mut p);
    p
}

/// The kept snapshots' times, newest first.
fn kept(p: &Plan) -> Vec<String> {
    p.keep.iter().map(|d| time(&d.snapshot)).collect()
}

fn deleted(p: &Plan) -> Vec<String> {
    p.delete.iter().map(|d| time(&d.snapshot)).collect()
}

fn time(c: &Candidate) -> String {
    c.created_at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The reasons of the snapshot taken at `t`, as the API writes them.
fn reasons(p: &Plan, t: &str) -> Vec<String> {
    let t = at(t);
    p.keep
        .iter()
        .chain(&p.delete)
        .chain(&p.untouched)
        .find(|d| d.snapshot.created_at == t)
        .unwrap_or_else(|| panic!("{t} is in no list of {p:?}"))
        .reasons
        .iter()
        .map(|r| r.to_string())
        .collect()
}

#[test]
fn last_keeps_the_n_newest() {
    let snaps = scheduled(&[
        "2026-11-29T10:00:00Z",
        "2026-11-29T11:00:00Z",
        "2026-11-29T12:00:00Z",
        "2026-11-29T13:00:00Z",
        "2026-11-29T14:00:00Z",
    ]);
    let p = plan(Some(&policy(|p| p.last = Some(3))), snaps);
    assert_eq!(
        kept(&p),
        [
            "2026-11-29T14:00:00Z",
            "2026-11-29T13:00:00Z",
            "2026-11-29T12:00:00Z"
        ]
    );
    assert_eq!(
        deleted(&p),
        ["2026-11-29T11:00:00Z", "2026-11-29T10:00:00Z"]
    );
    assert_eq!(reasons(&p, "2026-11-29T14:00:00Z"), ["last"]);
    assert_eq!(
        reasons(&p, "2026-11-29T10:00:00Z"),
        ["last: 3 newer snapshots kept"]
    );
    assert_eq!(
        p.delete_names(),
        ["snap-20261129-110000", "snap-20261129-100000"]
    );
}

#[test]
fn the_newest_of_each_bucket_is_kept_until_n_buckets() {
    // Three days; several snapshots in two of them.
    let snaps = scheduled(&[
        "2026-11-27T01:00:00Z",
        "2026-11-27T09:00:00Z",
        "2026-11-27T23:59:59Z",
        "2026-11-28T00:00:00Z",
        "2026-11-28T12:00:00Z",
        "2026-11-29T06:00:00Z",
    ]);
    let p = plan(Some(&policy(|p| p.daily = Some(3))), snaps);
    assert_eq!(
        kept(&p),
        [
            "2026-11-29T06:00:00Z",
            "2026-11-28T12:00:00Z",
            "2026-11-27T23:59:59Z"
        ]
    );
    assert_eq!(reasons(&p, "2026-11-29T06:00:00Z"), ["daily 2026-11-29"]);
    assert_eq!(reasons(&p, "2026-11-28T12:00:00Z"), ["daily 2026-11-28"]);
    assert_eq!(reasons(&p, "2026-11-27T23:59:59Z"), ["daily 2026-11-27"]);
    // Same day as a kept one: superseded by it.
    assert_eq!(
        reasons(&p, "2026-11-28T00:00:00Z"),
        ["daily 2026-11-28: snap-20261128-120000 is newer"]
    );
    // Once three days are kept the rule is full, even within the third day.
    assert_eq!(
        reasons(&p, "2026-11-27T09:00:00Z"),
        ["daily: 3 newer days kept"]
    );
    assert_eq!(
        deleted(&p),
        [
            "2026-11-28T00:00:00Z",
            "2026-11-27T09:00:00Z",
            "2026-11-27T01:00:00Z"
        ]
    );
}

#[test]
fn the_oldest_is_kept_too_while_a_rule_has_room() {
    // daily 7 over two days: both days' newest, and (restic 0.17) the oldest snapshot.
    let snaps = scheduled(&[
        "2026-11-28T08:00:00Z",
        "2026-11-28T16:00:00Z",
        "2026-11-29T08:00:00Z",
        "2026-11-29T16:00:00Z",
    ]);
    let p = plan(Some(&policy(|p| p.daily = Some(7))), snaps.clone());
    assert_eq!(
        kept(&p),
        [
            "2026-11-29T16:00:00Z",
            "2026-11-28T16:00:00Z",
            "2026-11-28T08:00:00Z"
        ]
    );
    assert_eq!(reasons(&p, "2026-11-28T08:00:00Z"), ["oldest daily"]);
    assert_eq!(
        reasons(&p, "2026-11-29T08:00:00Z"),
        ["daily 2026-11-29: snap-20261129-160000 is newer"]
    );
    // With exactly as many days as snapshots' days, the rule is full at the oldest: no
    // extra keep.
    let p = plan(Some(&policy(|p| p.daily = Some(2))), snaps);
    assert_eq!(kept(&p), ["2026-11-29T16:00:00Z", "2026-11-28T16:00:00Z"]);
}

#[test]
fn european_dst_changes_do_not_shift_utc_buckets() {
    // Central Europe goes to summer time at 2026-03-29T01:00Z: 23:30Z on the 28th is already
    // the 29th in Paris, and 23:30Z on the 29th is the 30th there. In UTC they stay on their
    // own dates.
    let snaps = scheduled(&[
        "2026-03-28T23:30:00Z",
        "2026-03-29T00:30:00Z",
        "2026-03-29T01:30:00Z",
        "2026-03-29T23:30:00Z",
    ]);
    let p = plan(Some(&policy(|p| p.daily = Some(2))), snaps);
    assert_eq!(kept(&p), ["2026-03-29T23:30:00Z", "2026-03-28T23:30:00Z"]);
    assert_eq!(reasons(&p, "2026-03-28T23:30:00Z"), ["daily 2026-03-28"]);
    assert_eq!(
        deleted(&p),
        ["2026-03-29T01:30:00Z", "2026-03-29T00:30:00Z"]
    );

    // Back to winter time at 2026-10-25T01:00Z: Paris lives 02:00-02:59 twice, but these are
    // two UTC hours, each with its own newest snapshot.
    let snaps = scheduled(&[
        "2026-10-25T00:10:00Z",
        "2026-10-25T00:50:00Z",
        "2026-10-25T01:10:00Z",
        "2026-10-25T01:50:00Z",
    ]);
    let p = plan(Some(&policy(|p| p.hourly = Some(2))), snaps);
    assert_eq!(kept(&p), ["2026-10-25T01:50:00Z", "2026-10-25T00:50:00Z"]);
    assert_eq!(
        reasons(&p, "2026-10-25T00:50:00Z"),
        ["hourly 2026-10-25 00:00"]
    );
    assert_eq!(
        reasons(&p, "2026-10-25T01:10:00Z"),
        ["hourly 2026-10-25 01:00: snap-20261025-015000 is newer"]
    );
    assert_eq!(
        reasons(&p, "2026-10-25T00:10:00Z"),
        ["hourly: 2 newer hours kept"]
    );
}

#[test]
fn month_ends_fall_in_their_own_months() {
    // Jan 31 -> Feb 1, Feb 28 -> Mar 1 (2026 is not a leap year).
    let snaps = scheduled(&[
        "2026-01-31T23:59:59Z",
        "2026-02-01T00:00:00Z",
        "2026-02-28T23:00:00Z",
        "2026-03-01T00:00:00Z",
    ]);
    let p = plan(Some(&policy(|p| p.monthly = Some(3))), snaps);
    assert_eq!(
        kept(&p),
        [
            "2026-03-01T00:00:00Z",
            "2026-02-28T23:00:00Z",
            "2026-01-31T23:59:59Z"
        ]
    );
    assert_eq!(reasons(&p, "2026-01-31T23:59:59Z"), ["monthly 2026-01"]);
    assert_eq!(
        reasons(&p, "2026-02-01T00:00:00Z"),
        ["monthly 2026-02: snap-20260228-230000 is newer"]
    );

    // A leap year: Feb 29 is February's newest day, and a day of its own.
    let snaps = scheduled(&[
        "2028-01-15T12:00:00Z",
        "2028-02-28T12:00:00Z",
        "2028-02-29T12:00:00Z",
        "2028-03-01T00:00:00Z",
    ]);
    let p = plan(
        Some(&policy(|p| {
            p.monthly = Some(3);
            p.daily = Some(2)
        })),
        snaps,
    );
    assert_eq!(
        reasons(&p, "2028-02-29T12:00:00Z"),
        ["daily 2028-02-29", "monthly 2028-02"]
    );
    assert_eq!(
        reasons(&p, "2028-02-28T12:00:00Z"),
        [
            "daily: 2 newer days kept",
            "monthly 2028-02: snap-20280229-120000 is newer"
        ]
    );

    // Dec 31 -> Jan 1: new day, new month, new year; the same ISO week (2026-W53).
    let snaps = scheduled(&["2026-12-31T23:59:00Z", "2027-01-01T00:01:00Z"]);
    let p = plan(
        Some(&policy(|p| {
            p.monthly = Some(1);
            p.weekly = Some(1)
        })),
        snaps,
    );
    assert_eq!(kept(&p), ["2027-01-01T00:01:00Z"]);
    assert_eq!(
        reasons(&p, "2027-01-01T00:01:00Z"),
        ["weekly 2026-W53", "monthly 2027-01"]
    );
    assert_eq!(
        reasons(&p, "2026-12-31T23:59:00Z"),
        ["weekly: 1 newer week kept", "monthly: 1 newer month kept"]
    );
}

#[test]
fn iso_weeks_at_year_end() {
    // 2026-12-28 (Monday) to 2027-01-03 (Sunday) is ISO week 2026-W53; 2027-01-04 starts
    // 2027-W01.
    let snaps = scheduled(&[
        "2026-12-27T12:00:00Z",
        "2026-12-28T00:00:00Z",
        "2026-12-31T12:00:00Z",
        "2027-01-01T12:00:00Z",
        "2027-01-03T23:59:00Z",
        "2027-01-04T00:00:00Z",
    ]);
    let p = plan(Some(&policy(|p| p.weekly = Some(3))), snaps);
    assert_eq!(
        kept(&p),
        [
            "2027-01-04T00:00:00Z",
            "2027-01-03T23:59:00Z",
            "2026-12-27T12:00:00Z"
        ]
    );
    assert_eq!(reasons(&p, "2027-01-04T00:00:00Z"), ["weekly 2027-W01"]);
    assert_eq!(reasons(&p, "2027-01-03T23:59:00Z"), ["weekly 2026-W53"]);
    assert_eq!(reasons(&p, "2026-12-27T12:00:00Z"), ["weekly 2026-W52"]);
    for t in [
        "2026-12-28T00:00:00Z",
        "2026-12-31T12:00:00Z",
        "2027-01-01T12:00:00Z",
    ] {
        assert_eq!(
            reasons(&p, t),
            ["weekly 2026-W53: snap-20270103-235900 is newer"],
            "{t}"
        );
    }

    // 2020 had a week 53 too, running into 2021-01-03.
    let snaps = scheduled(&["2020-12-31T12:00:00Z", "2021-01-03T12:00:00Z"]);
    let p = plan(Some(&policy(|p| p.weekly = Some(1))), snaps);
    assert_eq!(reasons(&p, "2021-01-03T12:00:00Z"), ["weekly 2020-W53"]);
    assert_eq!(deleted(&p), ["2020-12-31T12:00:00Z"]);
}

#[test]
fn last_overlaps_the_calendar_rules_and_every_reason_is_listed() {
    let snaps = scheduled(&[
        "2026-11-28T10:00:00Z",
        "2026-11-28T20:00:00Z",
        "2026-11-29T08:00:00Z",
        "2026-11-29T12:00:00Z",
        "2026-11-29T16:00:00Z",
    ]);
    let p = plan(
        Some(&policy(|p| {
            p.last = Some(2);
            p.daily = Some(2)
        })),
        snaps,
    );
    assert_eq!(
        kept(&p),
        [
            "2026-11-29T16:00:00Z",
            "2026-11-29T12:00:00Z",
            "2026-11-28T20:00:00Z"
        ]
    );
    assert_eq!(
        reasons(&p, "2026-11-29T16:00:00Z"),
        ["last", "daily 2026-11-29"]
    );
    assert_eq!(reasons(&p, "2026-11-29T12:00:00Z"), ["last"]);
    assert_eq!(reasons(&p, "2026-11-28T20:00:00Z"), ["daily 2026-11-28"]);
    assert_eq!(
        reasons(&p, "2026-11-29T08:00:00Z"),
        [
            "last: 2 newer snapshots kept",
            "daily 2026-11-29: snap-20261129-160000 is newer"
        ]
    );
    assert_eq!(
        reasons(&p, "2026-11-28T10:00:00Z"),
        ["last: 2 newer snapshots kept", "daily: 2 newer days kept"]
    );
}

#[test]
fn zero_counts_are_rules_that_do_nothing_and_all_zero_deletes_nothing() {
    let snaps = scheduled(&[
        "2026-11-27T10:00:00Z",
        "2026-11-28T10:00:00Z",
        "2026-11-29T10:00:00Z",
    ]);
    // Every count 0: no policy, nothing deleted (restic refuses an empty policy too).
    let zero = KeepPolicy::from_counts([Some(0); 5]);
    for p in [plan(Some(&zero), snaps.clone()), plan(None, snaps.clone())] {
        assert_eq!(p.keep.len(), 3);
        assert!(p.delete.is_empty());
        assert_eq!(reasons(&p, "2026-11-27T10:00:00Z"), ["no policy"]);
    }
    // `last: 0` beside `daily: 1`: only the daily rule speaks.
    let p = plan(
        Some(&policy(|p| {
            p.last = Some(0);
            p.daily = Some(1)
        })),
        snaps,
    );
    assert_eq!(kept(&p), ["2026-11-29T10:00:00Z"]);
    assert_eq!(
        reasons(&p, "2026-11-28T10:00:00Z"),
        ["daily: 1 newer day kept"]
    );
}

#[test]
fn manual_and_pinned_snapshots_are_neither_touched_nor_counted() {
    let mut snaps = scheduled(&["2026-11-29T10:00:00Z", "2026-11-29T11:00:00Z"]);
    snaps.push(snap(at("2026-11-29T12:00:00Z"), Origin::Manual));
    snaps.push(snap(at("2026-11-29T09:00:00Z"), Origin::Pinned));
    let p = plan(Some(&policy(|p| p.last = Some(1))), snaps);
    // The manual snapshot is newer, yet `last 1` keeps the newest *scheduled* one.
    assert_eq!(kept(&p), ["2026-11-29T11:00:00Z"]);
    assert_eq!(deleted(&p), ["2026-11-29T10:00:00Z"]);
    assert_eq!(reasons(&p, "2026-11-29T12:00:00Z"), ["manual"]);
    assert_eq!(reasons(&p, "2026-11-29T09:00:00Z"), ["pinned"]);
    assert_eq!(p.untouched.len(), 2);
}

#[test]
fn ties_in_one_second_are_ordered_by_name() {
    // Two snapshots in the same second: the engine names the later one `-2`.
    let t = at("2026-11-29T10:00:00Z");
    let mut second = snap(t, Origin::Scheduled);
    second.name.push_str("-2");
    let snaps = vec![snap(t, Origin::Scheduled), second];
    let p = plan(Some(&policy(|p| p.hourly = Some(1))), snaps);
    assert_eq!(p.keep[0].snapshot.name, "snap-20261129-100000-2");
    assert_eq!(p.delete_names(), ["snap-20261129-100000"]);
}

/// restic's documentation: a backup every Sunday for 12 weeks, `--keep-daily 4` keeps the
/// last four and removes the other eight.
#[test]
fn restics_sunday_example() {
    let first = at("2019-09-01T11:00:00Z");
    let snaps: Vec<Candidate> = (0..12)
        .map(|w| snap(first + Duration::weeks(w), Origin::Scheduled))
        .collect();
    let p = plan(Some(&policy(|p| p.daily = Some(4))), snaps);
    assert_eq!(
        kept(&p),
        [
            "2019-11-17T11:00:00Z",
            "2019-11-10T11:00:00Z",
            "2019-11-03T11:00:00Z",
            "2019-10-27T11:00:00Z"
        ]
    );
    assert_eq!(p.delete.len(), 8);
}

/// restic's documentation: daily backups for years, `--keep-daily 7 --keep-weekly 5
/// --keep-monthly 12` keeps 7 dailies, 4 more weeklies (the dailies include this week's
/// newest) and 11 more month-ends (this month's newest is a daily).
#[test]
fn restics_daily_weekly_monthly_example() {
    // Ends on Sunday 2026-11-29, so the 7 dailies are exactly one ISO week.
    let last = at("2026-11-29T03:00:00Z");
    let snaps: Vec<Candidate> = (0..800)
        .map(|d| snap(last - Duration::days(d), Origin::Scheduled))
        .collect();
    let p = plan(
        Some(&policy(|p| {
            p.daily = Some(7);
            p.weekly = Some(5);
            p.monthly = Some(12)
        })),
        snaps,
    );
    assert_eq!(p.keep.len(), 7 + 4 + 11, "{:?}", kept(&p));
    assert_eq!(
        reasons(&p, "2026-11-29T03:00:00Z"),
        ["daily 2026-11-29", "weekly 2026-W48", "monthly 2026-11"]
    );
    assert_eq!(reasons(&p, "2026-11-01T03:00:00Z"), ["weekly 2026-W44"]);
    assert_eq!(reasons(&p, "2026-10-31T03:00:00Z"), ["monthly 2026-10"]);
    assert_eq!(reasons(&p, "2025-12-31T03:00:00Z"), ["monthly 2025-12"]);
    assert_eq!(
        reasons(&p, "2025-11-30T03:00:00Z"),
        [
            "daily: 7 newer days kept",
            "weekly: 5 newer weeks kept",
            "monthly: 12 newer months kept"
        ]
    );
}

/// Over many generated histories and policies: the lists split the input exactly, the
/// newest scheduled snapshot is always kept, no rule keeps more buckets than its count (the
/// oldest aside), no two snapshots are kept for the same bucket of a rule, and the input's
/// order does not matter.
#[test]
fn invariants_over_generated_histories() {
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let base = Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap();
    for _ in 0..300 {
        let len = next(40) as usize;
        let mut snaps = Vec::new();
        let mut t = base;
        for i in 0..len {
            // Gaps from a minute to about two weeks.
            t -= Duration::minutes(1 + next(20_000) as i64);
            let origin = match next(10) {
                0 => Origin::Manual,
                1 => Origin::Pinned,
                _ => Origin::Scheduled,
            };
            let mut c = snap(t, origin);
            c.name.push_str(&format!("-{i}"));
            snaps.push(c);
        }
        let p = KeepPolicy::from_counts([0; 5].map(|_| (next(3) > 0).then(|| next(6) as u32)));
        let out = plan(Some(&p), snaps.clone());
        let scheduled = snaps
            .iter()
            .filter(|s| s.origin == Origin::Scheduled)
            .count();
        assert_eq!(out.keep.len() + out.delete.len(), scheduled, "{p:?}");
        assert_eq!(out.untouched.len(), len - scheduled);
        if scheduled > 0 {
            // The input is generated newest first.
            let newest = snaps
                .iter()
                .find(|s| s.origin == Origin::Scheduled)
                .unwrap();
            assert_eq!(out.keep[0].snapshot, *newest, "{p:?}");
        }
        if p.is_empty() {
            assert!(out.delete.is_empty());
        }
        let counts = p.counts();
        for (i, field) in types::KEEP_FIELDS.iter().enumerate() {
            let buckets: Vec<String> = out
                .keep
                .iter()
                .flat_map(|d| d.reasons.iter().map(|r| r.to_string()))
                .filter(|r| r == field || r.starts_with(&format!("{field} ")))
                .collect();
            assert!(
                buckets.len() <= counts[i].unwrap_or(0) as usize,
                "{field}: {buckets:?} for {p:?}"
            );
            if *field != "last" {
                let mut unique = buckets.clone();
                unique.dedup();
                assert_eq!(unique, buckets, "a bucket kept twice");
            }
        }
        let mut shuffled = snaps;
        shuffled.reverse();
        assert_eq!(plan(Some(&p), shuffled), out, "order matters for {p:?}");
    }
}
