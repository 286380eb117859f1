//! The HTTP surface without a socket: `app()` plus `oneshot`.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{app_in, json, send};
use serde_json::json;

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_answers_in_the_vendor_envelope() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, _) = app_in(tmp.path()).await;
    let (resp, body) = send(&app, get("/api/v1/health")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/json",
        "JSON content type"
    );
    assert_eq!(
        json(&body),
        json!({"statusCode": 200, "message": "ok", "data": {"version": env!("CARGO_PKG_VERSION")}})
    );
}

#[tokio::test]
async fn unknown_api_routes_answer_json_never_html() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, _) = app_in(tmp.path()).await;
    for uri in [
        "/api/v1/nope",
        "/api/v2/health",
        "/api",
        "/api/v1/../../etc/passwd",
    ] {
        let (resp, body) = send(&app, get(uri)).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{uri}");
        let v = json(&body);
        assert_eq!(v["statusCode"], 404, "{uri}");
        assert_eq!(v["error"], "Not Found", "{uri}");
        assert!(
            v["message"].as_str().unwrap().contains("openapi.json"),
            "{uri}"
        );
    }
    let (resp, body) = send(
        &app,
        Request::delete("/api/v1/health")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json(&body)["statusCode"], 405);
}

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_health() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, _) = app_in(tmp.path()).await;
    let (resp, body) = send(&app, get("/api/v1/openapi.json")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v = json(&body);
    assert!(v["openapi"].as_str().unwrap().starts_with("3.1"), "{v}");
    assert!(v["paths"]["/api/v1/health"]["get"].is_object(), "{v}");
}

/// The routes the `http` routers declare (each resource's and the merged one), read from their source: `("/containers/{id}", "get")`.
fn routed() -> std::collections::BTreeSet<(String, String)> {
    // Each resource's `router()` and the one in mod.rs that merges them.
    let sources = [
        include_str!("../src/http/mod.rs"),
        include_str!("../src/http/containers.rs"),
        include_str!("../src/http/snapshots.rs"),
        include_str!("../src/http/resources.rs"),
        include_str!("../src/http/export.rs"),
    ];
    let routers = sources.map(|src| {
        let start = src
            .find("fn router()")
            .or_else(|| src.find("pub fn router"))
            .unwrap();
        let len = src[start..].find("\n}\n").unwrap();
        &src[start..start + len]
    });
    let mut out = std::collections::BTreeSet::new();
    for chunk in routers.iter().flat_map(|r| r.split(".route(").skip(1)) {
        let path = chunk.split('"').nth(1).unwrap();
        let handlers = &chunk[..chunk.find("\n        .").unwrap_or(chunk.len())];
        for method in ["get", "post", "put", "patch", "delete"] {
            if handlers.contains(&format!("{method}(")) || handlers.contains(&format!(".{method}("))
            {
                // Path parameters are named differently in the document.
                let path = path.replace("{id}", "{x}").replace("{name}", "{y}");
                out.insert((format!("/api/v1{path}"), method.to_string()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_route_is_documented_with_schemas_examples_and_errors() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, _) = app_in(tmp.path()).await;
    let (_, body) = send(&app, get("/api/v1/openapi.json")).await;
    let doc = json(&body);
    let schemas = &doc["components"]["schemas"];
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        match v["$ref"].as_str() {
            Some(r) => schemas[r.rsplit('/').next().unwrap()].clone(),
            None => v.clone(),
        }
    };
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let normalized = path
                .replace("{container_id}", "{x}")
                .replace("{server_id}", "{x}")
                .replace("{token_id}", "{x}")
                .replace("{project_id}", "{x}")
                .replace("{snapshot_name}", "{y}")
                .replace("{name}", "{y}");
            documented.insert((normalized, method.clone()));
            let what = format!("{method} {path}");
            assert!(
                op["summary"].is_string() || op["description"].is_string(),
                "{what}"
            );
            let ok = &op["responses"]["200"];
            assert!(ok.is_object(), "{what} has no 200 response");
            let content = ok["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{what}: no content"));
            if let Some(json_body) = content.get("application/json") {
                let schema = resolve(&json_body["schema"]);
                if path != "/api/v1/openapi.json" {
                    assert!(
                        schema["properties"]["message"]["example"].is_string(),
                        "{what}: the 200 envelope has no example message"
                    );
                }
            }
            if path != "/api/v1/health" && path != "/api/v1/openapi.json" {
                let codes: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
                assert!(codes.iter().any(|c| c.as_str() == "401"), "{what}: no 401");
                assert!(
                    codes
                        .iter()
                        .any(|c| c.starts_with('4') && c.as_str() != "401"),
                    "{what}: no other error response"
                );
                assert!(op["security"].is_array(), "{what}: no security");
            }
            if let Some(body) = op["requestBody"]["content"]["application/json"].as_object() {
                let schema = resolve(&body["schema"]);
                let schema = if schema["oneOf"].is_array() {
                    resolve(&schema["oneOf"][1])
                } else {
                    schema
                };
                assert!(
                    schema["example"].is_object() || body.get("example").is_some(),
                    "{what}: the request body has no example"
                );
            }
        }
    }
    assert_eq!(routed(), documented, "routes and document differ");
}

/// A session cookie for a new admin token, from signing in as the browser does.
async fn admin_cookie(app: &axum::Router, pool: &engine::DbPool) -> String {
    let (token, _) = snapline_server::service::auth::create_token(pool, "test", true, &[])
        .await
        .unwrap();
    let req = Request::post("/rpc/sign_in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(format!("token={token}")))
        .unwrap();
    let (resp, body) = send(app, req).await;
    assert!(
        resp.status().is_success(),
        "{}",
        String::from_utf8_lossy(&body)
    );
    let set = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

fn get_with_cookie(uri: &str, cookie: &str) -> Request<Body> {
    Request::get(uri)
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn dashboard_pages_render_on_the_server() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, pool) = app_in(tmp.path()).await;
    // Signed out: the page asks for a token instead of showing anything.
    let (resp, body) = send(&app, get("/")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<h1>Containers</h1>"), "{html}");
    assert!(html.contains("Your API token"), "{html}");
    assert!(!html.contains("Run system check"), "{html}");
    // The policy forbids inline script except the hydration script's nonce.
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .unwrap()
        .to_string();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        html.contains(&format!("<script type=\"module\" nonce=\"{nonce}\">")),
        "{html}"
    );
    // Made for one session from live data: never kept in the browser's cache (Back would
    // show a page from before the last change).
    assert_eq!(resp.headers()["cache-control"], "no-store");
    // Signed in: the containers and the create form, hydrated.
    let cookie = admin_cookie(&app, &pool).await;
    let (resp, body) = send(&app, get_with_cookie("/", &cookie)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("No containers yet"), "{html}");
    assert!(html.contains("Create a container"), "{html}");
    assert!(
        html.contains("/pkg/snapline.js"),
        "hydration script: {html}"
    );

    // The read-only pages are plain HTML: no hydration script, no wasm.
    let (resp, body) = send(&app, get_with_cookie("/system", &cookie)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("Run system check"), "{html}");
    assert!(!html.contains("/pkg/snapline.js"), "{html}");
    let (resp, body) = send(&app, get("/docs")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("/api/v1/health"),
        "docs list the API from OpenAPI: {html}"
    );
    assert!(!html.contains("snapline_bg.wasm"), "{html}");
    // Each operation with its parameters, body and answers; grouped; searchable.
    assert!(html.contains("id=\"tag-Snapshots\""), "{html}");
    assert!(
        html.contains("<code>container_id</code> (required)"),
        "{html}"
    );
    assert!(
        html.contains("before-ai-refactor"),
        "request example: {html}"
    );
    assert!(html.contains("status-4"), "answers: {html}");
    // Answer schemas, with references inlined (the snapshot object's fields appear).
    assert!(html.contains("Answer schema"), "{html}");
    assert!(html.contains("exclusive_bytes"), "{html}");
    assert!(
        !html.contains("#/components/schemas/"),
        "a reference left: {html}"
    );
    // Signed out, the page says how to run requests rather than showing dead forms.
    assert!(html.contains("to run requests from this page"), "{html}");
    assert!(!html.contains("/rpc/docs_run"), "{html}");
    let (resp, body) = send(&app, get("/docs?q=restore%20snapshot")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains(
            "data-operation=\"PATCH /api/v1/containers/{container_id}/snapshots/{snapshot_name}\""
        ),
        "{html}"
    );
    assert!(
        !html.contains("data-operation=\"GET /api/v1/health\""),
        "{html}"
    );
    assert!(html.contains("operations match"), "{html}");

    let (resp, body) = send(&app, get("/no/such/page")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(String::from_utf8(body).unwrap().contains("Page not found"));
}

async fn check_count(pool: &engine::DbPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM system_checks")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn rpc_post(path: &str, extra: &[(&str, &str)]) -> Request<Body> {
    let mut req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .header(header::HOST, "127.0.0.1:3000");
    for (k, v) in extra {
        req = req.header(*k, *v);
    }
    req.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn system_check_server_function_writes_sqlite() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, pool) = app_in(tmp.path()).await;
    // Without a session: refused, nothing written.
    let (resp, _) = send(
        &app,
        rpc_post(
            "/rpc/run_system_check",
            &[("sec-fetch-site", "same-origin")],
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(check_count(&pool).await, 0);
    let cookie = admin_cookie(&app, &pool).await;
    let (resp, body) = send(
        &app,
        rpc_post(
            "/rpc/run_system_check",
            &[
                ("sec-fetch-site", "same-origin"),
                ("origin", "http://127.0.0.1:3000"),
                ("cookie", &cookie),
            ],
        ),
    )
    .await;
    assert_eq!(
        resp.status(),
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let v = json(&body);
    assert_eq!(v["id"], 1);
    assert!(
        v["summary"].as_str().unwrap().contains("Database write"),
        "{v}"
    );
    assert_eq!(check_count(&pool).await, 1);

    let (resp, body) = send(&app, rpc_post("/rpc/system_status", &[("cookie", &cookie)])).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let v = json(&body);
    assert_eq!(v["total_checks"], 1);
    assert_eq!(v["recent"][0]["id"], 1);
}

#[tokio::test]
async fn cross_site_server_function_calls_are_refused_and_change_nothing() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, pool) = app_in(tmp.path()).await;
    let attacks: [&[(&str, &str)]; 3] = [
        &[
            ("sec-fetch-site", "cross-site"),
            ("origin", "https://evil.example"),
        ],
        &[("origin", "https://evil.example")],
        &[("origin", "null")],
    ];
    for headers in attacks {
        let (resp, _) = send(&app, rpc_post("/rpc/run_system_check", headers)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{headers:?}");
    }
    assert_eq!(check_count(&pool).await, 0);
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let _serial = common::SERIAL.lock().await;
    let tmp = tempfile::tempdir().unwrap();
    let (app, _) = app_in(tmp.path()).await;
    let req = Request::get("/api/v1/openapi.json")
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let (resp, _) = send(&app, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
}
