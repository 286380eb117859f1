//! The README's copy-paste examples, run as they are against a live server (only the host
//! differs): the curl walkthrough and the CLI walkthrough.

mod common;

use common::{ADMIN, LiveServer};

/// The first ```sh block after `heading` in the README.
fn block_after(heading: &str) -> String {
    let readme = include_str!("../../README.md");
    let from = readme
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in README"));
    let start = readme[from..].find("```sh\n").unwrap() + from + 6;
    let end = readme[start..].find("```").unwrap() + start;
    readme[start..end].to_string()
}

/// Runs a README block with bash (`set -e`, pipefail) in a directory that has the admin
/// token where the README says (`data/admin-token`); returns stdout.
fn run(s: &LiveServer, script: &str) -> String {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("data")).unwrap();
    std::fs::write(cwd.path().join("data/admin-token"), format!("{ADMIN}\n")).unwrap();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_snapline"))
        .parent()
        .unwrap();
    let script = script.replace("http://127.0.0.1:3000", &s.url("")).replace(
        "PATH=$PWD/target/release:$PATH",
        &format!("PATH={}:$PATH", bin_dir.display()),
    );
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(cwd.path())
        .env_remove("SNAPLINE_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the README block failed:\n{script}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_readme_api_walkthrough_works() {
    let s = LiveServer::start(&[]);
    let out = run(&s, &block_after("## Using the API"));
    // Every call answered in the envelope with 200, none with an error.
    assert!(!out.contains("\"error\""), "{out}");
    for message in [
        "Container started successfully",
        "Snapshot created successfully",
        "Snapshot restored successfully",
        "Project created successfully",
        "Container copied successfully",
        "Snapshot deleted successfully",
    ] {
        assert!(out.contains(message), "{message} missing from:\n{out}");
    }
    // The restore brought the note back, and the copy has it too.
    let all = s.admin("GET", "/api/v1/containers", None).await;
    for c in all["containers"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap();
        assert_eq!(
            std::fs::read_to_string(s.root(id).join("root/note")).unwrap(),
            "hello\n",
            "{c}"
        );
    }
}

#[tokio::test]
async fn the_readme_cli_walkthrough_works() {
    let s = LiveServer::start(&[]);
    let out = run(&s, &block_after("### The CLI"));
    assert!(out.contains("working\n"), "{out}");
    assert!(
        out.contains("new-dev-env") || out.contains("Deleted snap-"),
        "{out}"
    );
    assert!(out.contains("demo"), "{out}");
    // `snapline servers list`: this one node, active.
    assert!(out.contains("DISK FREE") && out.contains("active"), "{out}");
}

#[tokio::test]
async fn the_readme_partial_restore_publish_and_fork_work() {
    let s = LiveServer::start(&[]);
    let out = run(&s, &block_after("### Partial restore, publish and fork"));
    assert!(!out.contains("\"error\""), "{out}");
    let all = s.admin("GET", "/api/v1/containers", None).await;
    let by_name = |n: &str| {
        all["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("no container {n}: {all}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let app = s.root(&by_name("app"));
    // The partial restores brought the config back and left the other work.
    assert_eq!(
        std::fs::read_to_string(app.join("etc/app/config.yml")).unwrap(),
        "port: 80\n"
    );
    assert_eq!(
        std::fs::read_to_string(app.join("root/work")).unwrap(),
        "keep\n"
    );
    // The image, the forks: each has the snapshot's config.
    for n in [
        "from-template",
        "sandbox-1",
        "sandbox-2",
        "sandbox-3",
        "agent-1",
        "agent-2",
    ] {
        let root = s.root(&by_name(n));
        assert_eq!(
            std::fs::read_to_string(root.join("etc/app/config.yml")).unwrap(),
            "port: 80\n",
            "{n}"
        );
        assert!(!root.join("root/work").exists(), "{n}");
    }
    // app-template-2 was published, then deleted.
    let images = s.admin("GET", "/api/v1/images", None).await;
    for (n, listed) in [("app-template", true), ("app-template-2", false)] {
        assert_eq!(
            images["images"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["name"] == n),
            listed,
            "{n}: {images}"
        );
    }
    assert!(out.contains("Image deleted successfully"), "{out}");
}

#[tokio::test]
async fn the_readme_keep_policy_example_works() {
    let s = LiveServer::start(&[]);
    let out = run(&s, &block_after("### Keep policies"));
    assert!(out.contains("Schedule saved successfully"), "{out}");
    assert!(
        out.contains("Retention preview computed successfully"),
        "{out}"
    );
    // The CLI's view of the policy and its preview table.
    assert!(
        out.contains("last 5, daily 7, weekly 4, monthly 12"),
        "{out}"
    );
    assert!(
        out.contains("Policy last 2, daily 3: keeps 0, deletes 0"),
        "{out}"
    );
    let all = s.admin("GET", "/api/v1/containers", None).await;
    let id = all["containers"][0]["id"].as_str().unwrap().to_string();
    let sched = s
        .admin("GET", &format!("/api/v1/containers/{id}/schedule"), None)
        .await;
    assert_eq!(
        sched["schedule"]["keep"],
        serde_json::json!({"last": 5, "daily": 7, "weekly": 4, "monthly": 12})
    );
}

/// "Scaling out": the three-node block as written, with only the database, the S3 server,
/// the bucket, the ports and the binary's folder swapped for the test's. Runs in the
/// PostgreSQL pass with the test bucket.
#[tokio::test]
async fn the_readme_scaling_out_commands_work() {
    if std::env::var_os(engine::db::TEST_POSTGRES_ENV).is_none() {
        eprintln!("several nodes need PostgreSQL: this test runs in the PostgreSQL pass");
        return;
    }
    let cwd = tempfile::tempdir().unwrap();
    let Some(opts) = engine::s3::scratch_options(cwd.path()) else {
        return;
    };
    let db_url = common::db_url(cwd.path());
    let ports: Vec<u16> = (0..3)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        })
        .collect();
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_snapline"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    let block = block_after("**Several nodes.**");
    let mut script = format!(
        "PORTS=(0 {} {} {})\ntrap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n",
        ports[0], ports[1], ports[2]
    );
    for line in block.lines() {
        // The test's own database and S3 server (the AWS_* variables are inherited).
        let line = if line.starts_with("export SNAPLINE_DATABASE_URL=") {
            format!("export SNAPLINE_DATABASE_URL='{db_url}'")
        } else if line.starts_with("export AWS_") {
            continue;
        } else {
            line.replace("s3://snapline/prod", &opts.url)
                .replace("127.0.0.1:300$n", "127.0.0.1:${PORTS[$n]}")
                .replace("127.0.0.1:3001", &format!("127.0.0.1:{}", ports[0]))
                .replace("127.0.0.1:3002", &format!("127.0.0.1:{}", ports[1]))
                .replace("127.0.0.1:3003", &format!("127.0.0.1:{}", ports[2]))
                .replace("target/release/snapline", &format!("{bin_dir}/snapline"))
                .replace("$PWD/target/release", &bin_dir)
        };
        script.push_str(&line);
        script.push('\n');
    }
    let out = std::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(cwd.path())
        .env_remove("SNAPLINE_TOKEN")
        .env_remove("SNAPLINE_ADMIN_TOKEN")
        .env("SNAPLINE_NO_DEMO", "true")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let logs: String = (1..=3)
        .map(|n| {
            std::fs::read_to_string(cwd.path().join(format!("node-{n}.log"))).unwrap_or_default()
        })
        .collect();
    assert!(
        out.status.success(),
        "the block failed: {}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- logs\n{logs}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let active = stdout.lines().filter(|l| l.contains(" active ")).count();
    assert_eq!(active, 3, "three nodes listed, all active: {stdout}");
    assert!(stdout.matches("web").count() >= 3, "{stdout}");
    // The copy was built on the third node: its row names that node (the start of its id,
    // as `servers list` lists it with its URL).
    let third = stdout
        .lines()
        .find(|l| l.contains(&format!("http://127.0.0.1:{} ", ports[2])))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("the third node is not listed: {stdout}"));
    let copy = stdout
        .lines()
        .find(|l| l.contains(" web-dr "))
        .unwrap_or_else(|| panic!("web-dr is not listed: {stdout}"));
    assert!(
        copy.trim_end().ends_with(&third[..8]),
        "{copy} is not on {third}"
    );
    // The block's own stop line works from any shell: the PIDs are in nodes.pid.
    let pids = std::fs::read_to_string(cwd.path().join("nodes.pid")).unwrap();
    assert_eq!(pids.lines().count(), 3, "{pids}");
}
