//! The OpenAPI schema states every limit the server checks on a request body, so the docs
//! page's check before sending (which validates against the served schema) and the server
//! cannot disagree.
//!
//! For each field with a limit, values just inside and just outside it (and a few hostile
//! ones) are judged twice: by the schema, through the same check the docs page runs
//! (`app::run_form::body_problems` on the served document), and by the server itself. A
//! value the schema refuses must be refused by the server as malformed (400), and a value
//! the schema accepts must not be (it may still fail for another reason: a name taken is
//! 409). Lengths are probed with ASCII text: JSON Schema counts characters where the server
//! counts bytes for command arguments and paths, which the schema's descriptions say.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

/// The request schema of `method path` in the served document, as the docs page has it.
fn schema_of(doc: &Value, method: &str, path: &str) -> String {
    snapline_server::dashboard::openapi::endpoints_of_json(doc)
        .into_iter()
        .find(|e| e.method == method && e.path == path)
        .and_then(|e| e.request_schema)
        .unwrap_or_else(|| panic!("{method} {path} has no request schema"))
}

struct Probe<'a> {
    s: &'a LiveServer,
    doc: Value,
    disagreements: Vec<String>,
    checked: usize,
}

impl Probe<'_> {
    /// Judges `body` at `route` (its template `template`) by the schema and by the server.
    async fn judge(&mut self, method: &str, template: &str, route: &str, body: Value) {
        let schema = schema_of(&self.doc, method, template);
        let problems = app::run_form::body_problems(Some(&schema), &body.to_string());
        let (status, answer) = self
            .s
            .call(method, route, Some(ADMIN), Some(body.clone()))
            .await;
        self.checked += 1;
        let schema_ok = problems.is_empty();
        let server_ok = status != 400;
        if schema_ok != server_ok {
            let shown: String = body.to_string().chars().take(160).collect();
            self.disagreements.push(format!(
                "{method} {template} {shown}: the schema {} it ({problems:?}), the server \
                 answered {status} {}",
                if schema_ok { "accepts" } else { "refuses" },
                answer["message"]
            ));
        }
    }
}

#[tokio::test]
async fn the_schema_states_every_limit_the_server_checks() {
    let s = LiveServer::start(&[
        ("SNAPLINE_RATE_LIMIT", "1000"),
        ("SNAPLINE_RATE_BURST", "1000"),
    ]);
    let (status, doc) = s.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let project = s.project_id("default").await;
    let id = s.container("default", "limits-base").await;
    let mut p = Probe {
        s: &s,
        doc,
        disagreements: Vec::new(),
        checked: 0,
    };
    let cpus = service::limits::host_cpus();
    let long = |n: usize| "a".repeat(n);
    let mut n = 0;
    let mut fresh = || {
        n += 1;
        format!("probe-{n}")
    };

    // Containers: the name, the command, the limits.
    let containers = "/api/v1/containers";
    for name in [
        String::new(),
        long(63),
        long(64),
        "-lead".into(),
        "has space".into(),
        "ok.name_1-x".into(),
        "ü".into(),
    ] {
        let body = json!({"project_id": project, "name": name, "image": "demo"});
        p.judge("POST", containers, containers, body).await;
    }
    let many = vec!["x"; 257];
    for command in [json!([]), json!(["/bin/true"]), json!(many)] {
        let body =
            json!({"project_id": project, "name": fresh(), "image": "demo", "command": command});
        p.judge("POST", containers, containers, body).await;
    }
    for limits in [
        json!({"memory_mb": 15}),
        json!({"memory_mb": 16}),
        json!({"memory_mb": 1_048_576}),
        json!({"memory_mb": 1_048_577}),
        json!({"pids": 7}),
        json!({"pids": 8}),
        json!({"pids": 4_194_304}),
        json!({"pids": 4_194_305}),
        json!({"cpus": 0.009}),
        json!({"cpus": 0.01}),
        json!({"cpus": cpus}),
        json!({"cpus": cpus + 0.5}),
    ] {
        let body =
            json!({"project_id": project, "name": fresh(), "image": "demo", "limits": limits});
        p.judge("POST", containers, containers, body).await;
    }

    // Snapshots: alias and expiry, on create and on edit.
    let snaps_t = "/api/v1/containers/{container_id}/snapshots";
    let snaps = format!("/api/v1/containers/{id}/snapshots");
    for alias in [
        String::new(),
        long(100),
        long(101),
        "bell\u{7}".into(),
        "c1\u{85}".into(),
        "tab\there".into(),
        "ok alias ü".into(),
    ] {
        p.judge("POST", snaps_t, &snaps, json!({ "alias": alias }))
            .await;
    }
    for expiry in [0, 1, 3650, 3651, -5] {
        p.judge("POST", snaps_t, &snaps, json!({ "expiry": expiry }))
            .await;
    }
    let name = s.snapshot(&id, Some("edited")).await;
    let meta_t = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/metadata";
    let meta = format!("/api/v1/containers/{id}/snapshots/{name}/metadata");
    for alias in [String::new(), long(100), long(101), "nul\u{0}".into()] {
        p.judge("PATCH", meta_t, &meta, json!({ "alias": alias }))
            .await;
    }
    for expiry in [0, 1, 3650, 3651] {
        p.judge("PATCH", meta_t, &meta, json!({ "expiry": expiry }))
            .await;
    }

    // A partial restore's paths: 1 to 100.
    let restore_t = "/api/v1/containers/{container_id}/snapshots/{snapshot_name}";
    let restore = format!("/api/v1/containers/{id}/snapshots/{name}");
    let paths: Vec<String> = (0..101).map(|i| format!("/p{i}")).collect();
    for body in [json!({"paths": []}), json!({"paths": paths})] {
        p.judge("PATCH", restore_t, &restore, body).await;
    }

    // Exec: the command and the timeout.
    let exec_t = "/api/v1/containers/{container_id}/exec";
    let exec = format!("/api/v1/containers/{id}/exec");
    for timeout in [0, 1, 600, 601] {
        let body = json!({"command": ["/bin/true"], "timeout_s": timeout});
        p.judge("POST", exec_t, &exec, body).await;
    }
    for command in [json!([]), json!(many)] {
        p.judge("POST", exec_t, &exec, json!({ "command": command }))
            .await;
    }

    // Schedules: the cron text and the expiry.
    let sched_t = "/api/v1/containers/{container_id}/schedule";
    let sched = format!("/api/v1/containers/{id}/schedule");
    for schedule in [
        String::new(),
        "@daily".into(),
        format!("@daily{}", " ".repeat(95)),
    ] {
        p.judge("PUT", sched_t, &sched, json!({ "schedule": schedule }))
            .await;
    }
    for expiry in [0, 1, 3650, 3651] {
        let body = json!({"schedule": "@daily", "expiry": expiry});
        p.judge("PUT", sched_t, &sched, body).await;
    }

    // Copy and fork: the new name and the count.
    let copy_t = "/api/v1/containers/{container_id}/copy";
    let copy = format!("/api/v1/containers/{id}/copy");
    for name in [String::new(), long(64), "-x".into(), fresh()] {
        let body = json!({"target_project_id": project, "name": name});
        p.judge("POST", copy_t, &copy, body).await;
    }
    for count in [0, 2, 51] {
        let body = json!({"target_project_id": project, "name": fresh(), "count": count});
        p.judge("POST", copy_t, &copy, body).await;
    }

    // Projects and tokens: names.
    for name in [String::new(), long(100), long(101), "line\nbreak".into()] {
        let project_name = if name.len() == 100 {
            long(99) + "p"
        } else {
            name.clone()
        };
        p.judge(
            "POST",
            "/api/v1/projects",
            "/api/v1/projects",
            json!({ "name": project_name }),
        )
        .await;
        let body = json!({"name": name, "project_ids": ["default"]});
        p.judge("POST", "/api/v1/tokens", "/api/v1/tokens", body)
            .await;
    }

    // Publishing an image: its name.
    for image in [String::new(), long(64), long(65), "Upper".into()] {
        let body = json!({"name": image, "from": {"container_id": id, "snapshot": name}});
        p.judge("POST", "/api/v1/images", "/api/v1/images", body)
            .await;
    }

    assert!(
        p.disagreements.is_empty(),
        "the schema and the server disagree on {} of {} probes:\n{}",
        p.disagreements.len(),
        p.checked,
        p.disagreements.join("\n")
    );
    assert_eq!(p.checked, 76, "every probe ran");
}
