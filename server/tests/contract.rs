//! The REST contract, pinned: the OpenAPI document and a set of answers (successes and
//! errors, every resource) recorded from a real `snapline serve` before the service moved into
//! its own crate (issue 13), compared with what the server answers now.
//!
//! Volatile parts are normalised before comparing (ids, times, snapshot names, byte counts),
//! so the comparison is about paths, statuses, JSON shapes and messages. Regenerate the
//! fixtures only for a deliberate contract change:
//! `SNAPLINE_UPDATE_CONTRACT=1 cargo test -p snapline --test contract`.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/contract")
        .join(name)
}

/// Objects with sorted keys (the document's key order is not part of the contract).
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let sorted: std::collections::BTreeMap<_, _> =
                m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// Replaces what differs from run to run: 24-hex ids, RFC 3339 times, `snap-...` names, new
/// tokens, a node's URL (its port), and the numbers of byte and count fields (their presence
/// and type stay compared).
fn normalise(v: &Value, key: &str) -> Value {
    const VOLATILE_NUMBERS: &[&str] = &[
        "size",
        "file_count",
        "added_bytes",
        "exclusive_bytes",
        "trees",
        "chunks",
        "stored_bytes",
        "free_bytes",
        "total_bytes",
        "used_bytes",
        "id",
        "duration_ms",
        "mtime",
        "uptime_s",
        "freed_bytes",
        "store_bytes",
        "disk_total_bytes",
        "disk_free_bytes",
    ];
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), normalise(v, k)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalise(x, key)).collect()),
        Value::Number(_) if VOLATILE_NUMBERS.contains(&key) => json!("<n>"),
        // A node's advertised URL holds the test server's port.
        Value::String(s) if key == "url" && s.starts_with("http://127.0.0.1:") => {
            json!("http://127.0.0.1:<port>")
        }
        Value::String(s) => Value::String(scrub(s)),
        other => other.clone(),
    }
}

/// Scrubs ids, times and generated snapshot names out of a string.
fn scrub(s: &str) -> String {
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let rest = &s[i..];
        let hex = rest
            .bytes()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if hex >= 24 {
            out.push_str(if hex == 24 { "<id>" } else { "<hash>" });
            i += hex;
            continue;
        }
        if rest.len() >= 20
            && rest.as_bytes()[4] == b'-'
            && rest.as_bytes()[10] == b'T'
            && rest[..4].bytes().all(|c| c.is_ascii_digit())
        {
            let end = rest.find('Z').map(|z| z + 1).unwrap_or(rest.len());
            out.push_str("<time>");
            i += end;
            continue;
        }
        if let Some(tail) = rest.strip_prefix("hdy_") {
            let n = tail
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric())
                .count();
            if n >= 16 {
                out.push_str("<token>");
                i += 4 + n;
                continue;
            }
        }
        if let Some(tail) = rest.strip_prefix("snap-") {
            let n = tail
                .bytes()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'-')
                .count();
            out.push_str("<snap>");
            i += 5 + n;
            continue;
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Compares `got` with the fixture `name`, or writes it when regenerating.
fn check(name: &str, got: &Value) {
    let path = fixture(name);
    let text = serde_json::to_string_pretty(got).unwrap() + "\n";
    if std::env::var_os("SNAPLINE_UPDATE_CONTRACT").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; regenerate the fixtures", path.display()));
    let want: Value = serde_json::from_str(&want).unwrap();
    if &want != got {
        let lines_w = serde_json::to_string_pretty(&want).unwrap();
        let diff: Vec<String> = lines_w
            .lines()
            .zip(text.lines())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .take(20)
            .map(|(n, (a, b))| format!("line {}:\n  was: {a}\n  now: {b}", n + 1))
            .collect();
        panic!(
            "{name} differs from the recorded contract:\n{}\n(whole answer now:)\n{text}",
            diff.join("\n")
        );
    }
}

#[tokio::test]
async fn openapi_document_and_answers_match_the_recorded_contract() {
    let s = LiveServer::start(&[]);

    let (status, mut doc) = s.call("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    // The one bound that depends on the machine: the CPUs a container may have.
    let cpus = doc
        .pointer_mut("/components/schemas/ContainerLimits/properties/cpus/maximum")
        .expect("limits.cpus states its maximum (this host's CPUs)");
    assert_eq!(cpus.as_f64(), Some(service::limits::host_cpus()));
    *cpus = json!("<this host's CPUs>");
    check("openapi.json", &canonical(&doc));

    let project = s.project_id("default").await;
    let mut answers = Vec::new();
    let mut ask = async |method: &str, path: &str, token: Option<&str>, body: Option<Value>| {
        let (status, v) = s.call(method, path, token, body.clone()).await;
        let shown_path = scrub(path);
        answers.push(json!({
            "request": format!("{method} {shown_path}"),
            "body": body.map(|b| normalise(&b, "")),
            "status": status,
            "answer": normalise(&canonical(&v), ""),
        }));
        v
    };
    let a = Some(ADMIN);
    ask("GET", "/api/v1/health", None, None).await;
    ask("GET", "/api/v1/projects", a, None).await;
    ask("GET", "/api/v1/images", a, None).await;
    let created = ask(
        "POST",
        "/api/v1/containers",
        a,
        Some(json!({"project_id": project, "name": "contract", "image": "demo"})),
    )
    .await;
    let id = created["data"]["container"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let c = format!("/api/v1/containers/{id}");
    ask("GET", &c, a, None).await;
    ask("GET", "/api/v1/containers", a, None).await;
    let snap = ask(
        "POST",
        &format!("{c}/snapshots"),
        a,
        Some(json!({"alias": "first", "expiry": 7})),
    )
    .await;
    let name = snap["data"]["snapshot"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("{snap}"))
        .to_string();
    let sn = format!("{c}/snapshots/{name}");
    ask("GET", &format!("{c}/snapshots"), a, None).await;
    ask("GET", &sn, a, None).await;
    ask(
        "PATCH",
        &format!("{sn}/metadata"),
        a,
        Some(json!({"alias": "renamed", "expiry": null})),
    )
    .await;
    ask("GET", &format!("{sn}/files?path=/"), a, None).await;
    ask("GET", &format!("{sn}/files?path=/etc"), a, None).await;
    ask("GET", &format!("{sn}/diff?against=live"), a, None).await;
    ask("POST", &format!("{sn}/verify"), a, None).await;
    ask("PATCH", &sn, a, None).await;
    ask(
        "PUT",
        &format!("{c}/schedule"),
        a,
        Some(json!({"schedule": "@daily", "expiry": 3})),
    )
    .await;
    ask("GET", &format!("{c}/schedule"), a, None).await;
    ask("DELETE", &format!("{c}/schedule"), a, None).await;
    ask("GET", "/api/v1/servers", a, None).await;
    ask("GET", "/api/v1/tokens", a, None).await;

    // Errors: each kind the API answers, with its message.
    ask("GET", "/api/v1/containers", None, None).await;
    ask("GET", "/api/v1/containers", Some("hdy_unknown"), None).await;
    ask("GET", "/api/v1/containers/not-an-id", a, None).await;
    ask(
        "GET",
        "/api/v1/containers/000000000000000000000000",
        a,
        None,
    )
    .await;
    ask("GET", &format!("{c}/snapshots/snap-nothing"), a, None).await;
    ask("GET", &format!("{sn}/files?path=/no/such/dir"), a, None).await;
    ask(
        "POST",
        &format!("{c}/snapshots"),
        a,
        Some(json!({"expiry": -1})),
    )
    .await;
    ask(
        "POST",
        &format!("{c}/snapshots"),
        a,
        Some(json!({"alias": 5})),
    )
    .await;
    ask(
        "POST",
        "/api/v1/containers",
        a,
        Some(json!({"project_id": project, "name": "contract", "image": "demo"})),
    )
    .await;
    ask("PUT", "/api/v1/health", None, None).await;
    ask("GET", "/api/v1/nothing-here", None, None).await;
    ask(
        "PUT",
        &format!("{c}/schedule"),
        a,
        Some(json!({"schedule": "every tuesday"})),
    )
    .await;

    // Errors whose next step names a route.
    ask(
        "POST",
        "/api/v1/containers",
        a,
        Some(json!({"project_id": project, "name": "c2", "image": "no-such-image"})),
    )
    .await;
    ask(
        "POST",
        "/api/v1/containers",
        a,
        Some(json!({"project_id": "no-such-project", "name": "c2", "image": "demo"})),
    )
    .await;
    ask("GET", &format!("{c}/schedule"), a, None).await;
    ask("GET", "/api/v1/servers/000000000000000000000000", a, None).await;

    // A project token: what it may not do.
    let token = ask(
        "POST",
        "/api/v1/tokens",
        a,
        Some(json!({"name": "contract", "project_ids": [project]})),
    )
    .await;
    let t = token["data"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{token}"))
        .to_string();
    ask("GET", "/api/v1/tokens", Some(&t), None).await;
    ask(
        "POST",
        "/api/v1/projects",
        Some(&t),
        Some(json!({"name": "x"})),
    )
    .await;
    ask("GET", &c, Some(&t), None).await;

    ask("DELETE", &c, a, None).await;
    // A deleted container: its snapshots remain, restoring into it is refused.
    ask("PATCH", &sn, a, None).await;
    ask("POST", &format!("{c}/start"), a, None).await;
    ask("DELETE", &sn, a, None).await;
    check("answers.json", &Value::Array(answers));
}
