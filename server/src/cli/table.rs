//! Human-readable tables, and the `--json` output.

use serde::Serialize;
use types::{Container, Image, Project, Snapshot, TokenInfo};

/// Bytes as people read them (the dashboard's formatting).
pub use types::units::human_bytes as bytes;

/// Prints an answer's `data` as pretty JSON. It goes through a `Value` so keys come out in
/// alphabetical order, as the `--json` output has always written them.
pub fn print_json<T: Serialize + ?Sized>(data: &T) -> anyhow::Result<()> {
    let v = serde_json::to_value(data)?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

/// An optional cell: `-` when absent.
fn opt(v: Option<&str>) -> String {
    v.unwrap_or("-").to_string()
}

/// Rows under headers, each column as wide as its widest cell; `(none)` without rows.
pub(super) fn render(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    if rows.is_empty() {
        return "(none)\n".into();
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
        // A cell without its header would shift every column after it.
        debug_assert_eq!(r.len(), headers.len(), "a row of {r:?} under {headers:?}");
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("{}\n", parts.join("  ").trim_end())
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

fn snapshot_table(list: &[Snapshot]) -> String {
    let rows = list
        .iter()
        .map(|x| {
            vec![
                x.name.clone(),
                opt(x.alias.as_deref()),
                x.created_at.clone(),
                opt(x.expires_at.as_deref()),
                bytes(x.size),
            ]
        })
        .collect();
    render(&["NAME", "ALIAS", "CREATED", "EXPIRES", "SIZE"], rows)
}

pub fn snapshots(list: &[Snapshot]) {
    print!("{}", snapshot_table(list));
}

pub fn containers(list: &[Container]) {
    let rows = list
        .iter()
        .map(|x| {
            vec![
                x.id.clone(),
                x.name.clone(),
                x.status.to_string(),
                x.image.clone(),
                x.snapshot_count.to_string(),
                bytes(x.size),
                // The start of its node's id (`snapline servers list` has the whole one).
                x.server_id.chars().take(8).collect(),
            ]
        })
        .collect();
    print!(
        "{}",
        render(
            &[
                "ID",
                "NAME",
                "STATUS",
                "IMAGE",
                "SNAPSHOTS",
                "SIZE",
                "SERVER"
            ],
            rows
        )
    );
}

/// Images, with their project's name where `projects` (id → name) knows it.
pub fn images(list: &[Image], projects: &std::collections::HashMap<String, String>) {
    let rows = list
        .iter()
        .map(|x| {
            vec![
                x.name.clone(),
                // Published images are named per project: the column tells two apart.
                match &x.project_id {
                    Some(id) => projects.get(id).cloned().unwrap_or_else(|| id.clone()),
                    None => "shared".into(),
                },
                x.source.clone(),
                x.file_count.to_string(),
                bytes(x.size),
            ]
        })
        .collect();
    print!(
        "{}",
        render(&["NAME", "PROJECT", "SOURCE", "FILES", "SIZE"], rows)
    );
}

pub fn projects(list: &[Project]) {
    let rows = list
        .iter()
        .map(|x| vec![x.id.clone(), x.name.clone(), x.created_at.clone()])
        .collect();
    print!("{}", render(&["ID", "NAME", "CREATED"], rows));
}

pub fn servers(list: &[types::Server]) {
    print!("{}", server_table(list));
}

fn server_table(list: &[types::Server]) -> String {
    let rows = list
        .iter()
        .map(|x| {
            vec![
                x.id.clone(),
                x.name.clone(),
                opt(Some(x.url.as_str()).filter(|u| !u.is_empty())),
                x.status.clone(),
                x.container_count.to_string(),
                format!(
                    "{} of {}",
                    bytes(x.disk_free_bytes),
                    bytes(x.disk_total_bytes)
                ),
                format!("{} ({})", x.store, bytes(x.store_bytes)),
                x.last_seen_at.clone(),
            ]
        })
        .collect();
    render(
        &[
            "ID",
            "NAME",
            "URL",
            "STATUS",
            "CONTAINERS",
            "DISK FREE",
            "STORE",
            "LAST SEEN",
        ],
        rows,
    )
}

pub fn tokens(list: &[TokenInfo]) {
    let rows = list
        .iter()
        .map(|x| {
            let scope = if x.admin {
                "admin".to_string()
            } else {
                x.projects.join(",")
            };
            vec![
                x.id.clone(),
                x.name.clone(),
                scope,
                x.created_at.clone(),
                opt(x.revoked_at.as_deref()),
            ]
        })
        .collect();
    print!(
        "{}",
        render(&["ID", "NAME", "SCOPE", "CREATED", "REVOKED"], rows)
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(super::bytes(999), "999 B");
        assert_eq!(super::bytes(4_589_764_321), "4.6 GB");
        assert_eq!(super::bytes(1_500_000), "1.5 MB");
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_absent_cells_are_dashes() {
        let snap = |name: &str, alias: Option<&str>| types::Snapshot {
            name: name.into(),
            alias: alias.map(Into::into),
            created_at: "2025-11-09T14:30:45.000Z".into(),
            last_used_at: None,
            expires_at: None,
            stateful: false,
            size: 1_500_000,
            file_count: 3,
            added_bytes: 0,
            exclusive_bytes: None,
            frozen_ms: None,
            scheduled: false,
        };
        let table = super::snapshot_table(&[
            snap("snap-20251109-143045", Some("working-baseline")),
            snap("snap-20251109-150000", None),
        ]);
        assert_eq!(
            table,
            "NAME                  ALIAS             CREATED                   EXPIRES  SIZE\n\
             snap-20251109-143045  working-baseline  2025-11-09T14:30:45.000Z  -        1.5 MB\n\
             snap-20251109-150000  -                 2025-11-09T14:30:45.000Z  -        1.5 MB\n"
        );
        assert_eq!(super::snapshot_table(&[]), "(none)\n");
    }

    #[test]
    fn each_server_value_sits_under_its_header() {
        let server = types::Server {
            id: "7dfc52a1cde35b161198f59a".into(),
            name: "vm".into(),
            status: "offline".into(),
            version: "0.1.0".into(),
            store_bytes: 1_500_000,
            store: "s3://snapline/prod".into(),
            cache_bytes: 0,
            disk_total_bytes: 270_600_000_000,
            disk_free_bytes: 67_900_000_000,
            can_run_containers: true,
            container_count: 2,
            last_seen_at: "2026-12-01T07:20:00.000Z".into(),
            url: "http://127.0.0.1:3001".into(),
        };
        let table = super::server_table(&[server]);
        let lines: Vec<&str> = table.lines().collect();
        // Every column but the first starts after two spaces.
        let at = |line: &str, cell: &str| line.find(&format!("  {cell}")).unwrap();
        for (header, value) in [
            ("URL", "http://127.0.0.1:3001"),
            ("STATUS", "offline"),
            ("CONTAINERS", "2"),
            ("DISK FREE", "67.9 GB of 270.6 GB"),
            ("STORE", "s3://snapline/prod (1.5 MB)"),
            ("LAST SEEN", "2026-12-01T07:20:00.000Z"),
        ] {
            assert_eq!(at(lines[0], header), at(lines[1], value), "{table}");
        }
    }
}
