//! A snapshot's tar export through the other front ends, against real servers: the
//! dashboard's `/export` (embedded, and in proxy mode over an upstream, damage included) and
//! the CLI (standard output, `--output`, errors, never a terminal).

mod common;
mod export_helpers;

use common::{ADMIN, LiveServer, XorShift};
use export_helpers::{damage_stored, data_of, export_bytes, export_path, members, snapshot};

/// Signs in to a server's dashboard; returns the session cookie.
async fn sign_in(server: &LiveServer, token: &str) -> String {
    let resp = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(server.url("/rpc/sign_in"))
        .header("accept", "application/json")
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://127.0.0.1:{}", server.port))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            c.split(';')
                .next()
                .filter(|kv| kv.starts_with("snapline_session="))
        })
        .unwrap_or_else(|| panic!("no session cookie: {:?}", resp.headers()))
        .to_string()
}

/// `GET path` on the dashboard with (or without) a session cookie.
async fn dashboard_get(server: &LiveServer, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = server.client.get(server.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn the_dashboard_exports_embedded_and_through_a_proxy() {
    let upstream = LiveServer::start(&[]);
    let proxy = LiveServer::start_with_args(
        &[
            "--upstream",
            &format!("http://127.0.0.1:{}/", upstream.port),
        ],
        &[],
    );
    let id = upstream.container("default", "app").await;
    std::fs::write(
        upstream.root(&id).join("note.txt"),
        b"exported through the dashboard\n",
    )
    .unwrap();
    let victim = XorShift(3).bytes(12_000);
    std::fs::write(upstream.root(&id).join("zz-victim"), &victim).unwrap();
    let name = snapshot(&upstream, &id, "shown").await;
    let by_rest = export_bytes(&upstream, &id, &name).await;
    let m = members(&by_rest);
    assert_eq!(data_of(&m, "note.txt"), b"exported through the dashboard\n");

    let route = format!("/export/{id}/{name}");
    for (what, server) in [("embedded", &upstream), ("proxy", &proxy)] {
        let cookie = sign_in(server, ADMIN).await;
        let resp = dashboard_get(server, &route, Some(&cookie)).await;
        assert_eq!(resp.status(), 200, "{what}");
        assert_eq!(
            resp.headers()["content-type"],
            "application/x-tar",
            "{what}"
        );
        assert_eq!(
            resp.headers()["content-disposition"],
            format!("attachment; filename=\"app-{name}.tar\"").as_str(),
            "{what}"
        );
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
        assert!(
            resp.bytes().await.unwrap() == by_rest,
            "{what}: other bytes"
        );
        // Without a session: refused. An unknown snapshot: named.
        let resp = dashboard_get(server, &route, None).await;
        assert_eq!(resp.status(), 401, "{what}");
        let resp = dashboard_get(
            server,
            &format!("/export/{id}/snap-19990101-000000"),
            Some(&cookie),
        )
        .await;
        assert_eq!(resp.status(), 404, "{what}");
        assert!(resp.text().await.unwrap().contains("snap-19990101-000000"));
    }
    // The proxy's API forwards the export unchanged too.
    let forwarded = proxy
        .client
        .get(proxy.url(&export_path(&id, &name)))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), 200);
    assert!(forwarded.bytes().await.unwrap() == by_rest);

    // Damage upstream: the proxy's transfer fails as the upstream's does.
    damage_stored(&upstream.data(), &victim);
    let cookie = sign_in(&proxy, ADMIN).await;
    let mut resp = dashboard_get(&proxy, &route, Some(&cookie)).await;
    assert_eq!(resp.status(), 200);
    let failed = loop {
        match resp.chunk().await {
            Ok(Some(_)) => continue,
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(
        failed,
        "the proxy completed a transfer its upstream broke off"
    );
}

struct Out {
    code: i32,
    stderr: String,
}

/// Runs the CLI with its standard output going to `stdout`.
fn cli(s: &LiveServer, args: &[&str], stdout: std::process::Stdio) -> Out {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
        .args(args)
        .env("SNAPLINE_URL", s.url(""))
        .env("HOODY_TOKEN", ADMIN)
        .env_remove("SNAPLINE_TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .output()
        .unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

#[tokio::test]
async fn the_cli_writes_the_archive_to_stdout_or_a_file_and_never_to_a_terminal() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "cli-app").await;
    std::fs::write(s.root(&id).join("note.txt"), b"from the CLI\n").unwrap();
    let name = snapshot(&s, &id, "cli").await;
    let dir = tempfile::tempdir().unwrap();

    // Standard output redirected to a file (`> x.tar`).
    let piped = dir.path().join("piped.tar");
    let o = cli(
        &s,
        &["snapshots", "export", "--container", &id, "--name", "cli"],
        std::fs::File::create(&piped).unwrap().into(),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let bytes = std::fs::read(&piped).unwrap();
    assert_eq!(data_of(&members(&bytes), "note.txt"), b"from the CLI\n");

    // --output: the same archive, and no partial file left.
    let out = dir.path().join("out.tar");
    let o = cli(
        &s,
        &[
            "snapshots",
            "export",
            "--container",
            &id,
            "--name",
            &name,
            "--output",
        ],
        std::process::Stdio::null(),
    );
    assert_ne!(o.code, 0, "--output without a file name");
    let o = cli(
        &s,
        &[
            "snapshots",
            "export",
            "--container",
            &id,
            "--name",
            &name,
            "--output",
            out.to_str().unwrap(),
        ],
        std::process::Stdio::null(),
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(std::fs::read(&out).unwrap() == bytes);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);

    // An unknown snapshot: the server's message, a failure, and no file.
    let none = dir.path().join("none.tar");
    let o = cli(
        &s,
        &[
            "snapshots",
            "export",
            "--container",
            &id,
            "--name",
            "snap-19990101-000000",
            "--output",
            none.to_str().unwrap(),
        ],
        std::process::Stdio::null(),
    );
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("snap-19990101-000000") && o.stderr.contains("404"),
        "{}",
        o.stderr
    );
    assert!(!none.exists());

    // A terminal on standard output (a pseudo-terminal from `script`): refused, nothing sent.
    let command = format!(
        "{} snapshots export --container {id} --name cli",
        env!("CARGO_BIN_EXE_snapline")
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("SNAPLINE_URL", s.url(""))
        .env("HOODY_TOKEN", ADMIN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{shown}");
    assert!(
        shown.contains("refusing to write a tar archive to a terminal"),
        "{shown}"
    );
    assert!(!shown.contains("ustar"), "{shown}");
}
