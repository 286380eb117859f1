//! One node serves a database's containers while each node's pack store is its own, and
//! an SQLite database whatever the store: a second `snapline serve` on the same database
//! refuses to start and says why, and starts once the first is gone (a kill -9 included:
//! PostgreSQL frees the lock with the session, the kernel the SQLite file's flock).

mod common;

use common::LiveServer;

/// Runs `snapline serve` on `data` and `db_url` and expects it to exit at once; returns
/// what it printed.
fn refused(data: &std::path::Path, db_url: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-demo",
            "--data-dir",
        ])
        .arg(data)
        .env("SNAPLINE_DATABASE_URL", db_url)
        .env("SNAPLINE_ADMIN_TOKEN", common::ADMIN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a second node started");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_second_node_on_the_same_database_is_refused_until_the_first_is_gone() {
    let first = LiveServer::start(&[]);
    let id = first.container("default", "kept").await;

    // The same data directory: the store's own lock says no, on either database.
    let err = refused(&first.data(), &first.db_url);
    assert!(err.contains("store") || err.contains("in use"), "{err}");

    if engine::Dialect::of_url(&first.db_url) == Some(engine::Dialect::Postgres) {
        // A data directory of its own on the same PostgreSQL database.
        let other = tempfile::tempdir().unwrap();
        let err = refused(&other.path().join("data"), &first.db_url);
        assert!(
            err.contains("another Snapline node already serves containers from the database"),
            "{err}"
        );
        assert!(!err.contains("password"), "{err}");
        // The refused node changed nothing: the first serves on.
        let c = first
            .admin("GET", &format!("/api/v1/containers/{id}"), None)
            .await;
        assert_eq!(c["container"]["name"], "kept");

        // Gone without cleanup: the database frees the lock with its session.
        let db_url = first.db_url.clone();
        let _dir = first.kill9();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("snapline.db.postgres"), &db_url).unwrap();
        let second = LiveServer::start_in(dir, &[]);
        let all = second.admin("GET", "/api/v1/containers", None).await;
        assert_eq!(all["containers"][0]["id"], id.as_str(), "{all}");
    } else {
        // A data directory of its own on the same SQLite file, with a local store or an S3
        // one: SQLite is one node's database.
        let other = tempfile::tempdir().unwrap();
        let err = refused(&other.path().join("data"), &first.db_url);
        assert!(
            err.contains("SQLite is one node's database") && err.contains("postgres://"),
            "{err}"
        );
        if let Some(opts) = engine::s3::scratch_options(other.path()) {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_snapline"))
                .args(["serve", "--listen", "127.0.0.1:0", "--no-demo", "--store"])
                .arg(&opts.url)
                .arg("--data-dir")
                .arg(other.path().join("data-s3"))
                .env("SNAPLINE_DATABASE_URL", &first.db_url)
                .env("SNAPLINE_ADMIN_TOKEN", common::ADMIN)
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap();
            assert!(
                !out.status.success(),
                "a second node started on SQLite and S3"
            );
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("SQLite is one node's database"), "{err}");
        }
        // The first serves on, and once it is gone (kill -9) a node starts on the file.
        let c = first
            .admin("GET", &format!("/api/v1/containers/{id}"), None)
            .await;
        assert_eq!(c["container"]["name"], "kept");
        let db_url = first.db_url.clone();
        let _dir = first.kill9();
        let next = LiveServer::start_with_args(&[], &[("SNAPLINE_DATABASE_URL", &db_url)]);
        let all = next.admin("GET", "/api/v1/containers", None).await;
        assert_eq!(all["containers"][0]["id"], id.as_str(), "{all}");
    }
}
