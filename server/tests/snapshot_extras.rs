//! Diff, browse, download, verify and `exclusive_bytes`, against a live server.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::json;

#[tokio::test]
async fn diff_browse_download_verify_and_sizes() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "x").await;
    let root = s.root(&id);
    std::fs::write(root.join("etc/app.conf"), "v1\n").unwrap();
    std::fs::write(root.join("root/old.txt"), "old\n").unwrap();
    let snap = |alias: &'static str| {
        let (s, id) = (&s, id.clone());
        async move {
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
    };
    let a = snap("a").await;
    std::fs::write(root.join("etc/app.conf"), "v2\n").unwrap();
    std::fs::remove_file(root.join("root/old.txt")).unwrap();
    std::fs::write(root.join("root/new.txt"), "new\n").unwrap();
    // Incompressible bytes, so that what b alone holds is large once stored.
    let unique = common::XorShift(0x9e37_79b9_7f4a_7c15).bytes(500_000);
    std::fs::write(root.join("root/unique.bin"), &unique).unwrap();
    let b = snap("b").await;

    // Diff between snapshots.
    let d = s
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{a}/diff?against={b}"),
            None,
        )
        .await;
    let kinds: Vec<(String, String)> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("etc/app.conf", "modified"),
        ("root/old.txt", "removed"),
        ("root/new.txt", "added"),
    ] {
        assert!(
            kinds.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} not in {kinds:?}"
        );
    }
    // Diff against the live tree.
    std::fs::write(root.join("etc/app.conf"), "v3\n").unwrap();
    let d = s
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{b}/diff?against=live"),
            None,
        )
        .await;
    assert_eq!(d["changes"][0]["path"], "etc/app.conf");
    assert_eq!(d["truncated"], false);
    let (status, _) = s
        .call(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{a}/diff?against={b}&limit=0"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 400);

    // Browse and download.
    let files = s
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{a}/files?path=/etc"),
            None,
        )
        .await;
    let entry = files["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "app.conf")
        .unwrap()
        .clone();
    assert_eq!(entry["entry_type"], "file");
    assert_eq!(entry["size"], 3);
    let body = s
        .client
        .get(s.url(&format!(
            "/api/v1/containers/{id}/snapshots/{a}/files/content?path=/etc/app.conf"
        )))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        body.headers()["content-disposition"],
        "attachment; filename=\"app.conf\""
    );
    // Whatever the container wrote, a browser saves it and never renders it.
    assert_eq!(body.headers()["content-type"], "application/octet-stream");
    assert_eq!(body.headers()["x-content-type-options"], "nosniff");
    assert_eq!(body.text().await.unwrap(), "v1\n");
    for (path, status) in [("/etc/nope", 404), ("/etc", 400)] {
        let (st, v) = s
            .call(
                "GET",
                &format!("/api/v1/containers/{id}/snapshots/{a}/files/content?path={path}"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(st, status, "{path}: {v}");
    }

    // Verify, structurally and deeply.
    for deep in [false, true] {
        let v = s
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots/{b}/verify?deep={deep}"),
                None,
            )
            .await;
        assert_eq!(v["clean"], true, "{v}");
        assert_eq!(v["deep"], deep);
        assert!(v["chunks"].as_u64().unwrap() > 0);
    }

    // Exclusive bytes: b alone holds the unique file.
    let one = s
        .admin(
            "GET",
            &format!("/api/v1/containers/{id}/snapshots/{b}"),
            None,
        )
        .await;
    let exclusive = one["snapshot"]["exclusive_bytes"].as_u64().unwrap();
    assert!(exclusive > 100_000, "{one}");
    let listed = s
        .admin("GET", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await;
    assert!(listed["snapshots"][0].get("exclusive_bytes").is_none());
    let deleted = s
        .admin(
            "DELETE",
            &format!("/api/v1/containers/{id}/snapshots/{b}"),
            None,
        )
        .await;
    assert_eq!(deleted["freed_bytes"].as_u64().unwrap(), exclusive);
}

#[tokio::test]
async fn metadata_edits_alias_and_expiry_and_pins_without_touching_the_files() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "m").await;
    let base = format!("/api/v1/containers/{id}/snapshots");
    let created = s
        .admin("POST", &base, Some(json!({"alias": "draft", "expiry": 7})))
        .await;
    let name = created["snapshot"]["name"].as_str().unwrap().to_string();
    let meta = format!("{base}/{name}/metadata");

    // Rename only: the expiry stays.
    let d = s
        .admin("PATCH", &meta, Some(json!({"alias": "stable"})))
        .await;
    assert_eq!(d["snapshot"]["alias"], "stable");
    assert_eq!(
        d["snapshot"]["expires_at"],
        created["snapshot"]["expires_at"]
    );
    // Pin (expiry null), addressed by the new alias.
    let d = s
        .admin(
            "PATCH",
            &format!("{base}/stable/metadata"),
            Some(json!({"expiry": null})),
        )
        .await;
    assert_eq!(d["snapshot"]["expires_at"], serde_json::Value::Null);
    assert_eq!(d["snapshot"]["alias"], "stable");
    // A 30-day expiry and no alias.
    let d = s
        .admin("PATCH", &meta, Some(json!({"alias": null, "expiry": 30})))
        .await;
    assert_eq!(d["snapshot"]["alias"], serde_json::Value::Null);
    assert!(d["snapshot"]["expires_at"].is_string(), "{d}");
    assert_eq!(d["snapshot"]["size"], created["snapshot"]["size"]);

    // Refused with a message, nothing changed.
    for (body, status, words) in [
        (json!({"expiry": 0}), 400, "expiry"),
        (json!({"alias": "x".repeat(101)}), 400, "alias"),
        (json!({"colour": "red"}), 400, "colour"),
        (json!({"expiry": "soon"}), 400, "expiry"),
    ] {
        let (st, v) = s
            .call("PATCH", &meta, Some(common::ADMIN), Some(body))
            .await;
        assert_eq!(st, status, "{v}");
        assert!(
            v["message"].as_str().unwrap().contains(words),
            "{words}: {v}"
        );
    }
    let (st, _) = s
        .call(
            "PATCH",
            &format!("{base}/snap-19990101-000000/metadata"),
            Some(common::ADMIN),
            Some(json!({"alias": "x"})),
        )
        .await;
    assert_eq!(st, 404);
    let now = s.admin("GET", &format!("{base}/{name}"), None).await;
    assert_eq!(now["snapshot"]["alias"], serde_json::Value::Null);
}

/// A container's `size` is recorded by the operations that change its tree (create, exec,
/// snapshot, restore, copy) and read back without walking it: a file written behind the
/// service's back shows only once an operation records the size again.
#[tokio::test]
async fn container_size_is_recorded_by_each_operation() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "sized").await;
    let size = |id: String| {
        let s = &s;
        async move {
            s.admin("GET", &format!("/api/v1/containers/{id}"), None)
                .await["container"]["size"]
                .as_u64()
                .unwrap()
        }
    };
    let created = size(id.clone()).await;
    assert!(created > 0, "a container from the demo image has files");

    // Written through a command: recorded when the command ends.
    let out = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/exec"),
            Some(json!({"command": ["/bin/sh", "-c", "head -c 10000 /dev/zero > /root/ten-k"]})),
        )
        .await;
    assert_eq!(out["exit_code"], 0, "{out}");
    assert_eq!(size(id.clone()).await, created + 10_000);

    // Written behind the service's back: not walked on read, counted by the next snapshot.
    std::fs::write(s.root(&id).join("root/more"), vec![7u8; 2_345]).unwrap();
    assert_eq!(size(id.clone()).await, created + 10_000);
    let snap = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "bigger"})),
        )
        .await;
    assert_eq!(snap["snapshot"]["size"], created + 12_345);
    assert_eq!(size(id.clone()).await, created + 12_345);

    // A copy of that snapshot has its size; a restore to an earlier one goes back.
    let copy = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(json!({"target_project_id": "default", "name": "sized-copy", "source_snapshot": "bigger"})),
        )
        .await;
    assert_eq!(copy["container"]["size"], created + 12_345, "{copy}");
    std::fs::remove_file(s.root(&id).join("root/more")).unwrap();
    std::fs::remove_file(s.root(&id).join("root/ten-k")).unwrap();
    let first = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "smaller"})),
        )
        .await;
    assert_eq!(first["snapshot"]["size"], created);
    s.admin(
        "PATCH",
        &format!("/api/v1/containers/{id}/snapshots/bigger"),
        None,
    )
    .await;
    assert_eq!(size(id.clone()).await, created + 12_345);
}

/// Downloads keep the file's exact name (RFC 8187 `filename*`), with a plain ASCII
/// `filename` beside it, from the REST route and from the dashboard's download link.
#[tokio::test]
async fn downloads_are_saved_under_their_exact_names() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "names").await;
    let root = s.root(&id);
    let names = [
        (
            "résumé 2024.pdf",
            "filename=\"r_sum__2024.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf",
        ),
        (
            "报告.txt",
            "filename=\"__.txt\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt",
        ),
        (
            "naïve+plan (v2).tar.gz",
            "filename=\"na_ve_plan__v2_.tar.gz\"; filename*=UTF-8''na%C3%AFve+plan%20%28v2%29.tar.gz",
        ),
    ];
    for (name, _) in names {
        std::fs::write(root.join("root").join(name), name).unwrap();
    }
    let snap = s
        .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let cookie = common::rpc::sign_in(&s, ADMIN).await.unwrap();
    for (name, want) in names {
        let path =
            reqwest::Url::parse_with_params("http://x/", [("path", format!("/root/{name}"))])
                .unwrap()
                .query()
                .unwrap()
                .to_string();
        let rest = s
            .client
            .get(s.url(&format!(
                "/api/v1/containers/{id}/snapshots/{snap}/files/content?{path}"
            )))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let page = common::rpc::browser()
            .get(s.url(&format!("/download/{id}/{snap}?{path}")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        for resp in [rest, page] {
            assert_eq!(resp.status(), 200, "{name}");
            assert_eq!(
                resp.headers()["content-disposition"],
                format!("attachment; {want}").as_str(),
                "{name}"
            );
            assert_eq!(resp.text().await.unwrap(), name);
        }
    }
}

/// Without JavaScript, every card action of the timeline comes back to the timeline saying
/// what it did, on the embedded dashboard and through a proxy. The outcome is signed for the
/// session: a changed one, or one made for another session, is not shown.
#[tokio::test]
async fn plain_forms_say_what_they_did_and_cannot_be_forged() {
    use common::rpc::{page, pair, plain_form, sign_in};
    let (upstream, proxy) = pair();
    let id = upstream.container("default", "plain").await;
    let other = upstream.token("teammate", &["default"]).await;
    for server in [&upstream, &proxy] {
        let cookie = sign_in(server, ADMIN).await.unwrap();
        let teammate = sign_in(server, &other).await.unwrap();
        let image = format!("plain-{}", server.port);
        let snap = upstream.snapshot(&id, Some("before")).await;
        type Form<'a> = Vec<(&'a str, &'a str)>;
        let steps: [(&str, Form, String); 6] = [
            (
                "create_snapshot",
                vec![("id", &id), ("alias", &image), ("expiry", "never")],
                format!("Snapshot {image} (snap-"),
            ),
            (
                "verify",
                vec![("id", &id), ("name", &snap), ("deep", "on")],
                format!("Snapshot {snap} verified deeply: no damage"),
            ),
            (
                "publish_image",
                vec![("id", &id), ("name", &snap), ("image", &image)],
                format!("Published image {image}."),
            ),
            (
                "update_snapshot",
                vec![
                    ("id", &id),
                    ("name", &snap),
                    ("alias", "before"),
                    ("expiry", "never"),
                ],
                format!("Snapshot before ({snap}) saved: pinned."),
            ),
            (
                "restore_snapshot",
                vec![("id", &id), ("name", &snap), ("safety", "on")],
                format!("Restored to before ({snap})."),
            ),
            (
                "delete_snapshot",
                vec![("id", &id), ("name", &snap)],
                format!("Snapshot {snap} deleted."),
            ),
        ];
        for (endpoint, form, says) in steps {
            let to = plain_form(server, endpoint, &cookie, &form).await;
            assert!(to.starts_with(&format!("/containers/{id}?done=")), "{to}");
            let html = page(server, &cookie, &to).await;
            assert!(html.contains(&says), "{endpoint}: {says:?} not in the page");
            if endpoint == "restore_snapshot" {
                assert!(
                    html.contains("Undo restore"),
                    "no undo after a plain restore"
                );
            }
            // Another session's page does not show it, nor does a changed outcome.
            let html = page(server, &teammate, &to).await;
            assert!(
                !html.contains(&says),
                "{endpoint}: shown to another session"
            );
            // The outcome intact, its signature one digit off.
            let (head, sig) = to.split_once("&sig=").unwrap();
            let flipped = if sig.starts_with('0') { "1" } else { "0" };
            let forged = format!("{head}&sig={flipped}{}", &sig[1..]);
            let html = page(server, &cookie, &forged).await;
            assert!(
                !html.contains(&says),
                "{endpoint}: a changed outcome was shown"
            );
        }
    }
}

/// An alias names one snapshot of a container: a second snapshot or an edit that would give
/// it to another is refused in words, and the aliases Snapline gives itself (safety
/// snapshots) never repeat, so a restore by any alias finds exactly one snapshot.
#[tokio::test]
async fn an_alias_names_one_snapshot() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "aliases").await;
    let first = s.snapshot(&id, Some("before-deploy")).await;
    let url = format!("/api/v1/containers/{id}/snapshots");
    let (st, v) = s
        .call(
            "POST",
            &url,
            Some(ADMIN),
            Some(json!({"alias": "before-deploy"})),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    let said = v["message"].as_str().unwrap();
    assert!(
        said.contains(&first) && said.contains("choose another"),
        "{said}"
    );
    let second = s.snapshot(&id, Some("other")).await;
    let edit = |name: &str, alias: &str| {
        let (s, path) = (&s, format!("{url}/{name}/metadata"));
        let body = json!({ "alias": alias });
        async move { s.call("PATCH", &path, Some(ADMIN), Some(body)).await }
    };
    let (st, v) = edit(&second, "before-deploy").await;
    assert_eq!(st, 409, "{v}");
    // Its own alias again is no change, and so allowed.
    let (st, v) = edit(&first, "before-deploy").await;
    assert_eq!(st, 200, "{v}");
    // The CLI says the same.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
        .args([
            "snapshots",
            "create",
            "--container",
            &id,
            "--alias",
            "other",
        ])
        .env("SNAPLINE_URL", s.url(""))
        .env("HOODY_TOKEN", ADMIN)
        .env_remove("SNAPLINE_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is taken by snapshot"));

    // Two restores of one snapshot with a safety snapshot each: distinct aliases, and each
    // restores by its alias.
    let mut safety = Vec::new();
    for _ in 0..2 {
        let d = s
            .admin(
                "PATCH",
                &format!("{url}/before-deploy"),
                Some(json!({"safety_snapshot": true})),
            )
            .await;
        safety.push(d["safety_snapshot"]["alias"].as_str().unwrap().to_string());
    }
    assert_eq!(
        safety,
        [
            format!("before-restore-{first}"),
            format!("before-restore-{first}-2")
        ]
    );
    for alias in &safety {
        s.admin("PATCH", &format!("{url}/{alias}"), Some(json!({})))
            .await;
    }
}
