//! The upstream of a proxy node: its URL, the HTTP client that reaches it, and how its error
//! answers become the dashboard's errors (through the one status table).

use std::time::Duration;

use anyhow::Context;
use app::AppError;
use reqwest::{StatusCode, Url};
use serde::Deserialize;

/// A connection that is not up by then will not come up: say so quickly.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reads and small changes.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Snapshots, restores, copies, diffs and verifies of large trees, and anything that may wait
/// for a busy container's lock.
pub(crate) const LONG_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The self-check's probe of the upstream.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JSON answer read into memory. A timeline of thousands of snapshots is a few MiB.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;
/// "Frees X if deleted" costs one request per snapshot upstream (the list does not carry it),
/// so a timeline asks for the newest few only; the older cards leave it out.
pub(crate) const EXCLUSIVE_FOR_NEWEST: usize = 10;
/// Requests in flight at once for one page (per-container snapshot lists, say), so a big
/// overview neither crawls nor trips the upstream's rate limit burst.
pub(crate) const CONCURRENT_CALLS: usize = 8;

/// The base URL of the remote API: http or https, a host, no credentials, query or fragment,
/// no trailing slash. Paths are appended to it, so it is the only place requests can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    base: String,
}

impl Upstream {
    /// Checks a `--upstream` value; the error says what to give instead.
    pub fn parse(s: &str) -> Result<Upstream, String> {
        let s = s.trim();
        let example = "give the other Snapline server's base URL, like http://10.0.0.5:3000";
        let url = Url::parse(s).map_err(|e| format!("{s:?} is not a URL ({e}); {example}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the upstream must be an http:// or https:// URL, not {}://; {example}",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{s:?} has no host; {example}"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{s:?} has a query (?...) or fragment (#...); {example}"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "{s:?} carries credentials; leave them out: every user signs in with their own \
                 token"
            ));
        }
        let base = url.as_str().trim_end_matches('/').to_string();
        if base.ends_with("/api/v1") {
            return Err(format!(
                "{s:?} includes the API path; give the server's base URL without /api/v1"
            ));
        }
        Ok(Upstream { base })
    }

    /// The base URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.base
    }

    /// `base/api/v1/<segments...>`, each segment percent-encoded (a `/` in an id cannot add a
    /// path level), with `query` pairs.
    pub(crate) fn api(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, AppError> {
        for s in segments {
            if s.is_empty() || *s == "." || *s == ".." {
                return Err(AppError::NotFound(format!(
                    "{s:?} is not a valid id or name."
                )));
            }
        }
        let mut url = Url::parse(&self.base).map_err(|e| {
            AppError::Internal(format!("the upstream URL {} is not valid: {e}", self.base))
        })?;
        url.path_segments_mut()
            .map_err(|_| {
                AppError::Internal(format!("the upstream URL {} cannot take a path", self.base))
            })?
            .pop_if_empty()
            .extend(["api", "v1"])
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)
    }
}

/// The HTTP client a proxy node uses for its upstream: rustls, a short connect timeout, no
/// redirects (a redirect would carry the user's token to wherever it points; the operator
/// should configure the final URL instead). Per-request timeouts are set by each call.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("snapline-proxy/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot set up the HTTP client for the upstream server")
}

#[derive(Deserialize)]
struct ErrorAnswer {
    message: Option<String>,
    /// The next step the message ends with in REST words; the dashboard leaves it out, as
    /// the embedded one does (its pages offer the action).
    #[serde(default)]
    hint: Option<types::Hint>,
}

/// The dashboard's error for an upstream answer with an error status, keeping the upstream's
/// sentence (`message` of its error envelope) so the user reads what the server said.
pub fn status_error(status: StatusCode, body: &[u8]) -> AppError {
    let message = serde_json::from_slice::<ErrorAnswer>(body)
        .ok()
        .and_then(|a| {
            let m = a.message?;
            let rest = a.hint.map(|h| h.rest_words()).unwrap_or_default();
            Some(m.strip_suffix(&rest).unwrap_or(&m).to_string())
        })
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            // Not the error envelope (a gateway's page, say): a short plain text is still
            // worth showing; markup is not.
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if !text.is_empty() && text.len() <= 200 && !text.starts_with('<') {
                format!("The server answered {status}: {text}")
            } else {
                format!("The server answered {status}.")
            }
        });
    if !(status.is_client_error() || status.is_server_error()) {
        return AppError::Transport(format!(
            "Unexpected answer {status} (redirects are not followed: configure the final URL \
             as --upstream). {message}"
        ));
    }
    // The upstream's status reads back through the one status table, so a kind keeps its
    // status across a proxy (a 503 stays 503, a 403 stays 403).
    AppError::new(crate::http::status::kind_of(status), message)
}

/// The causes of an error, innermost last: "tcp connect error: Connection refused".
pub fn causes(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = e.source();
    while let Some(cause) = next {
        let s = cause.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        next = cause.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_urls_are_checked_and_trimmed() {
        let u = Upstream::parse("http://127.0.0.1:3000/").unwrap();
        assert_eq!(u.as_str(), "http://127.0.0.1:3000");
        let u = Upstream::parse(" https://snap.example/team/ ").unwrap();
        assert_eq!(u.as_str(), "https://snap.example/team");
        assert_eq!(
            u.api(&["containers", "a/b", "snapshots"], &[("path", "/etc x")])
                .unwrap()
                .as_str(),
            "https://snap.example/team/api/v1/containers/a%2Fb/snapshots?path=%2Fetc+x"
        );
        for (bad, why) in [
            ("ftp://host", "http://"),
            ("127.0.0.1:3000", "http://"),
            ("http://host/?x=1", "query"),
            ("http://host/#top", "fragment"),
            ("http://user:pw@host", "credentials"),
            ("http://host/api/v1", "without /api/v1"),
            ("not a url", "not a URL"),
        ] {
            let err = Upstream::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(
            Upstream::parse("http://h")
                .unwrap()
                .api(&["containers", ".."], &[])
                .is_err()
        );
    }

    #[test]
    fn error_statuses_keep_their_kind_and_message() {
        let body = |code: u16, msg: &str| {
            serde_json::to_vec(&json!({"statusCode": code, "error": "x", "message": msg})).unwrap()
        };
        let said = |m: &str| m.to_string();
        let cases = [
            (400, AppError::BadRequest(said("said so"))),
            (413, AppError::PayloadTooLarge(said("said so"))),
            (422, AppError::BadRequest(said("said so"))),
            // Issue 13: kinds keep their status across a proxy (503 was read as a 429 "busy",
            // 403 as a 401).
            (429, AppError::TooManyRequests(said("said so"))),
            (503, AppError::Unavailable(said("said so"))),
            (401, AppError::Unauthorized(said("said so"))),
            (403, AppError::Forbidden(said("said so"))),
            (404, AppError::NotFound(said("said so"))),
            (405, AppError::MethodNotAllowed(said("said so"))),
            (409, AppError::Conflict(said("said so"))),
            (507, AppError::InsufficientStorage(said("said so"))),
            (500, AppError::Internal(said("said so"))),
            (502, AppError::Transport(said("said so"))),
            (504, AppError::Internal(said("said so"))),
            (418, AppError::BadRequest(said("said so"))),
        ];
        for (code, expected) in cases {
            let e = status_error(StatusCode::from_u16(code).unwrap(), &body(code, "said so"));
            assert_eq!(e, expected, "{code}");
        }
        // Not the envelope: the status speaks, markup is not repeated.
        let e = status_error(StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert_eq!(
            e,
            AppError::Transport("The server answered 502 Bad Gateway.".into())
        );
        let e = status_error(StatusCode::TOO_MANY_REQUESTS, b"slow down");
        assert_eq!(
            e,
            AppError::TooManyRequests(
                "The server answered 429 Too Many Requests: slow down".into()
            )
        );
        let e = status_error(StatusCode::FOUND, b"");
        assert!(
            matches!(e, AppError::Transport(ref m) if m.contains("redirect")),
            "{e:?}"
        );
        // The REST route an upstream's hint adds is left out, as on the embedded dashboard.
        let hint = types::Hint::ListSnapshots {
            container: "abc".into(),
        };
        let answer = json!({
            "statusCode": 404,
            "error": "Not Found",
            "message": format!("no snapshot named \"x\"{}", hint.rest_words()),
            "hint": hint,
        });
        let e = status_error(StatusCode::NOT_FOUND, answer.to_string().as_bytes());
        assert_eq!(e, AppError::NotFound("no snapshot named \"x\"".into()));
    }
}
