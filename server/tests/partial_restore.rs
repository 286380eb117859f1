//! Partial restore against a real server: `PATCH …/snapshots/{name}` with `paths`, on a
//! running runc container, through REST and through a proxy's dashboard.

mod common;

use common::rpc::{browser, fails, pair, rpc, sign_in};
use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

async fn snapshot(s: &LiveServer, id: &str, alias: &str) -> String {
    s.admin(
        "POST",
        &format!("/api/v1/containers/{id}/snapshots"),
        Some(json!({"alias": alias})),
    )
    .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// When the container's init started, in clock ticks since boot: the same value before and
/// after means the container was not restarted.
async fn init_started(s: &LiveServer, id: &str) -> String {
    let out = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/exec"),
            Some(json!({"command": ["cat", "/proc/1/stat"]})),
        )
        .await;
    assert_eq!(out["exit_code"], 0, "{out}");
    let stat = out["stdout"].as_str().unwrap();
    // Field 22, counted after the command name in parentheses.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(19).unwrap().to_string()
}

async fn status(s: &LiveServer, id: &str) -> String {
    s.admin("GET", &format!("/api/v1/containers/{id}"), None)
        .await["container"]["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn write(root: &std::path::Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn read(root: &std::path::Path, rel: &str) -> Option<String> {
    std::fs::read_to_string(root.join(rel)).ok()
}

#[tokio::test]
async fn a_partial_restore_changes_only_its_paths_and_keeps_the_container_running() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "web").await;
    let root = s.root(&id);
    write(&root, "etc/nginx/nginx.conf", "worker_processes 2;\n");
    write(&root, "etc/nginx/sites/default", "listen 80;\n");
    write(&root, "srv/app/config.yml", "debug: false\n");
    write(&root, "srv/app/data.db", "rows v1\n");
    let snap = snapshot(&s, &id, "good").await;
    s.admin("POST", &format!("/api/v1/containers/{id}/start"), None)
        .await;
    let started = init_started(&s, &id).await;

    // An AI "improves" the config; the user also did real work since.
    write(&root, "etc/nginx/nginx.conf", "worker_processes 999;\n");
    write(&root, "etc/nginx/sites/evil", "proxy_pass http://x;\n");
    std::fs::remove_file(root.join("etc/nginx/sites/default")).unwrap();
    write(&root, "srv/app/config.yml", "debug: true\n");
    write(&root, "srv/app/data.db", "rows v2\n");
    write(&root, "root/notes.txt", "keep me\n");

    let r = s
        .admin(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/{snap}"),
            Some(
                json!({"paths": ["/srv/app/config.yml", "/etc/nginx", "/etc/nginx/sites"],
                        "safety_snapshot": true}),
            ),
        )
        .await;
    assert_eq!(
        r["paths"],
        json!(["/etc/nginx", "/srv/app/config.yml"]),
        "{r}"
    );
    assert_eq!(r["snapshot"]["name"], snap.as_str());
    let safety = r["safety_snapshot"]["name"].as_str().unwrap().to_string();

    assert_eq!(
        read(&root, "etc/nginx/nginx.conf").as_deref(),
        Some("worker_processes 2;\n")
    );
    assert_eq!(
        read(&root, "etc/nginx/sites/default").as_deref(),
        Some("listen 80;\n")
    );
    assert_eq!(read(&root, "etc/nginx/sites/evil"), None);
    assert_eq!(
        read(&root, "srv/app/config.yml").as_deref(),
        Some("debug: false\n")
    );
    // Untouched: newer work outside the paths.
    assert_eq!(read(&root, "srv/app/data.db").as_deref(), Some("rows v2\n"));
    assert_eq!(read(&root, "root/notes.txt").as_deref(), Some("keep me\n"));
    // Still running, and not restarted.
    assert_eq!(status(&s, &id).await, "running");
    assert_eq!(init_started(&s, &id).await, started);

    // The safety snapshot holds the state before: restoring it brings the AI's file back.
    s.admin(
        "PATCH",
        &format!("/api/v1/containers/{id}/snapshots/{safety}"),
        Some(json!({"paths": ["/etc/nginx/sites"]})),
    )
    .await;
    assert!(read(&root, "etc/nginx/sites/evil").is_some());
    assert_eq!(read(&root, "etc/nginx/sites/default"), None);

    // With restart: the container is stopped and started again around the restore.
    s.admin(
        "PATCH",
        &format!("/api/v1/containers/{id}/snapshots/{snap}"),
        Some(json!({"paths": ["/etc/nginx/sites"], "restart": true})),
    )
    .await;
    assert_eq!(status(&s, &id).await, "running");
    let restarted = init_started(&s, &id).await;
    assert_ne!(restarted, started, "not restarted");
    assert_eq!(read(&root, "etc/nginx/sites/evil"), None);

    // `/` as a path is the whole tree, and like any path it keeps the container running.
    let r = s
        .admin(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/{snap}"),
            Some(json!({"paths": ["/"]})),
        )
        .await;
    assert_eq!(r["paths"], json!(["/"]), "{r}");
    assert_eq!(read(&root, "root/notes.txt"), None);
    assert_eq!(read(&root, "srv/app/data.db").as_deref(), Some("rows v1\n"));
    assert_eq!(status(&s, &id).await, "running");
    assert_eq!(init_started(&s, &id).await, restarted);

    // A paused container comes back paused after a restart, and after a whole restore: it was
    // started again (a new init once resumed) with the restored tree, then frozen again.
    let mut init = restarted;
    for body in [
        Some(json!({"paths": ["/etc/nginx/sites"], "restart": true})),
        None,
    ] {
        s.admin("POST", &format!("/api/v1/containers/{id}/pause"), None)
            .await;
        write(&root, "etc/nginx/sites/evil", "x");
        s.admin(
            "PATCH",
            &format!("/api/v1/containers/{id}/snapshots/{snap}"),
            body.clone(),
        )
        .await;
        assert_eq!(status(&s, &id).await, "paused", "{body:?}");
        assert_eq!(read(&root, "etc/nginx/sites/evil"), None, "{body:?}");
        s.admin("POST", &format!("/api/v1/containers/{id}/resume"), None)
            .await;
        let now = init_started(&s, &id).await;
        assert_ne!(now, init, "{body:?}: not restarted");
        init = now;
    }
}

#[tokio::test]
async fn bad_and_missing_paths_are_refused_before_anything_changes() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "app").await;
    let root = s.root(&id);
    write(&root, "etc/app.conf", "v1\n");
    let snap = snapshot(&s, &id, "v1").await;
    write(&root, "etc/app.conf", "v2\n");
    let before = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await["snapshots"]
        .as_array()
        .unwrap()
        .len();
    let url = format!("/api/v1/containers/{id}/snapshots/{snap}");
    let cases: [(Value, u16, &str); 9] = [
        (
            json!({"paths": ["/etc/app.conf", "/etc/nope.conf"], "safety_snapshot": true}),
            404,
            "/etc/nope.conf",
        ),
        (
            json!({"paths": ["/etc/app.conf/below"]}),
            404,
            "/etc/app.conf/below",
        ),
        (json!({"paths": ["etc/app.conf"]}), 400, "not absolute"),
        (
            json!({"paths": ["/etc/../etc/app.conf"]}),
            400,
            "'.' or '..'",
        ),
        (json!({"paths": []}), 400, "no path given"),
        (
            json!({"paths": (0..101).map(|i| format!("/f{i}")).collect::<Vec<_>>()}),
            400,
            "at most 100",
        ),
        (json!({"paths": "/etc"}), 400, "paths"),
        (json!({"paths": ["/etc"], "restart": "yes"}), 400, "restart"),
        // A whole restore always restarts: asking it not to is refused, not ignored.
        (json!({"restart": false}), 400, "needs \"paths\""),
    ];
    for (body, want, says) in cases {
        let (status, v) = s.call("PATCH", &url, Some(ADMIN), Some(body.clone())).await;
        assert_eq!(status, want, "{body}: {v}");
        let msg = v["message"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    // Nothing changed: no safety snapshot was taken, the file is as it was.
    assert_eq!(read(&root, "etc/app.conf").as_deref(), Some("v2\n"));
    let after = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await["snapshots"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(after, before);

    // A parent folder that the container turned into a symlink to the host is refused.
    std::fs::remove_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
    let (status, v) = s
        .call(
            "PATCH",
            &url,
            Some(ADMIN),
            Some(json!({"paths": ["/etc/app.conf"]})),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("restore /etc itself"),
        "{v}"
    );
    assert!(
        std::fs::read_to_string("/etc/app.conf").is_err(),
        "wrote through the symlink"
    );
}

#[tokio::test]
async fn the_dashboard_restores_one_file_through_a_proxy() {
    let (upstream, proxy) = pair();
    let id = upstream.container("default", "files").await;
    let root = upstream.root(&id);
    write(&root, "srv/config.yml", "mode: safe\n");
    write(&root, "srv/other.txt", "one\n");
    let snap = snapshot(&upstream, &id, "base").await;
    write(&root, "srv/config.yml", "mode: yolo\n");
    write(&root, "srv/other.txt", "two\n");

    let cookie = sign_in(&proxy, ADMIN).await.unwrap();
    let page_url = proxy.url(&format!(
        "/containers/{id}/snapshots/{snap}/restore?path=/srv/config.yml"
    ));
    let page_with_status = |url: String| {
        let cookie = cookie.clone();
        async move {
            let r = browser()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let page = |url: String| {
        let get = page_with_status(url);
        async move {
            let (status, html) = get.await;
            assert_eq!(status, 200, "{html}");
            html
        }
    };
    // The confirmation lists what will change, and only under the path.
    let html = page(page_url.clone()).await;
    assert!(html.contains("This will change:"), "{html}");
    assert!(html.contains("<code>/srv/config.yml</code>"), "{html}");
    assert!(html.contains("rewritten as in the snapshot"), "{html}");
    assert!(!html.contains("/srv/other.txt"), "{html}");

    // The form posts to restore_path, which goes back to the page saying what it did.
    let (status, v, _) = rpc(
        &proxy,
        "restore_path",
        Some(&cookie),
        &[
            ("id", &id),
            ("name", &snap),
            ("path", "/srv/config.yml"),
            ("safety", "on"),
        ],
    )
    .await;
    assert!((200..400).contains(&status), "{status} {v}");
    assert_eq!(
        read(&root, "srv/config.yml").as_deref(),
        Some("mode: safe\n")
    );
    assert_eq!(read(&root, "srv/other.txt").as_deref(), Some("two\n"));
    let up = upstream
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    let safety = up["snapshots"][0]["name"].as_str().unwrap().to_string();
    assert_eq!(
        up["snapshots"][0]["alias"],
        format!("before-restore-{snap}")
    );
    let html = page(format!("{page_url}&restored=1&safety={safety}")).await;
    assert!(
        html.contains("Restored /srv/config.yml from base"),
        "{html}"
    );
    assert!(html.contains("nothing to change"), "{html}");
    assert!(html.contains(">Undo<"), "{html}");

    // Undo: the same path from the safety snapshot.
    let (status, v, _) = rpc(
        &proxy,
        "restore_path",
        Some(&cookie),
        &[("id", &id), ("name", &safety), ("path", "/srv/config.yml")],
    )
    .await;
    assert!((200..400).contains(&status), "{status} {v}");
    assert_eq!(
        read(&root, "srv/config.yml").as_deref(),
        Some("mode: yolo\n")
    );

    // The page offers only what the API would do: a missing path or one with `..` is said
    // so, without a form, and answered with the status of what went wrong.
    for (path, says, want) in [
        ("/srv/missing", "has nothing at /srv/missing", 404),
        ("../etc", "not absolute", 400),
        ("/srv/../etc", "'.' or '..'", 400),
        ("/nowhere/deeper", "nowhere", 404),
        ("/", "Choose a file or folder", 400),
        // Refused as the API refuses them, not turned into another path.
        ("srv/config.yml", "not absolute", 400),
        ("/srv/a%00b", "NUL byte", 400),
    ] {
        let (status, html) = page_with_status(proxy.url(&format!(
            "/containers/{id}/snapshots/{snap}/restore?path={path}"
        )))
        .await;
        assert_eq!(status, want, "{path}: {html}");
        assert!(html.contains(says), "{path}: {html}");
        assert!(
            !html.contains("action=\"/rpc/restore_path\""),
            "{path}: {html}"
        );
    }

    // Every page whose own data failed answers with that failure's status, on the proxy
    // and on the upstream's own dashboard, and says why in words.
    let up_cookie = sign_in(&upstream, ADMIN).await.unwrap();
    for (server, cookie) in [(&proxy, &cookie), (&upstream, &up_cookie)] {
        for (path, want) in [
            ("/containers/000000000000000000000000".to_string(), 404),
            (
                format!("/containers/{id}/snapshots/snap-19990101-000000/files?path=/"),
                404,
            ),
            (
                format!("/containers/{id}/snapshots/{snap}/files?path=/srv/missing"),
                404,
            ),
            (
                format!("/containers/{id}/diff?from=snap-19990101-000000&against=live"),
                404,
            ),
            (
                "/containers/000000000000000000000000/diff?from=x&against=live".to_string(),
                404,
            ),
            (
                format!("/containers/{id}/snapshots/{snap}/files?path=/srv"),
                200,
            ),
        ] {
            let r = browser()
                .get(server.url(&path))
                .header("cookie", cookie.as_str())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            assert!(
                r.headers()
                    .get(app::error::PAGE_ERROR_KIND_HEADER)
                    .is_none(),
                "{path}: the header leaked"
            );
            let html = r.text().await.unwrap();
            assert_eq!(status, want, "{path}: {html}");
            if want != 200 {
                // Said once, even where two parts of the page failed for one reason.
                assert_eq!(html.matches("role=\"alert\"").count(), 1, "{path}: {html}");
            }
        }
    }

    // The upstream's 404 keeps its kind and names the path.
    let err = fails(
        &proxy,
        "restore_path",
        &cookie,
        &[("id", &id), ("name", &snap), ("path", "/srv/missing")],
    )
    .await;
    assert!(
        matches!(&err, app::AppError::NotFound(m) if m.contains("/srv/missing")),
        "{err:?}"
    );
}

/// The Compare page against the live files: paths read as absolute, a type change names both
/// types, every row offers its restore (an added path, its folder's), and the restore page's
/// Cancel goes back to the comparison it was opened from, never off the dashboard.
#[tokio::test]
async fn compare_rows_offer_restores_that_come_back_to_them() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "cmp").await;
    let root = s.root(&id);
    write(&root, "srv/keep.txt", "one\n");
    write(&root, "srv/data", "a file\n");
    let snap = snapshot(&s, &id, "base").await;
    write(&root, "srv/new.txt", "added\n");
    std::fs::remove_file(root.join("srv/data")).unwrap();
    write(&root, "srv/data/inside", "now a folder\n");
    let cookie = sign_in(&s, ADMIN).await.unwrap();
    let get = |path: String| {
        let (s, cookie) = (&s, cookie.clone());
        async move { common::rpc::page(s, &cookie, &path).await }
    };
    let compare = format!("/containers/{id}/diff?from={snap}&against=live");
    let html = get(compare.clone()).await;
    assert!(html.contains("<code>/srv/new.txt</code>"), "{html}");
    assert!(html.contains("file → dir"), "{html}");
    // The added file's row restores its folder; the type change restores the path itself.
    let back = format!("/containers/{id}/diff%3Ffrom%3D{snap}");
    assert!(
        html.contains(&format!("restore?path=/srv&amp;back={back}")),
        "{html}"
    );
    assert!(
        html.contains("Restore folder /srv, which removes /srv/new.txt…"),
        "{html}"
    );
    assert!(html.contains(">Restore folder…</a>"), "{html}");
    assert!(
        html.contains(&format!("restore?path=/srv/data&amp;back={back}")),
        "{html}"
    );

    // The restore page says what comes back in words, and its Cancel returns to Compare.
    let page = format!("/containers/{id}/snapshots/{snap}/restore?path=/srv/data&back=");
    let html = get(format!("{page}{back}%26against%3Dlive")).await;
    assert!(
        html.contains("made a file again, as in the snapshot (it is a folder now)"),
        "{html}"
    );
    let cancel = format!(
        "href=\"{}\" class=\"button\">Cancel",
        compare.replace('&', "&amp;")
    );
    assert!(html.contains(&cancel), "{html}");
    // A `back` that leaves the dashboard, or goes to another container, is not followed.
    for elsewhere in [
        "https%3A%2F%2Fevil.example%2F",
        "%2F%2Fevil.example",
        "%2Fcontainers%2Fother%2Ffiles",
    ] {
        let html = get(format!("{page}{elsewhere}")).await;
        assert!(!html.contains("evil.example\" class"), "{html}");
        assert!(
            html.contains(&format!(
                "href=\"/containers/{id}/snapshots/{snap}/files?path=/srv\" class=\"button\">Cancel"
            )),
            "{elsewhere}: {html}"
        );
    }

    // Restored by the plain form, the page it comes back to keeps where to return.
    let to = common::rpc::plain_form(
        &s,
        "restore_path",
        &cookie,
        &[
            ("id", id.as_str()),
            ("name", snap.as_str()),
            ("path", "/srv/data"),
            ("back", compare.as_str()),
        ],
    )
    .await;
    assert!(to.contains("&restored=1"), "{to}");
    let html = get(to).await;
    assert!(html.contains("Restored /srv/data from base"), "{html}");
    assert!(html.contains(&cancel), "{html}");
    assert_eq!(read(&root, "srv/data").as_deref(), Some("a file\n"));
}

/// A file whose name holds `%2F` (or any `%xx`) is restored itself, never the file its
/// decoded name would be: the pages read the address's path once.
#[tokio::test]
async fn percent_signs_in_names_are_not_decoded_twice() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "pct").await;
    let root = s.root(&id);
    write(&root, "srv/t/a%2Fb", "left\n");
    write(&root, "srv/t/a/b", "right\n");
    write(&root, "srv/100%/x", "hundred\n");
    let snap = snapshot(&s, &id, "enc").await;
    write(&root, "srv/t/a%2Fb", "changed\n");
    write(&root, "srv/t/a/b", "changed\n");
    let cookie = sign_in(&s, ADMIN).await.unwrap();
    // The Files listing links the file's restore with its own name.
    let files = common::rpc::page(
        &s,
        &cookie,
        &format!("/containers/{id}/snapshots/{snap}/files?path=/srv/t"),
    )
    .await;
    assert!(files.contains("Restore a%2Fb…"), "{files}");
    let page = |path: &str| {
        format!(
            "/containers/{id}/snapshots/{snap}/restore?path={}",
            app::model::query_escape(path)
        )
    };
    let html = common::rpc::page(&s, &cookie, &page("/srv/t/a%2Fb")).await;
    assert!(html.contains("Restore <code>/srv/t/a%2Fb</code>"), "{html}");
    assert!(!html.contains("/srv/t/a/b"), "{html}");
    let html = common::rpc::page(&s, &cookie, &page("/srv/100%")).await;
    assert!(html.contains("Restore <code>/srv/100%</code>"), "{html}");
    // Restored by its form, which carries the path percent-encoded (so names that are not
    // UTF-8 get through): only that file comes back.
    assert!(
        html.contains(r#"name="path" value="/srv/100%25""#),
        "{html}"
    );
    let to = common::rpc::plain_form(
        &s,
        "restore_path",
        &cookie,
        &[
            ("id", id.as_str()),
            ("name", snap.as_str()),
            ("path", "/srv/t/a%252Fb"),
        ],
    )
    .await;
    let html = common::rpc::page(&s, &cookie, &to).await;
    assert!(html.contains("Restored /srv/t/a%2Fb from enc"), "{html}");
    assert_eq!(read(&root, "srv/t/a%2Fb").as_deref(), Some("left\n"));
    assert_eq!(read(&root, "srv/t/a/b").as_deref(), Some("changed\n"));
}
