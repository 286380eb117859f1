//! A private single-node Garage server for the tests that stop and restart their S3
//! server (the shared one from `.ci/garage.sh` must stay up for the others). Same setup as
//! that script: SQLite metadata, `data_fsync` and `metadata_fsync` on, free ports of
//! 127.0.0.1, one bucket and one key.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Garage {
    bin: PathBuf,
    config: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    pub key_id: String,
    pub secret: String,
    /// The bucket made at start.
    pub bucket: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hex(n: usize) -> String {
    let mut seed = vec![0u8; n];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom").unwrap(), &mut seed)
        .unwrap();
    seed.iter().map(|b| format!("{b:02x}")).collect()
}

impl Garage {
    /// Starts a new Garage; `None` when the binary is missing and the runner did not
    /// require S3 (`SNAPLINE_REQUIRE_S3`), so the test can return.
    pub fn start() -> Option<Garage> {
        let bin = [
            std::env::var_os("SNAPLINE_GARAGE_BIN").map(PathBuf::from),
            Some(PathBuf::from("/opt/garage/bin/garage")),
        ]
        .into_iter()
        .flatten()
        .find(|p| p.exists());
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("SNAPLINE_REQUIRE_S3").is_none(),
                "SNAPLINE_REQUIRE_S3 is set but Garage is not installed (.ci/setup.sh)"
            );
            eprintln!("Garage is not installed: this S3 test does not run");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let (rpc, s3, admin) = (free_port(), free_port(), free_port());
        let config = dir.path().join("garage.toml");
        let d = dir.path().display();
        std::fs::write(
            &config,
            format!(
                "metadata_dir = \"{d}/meta\"\ndata_dir = \"{d}/data\"\ndb_engine = \"sqlite\"\n\
                 replication_factor = 1\nmetadata_fsync = true\ndata_fsync = true\n\
                 rpc_bind_addr = \"127.0.0.1:{rpc}\"\nrpc_public_addr = \"127.0.0.1:{rpc}\"\n\
                 rpc_secret = \"{}\"\n[s3_api]\ns3_region = \"garage\"\n\
                 api_bind_addr = \"127.0.0.1:{s3}\"\nroot_domain = \".s3.garage.localhost\"\n\
                 [admin]\napi_bind_addr = \"127.0.0.1:{admin}\"\nadmin_token = \"{}\"\n",
                hex(32),
                hex(24)
            ),
        )
        .unwrap();
        let mut g = Garage {
            bin,
            config,
            dir,
            child: None,
            endpoint: format!("http://127.0.0.1:{s3}"),
            key_id: String::new(),
            secret: String::new(),
            bucket: "snapline".into(),
        };
        g.run_server();
        let node = (0..100)
            .find_map(|_| {
                let status = g.cli(&["status"]);
                let node = status
                    .lines()
                    .find(|l| l.contains("NO ROLE ASSIGNED"))
                    .and_then(|l| l.split_whitespace().next())
                    .map(str::to_string);
                if node.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                node
            })
            .unwrap_or_else(|| panic!("Garage did not start: {}", g.log()));
        g.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        g.cli(&["layout", "apply", "--version", "1"]);
        g.cli(&["bucket", "create", "snapline"]);
        let key = g.cli(&["key", "create", "snapline-key"]);
        let field = |name: &str| {
            key.lines()
                .find(|l| l.trim_start().starts_with(name))
                .and_then(|l| l.split_whitespace().last())
                .unwrap_or_else(|| panic!("no {name} in {key}"))
                .to_string()
        };
        g.key_id = field("Key ID:");
        g.secret = field("Secret key:");
        g.cli(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            "snapline",
            "--key",
            "snapline-key",
        ]);
        Some(g)
    }

    fn run_server(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        self.child = Some(
            Command::new(&self.bin)
                .arg("-c")
                .arg(&self.config)
                .arg("server")
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
    }

    /// Runs a `garage` command against this server; panics with its output on failure.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(&self.bin)
            .arg("-c")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if args != ["status"] {
            assert!(
                out.status.success(),
                "garage {args:?}: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        text
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Stops the server (SIGKILL: an outage, not a shutdown). Its data stays.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data and ports; returns once it answers S3.
    pub fn restart(&mut self) {
        self.stop();
        self.run_server();
        let addr = self.endpoint.trim_start_matches("http://").to_string();
        for _ in 0..100 {
            if std::net::TcpStream::connect(&addr).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("Garage did not come back: {}", self.log());
    }

    /// The environment a `snapline serve` needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_REGION", "garage".into()),
            ("AWS_ACCESS_KEY_ID", self.key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.stop();
    }
}
