//! What the API docs page carries: the REST API's operations as the page lists them, the
//! "Run" widget's requests and answers, what the page keeps (runs, drafts, examples), and the
//! path rule every request to the API passes (the Run widget's and the proxy's).

use serde::{Deserialize, Serialize};

/// A Run widget's request as its form stands now, written out: the path (parameters
/// filled in, or the template while a required one is empty) and each code snippet as
/// `(kind, code)` (`curl`, `fetch`, `reqwest`, `cli`). The docs page's script asks for it as
/// the user types, so the code follows the form.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnippetsNow {
    pub path: String,
    pub snippets: Vec<(String, String)>,
}

/// One operation of the REST API, as the OpenAPI document describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointSummary {
    /// Group of the operation (its first OpenAPI tag).
    pub tag: String,
    /// HTTP method in capitals.
    pub method: String,
    /// Path template, for example `/api/v1/health`.
    pub path: String,
    /// One line on what it does (CommonMark as the document has it).
    pub summary: String,
    /// The summary as safe inline HTML (see `description_html`).
    #[serde(default)]
    pub summary_html: String,
    /// Longer description (CommonMark as the document has it), possibly empty.
    pub description: String,
    /// The description as safe HTML (rendered on the server: raw HTML in the text shown as
    /// text, links only to http(s) or this site), which the page shows as it is.
    #[serde(default)]
    pub description_html: String,
    /// Path and query parameters.
    #[serde(default)]
    pub parameters: Vec<ParamDoc>,
    /// An example request body (pretty JSON), when the operation takes one.
    #[serde(default)]
    pub request_example: Option<String>,
    /// The request body's schema (pretty JSON, every reference inlined).
    #[serde(default)]
    pub request_schema: Option<String>,
    /// Every documented answer: status and what it means, as safe inline HTML (see
    /// `description_html`).
    #[serde(default)]
    pub responses: Vec<(String, String)>,
    /// The JSON schema of each answer that has one: status and schema (pretty JSON, every
    /// reference inlined).
    #[serde(default)]
    pub response_schemas: Vec<(String, String)>,
    /// Whether it needs a bearer token.
    #[serde(default)]
    pub secured: bool,
}

/// One parameter of an operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamDoc {
    pub name: String,
    /// `path` or `query`.
    pub location: String,
    pub required: bool,
    pub description: String,
    /// The description as safe inline HTML (see [`EndpointSummary::description_html`]).
    #[serde(default)]
    pub description_html: String,
    /// An example value, when the document gives one.
    pub example: Option<String>,
}

/// Why a request path may not be sent to the API, or `None` when it may: it must name a
/// route under `/api/v1` and nothing else, whatever a server along the way decodes. The raw
/// path is checked before any decoding: `..` and `.` segments, encoded dots, slashes and
/// backslashes (`%2e`, `%2f`, `%5c`), backslashes, empty segments (`//host`), control
/// characters, spaces and fragments are refused. A query string (`?deep=true`) is allowed
/// after the path and checked for the same characters.
///
/// The dashboard's proxy mode forwards only paths this accepts, and the API docs' "Run"
/// widget sends only these: a method, such a path and a body, never a URL.
pub fn api_path_problem(path: &str) -> Option<String> {
    let refuse = |why: &str| {
        Some(format!(
            "The path {path:?} is refused: {why}. It must be a route under /api/v1, like \
             /api/v1/containers."
        ))
    };
    if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refuse("it contains spaces or control characters");
    }
    if path.contains('#') {
        return refuse("it contains a fragment (#)");
    }
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    if route != "/api/v1" && !route.starts_with("/api/v1/") {
        return refuse("it does not start with /api/v1/");
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c", "%00"]
        .iter()
        .any(|s| lower.contains(s))
    {
        return refuse("it contains an encoded dot, slash, backslash or NUL");
    }
    if path.contains('\\') {
        return refuse("it contains a backslash");
    }
    if !percent_decodes_to_utf8(path) {
        // Overlong forms like `%c0%ae` (a dot, to some decoders) are not UTF-8.
        return refuse("it contains a percent-encoding that is not UTF-8");
    }
    if route.contains("//") {
        return refuse("it contains an empty segment (//)");
    }
    // `..;x` is `..` to servers that strip path parameters (Tomcat, Spring).
    if route
        .split('/')
        .map(|seg| seg.split(';').next().unwrap_or(seg))
        .any(|seg| seg == "." || seg == "..")
    {
        return refuse("it contains a '.' or '..' segment");
    }
    if query.contains('?') {
        return refuse("it has more than one '?'");
    }
    None
}

/// Whether every `%XX` sequence is valid hex and the decoded bytes are UTF-8.
fn percent_decodes_to_utf8(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = path
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => out.push(b),
                None => return false,
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    std::str::from_utf8(&out).is_ok()
}

/// A request the API docs' "Run" widget sends: a method, a path under `/api/v1` (with its
/// query) and a JSON body. Never a URL: where it goes is decided by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub method: String,
    pub path: String,
    /// JSON text; `None` or empty sends no body.
    pub body: Option<String>,
}

/// What the API answered to a [`RunRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Time to the complete answer, in microseconds.
    pub micros: u64,
    /// Response headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy for binary), at most [`RUN_SHOW_LIMIT`] bytes.
    pub body: String,
    /// More body existed than is shown (or a stream was cut at its time limit).
    pub truncated: bool,
}

/// One run in a user's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    /// The docs operation it was run from (`"POST /api/v1/containers/{container_id}/snapshots"`),
    /// empty when it was sent by method and path alone.
    pub operation: String,
    /// The widget's path and query parameters, a JSON object of strings.
    pub params: String,
    pub method: String,
    pub path: String,
    pub body: String,
    pub status: u16,
    pub micros: u64,
    /// The answer's headers, in order.
    pub headers: Vec<(String, String)>,
    /// The answer's body: truncated to [`RUN_KEEP_LIMIT`] bytes in the history, up to
    /// [`RUN_SHOW_LIMIT`] for the user's newest [`RUN_FULL_KEPT`] runs when asked for one.
    pub response: String,
    pub ran_at: String,
}

/// What a widget was left with: parameters (JSON object text) and body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Draft {
    pub operation: String,
    pub params: String,
    pub body: String,
}

/// A saved example, shared by a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub id: String,
    pub project_id: String,
    pub operation: String,
    pub name: String,
    /// Path and query parameters, a JSON object of strings.
    pub params: String,
    pub body: String,
    pub note: String,
    pub updated_at: String,
}

/// Everything the API docs page keeps for the signed-in user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocsState {
    /// Newest first, at most [`RUN_HISTORY`].
    pub runs: Vec<RunRecord>,
    pub drafts: Vec<Draft>,
    /// Examples of every project the user sees.
    pub examples: Vec<Example>,
}

/// Runs kept per user (older ones are pruned).
pub const RUN_HISTORY: i64 = 200;
/// Bytes of an answer kept in the history.
pub const RUN_KEEP_LIMIT: usize = 4096;
/// A user's newest runs whose whole answer (up to [`RUN_SHOW_LIMIT`]) is kept, to show it
/// after the page reloads.
pub const RUN_FULL_KEPT: i64 = 5;

/// Largest request body the Run widget sends (the API's own limit).
pub const RUN_BODY_LIMIT: usize = 64 * 1024;
/// Largest part of an answer the Run widget shows.
pub const RUN_SHOW_LIMIT: usize = 256 * 1024;

/// Why a Run request may not be sent, or `None`: the method, the path rule
/// ([`api_path_problem`]) and the body (at most [`RUN_BODY_LIMIT`] bytes of JSON).
pub fn run_request_problem(r: &RunRequest) -> Option<String> {
    if !matches!(
        r.method.as_str(),
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE"
    ) {
        return Some(format!(
            "The method {:?} is not one the API uses: GET, POST, PUT, PATCH or DELETE.",
            r.method
        ));
    }
    if let Some(p) = api_path_problem(&r.path) {
        return Some(p);
    }
    let body = r.body.as_deref().unwrap_or("");
    if body.len() > RUN_BODY_LIMIT {
        return Some(format!(
            "The body has {} bytes; the API takes at most {} KiB.",
            body.len(),
            RUN_BODY_LIMIT / 1024
        ));
    }
    None
}

/// The HTML id of an operation's Run widget on the docs page (`run-post-api-v1-...`).
pub fn widget_anchor(operation: &str) -> String {
    let mut out = String::from("run-");
    for c in operation.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}
