//! Helpers shared by the server's integration tests.
#![allow(dead_code)]

pub mod garage;
pub mod postgres;
pub mod rpc;

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Serializes the in-process app tests of one test binary. Each `#[tokio::test]` has its own
/// runtime; several whole apps (engine, rayon pool, Leptos renderer) side by side in one
/// process were seen to leave a server-rendered page waiting forever now and then, which
/// the real server (one runtime) never does. The lock is a tokio Mutex, which works across
/// runtimes.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The test database for the store in `dir`: the SQLite file `dir/snapline.db`, or a
/// PostgreSQL database of its own when the tests run on one (`engine::db::scratch_url`).
pub fn db_url(dir: &Path) -> String {
    engine::db::scratch_url(dir, "snapline.db")
}

/// The `--store` URL for a test of several nodes (a bucket prefix of its own under `dir`'s
/// name): `None`, and the test returns, outside the PostgreSQL pass (SQLite is one node's
/// database) or when no test bucket is configured and none is required.
pub fn cluster_store(dir: &Path) -> Option<String> {
    if std::env::var_os(engine::db::TEST_POSTGRES_ENV).is_none() {
        eprintln!("several nodes need PostgreSQL: this test runs in the PostgreSQL pass");
        return None;
    }
    engine::s3::scratch_options(dir).map(|o| o.url)
}

/// Path -> content of every regular file below `dir` (empty when it does not exist).
pub fn files_of(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The whole app over a fresh database for `dir` ([`db_url`]), without a socket.
pub async fn app_in(dir: &Path) -> (Router, engine::DbPool) {
    let pool = snapline_server::db::connect(&db_url(dir)).await.unwrap();
    let options = snapline_server::serve::leptos_options(
        &dir.join("site"),
        "127.0.0.1:3000".parse().unwrap(),
    );
    let state = snapline_server::AppState::build(
        options,
        pool.clone(),
        dir.to_path_buf(),
        Default::default(),
    )
    .await
    .unwrap();
    (snapline_server::app(state), pool)
}

/// Sends one request and returns the response with its body read.
pub async fn send(app: &Router, req: Request<Body>) -> (Response<()>, Vec<u8>) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (Response::from_parts(parts, ()), bytes)
}

pub fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// The admin token the live servers of the tests use.
pub const ADMIN: &str = "hdy_testadmintoken0123456789abcdef";

/// A real `snapline serve` on a free port of 127.0.0.1, over a temporary data directory.
/// Stopped with SIGTERM when dropped.
pub struct LiveServer {
    pub child: std::process::Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    /// The server's metadata database (SQLite in its data directory, or PostgreSQL when
    /// the tests run on one); a restart over the same `dir` reaches the same one.
    pub db_url: String,
}

impl LiveServer {
    /// Starts a server with extra environment variables (limits, say).
    pub fn start(env: &[(&str, &str)]) -> LiveServer {
        Self::start_in(tempfile::tempdir().unwrap(), env)
    }

    /// Kills the server with SIGKILL (no cleanup of any kind) and hands back its directory,
    /// to start another server on the same data.
    pub fn kill9(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap())
    }

    /// Starts a server over an existing directory (its `data` inside).
    pub fn start_in(dir: tempfile::TempDir, env: &[(&str, &str)]) -> LiveServer {
        Self::spawn(dir, &[], env)
    }

    /// Starts a server with extra `serve` arguments (`--upstream URL`, say).
    pub fn start_with_args(args: &[&str], env: &[(&str, &str)]) -> LiveServer {
        Self::spawn(tempfile::tempdir().unwrap(), args, env)
    }

    /// Starts a server over an existing directory with extra `serve` arguments.
    pub fn start_in_with_args(
        dir: tempfile::TempDir,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> LiveServer {
        Self::spawn(dir, args, env)
    }

    fn spawn(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> LiveServer {
        use std::io::{BufRead, BufReader};
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("server.log"))
            .unwrap();
        let db_url = if std::env::var_os(engine::db::TEST_POSTGRES_ENV).is_some() {
            db_url(dir.path())
        } else {
            snapline_server::db::default_url(&dir.path().join("data"))
        };
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"));
        cmd.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .args(args)
        .env("SNAPLINE_ADMIN_TOKEN", ADMIN)
        .env("SNAPLINE_JOB_INTERVAL_S", "1")
        // Tests start from an empty node; the demo has its own test.
        .env("SNAPLINE_NO_DEMO", "true")
        .env("SNAPLINE_DATABASE_URL", &db_url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        for line in lines {
            let line = line.unwrap();
            let done = line.contains("Snapline is serving");
            seen.push(line);
            if done {
                break;
            }
        }
        assert!(
            seen.iter().any(|l| l.contains("Snapline is serving")),
            "the server did not start: {seen:?}\n{}",
            std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default()
        );
        LiveServer {
            child,
            port,
            dir,
            client: reqwest::Client::new(),
            db_url,
        }
    }

    /// Opens the server's database beside it (SQLite in WAL mode, or PostgreSQL: a second
    /// connection is fine), without touching its schema.
    pub async fn db(&self) -> engine::DbPool {
        snapline_server::db::open(&self.db_url).await.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Sends a request with a token (or none) and a JSON body (or none); returns the status
    /// and the JSON answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self.client.request(method.parse().unwrap(), self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
        });
        (status, value)
    }

    /// `call` as the admin, asserting a 200; returns `data`.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> serde_json::Value {
        let (status, v) = self.call(method, path, Some(ADMIN), body).await;
        assert_eq!(status, 200, "{method} {path}: {v}");
        assert_eq!(v["statusCode"], 200);
        v["data"].clone()
    }

    /// The id of the project named `name` (the admin sees every project).
    pub async fn project_id(&self, name: &str) -> String {
        let d = self.admin("GET", "/api/v1/projects", None).await;
        d["projects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no project named {name:?}: {d}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Creates a container from the demo image in `project`; returns its id.
    pub async fn container(&self, project: &str, name: &str) -> String {
        let d = self
            .admin(
                "POST",
                "/api/v1/containers",
                Some(serde_json::json!({"project_id": project, "name": name, "image": "demo"})),
            )
            .await;
        d["container"]["id"].as_str().unwrap().to_string()
    }

    /// A new token scoped to `projects` (ids or names), made by the admin; returns it.
    pub async fn token(&self, name: &str, projects: &[&str]) -> String {
        let body = serde_json::json!({"name": name, "project_ids": projects});
        let d = self.admin("POST", "/api/v1/tokens", Some(body)).await;
        d["token"].as_str().unwrap().to_string()
    }

    /// Takes a snapshot of container `id` as the admin, with `alias` if given; returns its
    /// name.
    pub async fn snapshot(&self, id: &str, alias: Option<&str>) -> String {
        let body = alias.map(|a| serde_json::json!({ "alias": a }));
        let d = self
            .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), body)
            .await;
        d["snapshot"]["name"].as_str().unwrap().to_string()
    }

    /// The live root of a container on disk.
    pub fn root(&self, id: &str) -> std::path::PathBuf {
        self.data().join("containers").join(id).join("root")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs a `snapline` client command against this server with the admin token (from
    /// `HOODY_TOKEN`, as the vendor document's examples set it) and no standard input; it
    /// must succeed. Returns its standard output.
    pub fn client_ok<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(&self, args: &[S]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
            .args(args)
            .env("SNAPLINE_URL", self.url(""))
            .env("HOODY_TOKEN", ADMIN)
            .env_remove("SNAPLINE_TOKEN")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Ends every container of the data directory `data` (its runc state is in `data/runc`):
/// containers outlive the server that started them, so a test that is done with a server
/// must end them itself.
pub fn end_containers(data: &std::path::Path) {
    let root = data.join("runc");
    if !root.is_dir() {
        return;
    }
    let Ok(out) = std::process::Command::new("runc")
        .arg("--root")
        .arg(&root)
        .args(["list", "-q"])
        .output()
    else {
        return;
    };
    for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = std::process::Command::new("runc")
            .arg("--root")
            .arg(&root)
            .args(["delete", "--force", id])
            .status();
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut ended = false;
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                ended = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        end_containers(&self.data());
        if ended {
            return;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small deterministic generator (xorshift64) for reproducible test data: the same seed
/// always gives the same bytes, so a failing run can be replayed.
pub struct XorShift(pub u64);

impl XorShift {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` pseudo-random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}
