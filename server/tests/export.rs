//! A snapshot's tar export over REST against a real server: imported back as an image into
//! an identical tree, the errors, damage aborting the transfer (gzip-encoded too), and the
//! server's memory on a 2 GiB export.

mod common;
mod export_helpers;
/// The engine's fidelity comparison (`describe`) and its fixture, shared as they are.
#[path = "../../engine/tests/common/mod.rs"]
mod fidelity;

use std::io::Read;

use common::{ADMIN, LiveServer, XorShift};
use export_helpers::{damage_stored, export_path, snapshot};
use serde_json::json;

fn assert_same(want: &fidelity::Tree, got: &fidelity::Tree, what: &str) {
    for (path, d) in want {
        assert_eq!(got.get(path), Some(d), "{what}: {}", path.display());
    }
    assert_eq!(want.len(), got.len(), "{what}: entries differ");
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
    // A malformed id. An alias names one snapshot (a second one is refused), so an export
    // by alias is never ambiguous.
    let (status, v) = s
        .call("GET", &export_path("not-an-id", &name), Some(ADMIN), None)
        .await;
    assert_eq!(status, 400, "{v}");
    snapshot(&s, &id, "twice").await;
    let (status, v) = s
        .call(
            "POST",
            &format!("/api/v1/containers/{id}/snapshots"),
            Some(ADMIN),
            Some(serde_json::json!({"alias": "twice"})),
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let (status, v) = s
        .call("GET", &export_path(&id, "twice"), Some(ADMIN), None)
        .await;
    assert_eq!(status, 200, "{v}");
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

    // Plain, and gzip-encoded on the way as a browser asks for it: the compression must
    // pass the failure on, not close its stream cleanly.
    for encoding in ["identity", "gzip"] {
        let mut resp = s
            .client
            .get(s.url(&export_path(&id, &name)))
            .bearer_auth(ADMIN)
            .header("accept-encoding", encoding)
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
            "{encoding}: the transfer ended as if complete after {received} bytes"
        );
        assert!(received > 0, "{encoding}");
    }
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
