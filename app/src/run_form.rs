//! What the API docs' Run widget does on the server before and around sending: it turns a
//! widget's fields into a path, checks the body against the operation's schema, and writes
//! the request as curl, `fetch`, reqwest and CLI snippets.
//!
//! Everything here is a pure function of its inputs, so the page can show a problem again
//! after a reload (it recomputes it from the saved draft) and the unit tests below pin the
//! exact text users copy.

use std::collections::BTreeMap;

use crate::model::EndpointSummary;
use crate::model::{api_path_problem, query_escape};

/// The raw-request widget's operation name: any method and path, typed by hand.
pub const CUSTOM: &str = "custom";

/// The operation key of an endpoint, as drafts, examples and the history store it.
pub fn operation_key(e: &EndpointSummary) -> String {
    format!("{} {}", e.method, e.path)
}

/// A path segment's value percent-encoded: only unreserved characters stay as they are, so
/// a value can never add a segment (`/`), a query (`?`) or a fragment (`#`) to the path.
fn segment_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path (with query) an endpoint's widget sends, from its parameter values; or what
/// is missing or refused, in words. The result always passes [`api_path_problem`].
pub fn fill_path(e: &EndpointSummary, params: &BTreeMap<String, String>) -> Result<String, String> {
    let mut path = e.path.clone();
    let mut query = Vec::new();
    for p in &e.parameters {
        let value = params.get(&p.name).map(|v| v.trim()).unwrap_or_default();
        match p.location.as_str() {
            "path" => {
                if value.is_empty() {
                    return Err(format!("Fill in {} (a path parameter).", p.name));
                }
                path = path.replace(&format!("{{{}}}", p.name), &segment_escape(value));
            }
            "query" if !value.is_empty() => {
                query.push(format!("{}={}", query_escape(&p.name), query_escape(value)));
            }
            "query" if p.required => {
                return Err(format!("Fill in {} (a required query parameter).", p.name));
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    match api_path_problem(&path) {
        Some(problem) => Err(problem),
        None => Ok(path),
    }
}

/// Why `body` does not fit the request schema (JSON text), one line per problem with where
/// it is; empty when it fits. An empty body is not checked: the API says whether the
/// operation needs one.
pub fn body_problems(schema: Option<&str>, body: &str) -> Vec<String> {
    if body.trim().is_empty() {
        return Vec::new();
    }
    let value: serde_json::Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return vec![format!("The body is not valid JSON: {e}.")],
    };
    let Some(schema) = schema.and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
    else {
        return Vec::new();
    };
    let validator = match jsonschema::validator_for(&schema) {
        Ok(v) => v,
        Err(e) => {
            // The document is ours or the upstream's; if it cannot be compiled, the API
            // still checks the body, so the widget sends it rather than blocking the user.
            leptos::logging::warn!("a request schema could not be compiled: {e}");
            return Vec::new();
        }
    };
    validator
        .iter_errors(&value)
        .take(20)
        .map(|err| {
            let at = err.instance_path().as_str();
            let at = if at.is_empty() { "the body" } else { at };
            format!("{at}: {err}")
        })
        .collect()
}

/// A string as one single-quoted shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A Rust raw string literal holding `s` (enough `#`s that `s` cannot end it).
fn rust_raw(s: &str) -> String {
    let mut hashes = String::from("#");
    while s.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{s}\"{hashes}")
}

/// One request written out for a user to run themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// `curl`, `fetch`, `reqwest` or `cli`.
    pub kind: &'static str,
    pub label: &'static str,
    pub code: String,
}

/// The request as curl, JavaScript `fetch` (the vendor document's style), Rust reqwest and
/// the `snapline` CLI. `base` is the server's origin (`http://host:port`); the token is
/// read from `SNAPLINE_TOKEN` in each, never written into the text.
pub fn snippets(base: &str, method: &str, path: &str, body: &str) -> Vec<Snippet> {
    let url = format!("{base}{path}");
    let body = body.trim();
    let has_body = !body.is_empty();
    let mut curl = format!(
        "curl -sS -i -X {method} {} \\\n  -H \"Authorization: Bearer $SNAPLINE_TOKEN\"",
        shell_quote(&url)
    );
    if has_body {
        curl.push_str(&format!(
            " \\\n  -H 'Content-Type: application/json' \\\n  -d {}",
            shell_quote(body)
        ));
    }
    let js_body = match serde_json::from_str::<serde_json::Value>(body) {
        // Valid JSON is a valid JavaScript expression, pretty-printed for reading.
        Ok(v) => format!(
            "JSON.stringify({})",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        ),
        Err(_) => serde_json::to_string(body).unwrap_or_default(),
    };
    let mut fetch = format!(
        "const token = process.env.SNAPLINE_TOKEN;\nconst response = await fetch(\n  {},\n  {{\n    method: '{method}',\n    headers: {{\n      'Authorization': `Bearer ${{token}}`",
        serde_json::to_string(&url).unwrap_or_default()
    );
    if has_body {
        fetch.push_str(&format!(
            ",\n      'Content-Type': 'application/json'\n    }},\n    body: {}\n  }}\n);",
            js_body.replace('\n', "\n    ")
        ));
    } else {
        fetch.push_str("\n    }\n  }\n);");
    }
    fetch.push_str("\nconsole.log(response.status, await response.text());");
    let mut reqwest = format!(
        "let response = reqwest::Client::new()\n    .request(reqwest::Method::{method}, {})\n    .bearer_auth(std::env::var(\"SNAPLINE_TOKEN\")?)",
        serde_json::to_string(&url).unwrap_or_default()
    );
    if has_body {
        reqwest.push_str(&format!(
            "\n    .header(\"Content-Type\", \"application/json\")\n    .body({})",
            rust_raw(body)
        ));
    }
    reqwest.push_str(
        "\n    .send()\n    .await?;\nprintln!(\"{} {}\", response.status(), response.text().await?);",
    );
    let mut cli = format!(
        "SNAPLINE_URL={} snapline api {method} {}",
        shell_quote(base),
        shell_quote(path)
    );
    if has_body {
        cli.push_str(&format!(" \\\n  --data {}", shell_quote(body)));
    }
    vec![
        Snippet {
            kind: "curl",
            label: "curl",
            code: curl,
        },
        Snippet {
            kind: "fetch",
            label: "JavaScript (fetch)",
            code: fetch,
        },
        Snippet {
            kind: "reqwest",
            label: "Rust (reqwest)",
            code: reqwest,
        },
        Snippet {
            kind: "cli",
            label: "snapline CLI",
            code: cli,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ParamDoc;

    fn endpoint(method: &str, path: &str, params: &[(&str, &str, bool)]) -> EndpointSummary {
        EndpointSummary {
            tag: "Snapshots".into(),
            method: method.into(),
            path: path.into(),
            summary: String::new(),
            summary_html: String::new(),
            description: String::new(),
            description_html: String::new(),
            parameters: params
                .iter()
                .map(|(name, location, required)| ParamDoc {
                    name: (*name).into(),
                    location: (*location).into(),
                    required: *required,
                    description: String::new(),
                    description_html: String::new(),
                    example: None,
                })
                .collect(),
            request_example: None,
            request_schema: None,
            responses: Vec::new(),
            response_schemas: Vec::new(),
            secured: true,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn paths_are_filled_and_values_cannot_escape_their_segment() {
        let e = endpoint(
            "POST",
            "/api/v1/containers/{container_id}/snapshots/{snapshot_name}/verify",
            &[
                ("container_id", "path", true),
                ("snapshot_name", "path", true),
                ("deep", "query", false),
            ],
        );
        assert_eq!(
            fill_path(
                &e,
                &map(&[("container_id", "c1"), ("snapshot_name", "s 1")])
            ),
            Ok("/api/v1/containers/c1/snapshots/s%201/verify".into())
        );
        assert_eq!(
            fill_path(
                &e,
                &map(&[
                    ("container_id", "c1"),
                    ("snapshot_name", "s"),
                    ("deep", "true")
                ])
            ),
            Ok("/api/v1/containers/c1/snapshots/s/verify?deep=true".into())
        );
        assert!(fill_path(&e, &map(&[("container_id", "c1")])).is_err());
        // Hostile values: each is encoded into one segment, and the encoded forms of
        // slashes and dot segments are refused by the path rule.
        for hostile in [
            "..",
            ".",
            "../../etc",
            "//evil.example",
            "a/b",
            "a\\b",
            "%2e%2e",
            "x?y#z",
        ] {
            let filled = fill_path(
                &e,
                &map(&[("container_id", hostile), ("snapshot_name", "s")]),
            );
            if let Ok(path) = &filled {
                assert!(
                    path.starts_with("/api/v1/containers/") && !path.contains("/../"),
                    "{hostile} gave {path}"
                );
                assert_eq!(path.matches('/').count(), 7, "{hostile} gave {path}");
            }
        }
        assert!(fill_path(&e, &map(&[("container_id", ".."), ("snapshot_name", "s")])).is_err());
        assert!(fill_path(&e, &map(&[("container_id", "a/b"), ("snapshot_name", "s")])).is_err());
    }

    #[test]
    fn bodies_are_checked_against_the_schema() {
        let schema = r#"{"type":"object","properties":{"alias":{"type":["string","null"],"maxLength":5},
            "expiry":{"type":"integer","minimum":1}},"additionalProperties":false}"#;
        assert!(body_problems(Some(schema), r#"{"alias":"a","expiry":3}"#).is_empty());
        assert!(body_problems(Some(schema), "").is_empty());
        let broken = body_problems(Some(schema), r#"{"alias": "#);
        assert_eq!(broken.len(), 1);
        assert!(
            broken[0].starts_with("The body is not valid JSON"),
            "{broken:?}"
        );
        let wrong = body_problems(Some(schema), r#"{"alias":"toolong","expiry":"soon"}"#);
        assert_eq!(wrong.len(), 2, "{wrong:?}");
        assert!(wrong.iter().any(|p| p.starts_with("/alias:")), "{wrong:?}");
        assert!(wrong.iter().any(|p| p.starts_with("/expiry:")), "{wrong:?}");
        let extra = body_problems(Some(schema), r#"{"colour":"red"}"#);
        assert!(extra[0].contains("colour"), "{extra:?}");
        // No schema: only JSON syntax is checked.
        assert!(body_problems(None, "[1,2]").is_empty());
    }

    #[test]
    fn snippets_quote_what_they_carry() {
        let s = snippets(
            "http://127.0.0.1:3000",
            "POST",
            "/api/v1/containers/c1/snapshots",
            r#"{"alias":"it's \"here\""}"#,
        );
        let kinds: Vec<&str> = s.iter().map(|x| x.kind).collect();
        assert_eq!(kinds, ["curl", "fetch", "reqwest", "cli"]);
        assert!(
            s[0].code.contains(r#"-d '{"alias":"it'\''s \"here\""}'"#),
            "{}",
            s[0].code
        );
        assert!(s[0].code.contains("$SNAPLINE_TOKEN"));
        assert!(s[1].code.contains("JSON.stringify({\n"), "{}", s[1].code);
        assert!(s[1].code.contains("method: 'POST'"));
        assert!(
            s[2].code
                .contains(r##".body(r#"{"alias":"it's \"here\""}"#)"##),
            "{}",
            s[2].code
        );
        // A body holding `"#` needs a longer fence.
        assert_eq!(rust_raw(r##"{"a":"x"#"}"##), r###"r##"{"a":"x"#"}"##"###);
        assert!(s[3].code.starts_with(
            "SNAPLINE_URL='http://127.0.0.1:3000' snapline api POST '/api/v1/containers/c1/snapshots'"
        ));
        let get = snippets("http://h", "GET", "/api/v1/containers", "");
        assert!(!get[0].code.contains("-d "));
        assert!(!get[1].code.contains("body:"));
        assert!(!get[3].code.contains("--data"));
    }
}
