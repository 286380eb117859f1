//! Authorization matrix, generated from the OpenAPI document so that every new route is
//! covered without touching this file: every route × {own project, other project, missing}
//! × {admin, project token, no token, bad token}.
//!
//! Rules: without a valid token every route but health and the document answers 401; an
//! object of a project the token cannot see answers exactly like a missing one (same status,
//! same message apart from the id); and such calls change nothing.

mod common;

use common::LiveServer;
use serde_json::{Value, json};

const MISSING_ID: &str = "0123456789abcdef01234567";
const PUBLIC: [&str; 2] = ["/api/v1/health", "/api/v1/openapi.json"];

struct World {
    a_container: String,
    a_snapshot: String,
    b_project: String,
    token_a: String,
    token_b: String,
    server_id: String,
}

async fn world(s: &LiveServer) -> World {
    let a_container = s.container("default", "a-app").await;
    s.admin(
        "PUT",
        &format!("/api/v1/containers/{a_container}/schedule"),
        Some(json!({"schedule": "@daily"})),
    )
    .await;
    let a_snapshot = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{a_container}/snapshots"),
            Some(json!({"alias": "a-snap"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let b_project = s
        .admin("POST", "/api/v1/projects", Some(json!({"name": "b"})))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = |p: &str, n: &str| json!({"name": n, "project_ids": [p]});
    let token_a = s
        .admin("POST", "/api/v1/tokens", Some(token("default", "a")))
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let token_b = s
        .admin("POST", "/api/v1/tokens", Some(token(&b_project, "b")))
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let server_id = s.admin("GET", "/api/v1/servers", None).await["servers"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    World {
        a_container,
        a_snapshot,
        b_project,
        token_a,
        token_b,
        server_id,
    }
}

/// Every (method, path template, example body) of the document.
fn operations(doc: &Value) -> Vec<(String, String, Option<Value>)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let body = op["requestBody"]["content"]["application/json"]
                .get("example")
                .cloned()
                .or_else(|| {
                    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
                    let name = schema["$ref"]
                        .as_str()
                        .or_else(|| schema["oneOf"][1]["$ref"].as_str())?
                        .rsplit('/')
                        .next()?;
                    doc["components"]["schemas"][name].get("example").cloned()
                });
            // The examples name a made-up project; use the real default project.
            let body = body.map(|b| {
                serde_json::from_str(&b.to_string().replace("67e89abc123def456789abcd", "default"))
                    .unwrap()
            });
            // Required query parameters get their documented examples.
            let query: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| {
                    let example = p["example"]
                        .as_str()
                        .or(p["schema"]["example"].as_str())
                        .unwrap_or("x");
                    format!("{}={example}", p["name"].as_str().unwrap())
                })
                .collect();
            let path = if query.is_empty() {
                path.clone()
            } else {
                format!("{path}?{}", query.join("&"))
            };
            out.push((method.to_uppercase(), path, body));
        }
    }
    out
}

fn fill(template: &str, container: &str, snapshot: &str, w: &World) -> String {
    template
        .replace("{container_id}", container)
        .replace("{snapshot_name}", snapshot)
        .replace("{server_id}", &w.server_id)
        .replace("{token_id}", MISSING_ID)
}

/// Status and message, the ids replaced so that "other" and "missing" compare equal.
async fn outcome(
    s: &LiveServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Option<Value>,
    ids: &[&str],
) -> (u16, String) {
    if path.contains("/events") && token.is_some() {
        // An endless stream: only the status matters.
        let mut req = s.client.get(s.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        return (req.send().await.unwrap().status().as_u16(), String::new());
    }
    let (status, v) = s.call(method, path, token, body.clone()).await;
    let mut message = v["message"].as_str().unwrap_or_default().to_string();
    for id in ids {
        message = message.replace(id, "<id>");
    }
    (status, message)
}

#[tokio::test]
async fn every_route_hides_other_projects_and_needs_a_token() {
    let s = LiveServer::start(&[]);
    matrix(&s, &s).await;
}

/// The matrix through a node that forwards: the objects live on node A, every call goes
/// to node B (one PostgreSQL database, one bucket), which forwards the container calls of
/// a valid token to A. The answers are the same as from one node, to the word.
#[tokio::test]
async fn the_matrix_holds_through_a_node_that_forwards() {
    let scratch = tempfile::tempdir().unwrap();
    let Some(store) = common::cluster_store(scratch.path()) else {
        return;
    };
    let a = LiveServer::start_with_args(&["--store", &store], &[]);
    let b = LiveServer::start_with_args(
        &["--store", &store],
        &[("SNAPLINE_DATABASE_URL", a.db_url.as_str())],
    );
    matrix(&a, &b).await;
}

/// The matrix: the objects made on `home`, every call sent to `via`.
async fn matrix(home: &LiveServer, via: &LiveServer) {
    let w = world(home).await;
    let doc = via.call("GET", "/api/v1/openapi.json", None, None).await.1;
    let mut ops = operations(&doc);
    // Destructive calls last (the container itself at the very end), so that the own-token
    // pass of every other route still finds its objects.
    ops.sort_by_key(|(m, p, _)| {
        (
            m == "DELETE",
            p.ends_with("{container_id}") && m == "DELETE",
        )
    });
    assert!(ops.len() >= 30, "only {} operations documented", ops.len());

    let before_list = home
        .admin(
            "GET",
            &format!("/api/v1/containers/{}/snapshots", w.a_container),
            None,
        )
        .await;
    let before_containers = home.admin("GET", "/api/v1/containers", None).await["containers"]
        .as_array()
        .unwrap()
        .len();

    let mut checked = 0;
    let ops: Vec<(String, String, Option<Value>)> = ops
        .into_iter()
        .map(|(m, p, b)| {
            let b = b.map(|b| {
                serde_json::from_str::<Value>(
                    &b.to_string().replace("snap-20251109-143045", &w.a_snapshot),
                )
                .unwrap()
            });
            (m, p, b)
        })
        .collect();
    for (method, template, body) in &ops {
        let own = fill(template, &w.a_container, &w.a_snapshot, &w);
        if PUBLIC.iter().any(|p| template.starts_with(p)) {
            assert_eq!(outcome(via, method, &own, None, body, &[]).await.0, 200);
            continue;
        }
        // No token, and a bad one.
        for token in [None, Some("hdy_notarealtoken0000000000000000000000000")] {
            let (status, message) = outcome(via, method, &own, token, body, &[]).await;
            assert_eq!(status, 401, "{method} {template} with {token:?}: {message}");
        }
        if !template.contains("{container_id}") {
            continue;
        }
        // Project B's token on project A's container answers like a missing container.
        let other = outcome(via, method, &own, Some(&w.token_b), body, &[&w.a_container]).await;
        let missing_path = fill(template, MISSING_ID, &w.a_snapshot, &w);
        let missing = outcome(
            via,
            method,
            &missing_path,
            Some(&w.token_b),
            body,
            &[MISSING_ID],
        )
        .await;
        assert_eq!(other, missing, "{method} {template}");
        assert_eq!(other.0, 404, "{method} {template}: {}", other.1);
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} container routes checked");

    // None of those calls changed anything: A's container, snapshots and schedule are as
    // they were, and project B is still empty.
    let after_list = home
        .admin(
            "GET",
            &format!("/api/v1/containers/{}/snapshots", w.a_container),
            None,
        )
        .await;
    assert_eq!(before_list, after_list);
    let after_containers = home.admin("GET", "/api/v1/containers", None).await["containers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before_containers, after_containers);
    let c = home
        .admin(
            "GET",
            &format!("/api/v1/containers/{}", w.a_container),
            None,
        )
        .await;
    assert_eq!(c["container"]["status"], "stopped");
    home.admin(
        "GET",
        &format!("/api/v1/containers/{}/schedule", w.a_container),
        None,
    )
    .await;
    let b_view = via
        .call("GET", "/api/v1/containers", Some(&w.token_b), None)
        .await
        .1;
    assert_eq!(b_view["data"]["containers"], json!([]), "{b_view}");

    // Project A's token reaches its own container on every route (a call may still be
    // refused for another reason, a missing parameter say, but never as unknown).
    for (method, template, body) in &ops {
        if !template.contains("{container_id}") || template.contains("/events") {
            continue;
        }
        let own = fill(template, &w.a_container, &w.a_snapshot, &w);
        let mine = outcome(via, method, &own, Some(&w.token_a), body, &[]).await;
        assert!(
            ![401, 404].contains(&mine.0),
            "{method} {template} with its own token: {mine:?}"
        );
    }
}

#[tokio::test]
async fn lists_and_creation_respect_project_scopes() {
    let s = LiveServer::start(&[]);
    let w = world(&s).await;
    // Lists show only what the token sees.
    let b_view = s
        .call("GET", "/api/v1/containers", Some(&w.token_b), None)
        .await
        .1;
    assert!(!b_view.to_string().contains(&w.a_container));
    let a_view = s
        .call("GET", "/api/v1/containers", Some(&w.token_a), None)
        .await
        .1;
    assert!(a_view.to_string().contains(&w.a_container));
    let projects = s
        .call("GET", "/api/v1/projects", Some(&w.token_b), None)
        .await
        .1;
    let names: Vec<&str> = projects["data"]["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b"]);
    // Creating in, copying into or filtering by an invisible project: 404 like a missing one.
    let (default_id, _) = (
        s.admin("GET", "/api/v1/projects", None).await["projects"][0]["id"]
            .as_str()
            .unwrap()
            .to_string(),
        (),
    );
    for project in [default_id.as_str(), MISSING_ID] {
        let (status, v) = s
            .call(
                "POST",
                "/api/v1/containers",
                Some(&w.token_b),
                Some(json!({"project_id": project, "name": "x", "image": "demo"})),
            )
            .await;
        assert_eq!(status, 404, "{v}");
        let (status, _) = s
            .call(
                "GET",
                &format!("/api/v1/containers?project_id={project}"),
                Some(&w.token_b),
                None,
            )
            .await;
        assert_eq!(status, 404);
    }
    let b_container = s.container(&w.b_project, "b-app").await;
    let (status, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{b_container}/copy"),
            Some(&w.token_b),
            Some(json!({"target_project_id": default_id, "name": "stolen"})),
        )
        .await;
    assert_eq!(status, 404, "{v}");
    // Project tokens cannot make projects or tokens; tokens list only themselves.
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/projects",
            Some(&w.token_b),
            Some(json!({"name": "mine"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&w.token_b),
            Some(json!({"name": "t", "admin": true})),
        )
        .await;
    assert_eq!(status, 403);
    let tokens = s
        .call("GET", "/api/v1/tokens", Some(&w.token_b), None)
        .await
        .1;
    assert_eq!(tokens["data"]["tokens"].as_array().unwrap().len(), 1);
    // A revoked token is a 401 at once.
    let b_id = tokens["data"]["tokens"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.admin("DELETE", &format!("/api/v1/tokens/{b_id}"), None)
        .await;
    let (status, _) = s
        .call("GET", "/api/v1/containers", Some(&w.token_b), None)
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn events_reach_only_the_projects_a_token_sees() {
    let s = LiveServer::start(&[]);
    let w = world(&s).await;
    let b_container = s.container(&w.b_project, "b-app").await;
    let mut b_events = s
        .client
        .get(s.url("/api/v1/events"))
        .bearer_auth(&w.token_b)
        .send()
        .await
        .unwrap();
    assert_eq!(b_events.status(), 200);
    s.admin(
        "POST",
        &format!("/api/v1/containers/{}/snapshots", w.a_container),
        Some(json!({"alias": "secret-a"})),
    )
    .await;
    s.admin(
        "POST",
        &format!("/api/v1/containers/{b_container}/snapshots"),
        Some(json!({"alias": "visible-b"})),
    )
    .await;
    let mut seen = String::new();
    while !seen.contains("visible-b") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), b_events.chunk())
            .await
            .expect("no event within 10 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: snapshot.created"), "{seen}");
    assert!(!seen.contains("secret-a"), "{seen}");
    assert!(!seen.contains(&w.a_container), "{seen}");
}
