//! A snapshot's tar export through every front end, against real servers: REST (imported
//! back as an image into an identical tree; the errors), damage aborting the transfer, the
//! server's memory on a 2 GiB export, the dashboard's `/export` embedded and in proxy mode,
//! and the CLI.

mod common;
/// The engine's fidelity comparison (`describe`) and its fixture, shared as they are.
#[path = "../../engine/tests/common/mod.rs"]
mod fidelity;

use std::io::Read;
use std::path::Path;

use common::{ADMIN, LiveServer, XorShift};
use serde_json::json;

fn export_path(id: &str, name: &str) -> String {
    format!("/api/v1/containers/{id}/snapshots/{name}/export")
}

async fn snapshot(s: &LiveServer, id: &str, alias: &str) -> String {
    s.admin(
        "POST",
        &format!("/api/v1/containers/{id}/snapshots"),
        Some(json!({ "alias": alias })),
    )
    .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

fn assert_same(want: &fidelity::Tree, got: &fidelity::Tree, what: &str) {
    for (path, d) in want {
        assert_eq!(got.get(path), Some(d), "{what}: {}", path.display());
    }
    assert_eq!(want.len(), got.len(), "{what}: entries differ");
}

/// The members of a tar archive: path and data (data only for regular files).
fn members(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut data = Vec::new();
        if e.header().entry_type() == tar::EntryType::Regular {
            e.read_to_end(&mut data).unwrap();
        }
        out.push((path, data));
    }
    out
}

fn data_of<'a>(members: &'a [(String, Vec<u8>)], path: &str) -> &'a [u8] {
    &members
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no {path} in the archive"))
        .1
}

/// Flips a byte of the stored copy of `content` (incompressible, so stored as it is) in
/// the packs of `data`.
fn damage_stored(data: &Path, content: &[u8]) {
    let needle = &content[100..164];
    for dir in std::fs::read_dir(data.join("store/packs"))
        .unwrap()
        .flatten()
    {
        if dir.file_name() == "tmp" {
            continue;
        }
        for p in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let mut b = std::fs::read(p.path()).unwrap();
            if let Some(at) = b.windows(needle.len()).position(|w| w == needle) {
                b[at + 10] ^= 0x40;
                std::fs::write(p.path(), b).unwrap();
                return;
            }
        }
    }
    panic!("the content is not stored as it is in any pack");
}

#[tokio::test]
async fn an_export_imports_back_as_an_image_into_the_same_tree() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "web").await;
    let root = s.root(&id);
    fidelity::build_fixture(&root.join("fixture"));
    let name = snapshot(&s, &id, "golden").await;
    let want = fidelity::describe(&root);

    // By alias, as other snapshot routes accept.
    let resp = s
        .client
        .get(s.url(&export_path(&id, "golden")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-tar");
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"web-{name}.tar\"").as_str()
    );
    let tar = resp.bytes().await.unwrap();
    // The sparse gigabyte travels as its map and 64 KiB of data.
    assert!(tar.len() < 64 << 20, "{} bytes", tar.len());

    let resp = s
        .client
        .post(s.url("/api/v1/images?name=exported"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/x-tar")
        .body(tar.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    let copy = s
        .admin(
            "POST",
            "/api/v1/containers",
            Some(json!({"project_id": "default", "name": "from-export", "image": "exported"})),
        )
        .await["container"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_same(&want, &fidelity::describe(&s.root(&copy)), "from the image");

    // Errors. An unknown snapshot is named.
    let (status, v) = s
        .call(
            "GET",
            &export_path(&id, "snap-19990101-000000"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 404, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("snap-19990101-000000"),
        "{v}"
    );
    // No token, or one nobody issued.
    for token in [None, Some("hdy_notarealtoken0000000000000000000000000")] {
        let (status, v) = s.call("GET", &export_path(&id, &name), token, None).await;
        assert_eq!(status, 401, "{token:?}: {v}");
    }
    // A token of another project sees no such container: exactly like a missing one.
    let b = s
        .admin("POST", "/api/v1/projects", Some(json!({"name": "b"})))
        .await["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let token_b = s
        .admin(
            "POST",
            "/api/v1/tokens",
            Some(json!({"name": "b", "project_ids": [b]})),
        )
        .await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let other = s
        .call("GET", &export_path(&id, &name), Some(&token_b), None)
        .await;
    let missing_id = "0123456789abcdef01234567";
    let missing = s
        .call("GET", &export_path(missing_id, &name), Some(&token_b), None)
        .await;
    assert_eq!(other.0, 404, "{}", other.1);
    assert_eq!(
        other.1["message"].as_str().unwrap().replace(&id, "<id>"),
        missing.1["message"]
            .as_str()
            .unwrap()
            .replace(missing_id, "<id>")
    );
    // A malformed id, and an alias two snapshots share.
    let (status, v) = s
        .call("GET", &export_path("not-an-id", &name), Some(ADMIN), None)
        .await;
    assert_eq!(status, 400, "{v}");
    snapshot(&s, &id, "twice").await;
    snapshot(&s, &id, "twice").await;
    let (status, v) = s
        .call("GET", &export_path(&id, "twice"), Some(ADMIN), None)
        .await;
    assert_eq!(status, 409, "{v}");
}

#[tokio::test]
async fn damage_aborts_the_transfer_instead_of_ending_it() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "damaged").await;
    // One chunk (smaller than the smallest chunk), last in the walk: the archive is well
    // under way when the damage is met.
    let victim = XorShift(7).bytes(12_000);
    std::fs::write(s.root(&id).join("zz-victim"), &victim).unwrap();
    let name = snapshot(&s, &id, "before-damage").await;
    damage_stored(&s.data(), &victim);

    let mut resp = s
        .client
        .get(s.url(&export_path(&id, &name)))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    // The head was sent before the damage was met; the body must then fail, not end.
    assert_eq!(resp.status(), 200);
    let mut received = 0usize;
    let failed = loop {
        match resp.chunk().await {
            Ok(Some(piece)) => received += piece.len(),
            Ok(None) => break false,
            Err(_) => break true,
        }
    };
    assert!(
        failed,
        "the transfer ended as if complete after {received} bytes"
    );
    assert!(received > 0);
    let mut log = String::new();
    for _ in 0..100 {
        log = s.log();
        if log.contains("export failed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        log.contains("export failed") && log.contains("damaged"),
        "{log}"
    );
}

/// The peak resident memory of a process since its last reset, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/<pid>/status");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[tokio::test]
async fn a_two_gigabyte_export_streams_in_little_memory() {
    use futures_util::TryStreamExt;
    const SIZE: u64 = 2 << 30;
    let s = LiveServer::start(&[]);
    let id = s.container("default", "big").await;
    // 2 GiB of a repeating 4 KiB block without zeros: stored as a few chunks, streamed as
    // 2 GiB.
    let block: Vec<u8> = XorShift(11).bytes(4096).iter().map(|b| b | 1).collect();
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(s.root(&id).join("big.bin")).unwrap(),
        );
        for _ in 0..SIZE / 4096 {
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    let name = snapshot(&s, &id, "big").await;
    std::fs::remove_file(s.root(&id).join("big.bin")).unwrap();

    // Only the export is measured: the peak is reset to the present (Linux's clear_refs).
    let pid = s.child.id();
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let resp = s
        .client
        .get(s.url(&export_path(&id, &name)))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The archive is read as it comes, by the tar crate on a blocking thread, and the big
    // file is checked block by block.
    let body =
        tokio_util::io::StreamReader::new(resp.bytes_stream().map_err(std::io::Error::other));
    let reader = tokio_util::io::SyncIoBridge::new(body);
    let (total, big) = tokio::task::spawn_blocking(move || {
        let mut counted = Counting {
            inner: reader,
            n: 0,
        };
        let mut big = 0u64;
        {
            let mut archive = tar::Archive::new(&mut counted);
            for e in archive.entries().unwrap() {
                let mut e = e.unwrap();
                if e.path_bytes().as_ref() != b"big.bin" {
                    continue;
                }
                let mut buf = vec![0u8; 4096];
                loop {
                    match e.read_exact(&mut buf) {
                        Ok(()) => {
                            assert!(buf == block, "big.bin differs at {big}");
                            big += 4096;
                        }
                        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => break,
                        Err(err) => panic!("{err}"),
                    }
                }
            }
        }
        std::io::copy(&mut counted, &mut std::io::sink()).unwrap();
        (counted.n, big)
    })
    .await
    .unwrap();
    assert_eq!(big, SIZE);
    assert!(total > SIZE, "{total}");
    let peak = peak_rss(pid);
    assert!(
        peak < 200 << 20,
        "the server's memory peaked at {} MiB during a 2 GiB export",
        peak >> 20
    );
}

struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

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
    let by_rest = upstream
        .client
        .get(upstream.url(&export_path(&id, &name)))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
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
