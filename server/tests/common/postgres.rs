//! A private PostgreSQL server for the tests that stop and restart their database (the
//! shared one from `.ci/postgres.sh` must stay up for the others). Same setup as that
//! script: initdb into a temporary folder (as the `postgres` user when run as root, since
//! initdb refuses root), trust authentication, a free port of 127.0.0.1.

use std::path::PathBuf;
use std::process::Command;

pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub url: String,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn as_owner(program: &std::path::Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Postgres {
    /// Starts a new server; `None` when PostgreSQL is not installed (the test returns).
    pub fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| Some(e.ok()?.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max()?;
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["postgres:"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "cannot give the test's folder to the postgres user");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = as_owner(&bin.join("initdb"))
            .arg("-D")
            .arg(dir.path().join("data"))
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"])
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {out:?}");
        let pg = Postgres {
            url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
            bin,
            dir,
            port,
        };
        pg.run_ctl(&["start"]);
        Some(pg)
    }

    fn run_ctl(&self, args: &[&str]) {
        let d = self.dir.path();
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=100",
            self.port,
            d.display()
        );
        let out = as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(d.join("data"))
            .arg("-l")
            .arg(d.join("server.log"))
            .args(["-w", "-o", &opts])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {out:?}\n{}",
            std::fs::read_to_string(d.join("server.log")).unwrap_or_default()
        );
    }

    /// Stops the server at once, as a crash would (`-m immediate`: no checkpoint).
    pub fn crash(&self) {
        self.run_ctl(&["-m", "immediate", "stop"]);
    }

    /// Starts it again on the same port and data (after [`Postgres::crash`]).
    pub fn start_again(&self) {
        self.run_ctl(&["start"]);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_owner(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}
