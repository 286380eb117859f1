//! Human-readable tables.

use serde_json::Value;

/// Bytes as people read them (the dashboard's formatting).
pub use app::model::human_bytes as bytes;

pub fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints rows under headers, each column as wide as its widest cell.
fn print(headers: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in &rows {
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
        println!("{}", parts.join("  ").trim_end());
    };
    line(headers.iter().map(|h| h.to_string()).collect());
    for r in rows {
        line(r);
    }
}

pub fn snapshots(list: &Value) {
    let rows = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            vec![
                s(&x["name"]),
                s(&x["alias"]),
                s(&x["created_at"]),
                s(&x["expires_at"]),
                bytes(x["size"].as_u64().unwrap_or(0)),
            ]
        })
        .collect();
    print(&["NAME", "ALIAS", "CREATED", "EXPIRES", "SIZE"], rows);
}

pub fn containers(list: &Value) {
    let rows = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            vec![
                s(&x["id"]),
                s(&x["name"]),
                s(&x["status"]),
                s(&x["image"]),
                s(&x["snapshot_count"]),
                bytes(x["size"].as_u64().unwrap_or(0)),
            ]
        })
        .collect();
    print(
        &["ID", "NAME", "STATUS", "IMAGE", "SNAPSHOTS", "SIZE"],
        rows,
    );
}

pub fn images(list: &Value) {
    let rows = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            vec![
                s(&x["name"]),
                s(&x["source"]),
                s(&x["file_count"]),
                bytes(x["size"].as_u64().unwrap_or(0)),
            ]
        })
        .collect();
    print(&["NAME", "SOURCE", "FILES", "SIZE"], rows);
}

pub fn projects(list: &Value) {
    let rows = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| vec![s(&x["id"]), s(&x["name"]), s(&x["created_at"])])
        .collect();
    print(&["ID", "NAME", "CREATED"], rows);
}

pub fn tokens(list: &Value) {
    let rows = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let scope = if x["admin"] == true {
                "admin".to_string()
            } else {
                x["projects"]
                    .as_array()
                    .map(|p| p.iter().map(s).collect::<Vec<_>>().join(","))
                    .unwrap_or_default()
            };
            vec![
                s(&x["id"]),
                s(&x["name"]),
                scope,
                s(&x["created_at"]),
                s(&x["revoked_at"]),
            ]
        })
        .collect();
    print(&["ID", "NAME", "SCOPE", "CREATED", "REVOKED"], rows);
}

#[cfg(test)]
mod tests {
    #[test]
    fn bytes_read_like_people_write_them() {
        assert_eq!(super::bytes(999), "999 B");
        assert_eq!(super::bytes(4_589_764_321), "4.6 GB");
        assert_eq!(super::bytes(1_500_000), "1.5 MB");
    }
}
