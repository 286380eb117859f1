//! The `snapline` binary as a user runs it: real processes, real sockets, real files.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_snapline");

fn snapline(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("SNAPLINE_ADMIN_TOKEN")
        .env_remove("SNAPLINE_DATA_DIR")
        .env_remove("SNAPLINE_LISTEN")
        .env_remove("SNAPLINE_DATABASE_URL")
        .stdin(Stdio::null());
    cmd
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn help_lists_every_serve_option() {
    let out = snapline(&["serve", "--help"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--listen",
        "SNAPLINE_LISTEN",
        "--data-dir",
        "SNAPLINE_DATA_DIR",
        "--database-url",
        "SNAPLINE_DATABASE_URL",
        "127.0.0.1:3000",
    ] {
        assert!(text.contains(needle), "help lacks {needle}: {text}");
    }
}

#[test]
fn refuses_an_unusable_data_dir_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let below_file = file.join("data");
    for (dir, expect) in [
        (file.as_path(), "not a directory"),
        (below_file.as_path(), "Not a directory"),
        (Path::new("/proc/snapline-data"), "cannot create it"),
    ] {
        let out = snapline(&["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{dir:?} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot use data directory"), "{dir:?}: {err}");
        assert!(err.contains(expect), "{dir:?}: {err}");
        assert!(err.contains("--data-dir"), "{dir:?}: {err}");
    }
}

#[test]
fn refuses_a_taken_port_clearly() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let tmp = tempfile::tempdir().unwrap();
    let out = snapline(&["serve", "--listen", &addr, "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already in use"), "{err}");
}

struct Server {
    child: Child,
    log: std::path::PathBuf,
    port: u16,
    stdout: Vec<String>,
}

fn start(data_dir: &Path, env_token: Option<&str>) -> Server {
    std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
    let port = free_port();
    let mut cmd = snapline(&[
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--data-dir",
    ]);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.with_extension("log"))
        .unwrap();
    cmd.arg(data_dir).stdout(Stdio::piped()).stderr(log);
    if let Some(t) = env_token {
        cmd.env("SNAPLINE_ADMIN_TOKEN", t);
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // The server prints "Snapline is serving" once the socket is bound.
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("Snapline is serving");
        stdout.push(line);
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server did not start: {stdout:?}"
        );
    }
    Server {
        child,
        log: data_dir.with_extension("log"),
        port,
        stdout,
    }
}

fn health(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn signal_and_wait(mut server: Server, signal: &str) -> std::process::ExitStatus {
    let pid = server.child.id().to_string();
    assert!(
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            if !status.success() {
                let log = std::fs::read_to_string(server.log.as_path()).unwrap_or_default();
                eprintln!("server exited with {status}; its log:\n{log}");
            }
            return status;
        }
        assert!(Instant::now() < deadline, "server ignored {signal}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn first_start_prints_the_admin_token_once_and_signals_stop_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = start(&data, None);
    let printed: Vec<&String> = server
        .stdout
        .iter()
        .filter(|l| l.contains("hdy_"))
        .collect();
    assert_eq!(printed.len(), 1, "{:?}", server.stdout);
    let token = printed[0].trim().to_string();
    let file = data.join("admin-token");
    assert_eq!(std::fs::read_to_string(&file).unwrap().trim(), token);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&data).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert!(health(server.port).contains("\"statusCode\":200"));
    assert!(signal_and_wait(server, "-TERM").success());

    // Second start: the token is not printed again, and Ctrl-C (SIGINT) also stops cleanly.
    let server = start(&data, None);
    assert!(
        server.stdout.iter().all(|l| !l.contains("hdy_")),
        "{:?}",
        server.stdout
    );
    assert!(health(server.port).contains("\"statusCode\":200"));
    assert!(signal_and_wait(server, "-INT").success());
}

#[test]
fn env_admin_token_is_used_and_never_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = start(&data, Some("hdy_automation-token-0123456789"));
    assert!(
        server.stdout.iter().all(|l| !l.contains("hdy_")),
        "{:?}",
        server.stdout
    );
    assert!(!data.join("admin-token").exists());
    assert!(signal_and_wait(server, "-TERM").success());
}

#[test]
fn a_weak_env_admin_token_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = snapline(&["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(tmp.path())
        .env("SNAPLINE_ADMIN_TOKEN", "password")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SNAPLINE_ADMIN_TOKEN must start with"));
}
