//! Publishing a snapshot as an image and forking a snapshot into N containers, against a
//! real server, through REST and the CLI.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

/// Every entry under `root`: type, mode, owner, size, mtime and content (or link target).
fn tree_of(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_file() {
                format!("{:?}", blake3::hash(&std::fs::read(&p).unwrap()))
            } else {
                String::new()
            };
            out.insert(
                rel,
                format!(
                    "{:o} {}:{} {} {} {what}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    if m.is_dir() { 0 } else { m.size() },
                    m.mtime()
                ),
            );
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

async fn setup(s: &LiveServer) -> (String, String, BTreeMap<String, String>) {
    let id = s.container("default", "tmpl").await;
    let root = s.root(&id);
    std::fs::create_dir_all(root.join("srv/app")).unwrap();
    std::fs::write(root.join("srv/app/main.py"), "print('hello')\n").unwrap();
    std::fs::write(root.join("srv/app/big.bin"), vec![7u8; 300_000]).unwrap();
    std::os::unix::fs::symlink("app/main.py", root.join("srv/entry")).unwrap();
    let snap = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(json!({"alias": "golden"})),
        )
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let want = tree_of(&root);
    // Later work in the source is not part of the snapshot.
    std::fs::write(root.join("srv/app/main.py"), "print('changed')\n").unwrap();
    (id, snap, want)
}

#[tokio::test]
async fn a_published_image_makes_containers_equal_to_the_snapshot() {
    let s = LiveServer::start(&[]);
    let (id, snap, want) = setup(&s).await;
    let img = s
        .admin(
            "POST",
            "/api/v1/images",
            Some(
                json!({"name": "dev-template", "from": {"container_id": id, "snapshot": "golden"}}),
            ),
        )
        .await["image"]
        .clone();
    assert_eq!(img["name"], "dev-template");
    assert_eq!(img["source"], "snapshot");
    let list = s.admin("GET", "/api/v1/images", None).await;
    assert!(
        list["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "dev-template"),
        "{list}"
    );
    let made = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "from-tmpl", "image": "dev-template"})),
        )
        .await;
    let new_id = made["container"]["id"].as_str().unwrap();
    assert_eq!(tree_of(&s.root(new_id)), want);
    // The source snapshot can go: the image has its own (GC keeping the objects is shown
    // in the engine's tests).
    s.admin(
        "DELETE",
        &format!("/api/v1/containers/{id}/snapshots/{snap}"),
        None,
    )
    .await;
    let again = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "from-tmpl-2", "image": "dev-template"})),
        )
        .await;
    assert_eq!(
        tree_of(&s.root(again["container"]["id"].as_str().unwrap())),
        want
    );

    // Refusals, each with a message a user can act on.
    let cases: [(Value, u16, &str); 5] = [
        (
            json!({"name": "dev-template", "from": {"container_id": id, "snapshot": "golden"}}),
            409,
            "already has an image named",
        ),
        (
            json!({"name": "Bad Name", "from": {"container_id": id, "snapshot": "golden"}}),
            400,
            "not valid",
        ),
        (
            json!({"name": "x1", "from": {"container_id": id, "snapshot": "nope"}}),
            404,
            "nope",
        ),
        (
            json!({"name": "x2", "from": {"container_id": "000000000000000000000000", "snapshot": "a"}}),
            404,
            "no container",
        ),
        (json!({"name": "x3"}), 400, "from"),
    ];
    for (body, want, says) in cases {
        let (status, v) = s
            .call("POST", "/api/v1/images", Some(ADMIN), Some(body.clone()))
            .await;
        assert_eq!(status, want, "{body}: {v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{body}: {v}");
    }
    // JSON with ?name= is neither a publish nor an import, and says so.
    let r = s
        .client
        .post(s.url("/api/v1/images?name=qname"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "qname", "from": {"container_id": id, "snapshot": "golden"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("leave out ?name="));
    let (status, _) = s
        .call(
            "POST",
            "/api/v1/images",
            None,
            Some(json!({"name": "x4", "from": {"container_id": id, "snapshot": "golden"}})),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn a_fork_makes_n_equal_containers_and_reports_each() {
    let s = LiveServer::start(&[]);
    let (id, snap, want) = setup(&s).await;
    // A name the fork wants is already taken: that one alone fails.
    s.container("default", "sandbox-2").await;
    let d = s
        .admin(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(json!({"target_project_id": "default", "name": "sandbox", "source_snapshot": snap, "count": 4})),
        )
        .await;
    assert_eq!(d["copied"], 3, "{d}");
    assert_eq!(d["failed"], 1, "{d}");
    let results = d["results"].as_array().unwrap();
    let names: Vec<&str> = results
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sandbox-1", "sandbox-2", "sandbox-3", "sandbox-4"]);
    assert_eq!(results[1]["error"]["statusCode"], 409, "{d}");
    assert!(results[1]["container"].is_null());
    for r in [&results[0], &results[2], &results[3]] {
        let c = &r["container"];
        assert_eq!(c["status"], "stopped", "{r}");
        assert_eq!(tree_of(&s.root(c["id"].as_str().unwrap())), want);
    }

    // Out of range, and a fork whose every name is taken.
    let long = "n".repeat(61);
    for (name, count, status, says) in [
        ("f", 0, 400, "1 to 50"),
        ("f", 51, 400, "1 to 50"),
        (long.as_str(), 11, 400, "at most 60 characters"),
    ] {
        let (st, v) = s
            .call(
                "POST",
                &format!("/api/v1/containers/{id}/copy"),
                Some(ADMIN),
                Some(json!({"target_project_id": "default", "name": name, "count": count})),
            )
            .await;
        assert_eq!(st, status, "{v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
    }
    let (st, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(ADMIN),
            Some(json!({"target_project_id": "default", "name": "sandbox", "count": 1, "source_snapshot": snap})),
        )
        .await;
    assert_eq!(st, 409, "{v}");

    // From the live state, with the CLI.
    let out = s.client_ok(&[
        "containers",
        "copy",
        &id,
        "--target-project-id",
        "default",
        "--name",
        "live",
        "--count",
        "2",
        "--json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["copied"], 2, "{v}");
    let live = tree_of(&s.root(&id));
    for r in v["results"].as_array().unwrap() {
        assert_eq!(
            tree_of(&s.root(r["container"]["id"].as_str().unwrap())),
            live
        );
    }
}

#[tokio::test]
async fn images_publish_from_the_cli() {
    let s = LiveServer::start(&[]);
    let (id, _, _) = setup(&s).await;
    let out = s.client_ok(&[
        "images",
        "publish",
        "--name",
        "golden-img",
        "--container",
        &id,
        "--snapshot",
        "golden",
    ]);
    assert!(out.contains("golden-img"), "{out}");
    // The list names the image's project, not its id; the demo image is shared.
    let out = s.client_ok(&["images", "list"]);
    let row = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}: {out}"))
            .split_whitespace()
            .nth(1)
            .map(str::to_string)
    };
    assert_eq!(row("golden-img").as_deref(), Some("default"), "{out}");
    assert_eq!(row("demo").as_deref(), Some("shared"), "{out}");
    let out = s.client_ok(&["images", "delete", "golden-img"]);
    assert!(out.contains("Deleted image golden-img"), "{out}");
    let images = s.admin("GET", "/api/v1/images", None).await;
    assert!(!images.to_string().contains("golden-img"), "{images}");
}

#[tokio::test]
async fn the_dashboard_publishes_and_forks_through_a_proxy() {
    use common::rpc::{fails, ok, pair, sign_in};
    let (upstream, proxy) = pair();
    let (id, snap, want) = setup(&upstream).await;
    let project = upstream.project_id("default").await;
    let cookie = sign_in(&proxy, ADMIN).await.unwrap();

    let img = ok(
        &proxy,
        "publish_image",
        &cookie,
        &[("id", &id), ("name", &snap), ("image", "proxied-img")],
    )
    .await;
    assert_eq!(img["name"], "proxied-img");
    assert_eq!(img["source"], "snapshot");
    let images = upstream.admin("GET", "/api/v1/images", None).await;
    assert!(
        images["images"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["name"] == "proxied-img")
    );

    let forked = ok(
        &proxy,
        "copy_snapshot",
        &cookie,
        &[
            ("id", &id),
            ("name", &snap),
            ("project", &project),
            ("new_name", "px"),
            ("count", "3"),
        ],
    )
    .await;
    let made = forked["made"].as_array().unwrap();
    assert_eq!(made.len(), 3, "{forked}");
    for m in made {
        assert_eq!(tree_of(&upstream.root(m[0].as_str().unwrap())), want);
    }
    assert_eq!(made[2][1], "px-3");
    // One rule with the API's `count`: a number (even 1) numbers the names; none copies
    // under the name as typed.
    for (count, named) in [("1", "solo-1"), ("", "solo")] {
        let one = ok(
            &proxy,
            "copy_snapshot",
            &cookie,
            &[
                ("id", &id),
                ("name", &snap),
                ("project", &project),
                ("new_name", "solo"),
                ("count", count),
            ],
        )
        .await;
        assert_eq!(one["made"][0][1], named, "count {count:?}: {one}");
    }

    // The same names again: every one is taken, so the answer is the first one's conflict,
    // with its kind kept through the proxy.
    let again = fails(
        &proxy,
        "copy_snapshot",
        &cookie,
        &[
            ("id", &id),
            ("name", &snap),
            ("project", &project),
            ("new_name", "px"),
            ("count", "2"),
        ],
    )
    .await;
    assert!(
        matches!(&again, app::AppError::Conflict(m) if m.contains("\"px-1\"")),
        "{again:?}"
    );
    let err = fails(
        &proxy,
        "copy_snapshot",
        &cookie,
        &[
            ("id", &id),
            ("name", &snap),
            ("project", &project),
            ("new_name", "px"),
            ("count", "99"),
        ],
    )
    .await;
    assert!(
        matches!(&err, app::AppError::BadRequest(m) if m.contains("1 to 50")),
        "{err:?}"
    );

    // Without JavaScript (a plain form POST), a fork whose copies partly fail comes back to
    // the timeline saying what was made and why each other copy failed.
    let to = common::rpc::plain_form(
        &proxy,
        "copy_snapshot",
        &cookie,
        &[
            ("id", id.as_str()),
            ("name", snap.as_str()),
            ("project", project.as_str()),
            ("new_name", "px"),
            ("count", "4"),
        ],
    )
    .await;
    assert!(to.starts_with(&format!("/containers/{id}?")), "{to}");
    let page = common::rpc::page(&proxy, &cookie, &to).await;
    let px4 = upstream.admin("GET", "/api/v1/containers", None).await["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "px-4")
        .expect("px-4 was not made")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        page.contains(&format!("href=\"/containers/{px4}\"")),
        "{page}"
    );
    for taken in ["px-1", "px-2", "px-3"] {
        assert!(
            page.contains(&format!("<code>{taken}: ")),
            "{taken} is not reported"
        );
    }
    assert!(
        page.contains("already has a container named"),
        "no reason given"
    );
}

#[tokio::test]
async fn a_published_image_is_seen_only_by_its_projects_tokens() {
    let s = LiveServer::start(&[]);
    let (id, _, _) = setup(&s).await;
    s.admin("POST", "/api/v1/projects", Some(json!({"name": "teamx"})))
        .await;
    let teamx = s.project_id("teamx").await;
    let other = s.token("t-teamx", &[&teamx]).await;
    let own = s.token("t-default", &["default"]).await;
    let img = s
        .admin(
            "POST",
            "/api/v1/images",
            Some(
                json!({"name": "private-img", "from": {"container_id": id, "snapshot": "golden"}}),
            ),
        )
        .await;
    assert!(img["image"]["project_id"].is_string(), "{img}");

    // Another project's token neither lists it nor creates from it (as if it did not exist).
    let (st, v) = s.call("GET", "/api/v1/images", Some(&other), None).await;
    assert_eq!(st, 200);
    let names: Vec<&str> = v["data"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"demo") && !names.contains(&"private-img"),
        "{v}"
    );
    let (st, v) = s
        .call(
            "POST",
            "/api/v1/containers",
            Some(&other),
            Some(json!({"project_id": teamx, "name": "x", "image": "private-img"})),
        )
        .await;
    assert_eq!(st, 404, "{v}");
    // The project's own token does both.
    let (st, v) = s.call("GET", "/api/v1/images", Some(&own), None).await;
    assert_eq!(st, 200);
    assert!(v.to_string().contains("private-img"), "{v}");
    let (st, v) = s
        .call(
            "POST",
            "/api/v1/containers",
            Some(&own),
            Some(json!({"project_id": "default", "name": "mine", "image": "private-img"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let mine = v["data"]["container"]["id"].as_str().unwrap().to_string();
    let mine_tree = tree_of(&s.root(&mine));

    // Deleting: another project's token finds nothing; a shared image needs an admin token;
    // the project's own token deletes its image, and the container made from it keeps its
    // files.
    let (st, v) = s
        .call("DELETE", "/api/v1/images/private-img", Some(&other), None)
        .await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = s
        .call("DELETE", "/api/v1/images/demo", Some(&own), None)
        .await;
    assert_eq!(st, 403, "{v}");
    assert!(v["message"].as_str().unwrap().contains("admin"), "{v}");
    let (st, v) = s
        .call("DELETE", "/api/v1/images/private-img", Some(&own), None)
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["image"]["name"], "private-img", "{v}");
    let (_, v) = s.call("GET", "/api/v1/images", Some(&own), None).await;
    assert!(!v.to_string().contains("private-img"), "{v}");
    let (st, v) = s
        .call(
            "POST",
            "/api/v1/containers",
            Some(&own),
            Some(json!({"project_id": "default", "name": "late", "image": "private-img"})),
        )
        .await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = s
        .call("DELETE", "/api/v1/images/private-img", Some(&own), None)
        .await;
    assert_eq!(st, 404, "{v}");
    assert_eq!(tree_of(&s.root(&mine)), mine_tree);
    // The name is free again.
    let (st, v) = s
        .call(
            "POST",
            "/api/v1/images",
            Some(&own),
            Some(
                json!({"name": "private-img", "from": {"container_id": id, "snapshot": "golden"}}),
            ),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

/// Refusals found by a new user's trial, each in words that say what to do.
#[tokio::test]
async fn image_and_fork_refusals_say_what_to_do() {
    let s = LiveServer::start(&[]);
    let (id, _, _) = setup(&s).await;
    let token = s.token("proj", &["default"]).await;
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    tar.append_data(&mut h, "hello", &b"hi\n"[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    let post = |url: &str, who: &str, ct: &str, body: Vec<u8>| {
        s.client
            .post(s.url(url))
            .bearer_auth(who)
            .header("content-type", ct)
            .body(body)
    };
    let answer = |r: reqwest::RequestBuilder| async move {
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap())
    };
    // A tar without ?name= says to add it (before reading the archive).
    let (st, v) = answer(post(
        "/api/v1/images",
        ADMIN,
        "application/x-tar",
        tar.clone(),
    ))
    .await;
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("?name=NAME"), "{v}");
    // The same with no content type (`curl -T`), small or past the JSON limit: the archive is
    // recognised, not read as JSON.
    let mut big = tar.clone();
    big.resize(256 << 10, 0);
    for body in [tar.clone(), big] {
        let r = s
            .client
            .post(s.url("/api/v1/images"))
            .bearer_auth(ADMIN)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        // The rest of the body is never read, so the connection is not reused: a request
        // sent on it next would get no answer.
        assert_eq!(
            r.headers().get("connection").map(|v| v.as_bytes()),
            Some(b"close".as_slice())
        );
        let v: Value = r.json().await.unwrap();
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("this is a tar archive"),
            "{v}"
        );
    }
    // An empty archive is not an image.
    let (st, v) = answer(post(
        "/api/v1/images?name=empty",
        ADMIN,
        "application/x-tar",
        Vec::new(),
    ))
    .await;
    assert_eq!(st, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("no files"), "{v}");
    let images = s.admin("GET", "/api/v1/images", None).await;
    assert!(!images.to_string().contains("\"empty\""), "{images}");
    // A project token cannot make a shared image (it could not delete it); it publishes.
    let (st, v) = answer(post(
        "/api/v1/images?name=shared",
        &token,
        "application/x-tar",
        tar.clone(),
    ))
    .await;
    assert_eq!(st, 403, "{v}");
    assert!(v["message"].as_str().unwrap().contains("publish"), "{v}");
    let (st, v) = answer(post(
        "/api/v1/images?name=shared",
        ADMIN,
        "application/x-tar",
        tar,
    ))
    .await;
    assert_eq!(st, 200, "{v}");
    // Rust's words never reach the user.
    for (body, says) in [
        (json!([]), "must be a JSON object"),
        (json!({"name": "x", "from": null}), "expected a JSON object"),
    ] {
        let (st, v) = s
            .call("POST", "/api/v1/images", Some(ADMIN), Some(body.clone()))
            .await;
        assert_eq!(st, 400, "{body}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.contains(says) && !m.contains("struct"), "{body}: {m}");
    }
    let (st, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/copy"),
            Some(ADMIN),
            Some(json!({"target_project_id": "default", "name": "f", "count": 1e20})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("whole number"),
        "{v}"
    );
    // A fork's name is checked as typed, not as `-1`.
    for bad in ["", "../x"] {
        let (st, v) = s
            .call(
                "POST",
                &format!("/api/v1/containers/{id}/copy"),
                Some(ADMIN),
                Some(json!({"target_project_id": "default", "name": bad, "count": 2})),
            )
            .await;
        assert_eq!(st, 400, "{bad}: {v}");
        let m = v["message"].as_str().unwrap();
        assert!(m.contains(&format!("{bad:?}")), "{bad}: {m}");
    }
}

/// Published image names are per project: two projects may each publish `tmpl-img`, each
/// gets its own, and no refusal tells one project what another has named. Shared names are
/// reserved everywhere; deleting a name two visible projects use asks which one.
#[tokio::test]
async fn published_image_names_are_per_project() {
    let s = LiveServer::start(&[]);
    let (id, _, want) = setup(&s).await;
    s.admin("POST", "/api/v1/projects", Some(json!({"name": "teamx"})))
        .await;
    let teamx = s.project_id("teamx").await;
    let own = s.token("t-default", &["default"]).await;
    let other = s.token("t-teamx", &[&teamx]).await;
    let publish = |token: String, container: String, name: &'static str| {
        let s = &s;
        async move {
            let body =
                json!({"name": name, "from": {"container_id": container, "snapshot": "golden"}});
            s.call("POST", "/api/v1/images", Some(&token), Some(body))
                .await
        }
    };
    let (st, v) = publish(own.clone(), id.clone(), "tmpl-img").await;
    assert_eq!(st, 200, "{v}");

    // teamx has a container with other files, and publishes the same name: allowed, and no
    // word of the default project.
    let x = s.container(&teamx, "xsrc").await;
    std::fs::write(s.root(&x).join("teamx.txt"), "teamx\n").unwrap();
    s.snapshot(&x, Some("golden")).await;
    let x_want = tree_of(&s.root(&x));
    let (st, v) = publish(other.clone(), x.clone(), "tmpl-img").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["image"]["project_id"], teamx.as_str(), "{v}");
    // Its own name again is taken, in words that name only its own project.
    let (st, v) = publish(other.clone(), x.clone(), "tmpl-img").await;
    assert_eq!(st, 409, "{v}");
    let said = v["message"].as_str().unwrap();
    assert!(
        said.contains("\"teamx\"") && !said.contains("default"),
        "{said}"
    );
    // A shared image's name is reserved in every project.
    let (st, v) = publish(other.clone(), x.clone(), "demo").await;
    assert_eq!(st, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("shared"), "{v}");

    // Each project lists and creates from its own.
    let default = s.project_id("default").await;
    for (token, project, tree) in [(&own, &default, &want), (&other, &teamx, &x_want)] {
        let (_, v) = s.call("GET", "/api/v1/images", Some(token), None).await;
        let mine: Vec<&Value> = v["data"]["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["name"] == "tmpl-img")
            .collect();
        assert_eq!(mine.len(), 1, "{v}");
        assert_eq!(mine[0]["project_id"], project.as_str(), "{v}");
        let (st, v) = s
            .call(
                "POST",
                "/api/v1/containers",
                Some(token),
                Some(json!({"project_id": project, "name": "from-img", "image": "tmpl-img"})),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        let made = v["data"]["container"]["id"].as_str().unwrap();
        assert_eq!(&tree_of(&s.root(made)), tree, "project {project}");
    }
    // The admin sees both, and the dashboard's create form offers the name once.
    let (_, v) = s.call("GET", "/api/v1/images", Some(ADMIN), None).await;
    let both = v["data"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["name"] == "tmpl-img")
        .count();
    assert_eq!(both, 2, "{v}");
    // An import (shared, admin only) of a name a project uses is refused, naming it.
    let resp = s
        .client
        .post(s.url("/api/v1/images?name=tmpl-img"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/x-tar")
        .body(vec![0u8; 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409);
    assert!(resp.text().await.unwrap().contains("already has an image"));

    // Deleting: the admin must say which; each project's token deletes its own only.
    let (st, v) = s
        .call("DELETE", "/api/v1/images/tmpl-img", Some(ADMIN), None)
        .await;
    assert_eq!(st, 409, "{v}");
    let said = v["message"].as_str().unwrap();
    assert!(
        said.contains("?project=") && said.contains("default and teamx"),
        "{said}"
    );
    let (st, v) = s
        .call(
            "DELETE",
            "/api/v1/images/tmpl-img?project=default",
            Some(&other),
            None,
        )
        .await;
    assert_eq!(st, 404, "{v}");
    let out = s.client_ok(&["images", "delete", "tmpl-img", "--project", "teamx"]);
    assert!(out.contains("Deleted image tmpl-img"), "{out}");
    let (_, v) = s.call("GET", "/api/v1/images", Some(&own), None).await;
    assert!(
        v.to_string().contains("tmpl-img"),
        "default's image went too: {v}"
    );
    let (st, v) = s
        .call("DELETE", "/api/v1/images/tmpl-img", Some(&own), None)
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = s.call("GET", "/api/v1/images", Some(ADMIN), None).await;
    assert!(!v.to_string().contains("tmpl-img"), "{v}");
}
