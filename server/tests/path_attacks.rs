//! The filesystem-attack corpus (docs: RELIABILITY.md) through the REST API, against a
//! running server: hostile image tars (`POST /api/v1/images`) and restores over a live tree
//! that a container has filled with symlinks pointing out. A host "sentinel" directory is
//! hashed before and after: it must be unchanged.

mod common;

use std::path::Path;

use common::{ADMIN, LiveServer};
use serde_json::json;

/// SnapshotFiles and contents of everything below `dir` (symlinks by target), as one string.
fn fingerprint(dir: &Path) -> String {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let what = if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if meta.is_dir() {
                stack.push(p.clone());
                format!(
                    "dir {:o}",
                    std::os::unix::fs::PermissionsExt::mode(&meta.permissions())
                )
            } else {
                format!(
                    "file {:o} {}",
                    std::os::unix::fs::PermissionsExt::mode(&meta.permissions()),
                    blake3::hash(&std::fs::read(&p).unwrap())
                )
            };
            out.push(format!("{} {what}", p.display()));
        }
    }
    out.sort();
    out.join("\n")
}

/// One tar entry, written raw so hostile names and link targets reach the server as they are.
enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        let (name, data, link): (&str, &[u8], Option<&str>) = match e {
            E::File(n, d) => {
                h.set_entry_type(tar::EntryType::Regular);
                (n, d, None)
            }
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                (n, &[], None)
            }
            E::Symlink(n, t) => {
                h.set_entry_type(tar::EntryType::Symlink);
                (n, &[], Some(t))
            }
            E::Hardlink(n, t) => {
                h.set_entry_type(tar::EntryType::Link);
                (n, &[], Some(t))
            }
        };
        h.set_size(data.len() as u64);
        let raw = name.as_bytes();
        h.as_old_mut().name[..raw.len()].copy_from_slice(raw);
        if let Some(t) = link {
            let raw = t.as_bytes();
            h.as_old_mut().linkname[..raw.len()].copy_from_slice(raw);
        }
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A change a container makes to its own live tree.
type Swap<'a> = Box<dyn Fn(&Path) + 'a>;

#[tokio::test]
async fn hostile_images_and_restores_never_touch_the_host() {
    let s = LiveServer::start(&[]);
    let sentinel = s.dir.path().join("sentinel");
    std::fs::create_dir_all(sentinel.join("etc")).unwrap();
    std::fs::write(sentinel.join("victim"), "host data").unwrap();
    std::fs::write(sentinel.join("etc/passwd"), "root:x:0:0").unwrap();
    let sentinel_abs = sentinel.display().to_string();
    let before = fingerprint(&sentinel);

    // Image imports: each hostile tar is refused, or unpacked with everything inside.
    let victim_file = format!("{sentinel_abs}/victim");
    let corpus: Vec<(&str, Vec<u8>)> = vec![
        (
            "dotdot",
            tar_of(&[E::File("../../../../sentinel/pwned", b"x")]),
        ),
        ("dotdot-inner", tar_of(&[E::File("a/../../pwned", b"x")])),
        ("dot-only", tar_of(&[E::File("./..", b"x")])),
        (
            "symlink-then-file",
            tar_of(&[
                E::Symlink("evil", &sentinel_abs),
                E::File("evil/pwned", b"x"),
            ]),
        ),
        (
            "symlink-up-then-file",
            tar_of(&[
                E::Symlink("up", "../../../../.."),
                E::File("up/pwned", b"x"),
            ]),
        ),
        (
            "symlink-then-dir",
            tar_of(&[E::Symlink("evil", &sentinel_abs), E::Dir("evil/newdir")]),
        ),
        (
            "symlink-chain",
            tar_of(&[
                E::Symlink("a", "b"),
                E::Symlink("b", &sentinel_abs),
                E::File("a/pwned", b"x"),
            ]),
        ),
        (
            "hardlink-outside",
            tar_of(&[E::Hardlink("stolen", &victim_file)]),
        ),
        (
            "hardlink-dotdot",
            tar_of(&[E::Hardlink("stolen", "../../../../sentinel/victim")]),
        ),
        (
            "hardlink-through-symlink",
            tar_of(&[
                E::Symlink("s", &sentinel_abs),
                E::Hardlink("stolen", "s/victim"),
            ]),
        ),
        (
            "symlink-over-file",
            tar_of(&[
                E::File("x", b"first"),
                E::Symlink("x", &victim_file),
                E::File("x", b"overwrite through the link?"),
            ]),
        ),
    ];
    let client = reqwest::Client::new();
    let mut refused = 0;
    for (i, (what, tar)) in corpus.iter().enumerate() {
        let r = client
            .post(s.url(&format!("/api/v1/images?name=attack-{i}")))
            .bearer_auth(ADMIN)
            .body(tar.clone())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap();
        assert!(status == 200 || status == 400, "{what}: {status} {v}");
        if status == 400 {
            refused += 1;
            assert!(
                v["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{what}: {v}"
            );
        } else {
            // Accepted (a symlink is data inside the image): a container made from it holds
            // the link as a link, and nothing of the host was read into it.
            let c = s
                .admin(
                    "POST",
                    "/api/v1/containers",
                    Some(json!({"project_id": "default", "name": format!("from-{i}"), "image": format!("attack-{i}")})),
                )
                .await;
            let root = s.root(c["container"]["id"].as_str().unwrap());
            let inside = fingerprint(&root);
            assert!(
                !inside.contains("host data") && !inside.contains("root:x"),
                "{what}: {inside}"
            );
        }
        assert_eq!(
            fingerprint(&sentinel),
            before,
            "{what}: the host sentinel changed"
        );
    }

    // Restores over a live tree that points out: the links are replaced, the host untouched.
    let id = s.container("default", "restorer").await;
    let root = s.root(&id);
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(root.join("etc/passwd"), "container").unwrap();
    std::fs::write(root.join("x"), "container x").unwrap();
    std::fs::create_dir_all(root.join("dir/sub")).unwrap();
    std::fs::write(root.join("dir/sub/f"), "deep").unwrap();
    let name = s
        .admin("POST", &format!("/api/v1/containers/{id}/snapshots"), None)
        .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let restored = fingerprint(&root);
    let swaps: Vec<(&str, Swap)> = vec![
        (
            "file becomes a link out",
            Box::new(|r: &Path| {
                std::fs::remove_file(r.join("x")).unwrap();
                std::os::unix::fs::symlink(&victim_file, r.join("x")).unwrap();
            }),
        ),
        (
            "directory becomes a link out",
            Box::new(|r: &Path| {
                std::fs::remove_dir_all(r.join("etc")).unwrap();
                std::os::unix::fs::symlink(sentinel.join("etc"), r.join("etc")).unwrap();
            }),
        ),
        (
            "parent becomes a link to /",
            Box::new(|r: &Path| {
                std::fs::remove_dir_all(r.join("dir")).unwrap();
                std::os::unix::fs::symlink(&sentinel, r.join("dir")).unwrap();
            }),
        ),
    ];
    for (what, swap) in &swaps {
        swap(&root);
        let (status, v) = s
            .call(
                "PATCH",
                &format!("/api/v1/containers/{id}/snapshots/{name}"),
                Some(ADMIN),
                None,
            )
            .await;
        assert_eq!(status, 200, "{what}: {v}");
        assert_eq!(
            fingerprint(&root),
            restored,
            "{what}: the restore is not exact"
        );
        assert_eq!(
            fingerprint(&sentinel),
            before,
            "{what}: the host sentinel changed"
        );
    }
    println!(
        "{} hostile images ({refused} refused, {} unpacked inside the root), {} hostile restores: host sentinel unchanged",
        corpus.len(),
        corpus.len() - refused,
        swaps.len()
    );
}
