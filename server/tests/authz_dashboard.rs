//! The dashboard's authorization matrix, generated from the server-function registry: every
//! registered server function × {own project, other project, missing} × {admin, project
//! token, no token, bad token}, and every one of them sent cross-site. A server function
//! added later is covered automatically: the test fails until it has a row in `args`.
//!
//! What must hold: no token or a bad one is `Unauthorized` (except the few public functions,
//! each named with its reason); a project token never reads or changes another project (no
//! answer mentions it, its state is the same after the whole matrix); cross-site calls are
//! refused with 403 and change nothing.

mod common;

use std::collections::BTreeMap;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

/// The session cookie of `token`, signed in once per server and token; a token that cannot
/// sign in (a made-up one) is sent as a cookie value as it is, which no session matches.
async fn session_for(s: &LiveServer, token: &str) -> String {
    static SIGNED_IN: std::sync::Mutex<BTreeMap<(u16, String), String>> =
        std::sync::Mutex::new(BTreeMap::new());
    let key = (s.port, token.to_string());
    if let Some(c) = SIGNED_IN.lock().unwrap().get(&key) {
        return c.clone();
    }
    let cookie = common::rpc::sign_in(s, token)
        .await
        .unwrap_or_else(|_| format!("snapline_session={token}"));
    SIGNED_IN.lock().unwrap().insert(key, cookie.clone());
    cookie
}

/// Functions that answer without a session, and why that is safe.
const PUBLIC: &[(&str, &str)] = &[
    (
        "/rpc/api_endpoints",
        "the API reference is public, like openapi.json",
    ),
    ("/rpc/sign_in", "checks the token it is given"),
    ("/rpc/sign_out", "only ends the caller's own session"),
    ("/rpc/whoami", "answers null without a valid session"),
    (
        "/rpc/docs_snippets",
        "writes out the request it is sent as code; reads and sends nothing",
    ),
    (
        "/rpc/check_url_error",
        "answers null without a valid session: a signature holds only for the caller's own",
    ),
];

/// Functions only an admin may call: a project token is refused (Forbidden) before anything
/// is looked up, so the refusal says nothing of the project it names.
const ADMIN_ONLY: &[(&str, &str)] = &[(
    "/rpc/delete_project",
    "deleting projects is an admin's; refused to any project token first",
)];

/// What every matrix call is about.
#[derive(Clone)]
struct Target {
    container: String,
    snapshot: String,
    project: String,
    example: String,
    /// A run in somebody's docs history.
    run: String,
}

/// A browser-like client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The arguments of each server function, aimed at `t`; `None` for a function this test
/// does not know yet (which fails the test: add its row).
fn args(path: &str, t: &Target) -> Option<Vec<(String, String)>> {
    let c = t.container.as_str();
    let s = t.snapshot.as_str();
    let p = t.project.as_str();
    let list_path = format!("/api/v1/containers/{c}/snapshots");
    let pairs: Vec<(&str, &str)> = match path {
        "/rpc/system_status" | "/rpc/run_system_check" | "/rpc/api_endpoints" => vec![],
        "/rpc/servers" => vec![],
        "/rpc/sign_out" | "/rpc/whoami" | "/rpc/overview" | "/rpc/docs_state" => vec![],
        "/rpc/sign_in" => vec![("token", "hdy_notatokenanyoneholds000000000")],
        "/rpc/create_container" => vec![("project", p), ("name", "matrix"), ("image", "demo")],
        "/rpc/container_action" => vec![("id", c), ("action", "stop")],
        "/rpc/timeline" => vec![("id", c), ("all", "false")],
        "/rpc/create_snapshot" => vec![("id", c), ("alias", "matrix"), ("expiry", "")],
        "/rpc/restore_snapshot" => vec![("id", c), ("name", s)],
        "/rpc/restore_path" => vec![("id", c), ("name", s), ("path", "/etc")],
        "/rpc/publish_image" => vec![("id", c), ("name", s), ("image", "matrix-image")],
        "/rpc/delete_snapshot" => vec![("id", c), ("name", s)],
        "/rpc/copy_snapshot" => vec![
            ("id", c),
            ("name", s),
            ("project", p),
            ("new_name", "matrix-copy"),
        ],
        "/rpc/update_snapshot" => vec![("id", c), ("name", s), ("alias", "matrix"), ("expiry", "")],
        "/rpc/diff" => vec![("id", c), ("from", s), ("against", "live")],
        "/rpc/browse" => vec![("id", c), ("name", s), ("path", "/")],
        "/rpc/verify" => vec![("id", c), ("name", s)],
        // Checks a signature against the caller's own session: nothing of a project.
        "/rpc/check_outcome" => vec![("done", "{}"), ("sig", "00")],
        "/rpc/check_url_error" => vec![("path", "/rpc/verify"), ("err", "QUJD"), ("sig", "00")],
        "/rpc/schedule" | "/rpc/delete_schedule" | "/rpc/schedule_preview" => vec![("id", c)],
        "/rpc/save_schedule" => vec![
            ("id", c),
            ("schedule", "@daily"),
            ("expiry", "7"),
            ("alias_pattern", "matrix-%H%M"),
            ("keep_daily", "7"),
        ],
        "/rpc/run_request" => vec![("method", "GET"), ("path", &list_path)],
        "/rpc/save_draft" => vec![("operation", "custom"), ("params", "{}"), ("body", "")],
        "/rpc/save_example" => vec![
            ("project", p),
            ("operation", "custom"),
            ("name", "matrix"),
            ("params", "{}"),
            ("body", ""),
        ],
        "/rpc/delete_example" => vec![("id", &t.example)],
        "/rpc/docs_run" => vec![
            ("op", "custom"),
            ("p[method]", "GET"),
            ("p[path]", &list_path),
        ],
        "/rpc/docs_replay" => vec![("run", &t.run)],
        "/rpc/docs_clear" => vec![("what", "drafts")],
        "/rpc/docs_snippets" => vec![
            ("op", "custom"),
            ("p[method]", "GET"),
            ("p[path]", &list_path),
        ],
        "/rpc/delete_project" => vec![("id", p), ("name", "matrix")],
        _ => return None,
    };
    Some(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Calls a server function as the page does; returns the status and the answer's text.
async fn call(
    s: &LiveServer,
    path: &str,
    cookie: Option<&str>,
    form: &[(String, String)],
    cross_site: bool,
) -> (u16, String) {
    let mut req = client()
        .post(s.url(path))
        .header("accept", "application/json")
        .form(form);
    req = if cross_site {
        req.header("sec-fetch-site", "cross-site")
            .header("origin", "https://evil.example")
    } else {
        req.header("sec-fetch-site", "same-origin")
    };
    if let Some(token) = cookie {
        // Signing out ends the session it is sent with: it gets one of its own, so the
        // shared one stays for the calls after it.
        let session = if path == "/rpc/sign_out" {
            common::rpc::sign_in(s, token)
                .await
                .unwrap_or_else(|_| format!("snapline_session={token}"))
        } else {
            session_for(s, token).await
        };
        req = req.header("cookie", session);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// The error kind of a server function's failure (`NotFound`, `Unauthorized`, ...).
fn kind(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    v.as_object()?.keys().next().cloned()
}

/// Everything a project's holders could see or change, for before/after comparison.
async fn project_state(s: &LiveServer, project: &str, container: &str) -> Value {
    let containers = s
        .admin(
            "GET",
            &format!("/api/v1/containers?project_id={project}"),
            None,
        )
        .await;
    let mut listed: Vec<(String, String)> = containers["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    listed.sort();
    let snapshots = s
        .admin(
            "GET",
            &format!("/api/v1/containers/{container}/snapshots"),
            None,
        )
        .await;
    let snaps: Vec<(Value, Value, Value)> = snapshots["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].clone(),
                x["alias"].clone(),
                x["last_used_at"].clone(),
            )
        })
        .collect();
    let (_, schedule) = s
        .call(
            "GET",
            &format!("/api/v1/containers/{container}/schedule"),
            Some(ADMIN),
            None,
        )
        .await;
    json!({"containers": listed, "snapshots": snaps, "schedule": schedule["data"]})
}

async fn snapshot(s: &LiveServer, container: &str, alias: &str) -> String {
    s.admin(
        "POST",
        &format!("/api/v1/containers/{container}/snapshots"),
        Some(json!({ "alias": alias })),
    )
    .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Saves an example in `project` as the admin; returns its id.
async fn example(s: &LiveServer, project: &str, name: &str) -> String {
    let form: Vec<(String, String)> = [
        ("project", project),
        ("operation", "custom"),
        ("name", name),
        ("params", "{}"),
        ("body", ""),
        ("note", "secret-b-note"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let (st, body) = call(s, "/rpc/save_example", Some(ADMIN), &form, false).await;
    assert_eq!(st, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn every_server_function_respects_projects_sessions_and_origins() {
    let s = LiveServer::start(&[]);
    // Project A ("default") and project B, whose every visible string contains "secret-b".
    let b = s
        .admin(
            "POST",
            "/api/v1/projects",
            Some(json!({"name": "secret-b-project"})),
        )
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let a = s.project_id("default").await;
    let a_box = s.container("default", "a-box").await;
    let b_box = s.container(&b, "secret-b-box").await;
    let a_snap = snapshot(&s, &a_box, "a-snap").await;
    let b_snap = snapshot(&s, &b_box, "secret-b-snap").await;
    let b_example = example(&s, &b, "secret-b-example").await;
    let a_token = s
        .admin(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "a-only", "project_ids": ["default"]})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();

    // The admin's own run, which reads project B: nobody else may see or replay it.
    let form = [
        ("method".to_string(), "GET".to_string()),
        (
            "path".to_string(),
            format!("/api/v1/containers/{b_box}/snapshots"),
        ),
    ];
    let (st, body) = call(&s, "/rpc/run_request", Some(ADMIN), &form, false).await;
    assert!(st == 200 && body.contains("secret-b"), "{body}");
    let (_, state) = call(&s, "/rpc/docs_state", Some(ADMIN), &[], false).await;
    let admins_run = serde_json::from_str::<Value>(&state).unwrap()["runs"][0]["id"].to_string();

    let mut paths: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(p, _)| p.to_string())
        .collect();
    paths.sort();
    paths.dedup();
    assert!(paths.len() >= 25, "the registry lists {paths:?}");
    let own = Target {
        container: a_box.clone(),
        snapshot: a_snap.clone(),
        project: a.clone(),
        example: String::new(),
        run: "1".into(),
    };
    let other = Target {
        container: b_box.clone(),
        snapshot: b_snap.clone(),
        project: b.clone(),
        example: b_example.clone(),
        run: admins_run,
    };
    let missing = Target {
        container: "0123456789abcdef01234567".into(),
        snapshot: "snap-19990101-000000".into(),
        project: "no-such-project".into(),
        example: "no-such-example".into(),
        run: "999999".into(),
    };
    let unknown: Vec<&String> = paths.iter().filter(|p| args(p, &own).is_none()).collect();
    assert!(
        unknown.is_empty(),
        "server functions without a matrix row: {unknown:?}"
    );

    let a_before = project_state(&s, "default", &a_box).await;
    let b_before = project_state(&s, &b, &b_box).await;
    let mut table: BTreeMap<&str, usize> = BTreeMap::new();

    // Cross-site: refused before any handler runs, whoever's cookie the browser attaches.
    for path in &paths {
        for cookie in [Some(ADMIN), Some(a_token.as_str()), None] {
            let (st, body) = call(&s, path, cookie, &args(path, &own).unwrap(), true).await;
            assert_eq!(st, 403, "cross-site {path}: {body}");
            *table.entry("cross-site refused (403)").or_default() += 1;
        }
    }
    assert_eq!(
        project_state(&s, "default", &a_box).await,
        a_before,
        "a cross-site call changed project A"
    );

    // No session and a bad session.
    for path in &paths {
        let public = PUBLIC.iter().any(|(p, _)| p == path);
        for cookie in [None, Some("hdy_badbadbadbadbadbadbadbadbadbad00")] {
            for target in [&own, &other, &missing] {
                let (st, body) = call(&s, path, cookie, &args(path, target).unwrap(), false).await;
                assert!(
                    !body.contains("secret-b"),
                    "{path} without a session leaked: {body}"
                );
                if public {
                    *table.entry("public, nothing leaked").or_default() += 1;
                    continue;
                }
                assert_eq!(
                    kind(&body).as_deref(),
                    Some("Unauthorized"),
                    "{path} with session {cookie:?} answered {st}: {body}"
                );
                *table.entry("no or bad session: Unauthorized").or_default() += 1;
            }
        }
    }

    // A project token against the other project: nothing of it is read or changed.
    // (`sign_in` is about the token it is given, not a project: covered above.)
    let targeted = paths.iter().filter(|p| p.as_str() != "/rpc/sign_in");
    for path in targeted.clone() {
        let (st, body) = call(
            &s,
            path,
            Some(&a_token),
            &args(path, &other).unwrap(),
            false,
        )
        .await;
        assert!(
            !body.contains("secret-b"),
            "{path} leaked project B ({st}): {body}"
        );
        if st == 200 {
            *table
                .entry("project token, other project: answered without it")
                .or_default() += 1;
        } else {
            let k = kind(&body);
            let admin_only = ADMIN_ONLY.iter().any(|(p, _)| p == path);
            assert!(
                matches!(k.as_deref(), Some("NotFound") | Some("BadRequest"))
                    || (admin_only && k.as_deref() == Some("Forbidden")),
                "{path} on another project: {st} {body}"
            );
            *table
                .entry("project token, other project: NotFound")
                .or_default() += 1;
        }
    }
    // What the runs above recorded (run_request, docs_run) is the API's refusal.
    let (_, state) = call(&s, "/rpc/docs_state", Some(&a_token), &[], false).await;
    assert!(!state.contains("secret-b"), "{state}");
    let state: Value = serde_json::from_str(&state).unwrap();
    for run in state["runs"].as_array().unwrap() {
        assert!(
            [403, 404].contains(&run["status"].as_u64().unwrap()),
            "a run reached project B: {run}"
        );
    }
    assert_eq!(
        project_state(&s, &b, &b_box).await,
        b_before,
        "project B changed"
    );

    // Missing objects: NotFound (or a BadRequest for a malformed id), for both principals.
    for path in targeted {
        for cookie in [ADMIN, a_token.as_str()] {
            let (st, body) = call(
                &s,
                path,
                Some(cookie),
                &args(path, &missing).unwrap(),
                false,
            )
            .await;
            if st != 200 {
                let k = kind(&body);
                let admin_only = ADMIN_ONLY.iter().any(|(p, _)| p == path);
                assert!(
                    matches!(k.as_deref(), Some("NotFound") | Some("BadRequest"))
                        || (admin_only && cookie != ADMIN && k.as_deref() == Some("Forbidden")),
                    "{path} on a missing object: {st} {body}"
                );
                *table.entry("missing object: NotFound").or_default() += 1;
            } else {
                *table
                    .entry("missing object: answered without it")
                    .or_default() += 1;
            }
        }
    }

    // The own project: allowed, for the admin and the project token. Destructive calls get a
    // fresh object each time, so each call is about something that exists.
    for path in &paths {
        for cookie in [ADMIN, a_token.as_str()] {
            let mut t = own.clone();
            match path.as_str() {
                "/rpc/delete_snapshot" => t.snapshot = snapshot(&s, &a_box, "to-delete").await,
                "/rpc/delete_example" => t.example = example(&s, &a, &format!("ex-{cookie}")).await,
                "/rpc/delete_schedule" => {
                    s.admin(
                        "PUT",
                        &format!("/api/v1/containers/{a_box}/schedule"),
                        Some(json!({"schedule": "@daily"})),
                    )
                    .await;
                }
                "/rpc/docs_replay" => {
                    let (_, state) = call(&s, "/rpc/docs_state", Some(cookie), &[], false).await;
                    t.run =
                        serde_json::from_str::<Value>(&state).unwrap()["runs"][0]["id"].to_string();
                }
                "/rpc/sign_in" => continue,
                _ => {}
            }
            let (st, body) = call(&s, path, Some(cookie), &args(path, &t).unwrap(), false).await;
            let k = kind(&body);
            assert!(
                !matches!(k.as_deref(), Some("Unauthorized") | Some("NotFound")),
                "{path} on the caller's own project: {st} {body}"
            );
            assert!(
                cookie == ADMIN || !body.contains("secret-b"),
                "{path}: {body}"
            );
            *table.entry("own project: allowed").or_default() += 1;
        }
    }
    assert_eq!(
        project_state(&s, &b, &b_box).await,
        b_before,
        "project B changed"
    );

    println!(
        "dashboard authorization matrix, {} server functions:",
        paths.len()
    );
    for (what, n) in &table {
        println!("  {what:<55} {n:>4}");
    }
}

/// The session cookie holds a server-side session id, never the token: signing out ends a
/// copied cookie too, a cookie holding a token is no session, and revoking the token ends its
/// sessions. On the embedded dashboard and through a proxy (whose sessions are its own).
#[tokio::test]
async fn sessions_live_on_the_server_and_sign_out_ends_copies() {
    use common::rpc::{page, pair, rpc, sign_in};
    let (upstream, proxy) = pair();
    for server in [&upstream, &proxy] {
        let cookie = sign_in(server, ADMIN).await.unwrap();
        assert!(
            !cookie.contains(ADMIN),
            "the cookie holds the token: {cookie}"
        );
        assert!(page(server, &cookie, "/").await.contains("Sign out"));
        let copied = cookie.clone();
        let (st, _, _) = rpc(server, "sign_out", Some(&cookie), &[]).await;
        assert!((200..400).contains(&st), "sign-out answered {st}");
        // The copy taken before sign-out is refused after it.
        let html = page(server, &copied, "/").await;
        assert!(!html.contains("Sign out"), "still signed in after sign-out");
        let (st, _, _) = rpc(server, "overview", Some(&copied), &[]).await;
        assert_eq!(st, 401);
        // A cookie that holds the token itself is no session.
        let raw = format!("snapline_session={ADMIN}");
        let (st, _, _) = rpc(server, "overview", Some(&raw), &[]).await;
        assert_eq!(st, 401);

        // A revoked token's sessions end.
        let made = upstream
            .admin(
                "POST",
                "/api/v1/tokens",
                Some(json!({"name": format!("gone-{}", server.port), "project_ids": ["default"]})),
            )
            .await;
        let (token, token_id) = (
            made["token"].as_str().unwrap().to_string(),
            made["info"]["id"].as_str().unwrap().to_string(),
        );
        let cookie = sign_in(server, &token).await.unwrap();
        assert!(page(server, &cookie, "/").await.contains("Sign out"));
        upstream
            .admin("DELETE", &format!("/api/v1/tokens/{token_id}"), None)
            .await;
        assert!(!page(server, &cookie, "/").await.contains("Sign out"));
        let db = server.db().await;
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM dashboard_sessions WHERE user_key = $1")
                .bind(blake3::hash(token.as_bytes()).to_hex().to_string())
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(left, 0, "the revoked token's session is still stored");
    }
}
