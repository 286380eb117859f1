//! File names that are not UTF-8 (issue 16 #4), through the real server and the CLI: two
//! names that differ only in a byte that is not UTF-8 are listed apart (`raw_name`), each
//! downloads its own bytes (`path` query escapes are bytes), a diff tells them apart
//! (`raw_path`), and a partial restore names them (`raw_paths`, and the CLI's `--path`).

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

const FF: &[u8] = b"\xff-report.txt";
const FE: &[u8] = b"\xfe-report.txt";

async fn get_bytes(s: &LiveServer, path: &str) -> (u16, Vec<u8>) {
    let r = s
        .client
        .get(s.url(path))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn names_that_are_not_utf8_are_listed_downloaded_diffed_and_restored_apart() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "bytes").await;
    let data = s.root(&id).join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = |name: &[u8]| data.join(OsStr::from_bytes(name));
    std::fs::write(file(FF), b"ff version\n").unwrap();
    std::fs::write(file(FE), b"fe version\n").unwrap();
    std::fs::write(data.join("plain.txt"), b"plain\n").unwrap();
    let snap = s.snapshot(&id, None).await;
    let base = format!("/api/v1/containers/{id}/snapshots/{snap}");

    // Listed apart: the same text, different raw names; a UTF-8 name has none.
    let listed = s
        .admin("GET", &format!("{base}/files?path=/data"), None)
        .await;
    let entries = listed["entries"].as_array().unwrap();
    let raw: Vec<&Value> = entries.iter().map(|e| &e["raw_name"]).collect();
    assert_eq!(
        raw,
        vec![
            &Value::Null,
            &json!("%FE-report.txt"),
            &json!("%FF-report.txt")
        ],
        "{listed}"
    );
    assert_eq!(entries[1]["name"], "\u{fffd}-report.txt");
    assert_eq!(entries[2]["name"], "\u{fffd}-report.txt");

    // Each raw name downloads its own file.
    for (raw, want) in [
        ("%FF-report.txt", "ff version\n"),
        ("%FE-report.txt", "fe version\n"),
    ] {
        let (status, body) = get_bytes(&s, &format!("{base}/files/content?path=/data/{raw}")).await;
        assert_eq!(status, 200, "{raw}");
        assert_eq!(body, want.as_bytes(), "{raw}");
    }
    // UTF-8 paths, escaped or not, work as before; a name that is not there is a 404.
    let (status, body) = get_bytes(
        &s,
        &format!("{base}/files/content?path=%2Fdata%2Fplain.txt"),
    )
    .await;
    assert_eq!((status, body.as_slice()), (200, b"plain\n".as_slice()));
    let (status, _) = get_bytes(
        &s,
        &format!("{base}/files/content?path=/data/%FD-report.txt"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = get_bytes(&s, &format!("{base}/files?path=/data&deep=1")).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));

    // A diff tells the two changes apart.
    std::fs::write(file(FF), b"changed ff\n").unwrap();
    std::fs::remove_file(file(FE)).unwrap();
    let d = s
        .admin("GET", &format!("{base}/diff?against=live"), None)
        .await;
    let changes: Vec<(String, String)> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["path"].as_str().unwrap().ends_with("-report.txt"))
        .map(|c| {
            (
                c["raw_path"].as_str().unwrap_or_default().to_string(),
                c["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("data/%FE-report.txt".to_string(), "removed".to_string()),
            ("data/%FF-report.txt".to_string(), "modified".to_string()),
        ],
        "{d}"
    );

    // A partial restore of one of them by its raw path: only that one comes back.
    s.admin(
        "PATCH",
        &base,
        Some(json!({"raw_paths": ["/data/%FE-report.txt"]})),
    )
    .await;
    assert_eq!(std::fs::read(file(FE)).unwrap(), b"fe version\n");
    assert_eq!(std::fs::read(file(FF)).unwrap(), b"changed ff\n");

    // The CLI sends the bytes it is given.
    let mut arg = b"/data/".to_vec();
    arg.extend_from_slice(FF);
    let args = [
        "snapshots",
        "restore",
        "--container",
        &id,
        "--name",
        &snap,
        "--path",
    ];
    let mut args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    args.push(OsStr::from_bytes(&arg));
    s.client_ok(&args);
    assert_eq!(std::fs::read(file(FF)).unwrap(), b"ff version\n");
}

/// The same in the dashboard, embedded and through a proxy: the Files page shows both names
/// with their exact bytes, each downloads its own file, and the restore page restores the
/// one it names.
#[tokio::test]
async fn the_dashboard_lists_downloads_and_restores_names_that_are_not_utf8() {
    let (upstream, proxy) = common::rpc::pair();
    let id = upstream.container("default", "bytes").await;
    let data = upstream.root(&id).join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = |name: &[u8]| data.join(OsStr::from_bytes(name));
    std::fs::write(file(FF), b"ff version\n").unwrap();
    std::fs::write(file(FE), b"fe version\n").unwrap();
    let snap = upstream.snapshot(&id, None).await;
    for server in [&upstream, &proxy] {
        let cookie = common::rpc::sign_in(server, ADMIN).await.unwrap();
        let files = common::rpc::page(
            server,
            &cookie,
            &format!("/containers/{id}/snapshots/{snap}/files?path=/data"),
        )
        .await;
        for raw in ["%FF-report.txt", "%FE-report.txt"] {
            assert!(files.contains(&format!(">{raw}</code>")), "{raw}: {files}");
            let link = format!("/download/{id}/{snap}?path=/data/{raw}");
            assert!(files.contains(&link), "{link}: {files}");
        }
        for (raw, want) in [("%FF", "ff version\n"), ("%FE", "fe version\n")] {
            let body = common::rpc::browser()
                .get(server.url(&format!(
                    "/download/{id}/{snap}?path=/data/{raw}-report.txt"
                )))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert_eq!(body, want);
        }
        // The restore page finds the file by its bytes, lists only its own change (not the
        // other name's, which looks the same as text), and its form sends the bytes.
        std::fs::write(file(FE), b"changed\n").unwrap();
        std::fs::write(file(FF), b"changed too\n").unwrap();
        let confirm = common::rpc::page(
            server,
            &cookie,
            &format!("/containers/{id}/snapshots/{snap}/restore?path=/data/%FE-report.txt"),
        )
        .await;
        assert!(
            confirm.contains(r#"name="path" value="/data/%FE-report.txt""#),
            "{confirm}"
        );
        let list = confirm
            .split_once(r#"data-testid="restore-changes""#)
            .and_then(|(_, rest)| rest.split_once("</ul>"))
            .map(|(list, _)| list)
            .unwrap_or_else(|| panic!("no list of changes: {confirm}"));
        assert!(
            list.contains("(/data/%FE-report.txt)") && !list.contains("%FF-report.txt"),
            "{list}"
        );
        let to = common::rpc::plain_form(
            server,
            "restore_path",
            &cookie,
            &[
                ("id", id.as_str()),
                ("name", snap.as_str()),
                ("path", "/data/%FE-report.txt"),
            ],
        )
        .await;
        assert!(to.contains("restored=1"), "{to}");
        assert_eq!(std::fs::read(file(FE)).unwrap(), b"fe version\n");
        assert_eq!(std::fs::read(file(FF)).unwrap(), b"changed too\n");
        std::fs::write(file(FF), b"ff version\n").unwrap();
    }
}
