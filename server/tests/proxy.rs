//! Proxy mode: a real upstream `snapline serve` and a second `snapline serve --upstream URL`
//! with its own data directory. The proxy's dashboard and API must act on the upstream (and
//! only there), with the upstream's tokens, and its errors must keep their kind.

mod common;

use std::sync::Arc;
use std::time::Duration;

use app::AppError;
use app::backend::Backend;
use app::model::{ScheduleSpec, SnapshotChange};
use common::rpc::{browser, fails, ok, pair, rpc, sign_in};
use common::{ADMIN, LiveServer};
use futures_util::StreamExt;
use serde_json::{Value, json};
use snapline_server::proxy::{RemoteBackend, Upstream};

/// The ids of the containers a data directory holds on disk.
fn containers_on_disk(server: &LiveServer) -> Vec<String> {
    match std::fs::read_dir(server.data().join("containers")) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn the_dashboard_through_a_proxy_acts_on_the_upstream() {
    let (upstream, proxy) = pair();

    // The upstream's tokens sign in; one the upstream does not know is refused.
    let err = sign_in(&proxy, "hdy_notatokenanyoneknows0000000000").await;
    assert!(matches!(err, Err(AppError::Unauthorized(_))), "{err:?}");
    let cookie = sign_in(&proxy, ADMIN).await.unwrap();
    let me = ok(&proxy, "whoami", &cookie, &[]).await;
    assert_eq!(me["admin"], true, "{me}");

    let overview = ok(&proxy, "overview", &cookie, &[]).await;
    assert!(
        overview["images"]
            .as_array()
            .unwrap()
            .contains(&json!("demo")),
        "{overview}"
    );
    let project = upstream.project_id("default").await;

    // A token scoped to one project upstream is not an admin through the proxy either.
    let scoped = upstream
        .admin(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "dev", "project_ids": [project]})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let dev = sign_in(&proxy, &scoped).await.unwrap();
    let me = ok(&proxy, "whoami", &dev, &[]).await;
    assert_eq!(me["admin"], false, "{me}");
    assert_eq!(me["projects"].as_array().unwrap().len(), 1, "{me}");

    // Create a container: it exists upstream, not on the proxy.
    let c = ok(
        &proxy,
        "create_container",
        &cookie,
        &[("project", &project), ("name", "web"), ("image", "demo")],
    )
    .await;
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["project_name"], "default", "{c}");
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(up["container"]["name"], "web");

    // The same name again: the upstream's 409 arrives as a Conflict.
    let err = fails(
        &proxy,
        "create_container",
        &cookie,
        &[("project", &project), ("name", "web"), ("image", "demo")],
    )
    .await;
    assert!(
        matches!(err, AppError::Conflict(ref m) if m.contains("web")),
        "{err:?}"
    );

    // A snapshot, then the timeline shows it with what deleting it would free.
    let s = ok(
        &proxy,
        "create_snapshot",
        &cookie,
        &[("id", &id), ("alias", "proxy-first"), ("expiry", "7")],
    )
    .await;
    let first = s["name"].as_str().unwrap().to_string();
    assert_eq!(s["alias"], "proxy-first");
    assert!(s["expires_at"].is_string(), "{s}");
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    assert_eq!(up["snapshots"][0]["name"], first.as_str());

    let t = ok(
        &proxy,
        "timeline",
        &cookie,
        &[("id", &id), ("all", "false")],
    )
    .await;
    assert_eq!(t["total"], 1, "{t}");
    assert_eq!(t["snapshots"][0]["alias"], "proxy-first");
    assert!(t["snapshots"][0]["exclusive_bytes"].is_u64(), "{t}");
    assert_eq!(t["axis"][0]["name"], first.as_str());
    assert_eq!(t["container"]["last_snapshot_at"], s["created_at"]);
    assert_eq!(t["container"]["snapshot_count"], 1);

    // Restore with a safety snapshot: two snapshots upstream.
    let r = ok(
        &proxy,
        "restore_snapshot",
        &cookie,
        &[("id", &id), ("name", &first), ("safety", "on")],
    )
    .await;
    assert_eq!(r["restored"]["name"], first.as_str());
    let safety = r["safety"]["name"].as_str().unwrap().to_string();
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    assert_eq!(up["snapshots"].as_array().unwrap().len(), 2, "{up}");

    // Copy the first snapshot into a new container, which exists upstream.
    let copy = ok(
        &proxy,
        "copy_snapshot",
        &cookie,
        &[
            ("id", &id),
            ("name", &first),
            ("project", &project),
            ("new_name", "web-copy"),
        ],
    )
    .await;
    let copy_id = copy["made"][0][0].as_str().unwrap().to_string();
    assert_eq!(copy["made"][0][1], "web-copy", "{copy}");
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{copy_id}"), None)
        .await;
    assert_eq!(up["container"]["name"], "web-copy");

    // Delete the safety snapshot.
    ok(
        &proxy,
        "delete_snapshot",
        &cookie,
        &[("id", &id), ("name", &safety)],
    )
    .await;
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    assert_eq!(up["snapshots"].as_array().unwrap().len(), 1, "{up}");

    // Unknown containers are NotFound, in words.
    let err = fails(
        &proxy,
        "timeline",
        &cookie,
        &[("id", "0123456789abcdef01234567"), ("all", "false")],
    )
    .await;
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");

    // The server-rendered timeline page shows the snapshot's alias.
    let html = browser()
        .get(proxy.url(&format!("/containers/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("proxy-first"), "{html}");

    // The overview lists both containers; the docs list the upstream's API.
    let overview = ok(&proxy, "overview", &cookie, &[]).await;
    let names: Vec<&str> = overview["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"web") && names.contains(&"web-copy"),
        "{names:?}"
    );
    let docs = ok(&proxy, "api_endpoints", &cookie, &[]).await;
    assert!(
        docs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == "/api/v1/containers/{container_id}/snapshots"),
        "{docs}"
    );

    // The self-check is this node's own, and says whom it proxies for.
    let check = ok(&proxy, "run_system_check", &cookie, &[]).await;
    assert_eq!(check["ok"], true, "{check}");
    assert!(
        check["summary"]
            .as_str()
            .unwrap()
            .contains(&format!("127.0.0.1:{}", upstream.port)),
        "{check}"
    );
    let status = ok(&proxy, "system_status", &cookie, &[]).await;
    assert_eq!(status["total_checks"], 1, "{status}");
    assert!(
        status["version"].as_str().unwrap().contains("proxy for"),
        "{status}"
    );

    // Delete the container through the proxy.
    ok(
        &proxy,
        "container_action",
        &cookie,
        &[("id", &copy_id), ("action", "delete")],
    )
    .await;
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{copy_id}"), None)
        .await;
    assert_eq!(up["container"]["status"], "deleted", "{up}");

    // Everything happened upstream: the proxy holds no container of its own.
    assert_eq!(containers_on_disk(&upstream), vec![id]);
    assert!(containers_on_disk(&proxy).is_empty());
}

#[tokio::test]
async fn every_backend_call_reaches_the_upstream() {
    let upstream = LiveServer::start(&[]);
    let project = upstream.project_id("default").await;
    let id = upstream.container(&project, "files").await;
    let snap = upstream
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "base"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();

    let here = tempfile::tempdir().unwrap();
    // A proxy node's database: the dashboard's tables only.
    let pool = snapline_server::db::open(&common::db_url(here.path()))
        .await
        .unwrap();
    snapline_server::dashboard::schema::migrate(&pool)
        .await
        .unwrap();
    let url = Upstream::parse(&format!("http://127.0.0.1:{}", upstream.port)).unwrap();
    let backend = RemoteBackend::new(url, pool, Arc::new(here.path().to_path_buf())).unwrap();

    // Metadata: rename and pin; the upstream has it so.
    let s = backend
        .update_snapshot(
            ADMIN,
            &id,
            &snap,
            SnapshotChange {
                alias: Some(Some("renamed".into())),
                expiry: Some(Some(30)),
            },
        )
        .await
        .unwrap();
    assert_eq!(s.alias.as_deref(), Some("renamed"));
    assert!(s.expires_at.is_some());
    let s = backend
        .update_snapshot(
            ADMIN,
            &id,
            &snap,
            SnapshotChange {
                alias: None,
                expiry: Some(None),
            },
        )
        .await
        .unwrap();
    assert_eq!(s.alias.as_deref(), Some("renamed"), "an absent field stays");
    assert_eq!(s.expires_at, None);
    let up = upstream
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{snap}"),
            None,
        )
        .await;
    assert_eq!(up["snapshot"]["alias"], "renamed");
    assert!(up["snapshot"]["expires_at"].is_null(), "{up}");

    // Diff against the live tree after a change on the upstream's disk.
    std::fs::write(upstream.root(&id).join("added.txt"), b"new\n").unwrap();
    let d = backend
        .diff_snapshot(ADMIN, &id, &snap, "live")
        .await
        .unwrap();
    assert!(
        d.changes
            .iter()
            .any(|c| c.path.ends_with("added.txt") && c.kind == "added"),
        "{d:?}"
    );
    assert_eq!(d.against, "live");

    // Browse and download.
    let l = backend
        .browse_snapshot(ADMIN, &id, &snap, b"/etc")
        .await
        .unwrap();
    assert!(l.entries.iter().any(|e| e.name == "os-release"), "{l:?}");
    let (size, mut stream) = backend
        .read_file(ADMIN, &id, &snap, b"/etc/os-release")
        .await
        .unwrap();
    let mut got = Vec::new();
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    let direct = upstream
        .client
        .get(upstream.url(&format!(
            "/api/v1/containers/{id}/snapshots/{snap}/files/content?path=/etc/os-release"
        )))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got, direct.to_vec());
    assert_eq!(size, got.len() as u64);
    assert!(String::from_utf8_lossy(&got).contains("Snapline demo"));
    let err = backend
        .read_file(ADMIN, &id, &snap, b"/no/such/file")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");

    // Verify, deep.
    let v = backend
        .verify_snapshot(ADMIN, &id, &snap, true)
        .await
        .unwrap();
    assert!(v.clean && v.deep && v.chunks > 0, "{v:?}");

    // Schedule: none, set (visible upstream), read, delete.
    assert_eq!(backend.schedule(ADMIN, &id).await.unwrap(), None);
    let spec = ScheduleSpec {
        schedule: "@daily".into(),
        expiry: Some(7),
        alias_pattern: None,
        include_stopped: Some(true),
        keep: None,
    };
    let set = backend.set_schedule(ADMIN, &id, spec).await.unwrap();
    assert_eq!(set.schedule, "@daily");
    assert!(set.include_stopped);
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}/schedule"), None)
        .await;
    assert_eq!(up["schedule"]["expiry"], 7);
    assert_eq!(backend.schedule(ADMIN, &id).await.unwrap(), Some(set));
    backend.delete_schedule(ADMIN, &id).await.unwrap();
    assert_eq!(backend.schedule(ADMIN, &id).await.unwrap(), None);
    let err = backend
        .schedule(ADMIN, "0123456789abcdef01234567")
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err:?}");

    // Bad input keeps the upstream's sentence.
    let err = backend
        .create_snapshot(ADMIN, &id, Some("x".repeat(101)), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::BadRequest(ref m) if m.contains("100")),
        "{err:?}"
    );

    // Events: a snapshot taken upstream arrives on the stream, progress included.
    let mut events = backend.events(ADMIN).await.unwrap();
    upstream
        .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    let mut kinds = Vec::new();
    let seen = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(e) = events.next().await {
            kinds.push(e.kind);
            if e.kind == "snapshot.created" {
                return e;
            }
        }
        panic!("the stream ended: {kinds:?}");
    })
    .await
    .expect("no snapshot.created event within 20 s");
    assert_eq!(seen.container_id.as_deref(), Some(id.as_str()));
    assert!(kinds.iter().any(|k| *k == "progress"), "{kinds:?}");
    let err = backend.events("hdy_unknown").await.err().unwrap();
    assert!(matches!(err, AppError::Unauthorized(_)), "{err:?}");

    // An upstream that is not there is a Transport error naming it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let here2 = tempfile::tempdir().unwrap();
    // A proxy node's database: the dashboard's tables only.
    let pool = snapline_server::db::open(&common::db_url(here2.path()))
        .await
        .unwrap();
    snapline_server::dashboard::schema::migrate(&pool)
        .await
        .unwrap();
    let nowhere = RemoteBackend::new(
        Upstream::parse(&format!("http://127.0.0.1:{port}")).unwrap(),
        pool,
        Arc::new(here2.path().to_path_buf()),
    )
    .unwrap();
    let err = nowhere.identity(ADMIN).await.unwrap_err();
    assert!(
        matches!(err, AppError::Transport(ref m) if m.contains(&format!("127.0.0.1:{port} could not be reached"))),
        "{err:?}"
    );
}

/// Sends a request line as written, with no client-side normalisation of the path, and
/// returns the status and the body.
async fn raw_get(server: &LiveServer, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", server.port))
        .await
        .unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n",
        server.port
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    (status, text)
}

#[tokio::test]
async fn the_api_is_forwarded_to_the_upstream_and_only_under_api_v1() {
    let (upstream, proxy) = pair();
    let project = upstream.project_id("default").await;

    // Through the proxy's /api/v1, with the upstream's token: it happens upstream.
    let id = proxy.container(&project, "api-made").await;
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await;
    assert_eq!(up["container"]["name"], "api-made");
    assert!(containers_on_disk(&proxy).is_empty());
    // Nor in its database: a proxy node has the dashboard's tables and no service or engine
    // schema.
    let db = proxy.db().await;
    let tables = engine::db::table_names(&db).await.unwrap();
    assert_eq!(
        tables,
        [
            "api_drafts",
            "api_examples",
            "api_runs",
            "dashboard_sessions",
            "system_checks"
        ]
    );

    // Errors come back as the upstream wrote them.
    let (status, v) = proxy.call("GET", "/api/v1/containers", None, None).await;
    assert_eq!(status, 401, "{v}");
    assert_eq!(v["statusCode"], 401);
    let (status, v) = proxy
        .call(
            "GET",
            "/api/v1/containers/0123456789abcdef01234567",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 404, "{v}");

    // The document and health are the upstream's.
    let (status, v) = proxy.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(v["paths"]["/api/v1/health"]["get"].is_object(), "{v}");

    // Events stream through while a snapshot is taken through the proxy, and the download
    // arrives with its headers and bytes.
    let mut events = proxy
        .client
        .get(proxy.url("/api/v1/events"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let snap = proxy
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "through"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let mut text = String::new();
    tokio::time::timeout(Duration::from_secs(20), async {
        while !text.contains("snapshot.created") {
            let chunk = events.chunk().await.unwrap().expect("the stream ended");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no snapshot.created through the proxy: {text}"));
    drop(events);

    let path = format!("/api/v1/containers/{id}/snapshots/{snap}/files/content?path=/etc/hostname");
    let resp = proxy
        .client
        .get(proxy.url(&path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert!(
        resp.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("hostname")
    );
    assert_eq!(resp.headers()["content-length"], "5");
    assert_eq!(&resp.bytes().await.unwrap()[..], b"demo\n");

    // The CLI works through the proxy too.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
        .args([
            "containers",
            "list",
            "--json",
            "--url",
            &proxy.url(""),
            "--token",
            ADMIN,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&id));

    // Paths that could leave /api/v1 once decoded or normalised are refused here, in JSON.
    for bad in [
        "/api/v1/../../etc/passwd",
        "/api/v1/%2e%2e/%2e%2e/etc/passwd",
        "/api/v1/containers%2F..%2F..%2Fhealth",
        "/api/v1//health",
        "/api/v1/..\\health",
    ] {
        let (status, text) = raw_get(&proxy, bad).await;
        assert_eq!(status, 400, "{bad}: {text}");
        assert!(text.contains("\"statusCode\":400"), "{bad}: {text}");
    }
    let (status, text) = raw_get(&proxy, "/api/v2/health").await;
    assert_eq!(status, 404, "{text}");
    assert!(text.contains("openapi.json"), "{text}");
    let (status, _) = raw_get(&proxy, "/api/v1/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_stopped_upstream_is_a_connection_problem_not_a_crash() {
    let (upstream, proxy) = pair();
    let cookie = sign_in(&proxy, ADMIN).await.unwrap();
    let upstream_port = upstream.port;
    drop(upstream.kill9());

    let err = fails(&proxy, "overview", &cookie, &[]).await;
    assert!(
        matches!(err, AppError::Transport(ref m) if m.contains(&format!("127.0.0.1:{upstream_port} could not be reached"))),
        "{err:?}"
    );
    let (status, v) = proxy.call("GET", "/api/v1/health", None, None).await;
    assert_eq!(status, 502, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{v}"
    );
    // The proxy itself still serves its pages.
    let resp = proxy.client.get(proxy.url("/signin")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn a_bad_upstream_url_stops_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, says) in [
        ("ftp://host", "http://"),
        ("http://host:3000/?x=1", "query"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--upstream",
                bad,
                "--data-dir",
            ])
            .arg(dir.path().join("data"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--upstream") && err.contains(says),
            "{bad}: {err}"
        );
    }
}

#[tokio::test]
async fn the_timeline_tools_and_the_plain_routes_work_through_a_proxy() {
    let (upstream, proxy) = pair();
    let cookie = sign_in(&proxy, ADMIN).await.unwrap();
    let id = upstream.container("default", "tools").await;
    std::fs::write(upstream.root(&id).join("root/a.txt"), "alpha\n").unwrap();
    let snap = ok(
        &proxy,
        "create_snapshot",
        &cookie,
        &[("id", &id), ("alias", "one"), ("expiry", "7")],
    )
    .await;
    let name = snap["name"].as_str().unwrap().to_string();
    std::fs::write(upstream.root(&id).join("root/a.txt"), "beta\n").unwrap();

    // Edit and pin, as the card's form sends it; the upstream has it.
    let edited = ok(
        &proxy,
        "update_snapshot",
        &cookie,
        &[
            ("id", &id),
            ("name", &name),
            ("alias", "pinned-one"),
            ("expiry", "never"),
        ],
    )
    .await;
    assert_eq!(edited["alias"], "pinned-one", "{edited}");
    let up = upstream
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{name}"),
            None,
        )
        .await;
    assert_eq!(up["snapshot"]["expires_at"], Value::Null);

    // Compare with the live files, browse, verify, schedule.
    let d = ok(
        &proxy,
        "diff",
        &cookie,
        &[("id", &id), ("from", &name), ("against", "live")],
    )
    .await;
    assert!(
        d["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == "root/a.txt" && c["kind"] == "modified"),
        "{d}"
    );
    let l = ok(
        &proxy,
        "browse",
        &cookie,
        &[("id", &id), ("name", &name), ("path", "/root")],
    )
    .await;
    // The listing, and the snapshot as the page names it: its alias, with its name.
    assert!(
        l[0]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "a.txt"),
        "{l}"
    );
    assert_eq!(l[1], format!("pinned-one ({name})").as_str(), "{l}");
    let v = ok(
        &proxy,
        "verify",
        &cookie,
        &[("id", &id), ("name", &name), ("deep", "on")],
    )
    .await;
    assert_eq!(v[1]["clean"], true, "{v}");
    assert_eq!(v[1]["deep"], true, "{v}");
    let s = ok(
        &proxy,
        "save_schedule",
        &cookie,
        &[
            ("id", &id),
            ("schedule", "@daily"),
            ("expiry", "30"),
            ("alias_pattern", ""),
        ],
    )
    .await;
    assert_eq!(s["schedule"], "@daily", "{s}");
    let t = ok(
        &proxy,
        "timeline",
        &cookie,
        &[("id", &id), ("all", "false")],
    )
    .await;
    assert_eq!(t["schedule"]["expiry"], 30, "{t}");
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}/schedule"), None)
        .await;
    assert_eq!(up["schedule"]["schedule"], "@daily");

    // The download route streams the upstream's bytes; without a session it is refused.
    let url = proxy.url(&format!("/download/{id}/{name}?path=/root/a.txt"));
    let resp = browser()
        .get(&url)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The same download headers as the REST route's.
    assert_eq!(
        resp.headers()["content-disposition"],
        "attachment; filename=\"a.txt\""
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"alpha\n");
    let resp = browser().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);

    // The live stream relays the upstream's events to the signed-in browser.
    let mut events = browser()
        .get(proxy.url("/live/events"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    upstream
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "from-elsewhere"})),
        )
        .await;
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.contains("snapshot.created") && std::time::Instant::now() < deadline {
        match tokio::time::timeout(std::time::Duration::from_secs(5), events.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    assert!(seen.contains("snapshot.created"), "{seen}");
    assert!(seen.contains(&id), "{seen}");
    assert!(containers_on_disk(&proxy).is_empty());
}

/// The API docs' "Run": the same request gives the same answer on a server and through a
/// proxy; only paths under /api/v1 are sent, never a URL.
#[tokio::test]
async fn run_requests_reach_only_the_api_on_a_server_and_through_a_proxy() {
    let (upstream, proxy) = pair();
    for server in [&upstream, &proxy] {
        // A container each: an alias names one snapshot of its container.
        let id = upstream
            .container("default", &format!("runs-{}", server.port))
            .await;
        let cookie = sign_in(server, ADMIN).await.unwrap();
        let run = |method: &'static str, path: String, body: Option<&'static str>| {
            let cookie = cookie.clone();
            async move {
                let mut form = vec![("method", method.to_string()), ("path", path)];
                if let Some(b) = body {
                    form.push(("body", b.to_string()));
                }
                let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
                rpc(server, "run_request", Some(&cookie), &form).await
            }
        };
        // Create a snapshot, then restore it by the returned name.
        let (st, r, _) = run(
            "POST",
            format!("/api/v1/containers/{id}/snapshots"),
            Some(r#"{"alias": "ran"}"#),
        )
        .await;
        assert_eq!(st, 200, "{r}");
        assert_eq!(r["status"], 200, "{r}");
        let answer: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
        let name = answer["data"]["snapshot"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(r["micros"].as_u64().unwrap() > 0, "{r}");
        assert!(
            r["headers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h[0] == "content-type"),
            "{r}"
        );
        let (_, r, _) = run(
            "PATCH",
            format!("/api/v1/containers/{id}/snapshots/{name}"),
            None,
        )
        .await;
        assert_eq!(r["status"], 200, "{r}");
        // An unknown snapshot: the API's 404 is the answer, shown with its message.
        let (st, r, _) = run(
            "GET",
            format!("/api/v1/containers/{id}/snapshots/snap-19990101-000000"),
            None,
        )
        .await;
        assert_eq!((st, r["status"].as_u64()), (200, Some(404)), "{r}");
        assert!(
            r["body"].as_str().unwrap().contains("snap-19990101-000000"),
            "{r}"
        );
        // The event stream is read for a moment and cut, never hangs.
        let (_, r, _) = run("GET", "/api/v1/events".into(), None).await;
        assert_eq!(
            (r["status"].as_u64(), r["truncated"].as_bool()),
            (Some(200), Some(true)),
            "{r}"
        );
        // Refused before anything is sent.
        for bad in [
            "http://127.0.0.1:1/api/v1/health",
            "//evil.example/api/v1/health",
            "/api/v1/../../etc/passwd",
            "/api/v1/%2e%2e/health",
            "/api/v1/containers%2f..%2fhealth",
            "/api/v1/a\\b",
            "/rpc/sign_out",
            "/",
        ] {
            let (st, r, _) = run("GET", bad.into(), None).await;
            assert_ne!(st, 200, "{bad}: {r}");
            assert!(r["BadRequest"].as_str().is_some(), "{bad}: {r}");
        }
        let (st, r, _) = run("TRACE", "/api/v1/health".into(), None).await;
        assert_ne!(st, 200, "{r}");
    }
}

/// The API docs' saved state: runs and drafts per user, examples shared within a project,
/// on a server and on a proxy (which keeps its own).
#[tokio::test]
async fn docs_state_is_kept_per_user_and_shared_per_project() {
    let (upstream, proxy) = pair();
    let project = upstream.project_id("default").await;
    let other = upstream
        .admin("POST", "/api/v1/projects", Some(json!({"name": "other"})))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token_for = |p: String| {
        let upstream = &upstream;
        async move {
            upstream
                .admin(
                    "POST",
                    "/api/v1/tokens",
                    Some(json!({"name": "t", "project_ids": [p]})),
                )
                .await["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (teammate, outsider) = (token_for(project.clone()).await, token_for(other).await);
    for server in [&upstream, &proxy] {
        let admin = sign_in(server, ADMIN).await.unwrap();
        // A run lands in the runner's history, newest first.
        ok(
            server,
            "run_request",
            &admin,
            &[("method", "GET"), ("path", "/api/v1/health")],
        )
        .await;
        let state = ok(server, "docs_state", &admin, &[]).await;
        assert_eq!(state["runs"][0]["path"], "/api/v1/health", "{state}");
        assert_eq!(state["runs"][0]["status"], 200, "{state}");

        // A draft survives signing out and in again.
        let op = "POST /api/v1/containers/{container_id}/snapshots";
        ok(
            server,
            "save_draft",
            &admin,
            &[
                ("operation", op),
                ("params", r#"{"container_id":"x"}"#),
                ("body", r#"{"alias":"kept"}"#),
            ],
        )
        .await;
        ok(server, "sign_out", &admin, &[]).await;
        let admin = sign_in(server, ADMIN).await.unwrap();
        let state = ok(server, "docs_state", &admin, &[]).await;
        assert_eq!(state["drafts"][0]["body"], r#"{"alias":"kept"}"#, "{state}");

        // An example saved in a project is seen by a teammate, not by another project.
        let ex = ok(
            server,
            "save_example",
            &admin,
            &[
                ("project", &project),
                ("operation", op),
                ("name", "before deploy"),
                ("params", "{}"),
                ("body", r#"{"alias":"pre"}"#),
                ("note", "run me first"),
            ],
        )
        .await;
        let id = ex["id"].as_str().unwrap().to_string();
        let mate = sign_in(server, &teammate).await.unwrap();
        let seen = ok(server, "docs_state", &mate, &[]).await;
        assert_eq!(seen["examples"][0]["note"], "run me first", "{seen}");
        assert!(
            seen["runs"].as_array().unwrap().is_empty(),
            "runs are per user: {seen}"
        );
        let out = sign_in(server, &outsider).await.unwrap();
        let unseen = ok(server, "docs_state", &out, &[]).await;
        assert!(
            unseen["examples"].as_array().unwrap().is_empty(),
            "{unseen}"
        );
        let err = fails(server, "delete_example", &out, &[("id", &id)]).await;
        assert!(matches!(err, AppError::NotFound(_)), "{err:?}");
        // The teammate edits it; a second example with the same name is a conflict.
        let edited = ok(
            server,
            "save_example",
            &mate,
            &[
                ("id", &id),
                ("project", &project),
                ("operation", op),
                ("name", "before deploy"),
                ("params", "{}"),
                ("body", r#"{"alias":"pre2"}"#),
                ("note", ""),
            ],
        )
        .await;
        assert_eq!(edited["body"], r#"{"alias":"pre2"}"#, "{edited}");
        let err = fails(
            server,
            "save_example",
            &mate,
            &[
                ("project", &project),
                ("operation", op),
                ("name", "before deploy"),
                ("params", "{}"),
                ("body", "{}"),
            ],
        )
        .await;
        assert!(matches!(err, AppError::Conflict(_)), "{err:?}");
        let err = fails(
            server,
            "save_example",
            &mate,
            &[
                ("project", &project),
                ("operation", op),
                ("name", ""),
                ("params", "{}"),
                ("body", "{}"),
            ],
        )
        .await;
        assert!(matches!(err, AppError::BadRequest(_)), "{err:?}");
        ok(server, "delete_example", &mate, &[("id", &id)]).await;
        let gone = ok(server, "docs_state", &admin, &[]).await;
        assert!(gone["examples"].as_array().unwrap().is_empty(), "{gone}");
    }
}

/// A plain HTML form POST (no JavaScript) to a server function, as the docs page's Run
/// widgets send it. Returns the status and where the server sends the browser next.
async fn form_post(
    server: &LiveServer,
    endpoint: &str,
    cookie: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let resp = browser()
        .post(server.url(&format!("/rpc/{endpoint}")))
        .header("accept", "text/html")
        .header("sec-fetch-site", "same-origin")
        .header("referer", server.url("/docs"))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap();
    let location = resp
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (resp.status().as_u16(), location)
}

/// The status a docs page shows for the run it displays.
fn shown_status(html: &str) -> Option<u16> {
    let after = html.split(r#"data-testid="run-status""#).nth(1)?;
    after
        .split('>')
        .nth(1)?
        .split('<')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// A dashboard page's HTML as the signed-in user sees it.
async fn page(server: &LiveServer, cookie: &str, path_and_query: &str) -> String {
    let resp = browser()
        .get(server.url(path_and_query))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path_and_query}");
    resp.text().await.unwrap()
}

/// The docs page's Run widgets as plain forms, on a server and through a proxy: a run is
/// sent and its answer shown; a new snapshot's name fills the restore widget; a malformed
/// or schema-breaking body and hostile path parameters are refused before sending, and
/// the page says why; replays and examples work.
#[tokio::test]
async fn run_widgets_check_send_and_show_in_both_modes() {
    let (upstream, proxy) = pair();
    let id = upstream.container("default", "widgets").await;
    let project = upstream.project_id("default").await;
    let create = "POST /api/v1/containers/{container_id}/snapshots";
    let restore = "PATCH /api/v1/containers/{container_id}/snapshots/{snapshot_name}";
    for server in [&upstream, &proxy] {
        let cookie = sign_in(server, ADMIN).await.unwrap();
        let runs = |state: &Value| state["runs"].as_array().unwrap().len();
        let before = runs(&ok(server, "docs_state", &cookie, &[]).await);

        // Run: the answer is shown at the widget, with the new name ready for restore.
        let (st, to) = form_post(
            server,
            "docs_run",
            &cookie,
            &[
                ("op", create),
                ("p[container_id]", &id),
                // No alias: the replay below makes a second snapshot, and an alias names one.
                ("body", r#"{"expiry": 3}"#),
                ("action", "run"),
            ],
        )
        .await;
        assert_eq!(st, 302, "{to}");
        assert!(
            to.contains("&run=") && to.contains("#run-post-api-v1"),
            "{to}"
        );
        let html = page(server, &cookie, &to).await;
        assert!(shown_status(&html) == Some(200), "no status in the page");
        assert!(html.contains("Snapshot created successfully"));
        let state = ok(server, "docs_state", &cookie, &[]).await;
        let answer: Value =
            serde_json::from_str(state["runs"][0]["response"].as_str().unwrap()).unwrap();
        let name = answer["data"]["snapshot"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let fill = format!("set.snapshot_name={name}");
        let link = html
            .split("href=\"")
            .map(|s| s.split('"').next().unwrap().replace("&amp;", "&"))
            .find(|h| h.contains(&fill) && h.contains("PATCH"))
            .unwrap_or_else(|| panic!("no link fills {name} into the restore widget"));
        let filled = page(server, &cookie, &link).await;
        assert!(
            filled.contains(&format!("value=\"{name}\"")),
            "the name is not filled in"
        );

        // Restore through the widget, by the filled-in name.
        let (_, to) = form_post(
            server,
            "docs_run",
            &cookie,
            &[
                ("op", restore),
                ("p[container_id]", &id),
                ("p[snapshot_name]", &name),
            ],
        )
        .await;
        let html = page(server, &cookie, &to).await;
        assert!(shown_status(&html) == Some(200), "restore: {to}");

        // A 404 is shown with the API's message.
        let (_, to) = form_post(
            server,
            "docs_run",
            &cookie,
            &[
                ("op", restore),
                ("p[container_id]", &id),
                ("p[snapshot_name]", "snap-19990101-000000"),
            ],
        )
        .await;
        let html = page(server, &cookie, &to).await;
        assert!(shown_status(&html) == Some(404), "{to}");
        assert!(html.contains("snap-19990101-000000"));

        // Refused before sending: broken JSON, a body the schema rejects, hostile paths.
        let sent = runs(&ok(server, "docs_state", &cookie, &[]).await);
        for (params, body, why) in [
            (id.as_str(), r#"{"alias": "#, "not valid JSON"),
            (id.as_str(), r#"{"alias": 5}"#, "/alias"),
            (id.as_str(), r#"{"expiry": "soon"}"#, "/expiry"),
            ("../../health", "", "is refused"),
            ("a/b", "", "is refused"),
            ("", "", "Fill in container_id"),
        ] {
            let (st, to) = form_post(
                server,
                "docs_run",
                &cookie,
                &[("op", create), ("p[container_id]", params), ("body", body)],
            )
            .await;
            assert_eq!(st, 302);
            assert!(to.contains("refused=1"), "{params} {body}: {to}");
            let html = page(server, &cookie, &to).await;
            assert!(html.contains("Not sent"), "{body}");
            assert!(html.contains(why), "{params} {body}: expected {why:?}");
        }
        // The raw widget: the SSRF corpus never leaves the server.
        for bad in [
            "http://127.0.0.1:1/api/v1/health",
            "//evil.example/api/v1/health",
            "/api/v1/../../etc/passwd",
            "/api/v1/%2e%2e/rpc/sign_out",
            "/api/v1/a\\b",
            "/rpc/sign_out",
        ] {
            let (_, to) = form_post(
                server,
                "docs_run",
                &cookie,
                &[("op", "custom"), ("p[method]", "GET"), ("p[path]", bad)],
            )
            .await;
            assert!(to.contains("refused=1"), "{bad}: {to}");
        }
        let after = runs(&ok(server, "docs_state", &cookie, &[]).await);
        assert_eq!(after, sent, "a refused request reached the history");
        assert_eq!(sent, before + 3);

        // Replay the create: a second snapshot.
        let state = ok(server, "docs_state", &cookie, &[]).await;
        let first = state["runs"].as_array().unwrap().last().unwrap()["id"].to_string();
        let create_run = state["runs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["method"] == "POST")
            .unwrap()["id"]
            .to_string();
        assert!(!first.is_empty());
        let (_, to) = form_post(server, "docs_replay", &cookie, &[("run", &create_run)]).await;
        let html = page(server, &cookie, &to).await;
        assert!(shown_status(&html) == Some(200), "replay: {to}");

        // An example saved from the widget is listed, loads back, and can be edited.
        let (_, to) = form_post(
            server,
            "docs_run",
            &cookie,
            &[
                ("op", create),
                ("p[container_id]", &id),
                ("body", r#"{"alias": "nightly"}"#),
                ("action", "example"),
                ("example_name", "nightly"),
                ("example_project", &project),
                ("example_note", "what the cron job sends"),
            ],
        )
        .await;
        assert!(to.contains("example="), "{to}");
        let html = page(server, &cookie, &to).await;
        assert!(html.contains("what the cron job sends"));
        assert!(
            html.contains("Save changes"),
            "the example is not open for editing"
        );
        // Runs are private: another user cannot open one by its id.
        let newest = ok(server, "docs_state", &cookie, &[]).await["runs"][0].clone();
        let mine = newest["id"].to_string();
        let its_op = app::model::query_escape(newest["operation"].as_str().unwrap());
        // The owner sees it at its widget...
        let own = page(server, &cookie, &format!("/docs?op={its_op}&run={mine}")).await;
        assert!(shown_status(&own).is_some(), "{newest}");
        let project_token = upstream
            .admin(
                "POST",
                "/api/v1/tokens",
                Some(json!({"name": "mate", "project_ids": [project.clone()]})),
            )
            .await["token"]
            .as_str()
            .unwrap()
            .to_string();
        let mate = sign_in(server, &project_token).await.unwrap();
        // ...another user of the same project does not.
        let theirs = page(server, &mate, &format!("/docs?op={its_op}&run={mine}")).await;
        assert_eq!(shown_status(&theirs), None, "another user's run was shown");
        let (_, to) = form_post(server, "docs_replay", &mate, &[("run", &mine)]).await;
        assert!(
            to.contains("__err="),
            "another user's run was replayed: {to}"
        );

        // The draft (last body) survives signing out and in.
        ok(server, "sign_out", &cookie, &[]).await;
        let cookie = sign_in(server, ADMIN).await.unwrap();
        let html = page(server, &cookie, "/docs").await;
        assert!(
            html.contains("{&quot;alias&quot;: &quot;nightly&quot;}")
                || html.contains(r#"{"alias": "nightly"}"#)
        );
    }
}
