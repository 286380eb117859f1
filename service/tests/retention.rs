//! Keep policies on a real engine and SQLite file: snapshots taken by the schedule (and by
//! hand), aged by rewriting their `created_at` in the database, then the background job:
//! exactly the snapshots the policy drops are deleted, through the ordinary delete path
//! (events, marks, GC), and manual and pinned snapshots are never touched.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use service::schedules::ScheduleSpec;
use service::{Caller, Limits, Service};
use types::{EventKind, KeepPolicy};

async fn service(dir: &std::path::Path) -> Service {
    let pool = service::db::connect(&engine::db::scratch_url(dir, "snapline.db"))
        .await
        .unwrap();
    Service::open(pool, dir.to_path_buf(), Limits::default())
        .await
        .unwrap()
}

fn admin() -> Caller {
    Caller {
        token_id: "test".into(),
        admin: true,
        projects: vec![],
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn spec(keep: Option<KeepPolicy>) -> ScheduleSpec {
    ScheduleSpec {
        // Never due by itself during the test: the test says when it runs.
        schedule: "0 3 1 1 *".into(),
        expiry: None,
        alias_pattern: Some("auto-%Y%m%d-%H%M%S".into()),
        include_stopped: Some(true),
        keep,
    }
}

/// Rewrites when a snapshot was taken, as if it were that old.
async fn age(svc: &Service, container: &str, name: &str, t: &str) {
    let r = sqlx::query(
        "UPDATE engine_snapshots SET created_at = $1 WHERE container_id = $2 AND name = $3",
    )
    .bind(service::fmt_time(at(t)))
    .bind(container)
    .bind(name)
    .execute(svc.db())
    .await
    .unwrap();
    assert_eq!(r.rows_affected(), 1, "{name}");
}

/// Replaces the live tree's test file with one of its own (incompressible bytes from `i`),
/// so each snapshot holds a pack no other one needs and deleting it frees space.
fn change(svc: &Service, id: &engine::ContainerId, i: u64) {
    let root = svc.engine().root_path(id);
    for e in std::fs::read_dir(&root).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("retention-") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let mut x = 0x2545_F491_4F6C_DD1D ^ (i + 1);
    let bytes: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(root.join(format!("retention-{i}.bin")), bytes).unwrap();
}

async fn names(svc: &Service, id: &engine::ContainerId) -> BTreeSet<String> {
    let (_, list) = svc.list_snapshots(&admin(), id).await.unwrap();
    list.into_iter().map(|s| s.name).collect()
}

#[tokio::test]
async fn the_job_deletes_exactly_what_the_policy_drops() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = service(tmp.path()).await;
    let c = svc
        .create_container(&admin(), "default", "kept", "demo", None, None)
        .await
        .unwrap();
    let id = service::parse_id("container id", &c.id).unwrap();
    let sched = svc.set_schedule(&admin(), &id, spec(None)).await.unwrap();
    assert_eq!(sched.keep, None);
    let mut due = at(&sched.next_run_at);

    // Nine snapshots taken by the schedule, each with a change of its own.
    let mut scheduled = Vec::new();
    for i in 0..9 {
        change(&svc, &id, i);
        assert_eq!(svc.run_due_schedules(due).await.unwrap(), 1);
        due += Duration::days(366);
        let (_, list) = svc.list_snapshots(&admin(), &id).await.unwrap();
        let newest = list.iter().find(|s| !scheduled.contains(&s.name)).unwrap();
        scheduled.push(newest.name.clone());
    }
    // Two by hand: one newer than everything, one older.
    change(&svc, &id, 100);
    let (_, manual_new) = svc
        .create_snapshot(&admin(), &id, Some("by-hand-new".into()), None)
        .await
        .unwrap();
    let (_, manual_old) = svc
        .create_snapshot(&admin(), &id, Some("by-hand-old".into()), None)
        .await
        .unwrap();

    // Their ages: two this Sunday, two on Saturday, one on Friday (ISO week 2026-W48), one
    // in W47, two in W46 (one a Monday), and a pinned old one.
    let ages = [
        "2026-11-29T10:00:00Z", // s0: last 1, daily 11-29, weekly W48: kept
        "2026-11-29T08:00:00Z", // s1: superseded by s0: deleted
        "2026-11-28T22:00:00Z", // s2: daily 11-28: kept
        "2026-11-28T09:00:00Z", // s3: daily full, W48 superseded: deleted
        "2026-11-27T12:00:00Z", // s4: deleted
        "2026-11-20T12:00:00Z", // s5: weekly W47: kept
        "2026-11-10T12:00:00Z", // s6: weekly W46: kept (the weekly rule is full)
        "2026-11-09T12:00:00Z", // s7: every rule full: deleted
        "2026-11-02T12:00:00Z", // s8: pinned below: untouched
    ];
    let cid = c.id.clone();
    for (name, t) in scheduled.iter().zip(ages) {
        age(&svc, &cid, name, t).await;
    }
    age(&svc, &cid, &manual_new.name, "2026-11-29T12:00:00Z").await;
    age(&svc, &cid, &manual_old.name, "2026-11-01T12:00:00Z").await;
    svc.update_snapshot(&admin(), &id, &scheduled[8], None, Some(None))
        .await
        .unwrap();

    let policy = KeepPolicy {
        last: Some(1),
        daily: Some(2),
        weekly: Some(3),
        ..Default::default()
    };
    let expected_deleted: BTreeSet<String> =
        [1, 3, 4, 7].iter().map(|&i| scheduled[i].clone()).collect();

    // The preview of a policy not saved yet says the same as the job will do, and the
    // saved schedule (no policy yet) keeps everything.
    let preview = svc
        .preview_retention(&admin(), &id, Some(policy))
        .await
        .unwrap();
    let previewed: BTreeSet<String> = preview.delete.iter().map(|e| e.name.clone()).collect();
    assert_eq!(previewed, expected_deleted, "{preview:#?}");
    let newest = &preview.keep[0];
    assert_eq!(newest.name, scheduled[0]);
    assert_eq!(
        newest.reasons,
        ["last", "daily 2026-11-29", "weekly 2026-W48"]
    );
    assert_eq!(
        preview
            .untouched
            .iter()
            .map(|e| (e.name.as_str(), e.reasons.join(",")))
            .collect::<Vec<_>>(),
        [
            (manual_new.name.as_str(), "manual".to_string()),
            (scheduled[8].as_str(), "pinned".to_string()),
            (manual_old.name.as_str(), "manual".to_string()),
        ]
    );
    let saved = svc.preview_retention(&admin(), &id, None).await.unwrap();
    assert!(
        saved.delete.is_empty() && saved.policy.is_none(),
        "{saved:?}"
    );
    assert_eq!(saved.keep.len(), 8);
    let before = names(&svc, &id).await;
    assert_eq!(before.len(), 11, "a preview deleted something");

    // Saved: the next job pass applies it.
    let sched = svc
        .set_schedule(&admin(), &id, spec(Some(policy)))
        .await
        .unwrap();
    assert_eq!(sched.keep, Some(policy));
    let mut events = svc.events().subscribe();
    let report = svc.run_jobs_once(Utc::now(), false).await.unwrap();
    assert_eq!(report.pruned, 4, "{report:?}");
    assert_eq!(report.scheduled, 0, "{report:?}");
    // Something was deleted, so GC ran in the same pass and took their packs back.
    assert!(report.reclaimed_bytes > 0, "{report:?}");
    let after = names(&svc, &id).await;
    let gone: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(gone, expected_deleted);
    assert!(after.contains(&manual_new.name) && after.contains(&manual_old.name));
    assert!(
        after.contains(&scheduled[8]),
        "the pinned snapshot was deleted"
    );

    // Each deletion was announced like any other, and its mark is gone.
    let mut announced = BTreeSet::new();
    while let Ok(e) = events.try_recv() {
        if e.kind == EventKind::SnapshotDeleted {
            assert!(e.data["freed_bytes"].as_u64().unwrap() > 0, "{e:?}");
            announced.insert(e.data["name"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(announced, expected_deleted);
    let marks: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM scheduled_snapshots WHERE container_id = $1")
            .bind(&cid)
            .fetch_one(svc.db())
            .await
            .unwrap();
    assert_eq!(marks, 5);

    // The store is whole, and a second pass finds nothing to do.
    let again = svc.run_jobs_once(Utc::now(), true).await.unwrap();
    assert_eq!(again.pruned, 0, "{again:?}");
    assert_eq!(names(&svc, &id).await, after);
    let verify = svc.engine().verify(true).await.unwrap();
    assert!(verify.is_clean(), "{verify:?}");

    // Unpinned (given an expiry again), the old one falls under the policy as well.
    svc.update_snapshot(&admin(), &id, &scheduled[8], None, Some(Some(30)))
        .await
        .unwrap();
    let report = svc.run_jobs_once(Utc::now(), false).await.unwrap();
    assert_eq!(report.pruned, 1, "{report:?}");
    assert!(!names(&svc, &id).await.contains(&scheduled[8]));
}

#[tokio::test]
async fn a_policy_is_checked_stored_and_removed_with_the_schedule() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = service(tmp.path()).await;
    let c = svc
        .create_container(&admin(), "default", "p", "demo", None, None)
        .await
        .unwrap();
    let id = service::parse_id("container id", &c.id).unwrap();

    let too_many = KeepPolicy {
        monthly: Some(types::MAX_KEEP + 1),
        ..Default::default()
    };
    let e = svc
        .set_schedule(&admin(), &id, spec(Some(too_many)))
        .await
        .unwrap_err();
    assert_eq!(e.kind, service::ErrorKind::BadRequest);
    assert!(
        e.message.contains("keep.monthly") && e.message.contains("0 to 10000"),
        "{e}"
    );
    let e = svc
        .preview_retention(&admin(), &id, Some(too_many))
        .await
        .unwrap_err();
    assert_eq!(e.kind, service::ErrorKind::BadRequest);
    // No schedule: previewing the saved policy is a 404 that says how to set one.
    let e = svc
        .preview_retention(&admin(), &id, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, service::ErrorKind::NotFound);

    // Zero counts are dropped; all zero is no policy.
    let s = svc
        .set_schedule(
            &admin(),
            &id,
            spec(Some(KeepPolicy {
                last: Some(0),
                daily: Some(7),
                ..Default::default()
            })),
        )
        .await
        .unwrap();
    assert_eq!(
        s.keep,
        Some(KeepPolicy {
            daily: Some(7),
            ..Default::default()
        })
    );
    assert_eq!(svc.get_schedule(&admin(), &id).await.unwrap().keep, s.keep);
    let s = svc
        .set_schedule(&admin(), &id, spec(Some(KeepPolicy::default())))
        .await
        .unwrap();
    assert_eq!(s.keep, None);
    // A PUT without `keep` removes the policy, as it replaces the whole schedule.
    svc.set_schedule(
        &admin(),
        &id,
        spec(Some(KeepPolicy {
            last: Some(1),
            ..Default::default()
        })),
    )
    .await
    .unwrap();
    let s = svc.set_schedule(&admin(), &id, spec(None)).await.unwrap();
    assert_eq!(s.keep, None);
}

#[tokio::test]
async fn a_snapshot_deleted_by_hand_loses_its_mark() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = service(tmp.path()).await;
    let c = svc
        .create_container(&admin(), "default", "m", "demo", None, None)
        .await
        .unwrap();
    let id = service::parse_id("container id", &c.id).unwrap();
    let s = svc.set_schedule(&admin(), &id, spec(None)).await.unwrap();
    assert_eq!(svc.run_due_schedules(at(&s.next_run_at)).await.unwrap(), 1);
    let (_, list) = svc.list_snapshots(&admin(), &id).await.unwrap();
    let count = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM scheduled_snapshots WHERE container_id = $1",
        )
        .bind(&c.id)
        .fetch_one(svc.db())
        .await
        .unwrap()
    };
    assert_eq!(count().await, 1);
    svc.delete_snapshot(&admin(), &id, &list[0].name)
        .await
        .unwrap();
    assert_eq!(count().await, 0);
}

/// Deleting a schedule keeps its snapshots as if taken by hand: a later schedule's policy
/// (keep only the last one, here) never deletes them.
#[tokio::test]
async fn a_deleted_schedules_snapshots_are_kept_by_later_policies() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = service(tmp.path()).await;
    let c = svc
        .create_container(&admin(), "default", "d", "demo", None, None)
        .await
        .unwrap();
    let id = service::parse_id("container id", &c.id).unwrap();
    let s = svc.set_schedule(&admin(), &id, spec(None)).await.unwrap();
    assert_eq!(svc.run_due_schedules(at(&s.next_run_at)).await.unwrap(), 1);
    let (_, old) = svc.list_snapshots(&admin(), &id).await.unwrap();
    svc.delete_schedule(&admin(), &id).await.unwrap();
    let last_one = KeepPolicy {
        last: Some(1),
        ..Default::default()
    };
    let s = svc
        .set_schedule(&admin(), &id, spec(Some(last_one)))
        .await
        .unwrap();
    assert_eq!(svc.run_due_schedules(at(&s.next_run_at)).await.unwrap(), 1);
    let p = svc.preview_retention(&admin(), &id, None).await.unwrap();
    assert!(p.delete.is_empty(), "{p:?}");
    assert!(
        p.untouched.iter().any(|e| e.name == old[0].name),
        "the earlier schedule's snapshot is not untouched: {p:?}"
    );
}

/// A pin is recorded with the edit that makes it: by alias too, and not at all when the edit
/// fails.
#[tokio::test]
async fn a_pin_counts_only_when_its_edit_succeeds() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = service(tmp.path()).await;
    let c = svc
        .create_container(&admin(), "default", "pins", "demo", None, None)
        .await
        .unwrap();
    let id = service::parse_id("container id", &c.id).unwrap();
    let s = svc.set_schedule(&admin(), &id, spec(None)).await.unwrap();
    let mut due = at(&s.next_run_at);
    for _ in 0..2 {
        assert_eq!(svc.run_due_schedules(due).await.unwrap(), 1);
        due += Duration::days(366);
    }
    let (_, list) = svc.list_snapshots(&admin(), &id).await.unwrap();
    let (newer, older) = (&list[0], &list[1]);
    let untouched = || async {
        let p = svc.preview_retention(&admin(), &id, None).await.unwrap();
        p.untouched
            .into_iter()
            .map(|e| (e.name, e.reasons.join(",")))
            .collect::<Vec<_>>()
    };

    // A failed edit (an alias with a line break) pins nothing.
    let e = svc
        .update_snapshot(
            &admin(),
            &id,
            &older.name,
            Some(Some("two\nlines".into())),
            Some(None),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, service::ErrorKind::BadRequest, "{e}");
    assert!(untouched().await.is_empty());

    // Pinned by its alias: out of the policy's reach.
    let alias = older.alias.clone().unwrap();
    svc.update_snapshot(&admin(), &id, &alias, None, Some(None))
        .await
        .unwrap();
    assert_eq!(
        untouched().await,
        [(older.name.clone(), "pinned".to_string())]
    );
    let keep_one = KeepPolicy {
        last: Some(1),
        ..Default::default()
    };
    svc.set_schedule(&admin(), &id, spec(Some(keep_one)))
        .await
        .unwrap();
    let report = svc.run_jobs_once(Utc::now(), false).await.unwrap();
    assert_eq!(report.pruned, 0, "{report:?}");
    assert!(names(&svc, &id).await.contains(&older.name));
    assert!(names(&svc, &id).await.contains(&newer.name));
}
