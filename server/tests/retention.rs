//! Keep policies against real servers (`snapline serve`, jobs every second): the REST
//! round trip of the policy, its errors and its OpenAPI bounds, the preview, the background
//! job deleting exactly what the policy drops (snapshots aged in the server's database), the
//! CLI, and the dashboard's server functions and page, embedded and through a proxy.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::rpc::{browser, sign_in};
use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

async fn names(server: &LiveServer, id: &str) -> BTreeSet<String> {
    let d = server
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    d["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// Makes the schedule due now and waits for the job (every second) to take its snapshot;
/// returns its name.
async fn scheduled_snapshot(server: &LiveServer, pool: &engine::DbPool, id: &str) -> String {
    let before = names(server, id).await;
    sqlx::query(
        "UPDATE schedules SET next_run_at = '2000-01-01T00:00:00.000Z' WHERE container_id = $1",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    for _ in 0..600 {
        let now = names(server, id).await;
        if let Some(new) = now.difference(&before).next() {
            return new.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the schedule took no snapshot:\n{}", server.log());
}

/// Rewrites when a snapshot was taken, as if it were that old.
async fn age(pool: &engine::DbPool, id: &str, name: &str, t: &str) {
    let r = sqlx::query(
        "UPDATE engine_snapshots SET created_at = $1 WHERE container_id = $2 AND name = $3",
    )
    .bind(t)
    .bind(id)
    .bind(name)
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(r.rows_affected(), 1, "{name}");
}

/// Waits until the container's snapshots are exactly `want`.
async fn settles_to(server: &LiveServer, id: &str, want: &BTreeSet<String>) {
    for _ in 0..600 {
        if names(server, id).await == *want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "snapshots are {:?}, not {want:?}:\n{}",
        names(server, id).await,
        server.log()
    );
}

/// The names in one list of a preview.
fn listed(preview: &Value, list: &str) -> BTreeSet<String> {
    preview[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {preview}"))
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

/// A container with four snapshots its schedule took (one of them then pinned), aged over
/// three days and a week, and one taken by hand. Returns the id and the names:
/// `[s0 11-29 10:00, s1 11-29 08:00, s2 11-28 10:00, s3 11-20 10:00, pinned, manual]`.
async fn history(server: &LiveServer, name: &str) -> (String, Vec<String>) {
    let pool = server.db().await;
    let id = server.container("default", name).await;
    server
        .admin(
            "PUT",
            &format!("/api/v1/containers/{id}/schedule"),
            Some(json!({"schedule": "0 3 1 1 *", "include_stopped": true})),
        )
        .await;
    let mut names = Vec::new();
    for _ in 0..5 {
        names.push(scheduled_snapshot(server, &pool, &id).await);
    }
    let manual = server
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "by-hand"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    names.push(manual);
    let ages = [
        "2026-11-29T10:00:00.000Z",
        "2026-11-29T08:00:00.000Z",
        "2026-11-28T10:00:00.000Z",
        "2026-11-20T10:00:00.000Z",
        "2026-11-01T10:00:00.000Z",
        "2026-11-29T12:00:00.000Z",
    ];
    for (n, t) in names.iter().zip(ages) {
        age(&pool, &id, n, t).await;
    }
    server
        .admin(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/{}/metadata", names[4]),
            Some(json!({"expiry": null})),
        )
        .await;
    (id, names)
}

#[tokio::test]
async fn rest_sets_previews_and_the_job_applies_a_keep_policy() {
    let s = LiveServer::start(&[]);
    let (id, n) = history(&s, "nightly").await;
    let sched = format!("/api/v1/containers/{id}/schedule");

    // A container with no schedule previews a typed policy (as the dashboard's form does):
    // nothing of it is scheduled, so nothing would go. Without a policy there is nothing to
    // preview: 404 saying so.
    let bare = s.container("default", "no-schedule").await;
    s.snapshot(&bare, Some("by-hand")).await;
    let bare_preview = format!("/api/v1/containers/{bare}/schedule/preview");
    let p = s
        .admin("GET", &format!("{bare_preview}?last=1"), None)
        .await["preview"]
        .clone();
    assert_eq!(listed(&p, "delete"), BTreeSet::new(), "{p}");
    assert_eq!(listed(&p, "keep"), BTreeSet::new(), "{p}");
    assert_eq!(listed(&p, "untouched").len(), 1, "{p}");
    let (status, v) = s.call("GET", &bare_preview, Some(ADMIN), None).await;
    assert_eq!(status, 404, "{v}");
    assert!(v["message"].as_str().unwrap().contains("schedule"), "{v}");

    // Bad counts: 400, naming the field and the range.
    for bad in [
        json!(-1),
        json!(10001),
        json!(1.5),
        json!("7"),
        json!(true),
        json!(1e20),
    ] {
        let (status, v) = s
            .call(
                "PUT",
                &sched,
                Some(ADMIN),
                Some(json!({"schedule": "@daily", "keep": {"daily": bad}})),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(
            m.contains("keep.daily") && m.contains("0 to 10000"),
            "{bad}: {m}"
        );
    }
    let (status, v) = s
        .call(
            "PUT",
            &sched,
            Some(ADMIN),
            Some(json!({"schedule": "@daily", "keep": {"yearly": 1}})),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    // `keep` is an object of counts; anything else says so (never an internal type name)
    // and nothing is saved.
    for bad in [json!([]), json!([3]), json!("x"), json!(5)] {
        let (status, v) = s
            .call(
                "PUT",
                &sched,
                Some(ADMIN),
                Some(json!({"schedule": "@daily", "keep": bad})),
            )
            .await;
        assert_eq!(status, 400, "{bad}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(
            m.contains("`keep`") && m.contains("an object of counts") && !m.contains("KeepPolicy"),
            "{bad}: {m}"
        );
    }
    let kept = s.admin("GET", &sched, None).await;
    assert_eq!(
        kept["schedule"]["schedule"], "0 3 1 1 *",
        "a refused body saved a schedule: {kept}"
    );
    // A parameter named but empty, an unknown one, a repeated one: 400 in Snapline's words.
    for (q, says) in [
        ("last=", "?last= is empty"),
        ("yearly=1", "unknown field `yearly`"),
        ("last=1&last=2", "duplicate field `last`"),
    ] {
        let (status, v) = s
            .call("GET", &format!("{sched}/preview?{q}"), Some(ADMIN), None)
            .await;
        assert_eq!(status, 400, "{q}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.contains(says) && !m.contains("Failed to"), "{q}: {m}");
    }
    for q in ["daily=abc", "daily=-1", "weekly=10001", "last=2.5"] {
        let (status, v) = s
            .call("GET", &format!("{sched}/preview?{q}"), Some(ADMIN), None)
            .await;
        assert_eq!(status, 400, "{q}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.contains("keep.") && m.contains("0 to 10000"), "{q}: {m}");
    }

    // Previewing a policy before saving it deletes nothing and says why.
    let p = s
        .admin("GET", &format!("{sched}/preview?daily=2"), None)
        .await["preview"]
        .clone();
    assert_eq!(p["policy"], json!({"daily": 2}));
    assert_eq!(
        listed(&p, "delete"),
        BTreeSet::from([n[1].clone(), n[3].clone()])
    );
    assert_eq!(
        listed(&p, "keep"),
        BTreeSet::from([n[0].clone(), n[2].clone()])
    );
    assert_eq!(
        listed(&p, "untouched"),
        BTreeSet::from([n[4].clone(), n[5].clone()])
    );
    assert_eq!(p["keep"][0]["reasons"], json!(["daily 2026-11-29"]));
    assert_eq!(p["keep"][0]["created_at"], "2026-11-29T10:00:00.000Z");
    assert_eq!(
        p["delete"][0]["reasons"],
        json!([format!("daily 2026-11-29: {} is newer", n[0])])
    );
    assert_eq!(
        p["delete"][1]["reasons"],
        json!(["daily: 2 newer days kept"])
    );
    assert_eq!(p["untouched"][0]["reasons"], json!(["manual"]));
    assert_eq!(p["untouched"][1]["reasons"], json!(["pinned"]));
    // The saved schedule has none yet: everything stays.
    let saved = s.admin("GET", &format!("{sched}/preview"), None).await["preview"].clone();
    assert_eq!(saved["policy"], Value::Null);
    assert_eq!(listed(&saved, "keep").len(), 4);
    let all: BTreeSet<String> = n.iter().cloned().collect();
    assert_eq!(names(&s, &id).await, all);

    // Saved (zero counts dropped), read back, and applied by the job within a pass or two.
    let set = s
        .admin(
            "PUT",
            &sched,
            Some(json!({"schedule": "0 3 1 1 *", "include_stopped": true, "keep": {"daily": 2, "last": 0}})),
        )
        .await;
    assert_eq!(set["schedule"]["keep"], json!({"daily": 2}));
    assert_eq!(
        s.admin("GET", &sched, None).await["schedule"]["keep"],
        json!({"daily": 2})
    );
    let mut want = all.clone();
    want.remove(&n[1]);
    want.remove(&n[3]);
    settles_to(&s, &id, &want).await;
    let after = s.admin("GET", &format!("{sched}/preview"), None).await["preview"].clone();
    assert!(after["delete"].as_array().unwrap().is_empty(), "{after}");

    // Each snapshot says whether the policy may delete it: the scheduled ones, not the
    // pinned one nor the one taken by hand. The timeline's cards say "kept by policy" for
    // those, never "permanent", on this node and through a proxy.
    let list = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    let flags: BTreeMap<String, bool> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["scheduled"].as_bool().unwrap(),
            )
        })
        .collect();
    let want_flags = BTreeMap::from([
        (n[0].clone(), true),
        (n[2].clone(), true),
        (n[4].clone(), false),
        (n[5].clone(), false),
    ]);
    assert_eq!(flags, want_flags, "{list}");
    let one = s
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{}", n[0]),
            None,
        )
        .await;
    assert_eq!(one["snapshot"]["scheduled"], true, "{one}");
    let url = format!("http://127.0.0.1:{}/", s.port);
    let proxy = LiveServer::start_with_args(&["--upstream", &url], &[]);
    for node in [&s, &proxy] {
        let cookie = sign_in(node, ADMIN).await.unwrap();
        let page = page(node, &cookie, &format!("/containers/{id}")).await;
        assert_eq!(page.matches("data-testid=\"kept-by-policy\"").count(), 2);
        assert_eq!(page.matches("class=\"badge permanent\"").count(), 2);
        assert!(page.contains("Its keep policy (daily 2) deletes it"));
    }

    // The CLI: the same preview as a table, a policy set with flags, bad flags refused.
    let cli = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
            .args(args)
            .env("SNAPLINE_URL", s.url(""))
            .env("SNAPLINE_TOKEN", ADMIN)
            .output()
            .unwrap()
    };
    let out = cli(&[
        "schedule",
        "preview",
        "--container",
        &id,
        "--keep-last",
        "1",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("Policy last 1: keeps 1, deletes 1"),
        "{text}"
    );
    let delete_row = text.lines().find(|l| l.starts_with("delete")).unwrap();
    assert!(
        delete_row.contains(&n[2]) && delete_row.ends_with("last: 1 newer snapshot kept"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("untouched") && l.contains(&n[5]) && l.ends_with("manual")),
        "{text}"
    );
    let out = cli(&[
        "schedule",
        "set",
        "--container",
        &id,
        "--schedule",
        "0 3 1 1 *",
        "--include-stopped",
        "--keep-last",
        "3",
        "--keep-weekly",
        "4",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("last 3, weekly 4"));
    assert_eq!(
        s.admin("GET", &sched, None).await["schedule"]["keep"],
        json!({"last": 3, "weekly": 4})
    );
    let out = cli(&[
        "schedule",
        "set",
        "--container",
        &id,
        "--schedule",
        "@daily",
        "--keep-daily",
        "-1",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--keep-daily") && err.contains("0 to 10000"),
        "{err}"
    );
}

/// The schema states the bounds the server enforces.
#[tokio::test]
async fn the_openapi_document_states_the_enforced_bounds() {
    let s = LiveServer::start(&[]);
    let (status, doc) = s.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let keep = &doc["components"]["schemas"]["KeepPolicy"]["properties"];
    for field in types::KEEP_FIELDS {
        assert_eq!(keep[field]["minimum"], json!(0), "{field}: {keep}");
        assert_eq!(
            keep[field]["maximum"],
            json!(types::MAX_KEEP),
            "{field}: {keep}"
        );
    }
    let params =
        doc["paths"]["/api/v1/containers/{container_id}/schedule/preview"]["get"]["parameters"]
            .as_array()
            .unwrap();
    for field in types::KEEP_FIELDS {
        let p = params.iter().find(|p| p["name"] == field).unwrap();
        assert_eq!(p["in"], "query");
        assert_eq!(p["schema"]["minimum"], json!(0), "{p}");
        assert_eq!(p["schema"]["maximum"], json!(types::MAX_KEEP), "{p}");
    }
    let spec = &doc["components"]["schemas"]["ScheduleSpec"]["properties"]["keep"];
    assert!(spec.to_string().contains("KeepPolicy"), "{spec}");
}

/// Calls a server function as the page's plain forms do (a same-origin form POST),
/// answering JSON. Returns the status and the answer.
async fn rpc(
    server: &LiveServer,
    endpoint: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let (status, v, _) = common::rpc::rpc(server, endpoint, Some(cookie), form).await;
    (status, v)
}

fn refs<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn page(server: &LiveServer, cookie: &str, path: &str) -> String {
    let resp = browser()
        .get(server.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{path}: {e}\n{}", server.log()));
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    resp.text().await.unwrap()
}

/// The dashboard sets the policy with the schedule form's fields, shows it, and previews
/// the saved policy and a typed one: embedded (the upstream's own dashboard) and through a
/// proxy (the remote backend), with the same answers as REST.
#[tokio::test]
async fn the_dashboard_sets_shows_and_previews_in_both_modes() {
    let upstream = LiveServer::start(&[]);
    let proxy = LiveServer::start_with_args(
        &[
            "--upstream",
            &format!("http://127.0.0.1:{}/", upstream.port),
        ],
        &[],
    );
    let (id, n) = history(&upstream, "dash").await;
    let sched = format!("/api/v1/containers/{id}/schedule");
    for server in [&upstream, &proxy] {
        let cookie = sign_in(server, ADMIN).await.unwrap();
        // The form's fields; `last` is the only rule, and 5 keeps all four scheduled
        // snapshots, so the job deletes nothing while the test looks.
        let form = |last: &str| -> Vec<(&'static str, String)> {
            vec![
                ("id", id.clone()),
                ("schedule", "0 3 1 1 *".into()),
                ("expiry", "never".into()),
                ("alias_pattern", "auto-%Y%m%d-%H%M%S".into()),
                ("include_stopped", "on".into()),
                ("keep_last", last.into()),
                ("keep_hourly", String::new()),
                ("keep_daily", String::new()),
                ("keep_weekly", "0".into()),
                ("keep_monthly", String::new()),
            ]
        };
        // A bad count is refused in words, and nothing is saved.
        let (status, v) = rpc(server, "save_schedule", &cookie, &refs(&form("-3"))).await;
        assert_eq!(status, 400, "{v}");
        assert!(v.to_string().contains("keep.last"), "{v}");
        // Saved through the form: the upstream has it.
        let (status, v) = rpc(server, "save_schedule", &cookie, &refs(&form("5"))).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(
            upstream.admin("GET", &sched, None).await["schedule"]["keep"],
            json!({"last": 5})
        );

        // The saved policy's preview, as REST has it; and a typed one.
        let (status, v) = rpc(server, "schedule_preview", &cookie, &[("id", &id)]).await;
        assert_eq!(status, 200, "{v}");
        let rest = upstream
            .admin("GET", &format!("{sched}/preview"), None)
            .await["preview"]
            .clone();
        assert_eq!(v, rest);
        let (status, v) = rpc(
            server,
            "schedule_preview",
            &cookie,
            &[("id", &id), ("keep_daily", "1"), ("keep_last", "")],
        )
        .await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(listed(&v, "keep"), BTreeSet::from([n[0].clone()]));
        assert_eq!(v["policy"], json!({"daily": 1}));

        // The page shows the policy and what it does; with the form's fields in the address,
        // what the typed policy would do.
        let html = page(server, &cookie, &format!("/containers/{id}")).await;
        assert!(html.contains("Keep policy: last 5"), "{html}");
        assert!(html.contains("data-testid=\"retention-preview\""), "{html}");
        assert!(html.contains("What the keep policy does now"), "{html}");
        let html = page(
            server,
            &cookie,
            &format!("/containers/{id}?keep_daily=1&keep_last="),
        )
        .await;
        assert!(
            html.contains("Preview of the keep policy in the form (not saved)"),
            "{html}"
        );
        let deleted = html
            .split("data-testid=\"preview-delete\"")
            .nth(1)
            .and_then(|t| t.split("</table>").next())
            .unwrap_or_else(|| panic!("no deletions shown: {html}"));
        for gone in [&n[1], &n[2], &n[3]] {
            assert!(
                deleted.contains(&format!("data-name=\"{gone}\"")),
                "{gone}: {deleted}"
            );
        }
        assert!(!deleted.contains(&n[0]) && !deleted.contains(&n[4]) && !deleted.contains(&n[5]));
        // The typed values fill the form again.
        assert!(html.contains("name=\"keep_daily\" value=\"1\""), "{html}");
        // A reason that names another snapshot names it as its row does: alias (name).
        let html = page(
            server,
            &cookie,
            &format!("/containers/{id}?keep_daily=2&keep_last="),
        )
        .await;
        assert!(html.contains(&format!(" ({}) is newer", n[0])), "{html}");
    }
    // Through the proxy's API forwarder too.
    let (status, v) = proxy
        .call(
            "GET",
            &format!("{sched}/preview?daily=2"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        listed(&v["data"]["preview"], "delete"),
        BTreeSet::from([n[1].clone(), n[3].clone()])
    );
}

/// Without JavaScript (the schedule form is a plain form), a refused schedule comes back with
/// the form open, what was typed, and why in Snapline's words; Save and Turn off each say
/// what they did. Through a proxy too.
#[tokio::test]
async fn the_schedule_form_keeps_what_was_typed_and_says_what_it_did() {
    use common::rpc::{page, pair, plain_form, sign_in};
    let (upstream, proxy) = pair();
    for server in [&upstream, &proxy] {
        let id = upstream
            .container("default", &format!("sched-{}", server.port))
            .await;
        let cookie = sign_in(server, ADMIN).await.unwrap();
        let form = |when: &'static str| {
            vec![
                ("id", id.clone()),
                ("schedule", when.to_string()),
                ("expiry", "7".to_string()),
                ("alias_pattern", "auto-%Y%m%d".to_string()),
                ("keep_daily", "3".to_string()),
            ]
        };
        let refs = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
        let send = |f: Vec<(&'static str, String)>| {
            let cookie = cookie.clone();
            async move {
                let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
                plain_form(server, "save_schedule", &cookie, &f).await
            }
        };
        let to = send(refs(&form("61 25 * * *"))).await;
        // The error comes back signed for this session (`__sig`), or the page shows none.
        assert!(to.contains("__err=") && to.contains("__sig="), "{to}");
        let html = page(server, &cookie, &to).await;
        assert!(
            html.contains("the minute field \"61\" is out of range")
                || html.contains("the minute field &quot;61&quot; is out of range"),
            "{html}"
        );
        assert!(
            html.contains("value=\"61 25 * * *\""),
            "what was typed is lost: {html}"
        );
        assert!(html.contains("value=\"auto-%Y%m%d\""), "{html}");
        assert!(!html.contains("Component error"), "{html}");

        let to = send(refs(&form("@daily"))).await;
        let html = page(server, &cookie, &to).await;
        assert!(html.contains("Schedule saved: @daily (UTC)"), "{html}");
        assert!(html.contains("Keep policy: daily 3."), "{html}");

        let to = plain_form(server, "delete_schedule", &cookie, &[("id", id.as_str())]).await;
        let html = page(server, &cookie, &to).await;
        assert!(html.contains("Automatic snapshots turned off"), "{html}");
    }
}
