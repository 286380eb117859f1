//! The client commands as the vendor document's `hoody` examples use them, against a live
//! server: the real binary, real processes, `HOODY_TOKEN` / `SNAPLINE_URL` from the
//! environment.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::Value;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn snapline(s: &LiveServer, token: Option<&str>, args: &[&str]) -> Out {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"));
    cmd.args(args)
        .env("SNAPLINE_URL", s.url(""))
        .env_remove("SNAPLINE_TOKEN")
        .env_remove("HOODY_TOKEN")
        .env("SNAPLINE_DATA_DIR", s.data())
        .env("SNAPLINE_DATABASE_URL", &s.db_url)
        .stdin(std::process::Stdio::null());
    if let Some(t) = token {
        cmd.env("HOODY_TOKEN", t);
    }
    let o = cmd.output().unwrap();
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn ok(s: &LiveServer, args: &[&str]) -> String {
    let o = snapline(s, Some(ADMIN), args);
    assert_eq!(o.code, 0, "{args:?}: {}\n{}", o.stderr, o.stdout);
    o.stdout
}

fn json(s: &LiveServer, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(s, &all)).unwrap()
}

#[tokio::test]
async fn the_documents_hoody_scenarios_work_with_snapline() {
    let s = LiveServer::start(&[]);
    let dev = json(&s, &["containers", "create", "--name", "dev"])["container"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        &s,
        &[
            "containers",
            "exec",
            &dev,
            "--",
            "sh",
            "-c",
            "echo baseline > /root/code.txt",
        ],
    );

    // Scenario 1: snapshot, let an "AI" change things, restore the baseline by its alias.
    let table = ok(
        &s,
        &[
            "snapshots",
            "create",
            "--container",
            &dev,
            "--alias",
            "working-baseline",
        ],
    );
    assert!(
        table.contains("working-baseline") && table.contains("NAME"),
        "{table}"
    );
    ok(
        &s,
        &[
            "containers",
            "exec",
            &dev,
            "--",
            "sh",
            "-c",
            "echo ai-rewrite > /root/code.txt",
        ],
    );
    ok(
        &s,
        &[
            "snapshots",
            "restore",
            "--container",
            &dev,
            "--name",
            "working-baseline",
        ],
    );
    assert_eq!(
        ok(
            &s,
            &["containers", "exec", &dev, "--", "cat", "/root/code.txt"]
        ),
        "baseline\n"
    );

    // Scenario 2: pre-deploy snapshot with expiry, then roll back.
    let created = json(
        &s,
        &[
            "snapshots",
            "create",
            "--container",
            &dev,
            "--alias",
            "pre-deploy-v2.1.0",
            "--expiry",
            "30",
        ],
    );
    assert!(created["snapshot"]["expires_at"].is_string());
    ok(
        &s,
        &[
            "containers",
            "exec",
            &dev,
            "--",
            "sh",
            "-c",
            "echo v2.1.0 > /root/code.txt",
        ],
    );
    ok(
        &s,
        &[
            "snapshots",
            "restore",
            "--container",
            &dev,
            "--name",
            "pre-deploy-v2.1.0",
        ],
    );
    assert_eq!(
        ok(
            &s,
            &["containers", "exec", &dev, "--", "cat", "/root/code.txt"]
        ),
        "baseline\n"
    );

    // Template: copy from a snapshot into another project.
    let team = json(&s, &["projects", "create", "their-project"])["project"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let name = created["snapshot"]["name"].as_str().unwrap();
    let copy = json(
        &s,
        &[
            "containers",
            "copy",
            &dev,
            "--target-project-id",
            &team,
            "--name",
            "new-dev-env",
            "--source-snapshot",
            name,
        ],
    );
    assert_eq!(copy["container"]["project_id"], team.as_str());
    let listed = json(&s, &["snapshots", "list", "--container", &dev]);
    assert_eq!(listed["snapshots"].as_array().unwrap().len(), 2);

    // Delete, with the freed bytes reported.
    let out = ok(
        &s,
        &[
            "snapshots",
            "delete",
            "--container",
            &dev,
            "--name",
            "working-baseline",
        ],
    );
    assert!(out.starts_with("Deleted snap-"), "{out}");

    // Errors: the server's message, a non-zero exit.
    let o = snapline(
        &s,
        Some(ADMIN),
        &[
            "snapshots",
            "restore",
            "--container",
            &dev,
            "--name",
            "nope",
        ],
    );
    assert_ne!(o.code, 0);
    assert!(
        o.stderr.contains("no snapshot named \"nope\"") && o.stderr.contains("404"),
        "{}",
        o.stderr
    );
    let o = snapline(&s, None, &["containers", "list"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("HOODY_TOKEN"), "{}", o.stderr);
    let o = snapline(
        &s,
        Some("hdy_wrongwrongwrongwrongwrong"),
        &["containers", "list"],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("401"), "{}", o.stderr);
    // exec passes the command's exit code through.
    let o = snapline(
        &s,
        Some(ADMIN),
        &["containers", "exec", &dev, "--", "sh", "-c", "exit 4"],
    );
    assert_eq!(o.code, 4);
}

#[tokio::test]
async fn tokens_are_managed_on_the_server_and_scoped() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "scoped").await;
    s.admin(
        "POST",
        "/api/v1/projects",
        Some(serde_json::json!({"name": "other"})),
    )
    .await;
    let o = snapline(
        &s,
        None,
        &["token", "create", "--project", "other", "--name", "ci"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    let token = o.stdout.trim().to_string();
    assert!(token.starts_with("hdy_") && token.len() == 44, "{token}");
    assert!(o.stderr.contains("shown only now"));
    // The token works, and sees only its project.
    let o = snapline(&s, Some(&token), &["containers", "list", "--json"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stdout.contains(&id));
    let o = snapline(&s, Some(&token), &["snapshots", "list", "--container", &id]);
    assert!(o.stderr.contains("404"), "{}", o.stderr);
    // Listed without the secret; revoked, it stops working at once.
    let list = snapline(&s, None, &["token", "list", "--json"]);
    let tokens: Value = serde_json::from_str(&list.stdout).unwrap();
    assert!(!list.stdout.contains(&token));
    let ci = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ci")
        .unwrap();
    let o = snapline(&s, None, &["token", "revoke", ci["id"].as_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let o = snapline(&s, Some(&token), &["containers", "list"]);
    assert!(o.stderr.contains("401"), "{}", o.stderr);
    // A missing project is a clear error.
    let o = snapline(&s, None, &["token", "create", "--project", "nowhere"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("no project \"nowhere\""), "{}", o.stderr);
}

#[tokio::test]
async fn images_import_from_a_file_with_the_cli() {
    let s = LiveServer::start(&[]);
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(src.path().join("srv")).unwrap();
    std::fs::write(src.path().join("srv/index.html"), "hi\n").unwrap();
    let tar = s.dir.path().join("image.tar");
    let st = std::process::Command::new("tar")
        .arg("-C")
        .arg(src.path())
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let out = ok(
        &s,
        &["images", "import", "--name", "site", tar.to_str().unwrap()],
    );
    assert!(out.contains("site") && out.contains("import"), "{out}");
    let images = json(&s, &["images", "list"]);
    assert_eq!(images["images"].as_array().unwrap().len(), 2);
}

/// `snapline api`: any request by method and path (what the API docs' CLI snippets run),
/// the answer on standard output, the status on standard error, non-zero on 4xx/5xx; the
/// same path rule as the Run widget, checked before anything is sent.
#[tokio::test]
async fn api_sends_any_request_and_refuses_paths_outside_the_api() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "api-cli").await;
    let path = format!("/api/v1/containers/{id}/snapshots");
    let o = snapline(
        &s,
        Some(ADMIN),
        &["api", "post", &path, "--data", r#"{"alias": "by-cli"}"#],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("HTTP 200"), "{}", o.stderr);
    let answer: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(answer["data"]["snapshot"]["alias"], "by-cli");

    // The body from a file.
    let file = s.data().join("body.json");
    std::fs::write(&file, r#"{"alias": "from-file"}"#).unwrap();
    let at = format!("@{}", file.display());
    let o = snapline(&s, Some(ADMIN), &["api", "POST", &path, "-d", &at]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("from-file"));

    // A 404 keeps the server's message and exits non-zero.
    let missing = format!("{path}/snap-19990101-000000");
    let o = snapline(&s, Some(ADMIN), &["api", "DELETE", &missing]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("HTTP 404"), "{}", o.stderr);
    assert!(o.stdout.contains("snap-19990101-000000"), "{}", o.stdout);

    // Refused before sending: outside /api/v1, a URL, traversal, a bad method, bad JSON.
    for args in [
        vec!["api", "GET", "/rpc/sign_out"],
        vec!["api", "GET", "http://example.com/api/v1/health"],
        vec!["api", "GET", "/api/v1/../admin-token"],
        vec!["api", "TRACE", "/api/v1/health"],
        vec!["api", "POST", &path, "--data", "{not json"],
    ] {
        let o = snapline(&s, Some(ADMIN), &args);
        assert_ne!(o.code, 0, "{args:?}");
        assert!(
            !o.stderr.contains("HTTP "),
            "{args:?} was sent: {}",
            o.stderr
        );
        assert!(o.stderr.starts_with("error: "), "{args:?}: {}", o.stderr);
    }
    // No token: a clear error, nothing sent.
    let o = snapline(&s, None, &["api", "GET", "/api/v1/containers"]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("no token"), "{}", o.stderr);
}

/// A reader that goes away early (`snapline … | head`) ends the client quietly, as Unix
/// tools end, never with a panic.
#[tokio::test]
async fn a_closed_output_pipe_ends_the_client_quietly() {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let s = LiveServer::start(&[]);
    // The API description is far larger than a pipe's buffer, so the client must write
    // after the reader closed.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
        .args(["api", "GET", "/api/v1/openapi.json"])
        .env("SNAPLINE_URL", s.url(""))
        .env("HOODY_TOKEN", ADMIN)
        .env_remove("SNAPLINE_TOKEN")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        status.signal() == Some(13) || status.success(),
        "{status:?}: {stderr}"
    );
}

/// Limits at create, and pause and resume, from the CLI.
#[tokio::test]
async fn limits_pause_and_resume_from_the_cli() {
    let s = LiveServer::start(&[]);
    let c = json(
        &s,
        &[
            "containers",
            "create",
            "--name",
            "napper",
            "--memory-mb",
            "256",
            "--cpus",
            "0.5",
        ],
    );
    assert_eq!(c["container"]["limits"]["memory_mb"], 256);
    assert_eq!(c["container"]["limits"]["cpus"], 0.5);
    assert_eq!(c["container"]["limits"]["pids"], 1024);
    let id = c["container"]["id"].as_str().unwrap().to_string();
    ok(&s, &["containers", "start", &id]);
    let p = json(&s, &["containers", "pause", &id]);
    assert_eq!(p["container"]["status"], "paused");
    let r = json(&s, &["containers", "resume", &id]);
    assert_eq!(r["container"]["status"], "running");
    // A second resume is refused with the reason.
    let o = snapline(&s, Some(ADMIN), &["containers", "resume", &id]);
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("not paused"), "{}", o.stderr);
    ok(&s, &["containers", "stop", &id]);
    // Out-of-range limits are refused before anything is made.
    let o = snapline(
        &s,
        Some(ADMIN),
        &["containers", "create", "--name", "huge", "--cpus", "9999"],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("limits.cpus"), "{}", o.stderr);
}

#[tokio::test]
async fn snapshots_restore_with_path_restores_only_that_path() {
    let s = LiveServer::start(&[]);
    let id = json(&s, &["containers", "create", "--name", "cfg"])["container"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let root = s.root(&id);
    std::fs::create_dir_all(root.join("etc/nginx")).unwrap();
    std::fs::write(root.join("etc/nginx/nginx.conf"), "good\n").unwrap();
    std::fs::write(root.join("etc/motd"), "v1\n").unwrap();
    let snap = json(
        &s,
        &["snapshots", "create", "--container", &id, "--alias", "ok"],
    )["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(root.join("etc/nginx/nginx.conf"), "broken\n").unwrap();
    std::fs::write(root.join("etc/motd"), "v2\n").unwrap();

    let out = ok(
        &s,
        &[
            "snapshots",
            "restore",
            "--container",
            &id,
            "--name",
            "ok",
            "--path",
            "/etc/nginx",
        ],
    );
    assert!(out.contains("Restored /etc/nginx from:"), "{out}");
    assert!(out.contains(&snap), "{out}");
    assert_eq!(
        std::fs::read_to_string(root.join("etc/nginx/nginx.conf")).unwrap(),
        "good\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("etc/motd")).unwrap(),
        "v2\n"
    );

    // A path the snapshot lacks: the server's 404 names it, and the exit code is not 0.
    let o = snapline(
        &s,
        Some(ADMIN),
        &[
            "snapshots",
            "restore",
            "--container",
            &id,
            "--name",
            "ok",
            "--path",
            "/etc/nope",
        ],
    );
    assert_ne!(o.code, 0);
    assert!(o.stderr.contains("/etc/nope"), "{}", o.stderr);
    // --restart without --path is refused by the command line itself.
    let o = snapline(
        &s,
        Some(ADMIN),
        &[
            "snapshots",
            "restore",
            "--container",
            &id,
            "--name",
            "ok",
            "--restart",
        ],
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("--path"), "{}", o.stderr);
}

/// A refusal's next step is the `snapline` command that takes it, not a REST route; `api`
/// (which prints the REST answer as it is) keeps the route.
#[tokio::test]
async fn cli_errors_name_cli_commands() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "hints").await;
    for (args, says) in [
        (
            vec!["snapshots", "restore", "--container", &id, "--name", "nope"],
            format!("`snapline snapshots list --container {id}`"),
        ),
        (
            vec!["containers", "create", "--name", "x", "--image", "no-such"],
            "`snapline images list` lists them".to_string(),
        ),
        (
            vec!["containers", "list", "--project", "no-such"],
            "`snapline projects list` lists them".to_string(),
        ),
    ] {
        let o = snapline(&s, Some(ADMIN), &args);
        assert_ne!(o.code, 0, "{args:?} succeeded");
        assert!(o.stderr.contains(&says), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("/api/v1"), "{args:?}: {}", o.stderr);
    }
    let path = format!("/api/v1/containers/{id}/snapshots/nope");
    let o = snapline(&s, Some(ADMIN), &["api", "PATCH", &path, "-d", "{}"]);
    assert_ne!(o.code, 0);
    assert!(o.stdout.contains("GET /api/v1/containers/"), "{}", o.stdout);
}

/// A server that refuses an upload before reading it all (a taken name) is heard: the client
/// says why and exits 1, never dies of SIGPIPE on the closed socket. Ids typed into the CLI
/// stay one path segment, so `../images/x` reaches no other route.
#[tokio::test]
async fn refused_uploads_are_reported_and_ids_cannot_reach_other_routes() {
    let s = LiveServer::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.tar");
    // Large enough that the server answers while the client is still sending.
    std::fs::write(&big, vec![0u8; 48 << 20]).unwrap();
    let big = big.to_str().unwrap();
    for _ in 0..3 {
        let o = snapline(
            &s,
            Some(ADMIN),
            &["images", "import", "--name", "demo", big],
        );
        assert_eq!(o.code, 1, "stderr: {}", o.stderr);
        assert!(o.stderr.contains("demo"), "{}", o.stderr);
    }
    for args in [
        ["containers", "delete", "../images/demo"],
        ["containers", "get", "../projects/default"],
    ] {
        let o = snapline(&s, Some(ADMIN), &args);
        assert_eq!(o.code, 1, "{args:?}: {}", o.stdout);
        assert!(o.stderr.contains("not"), "{args:?}: {}", o.stderr);
    }
    let images = ok(&s, &["images", "list"]);
    assert!(images.contains("demo"), "the image went: {images}");
}
