//! What the export tests share: routes, snapshots, reading an archive, damaging a chunk.
#![allow(dead_code)]

use std::io::Read;
use std::path::Path;

use crate::common::{ADMIN, LiveServer};
use serde_json::json;

pub fn export_path(id: &str, name: &str) -> String {
    format!("/api/v1/containers/{id}/snapshots/{name}/export")
}

/// Takes a snapshot with an alias; returns its name.
pub async fn snapshot(s: &LiveServer, id: &str, alias: &str) -> String {
    s.admin(
        "POST",
        &format!("/api/v1/containers/{id}/snapshots"),
        Some(json!({ "alias": alias })),
    )
    .await["snapshot"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The whole export of a snapshot over REST, as the admin.
pub async fn export_bytes(s: &LiveServer, id: &str, name: &str) -> bytes::Bytes {
    let resp = s
        .client
        .get(s.url(&export_path(id, name)))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap()
}

/// The members of a tar archive: path and data (data only for regular files).
pub fn members(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut data = Vec::new();
        if e.header().entry_type() == tar::EntryType::Regular {
            e.read_to_end(&mut data).unwrap();
        }
        out.push((path, data));
    }
    out
}

pub fn data_of<'a>(members: &'a [(String, Vec<u8>)], path: &str) -> &'a [u8] {
    &members
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no {path} in the archive"))
        .1
}

/// Flips a byte of the stored copy of `content` (incompressible, so stored as it is) in
/// the packs of `data`.
pub fn damage_stored(data: &Path, content: &[u8]) {
    let needle = &content[100..164];
    for dir in std::fs::read_dir(data.join("store/packs"))
        .unwrap()
        .flatten()
    {
        if dir.file_name() == "tmp" {
            continue;
        }
        for p in std::fs::read_dir(dir.path()).unwrap().flatten() {
            let mut b = std::fs::read(p.path()).unwrap();
            if let Some(at) = b.windows(needle.len()).position(|w| w == needle) {
                b[at + 10] ^= 0x40;
                std::fs::write(p.path(), b).unwrap();
                return;
            }
        }
    }
    panic!("the content is not stored as it is in any pack");
}
