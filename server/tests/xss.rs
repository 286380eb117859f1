//! Stored XSS: hostile strings everywhere a user can put text (snapshot aliases, file names
//! inside a snapshot, the API docs' examples, notes and drafts) are rendered by every page
//! that shows them as text, never as markup: the server-rendered HTML never holds one of
//! them verbatim, and no link or source becomes `javascript:`.

mod common;

use common::{ADMIN, LiveServer};
use serde_json::{Value, json};

/// Markup and script aliases (each at most 100 characters, no control characters: valid
/// aliases, names and notes).
const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\"><svg onload=alert(1)>",
    "'><svg/onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "</title><script>alert(1)</script>",
    "</textarea><script>alert(1)</script>",
    "<style>@import'//evil.example/x.css'</style>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<svg><script>alert&#40;1&#41;</script>",
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    "<!--<img src=\"--><img src=x onerror=alert(1)//\">",
    "<base href=\"//evil.example/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=//evil.example\">",
    "\"onmouseover=\"alert(1)",
    "<object data=\"javascript:alert(1)\">",
    "]]><script>alert(1)</script>",
    "<x:script xmlns:x=\"http://www.w3.org/1999/xhtml\">alert(1)</x:script>",
    "<form action=//evil.example><button>go</button></form>",
    "<template><script>alert(1)</script></template>",
];

/// Already-escaped markup: must be escaped again (`&amp;lt;`), never decoded into a tag. (Its
/// own text is what a correctly escaped `<script>` looks like, so it is checked apart.)
const ESCAPED: &str = "&lt;script&gt;alert(2)&lt;/script&gt;";

/// Aliases without markup characters: shown verbatim as text, and must never become a
/// link target.
const SCHEMES: &[&str] = &["javascript:alert(1)", "data:text/html,alert(1)"];

/// Checks one rendered page: a payload with `<` never appears verbatim (it would be markup);
/// one with only quotes may appear as text between tags, never inside a tag (where it would
/// end an attribute).
fn assert_inert(page: &str, html: &str) {
    for p in PAYLOADS {
        for (at, _) in html.match_indices(p) {
            let before = &html[..at];
            let in_tag = before.rfind('<') > before.rfind('>');
            assert!(
                !p.contains('<') && !in_tag,
                "{page} holds {p:?} unescaped {}: …{}…",
                if in_tag { "inside a tag" } else { "as markup" },
                &html[at.saturating_sub(80)..(at + p.len() + 20).min(html.len())]
            );
        }
    }
    let lower = html.to_ascii_lowercase();
    for attr in [
        "href=\"javascript:",
        "src=\"javascript:",
        "href=\"data:",
        "action=\"javascript:",
    ] {
        // Only inside a real tag: escaped text (`&lt;a href="javascript:…`) is harmless.
        for (at, _) in lower.match_indices(attr) {
            let before = &html[..at];
            if before.rfind('<') < before.rfind('>') {
                continue;
            }
            panic!(
                "{page} has {attr}: …{}…",
                &html[at.saturating_sub(160)..(at + 80).min(html.len())]
            );
        }
    }
}

async fn get(s: &LiveServer, path: &str) -> String {
    let resp = reqwest::Client::new()
        .get(s.url(path))
        .header("cookie", common::rpc::sign_in(s, ADMIN).await.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{path}");
    resp.text().await.unwrap()
}

async fn rpc(s: &LiveServer, endpoint: &str, form: &[(&str, &str)]) -> Value {
    let resp = reqwest::Client::new()
        .post(s.url(&format!("/rpc/{endpoint}")))
        .header("cookie", common::rpc::sign_in(s, ADMIN).await.unwrap())
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{endpoint}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[tokio::test]
async fn hostile_text_is_rendered_as_text_on_every_page() {
    let s = LiveServer::start(&[]);
    let id = s.container("default", "xss").await;
    let project = s.project_id("default").await;

    // Project names are free text too: one project per payload, each with a container, so
    // the containers page, the timeline's heading and the docs' project lists show them.
    for (i, p) in PAYLOADS.iter().enumerate() {
        let made = s
            .admin("POST", "/api/v1/projects", Some(json!({ "name": p })))
            .await;
        let pid = made["project"]["id"].as_str().unwrap().to_string();
        s.container(&pid, &format!("box-{i}")).await;
    }

    // File names (those without '/', which a name cannot hold) inside the snapshot.
    let data = s.root(&id).join("data");
    std::fs::create_dir_all(&data).unwrap();
    for (i, p) in PAYLOADS.iter().filter(|p| !p.contains('/')).enumerate() {
        std::fs::write(data.join(p), format!("file {i}")).unwrap();
    }
    let mut names = Vec::new();
    for alias in PAYLOADS.iter().chain(SCHEMES).chain([&ESCAPED]) {
        let made = s
            .admin(
                "POST",
                &format!("/api/v1/containers/{id}/snapshots"),
                Some(json!({ "alias": alias })),
            )
            .await;
        names.push(made["snapshot"]["name"].as_str().unwrap().to_string());
    }
    // A change after the snapshots, so a comparison lists the hostile names.
    std::fs::write(data.join("after"), "later").unwrap();
    for p in PAYLOADS.iter().filter(|p| !p.contains('/')) {
        std::fs::remove_file(data.join(p)).unwrap();
    }

    // The API docs' shared state: examples (name, note, body) and a draft.
    for (i, p) in PAYLOADS.iter().enumerate() {
        let name = format!("{i} {p}");
        let body = json!({ "alias": p }).to_string();
        rpc(
            &s,
            "save_example",
            &[
                ("project", &project),
                (
                    "operation",
                    "POST /api/v1/containers/{container_id}/snapshots",
                ),
                ("name", &name),
                ("params", &json!({ "container_id": p }).to_string()),
                ("body", &body),
                ("note", p),
            ],
        )
        .await;
    }
    rpc(
        &s,
        "save_draft",
        &[
            ("operation", "custom"),
            (
                "params",
                &json!({"method": "GET", "path": PAYLOADS[0]}).to_string(),
            ),
            ("body", "</textarea><script>alert(1)</script>"),
        ],
    )
    .await;
    // Each example opened in its form (its body and note go into textareas).
    let state = rpc(&s, "docs_state", &[]).await;
    let example_ids: Vec<String> = state["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(example_ids.len(), PAYLOADS.len());

    let newest = names.last().unwrap().clone();
    let first = names.first().unwrap().clone();
    let mut pages = vec![
        "/".to_string(),
        format!("/containers/{id}"),
        format!("/containers/{id}?all=1"),
        format!("/containers/{id}/diff?from={first}&against=live"),
        format!("/containers/{id}/diff?from={first}&against={newest}"),
        format!("/containers/{id}/snapshots/{first}/files?path=/data"),
        "/docs".to_string(),
        format!(
            "/docs?op={}&example=x",
            app::model::query_escape("POST /api/v1/containers/{container_id}/snapshots")
        ),
        "/docs?op=custom&refused=1".to_string(),
    ];
    let create = app::model::query_escape("POST /api/v1/containers/{container_id}/snapshots");
    for x in &example_ids {
        pages.push(format!("/docs?op={create}&example={x}"));
    }
    // Also as the search text and as the address's error payload.
    pages.push(format!("/docs?q={}", app::model::query_escape(PAYLOADS[1])));
    for page in &pages {
        let html = get(&s, page).await;
        assert_inert(page, &html);
    }
    // The pages did show the strings, as text: the checks above looked at real content.
    let timeline = get(&s, &format!("/containers/{id}")).await;
    assert!(
        timeline.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        &timeline[timeline.find("<main").unwrap_or(0)..][..1500]
    );
    assert!(
        timeline.contains("&amp;lt;script&amp;gt;"),
        "double escaping"
    );
    let files = get(
        &s,
        &format!("/containers/{id}/snapshots/{first}/files?path=/data"),
    )
    .await;
    assert!(files.contains("&lt;img src=x onerror=alert(1)&gt;"));
    let docs = get(&s, "/docs").await;
    assert!(docs.contains("&lt;body onload=alert(1)&gt;"));
    println!(
        "{} markup, {} scheme and 1 pre-escaped payloads, on {} pages: all rendered as text",
        PAYLOADS.len(),
        SCHEMES.len(),
        pages.len()
    );
}
