//! Background jobs driven with explicit times, on a real engine and SQLite file: schedules
//! fire once per due time, respect `include_stopped`, and their expiring snapshots are
//! collected by the expiry job.

use chrono::{Duration, Utc};
use snapline_server::service::schedules::ScheduleSpec;
use snapline_server::service::{Caller, Limits, Service};

async fn service(dir: &std::path::Path) -> Service {
    let pool = snapline_server::db::connect(&engine::db::scratch_url(dir, "snapline.db"))
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

#[tokio::test]
async fn schedules_fire_when_due_and_their_snapshots_expire() {
    let tmp = tempfile::tempdir().unwrap();
    let svc = service(tmp.path()).await;
    let a = svc
        .create_container(&admin(), "default", "nightly", "demo", None, None)
        .await
        .unwrap();
    let b = svc
        .create_container(&admin(), "default", "idle", "demo", None, None)
        .await
        .unwrap();
    // The service takes typed ids: the edge (here, the test) parses them.
    let parse = |id: &str| snapline_server::service::parse_id("container id", id).unwrap();
    let (a_id, b_id) = (parse(&a.id), parse(&b.id));
    let spec = |include_stopped| ScheduleSpec {
        schedule: "@hourly".into(),
        expiry: Some(1),
        alias_pattern: Some("auto-%Y%m%d-%H%M".into()),
        include_stopped: Some(include_stopped),
        keep: None,
    };
    let sa = svc.set_schedule(&admin(), &a_id, spec(true)).await.unwrap();
    svc.set_schedule(&admin(), &b_id, spec(false))
        .await
        .unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(&sa.next_run_at)
        .unwrap()
        .with_timezone(&Utc);

    // Not yet due: nothing.
    assert_eq!(
        svc.run_due_schedules(due - Duration::seconds(1))
            .await
            .unwrap(),
        0
    );
    // Due (and long overdue): one snapshot for the container that includes stopped ones.
    let later = due + Duration::minutes(150);
    assert_eq!(svc.run_due_schedules(later).await.unwrap(), 1);
    assert_eq!(
        svc.run_due_schedules(later).await.unwrap(),
        0,
        "fired twice"
    );
    let (_, snaps) = svc.list_snapshots(&admin(), &a_id).await.unwrap();
    assert_eq!(snaps.len(), 1);
    assert_eq!(
        snaps[0].alias.as_deref(),
        Some(due.format("auto-%Y%m%d-%H%M").to_string().as_str())
    );
    assert!(snaps[0].expires_at.is_some());
    let (_, none) = svc.list_snapshots(&admin(), &b_id).await.unwrap();
    assert!(
        none.is_empty(),
        "a stopped container without include_stopped was snapshotted"
    );
    let after = svc.get_schedule(&admin(), &a_id).await.unwrap();
    assert!(after.next_run_at > fmt(later), "{after:?}");
    assert!(after.last_error.is_none());

    // Two days on, the one-day snapshot has expired: the job deletes it and GC runs (the
    // schedule, due again, takes a fresh one in the same pass).
    let report = svc
        .run_jobs_once(Utc::now() + Duration::days(2), true)
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "{report:?}");
    assert_eq!(report.scheduled, 1, "{report:?}");
    let (_, now) = svc.list_snapshots(&admin(), &a_id).await.unwrap();
    assert!(now.iter().all(|s| s.alias != snaps[0].alias), "{now:?}");
    let verify = svc.engine().verify(true).await.unwrap();
    assert!(verify.is_clean(), "{verify:?}");
}

fn fmt(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
