//! The dashboard's backend in proxy mode (`snapline serve --upstream URL`): every
//! [`Backend`] call becomes calls to a remote Snapline (or Hoody-compatible) REST API, made
//! with the signed-in user's own token.
//!
//! The remote server decides everything: who sees what, limits, validation. This node only
//! turns its answers into the dashboard's views, and its errors into [`AppError`] by HTTP
//! status, so the pages can still say "not found" or "conflict" in words. Its own SQLite
//! holds nothing but the dashboard's self-check table.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use app::AppError;
use app::api::{EndpointSummary, SystemCheck, SystemStatus};
use app::backend::{Backend, ByteStream, EventStream};
use app::model::{
    AxisPoint, ContainerView, DiffView, Identity, Listing, LiveEvent, Overview, ProjectView,
    RestoreOutcome, ScheduleSpecView, ScheduleView, SnapshotChange, SnapshotView, Timeline,
    VerifyView, human_bytes,
};
use futures_util::{StreamExt, TryStreamExt};
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::{Row, SqlitePool};

/// A connection that is not up by then will not come up: say so quickly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reads and small changes.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Snapshots, restores, copies, diffs and verifies of large trees, and anything that may wait
/// for a busy container's lock.
const LONG_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// The self-check's probe of the upstream.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest JSON answer read into memory. A timeline of thousands of snapshots is a few MiB.
pub const MAX_ANSWER_BYTES: usize = 16 << 20;
/// "Frees X if deleted" costs one request per snapshot upstream (the list does not carry it),
/// so a timeline asks for the newest few only; the older cards leave it out.
const EXCLUSIVE_FOR_NEWEST: usize = 10;
/// Requests in flight at once for one page (per-container snapshot lists, say), so a big
/// overview neither crawls nor trips the upstream's rate limit burst.
const CONCURRENT_CALLS: usize = 8;
/// Longest line or event accepted from the event stream.
const MAX_SSE_EVENT_BYTES: usize = 1 << 20;
/// How many self-checks are kept and listed (as the embedded backend does).
const KEEP_CHECKS: i64 = 100;
const LIST_CHECKS: i64 = 10;

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
    fn api(&self, segments: &[&str], query: &[(&str, &str)]) -> Result<Url, AppError> {
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

/// The dashboard's backend over a remote Snapline API.
pub struct RemoteBackend {
    http: reqwest::Client,
    upstream: Upstream,
    /// This node's own database: the self-check table only.
    db: SqlitePool,
    data_dir: Arc<PathBuf>,
}

// Shapes of the REST answers, read leniently (`default`) where a Hoody-compatible server may
// leave a Snapline extra out.

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    message: Option<String>,
}

#[derive(Deserialize)]
struct WireProject {
    id: String,
    name: String,
}

#[derive(Deserialize)]
struct Projects {
    projects: Vec<WireProject>,
}

#[derive(Deserialize)]
struct WireToken {
    #[serde(default)]
    admin: bool,
}

#[derive(Deserialize)]
struct Tokens {
    tokens: Vec<WireToken>,
}

#[derive(Deserialize)]
struct WireImage {
    name: String,
}

#[derive(Deserialize)]
struct Images {
    images: Vec<WireImage>,
}

#[derive(Deserialize)]
struct WireContainer {
    id: String,
    project_id: String,
    name: String,
    #[serde(default)]
    image: String,
    status: String,
    created_at: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    snapshot_count: u64,
}

#[derive(Deserialize)]
struct Containers {
    containers: Vec<WireContainer>,
}

#[derive(Deserialize)]
struct OneContainer {
    container: WireContainer,
}

#[derive(Deserialize)]
struct WireSnapshot {
    name: String,
    #[serde(default)]
    alias: Option<String>,
    created_at: String,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    last_used_at: Option<String>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    added_bytes: u64,
    #[serde(default)]
    exclusive_bytes: Option<u64>,
}

impl From<WireSnapshot> for SnapshotView {
    fn from(s: WireSnapshot) -> Self {
        SnapshotView {
            name: s.name,
            alias: s.alias,
            created_at: s.created_at,
            expires_at: s.expires_at,
            last_used_at: s.last_used_at,
            size: s.size,
            added_bytes: s.added_bytes,
            exclusive_bytes: s.exclusive_bytes,
        }
    }
}

#[derive(Deserialize)]
struct Snapshots {
    snapshots: Vec<WireSnapshot>,
}

#[derive(Deserialize)]
struct OneSnapshot {
    snapshot: WireSnapshot,
}

#[derive(Deserialize)]
struct Restored {
    snapshot: WireSnapshot,
    #[serde(default)]
    safety_snapshot: Option<WireSnapshot>,
}

#[derive(Deserialize)]
struct OneSchedule {
    schedule: ScheduleView,
}

#[derive(Deserialize)]
struct Health {
    #[serde(default)]
    version: Option<String>,
}

/// Whatever an answer's `data` is, when only success matters.
#[derive(Deserialize)]
struct Ignored {}

/// The dashboard's error for an upstream answer with an error status, keeping the upstream's
/// sentence (`message` of its error envelope) so the user reads what the server said.
pub fn status_error(status: StatusCode, body: &[u8]) -> AppError {
    let message = serde_json::from_slice::<ErrorAnswer>(body)
        .ok()
        .and_then(|a| a.message)
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
    match status.as_u16() {
        // 503 is a missing host facility upstream (bubblewrap, say): the message says what
        // to install, which is something the user can act on like bad input.
        400 | 413 | 422 => AppError::BadRequest(message),
        429 | 503 => AppError::Busy(message),
        401 | 403 => AppError::Unauthorized(message),
        404 | 405 => AppError::NotFound(message),
        409 => AppError::Conflict(message),
        507 => AppError::OutOfDisk(message),
        500..=599 => AppError::Internal(message),
        400..=499 => AppError::BadRequest(message),
        _ => AppError::Transport(format!(
            "Unexpected answer {status} (redirects are not followed: configure the final URL \
             as --upstream). {message}"
        )),
    }
}

/// The causes of an error, innermost last: "tcp connect error: Connection refused".
pub(crate) fn causes(e: &dyn std::error::Error) -> String {
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

fn lagged() -> LiveEvent {
    LiveEvent {
        kind: "lagged".into(),
        container_id: None,
        operation: None,
        phase: None,
        files: None,
        bytes: None,
    }
}

impl RemoteBackend {
    /// A backend over the API at `upstream`; `db` and `data_dir` are this node's own, for the
    /// self-checks.
    pub fn new(upstream: Upstream, db: SqlitePool, data_dir: Arc<PathBuf>) -> anyhow::Result<Self> {
        Ok(RemoteBackend {
            http: http_client()?,
            upstream,
            db,
            data_dir,
        })
    }

    /// The upstream's base URL.
    pub fn upstream(&self) -> &Upstream {
        &self.upstream
    }

    /// The client, to share its connection pool (the `/api` forwarder uses it).
    pub fn http_client(&self) -> reqwest::Client {
        self.http.clone()
    }

    fn transport(&self, e: &reqwest::Error) -> AppError {
        let why = if e.is_timeout() {
            "it did not answer in time".to_string()
        } else {
            causes(e)
        };
        AppError::Transport(format!(
            "The Snapline server at {} could not be reached: {why}",
            self.upstream
        ))
    }

    fn unreadable(&self, why: impl std::fmt::Display) -> AppError {
        AppError::Transport(format!(
            "The Snapline server at {} sent an answer that could not be read: {why}",
            self.upstream
        ))
    }

    /// Sends one request. `Accept-Encoding: identity` keeps `Content-Length` meaningful for
    /// downloads whatever compression the upstream (or a client feature) would use.
    async fn send(
        &self,
        token: Option<&str>,
        method: Method,
        url: Url,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<reqwest::Response, AppError> {
        let mut req = self
            .http
            .request(method, url)
            .header(reqwest::header::ACCEPT_ENCODING, "identity");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.timeout(timeout)
            .send()
            .await
            .map_err(|e| self.transport(&e))
    }

    /// Sends a GET whose body may last as long as it likes (a download, the event stream):
    /// no total timeout, but the answer's head must come within [`CALL_TIMEOUT`], so an
    /// upstream that accepts connections and never answers is still reported.
    async fn send_streaming(
        &self,
        token: &str,
        url: Url,
        accept: &str,
    ) -> Result<reqwest::Response, AppError> {
        let req = self
            .http
            .get(url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, accept)
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .send();
        match tokio::time::timeout(CALL_TIMEOUT, req).await {
            Ok(sent) => sent.map_err(|e| self.transport(&e)),
            Err(_) => Err(AppError::Transport(format!(
                "The Snapline server at {} could not be reached: it did not answer within {} s",
                self.upstream,
                CALL_TIMEOUT.as_secs()
            ))),
        }
    }

    /// Reads a whole answer, refusing one larger than [`MAX_ANSWER_BYTES`].
    async fn read_bounded(&self, mut resp: reqwest::Response) -> Result<Vec<u8>, AppError> {
        let too_large = || {
            self.unreadable(format!(
                "it is larger than {} (the most this dashboard reads at once)",
                human_bytes(MAX_ANSWER_BYTES as u64)
            ))
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(&e))? {
            if buf.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }

    /// The error of an answer with an error status (its body read, bounded).
    async fn failed(&self, resp: reqwest::Response) -> AppError {
        let status = resp.status();
        match self.read_bounded(resp).await {
            Ok(body) => status_error(status, &body),
            Err(_) => status_error(status, b""),
        }
    }

    /// Sends a request and returns the answer's `data`, or the error its status stands for.
    async fn call<T: DeserializeOwned>(
        &self,
        token: Option<&str>,
        method: Method,
        url: Url,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<T, AppError> {
        let resp = self.send(token, method, url, body, timeout).await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let bytes = self.read_bounded(resp).await?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize::<_, Envelope<T>>(de)
            .map(|e| e.data)
            .map_err(|e| self.unreadable(e))
    }

    async fn get<T: DeserializeOwned>(&self, token: &str, url: Url) -> Result<T, AppError> {
        self.call(Some(token), Method::GET, url, None, CALL_TIMEOUT)
            .await
    }

    async fn projects(&self, token: &str) -> Result<Vec<ProjectView>, AppError> {
        let p: Projects = self
            .get(token, self.upstream.api(&["projects"], &[])?)
            .await?;
        Ok(p.projects
            .into_iter()
            .map(|p| ProjectView {
                id: p.id,
                name: p.name,
            })
            .collect())
    }

    /// Whether the token is an admin's. The API has no "who am I", but `GET /tokens` lists
    /// every token to an admin and only its own to anyone else, so an admin token is in an
    /// admin's list and never in anyone else's.
    async fn is_admin(&self, token: &str) -> Result<bool, AppError> {
        let t: Tokens = self
            .get(token, self.upstream.api(&["tokens"], &[])?)
            .await?;
        Ok(t.tokens.iter().any(|t| t.admin))
    }

    async fn snapshots(&self, token: &str, id: &str) -> Result<Vec<WireSnapshot>, AppError> {
        let s: Snapshots = self
            .get(
                token,
                self.upstream.api(&["containers", id, "snapshots"], &[])?,
            )
            .await?;
        Ok(s.snapshots)
    }

    /// The card of a container: its project's name and its newest snapshot's time (from
    /// `snapshots`, newest first, when the caller has them; else fetched).
    async fn container_view(
        &self,
        token: &str,
        c: WireContainer,
        projects: &[ProjectView],
        snapshots: Option<&[WireSnapshot]>,
    ) -> Result<ContainerView, AppError> {
        let last_snapshot_at = match snapshots {
            Some(s) => s.first().map(|s| s.created_at.clone()),
            None if c.snapshot_count == 0 => None,
            None => self
                .snapshots(token, &c.id)
                .await?
                .first()
                .map(|s| s.created_at.clone()),
        };
        Ok(ContainerView {
            project_name: projects
                .iter()
                .find(|p| p.id == c.project_id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| c.project_id.clone()),
            id: c.id,
            project_id: c.project_id,
            name: c.name,
            image: c.image,
            status: c.status,
            created_at: c.created_at,
            size: c.size,
            snapshot_count: c.snapshot_count,
            last_snapshot_at,
        })
    }

    /// `GET /api/v1/health` without a token: the upstream's version and the round trip.
    async fn probe(&self) -> Result<(String, f64), AppError> {
        let started = Instant::now();
        let h: Health = self
            .call(
                None,
                Method::GET,
                self.upstream.api(&["health"], &[])?,
                None,
                PROBE_TIMEOUT,
            )
            .await?;
        Ok((
            h.version.unwrap_or_else(|| "unknown".into()),
            started.elapsed().as_secs_f64() * 1000.0,
        ))
    }

    /// Logs a warning at startup when the upstream does not answer: the node serves anyway
    /// (the upstream may come up later), but the operator sees why pages fail.
    pub async fn warn_if_unreachable(&self) {
        match self.probe().await {
            Ok((version, _)) => {
                tracing::info!(upstream = %self.upstream, %version, "the upstream answers")
            }
            Err(e) => {
                tracing::warn!(upstream = %self.upstream, error = %e, "the upstream does not answer yet")
            }
        }
    }

    fn internal(e: impl std::fmt::Display) -> AppError {
        tracing::error!(error = %e, "dashboard self-check error");
        AppError::Internal("The server could not complete this; the details are in its log.".into())
    }
}

#[async_trait::async_trait]
impl Backend for RemoteBackend {
    /// This node's version and self-checks, and the upstream's version when it answers.
    async fn system_status(&self) -> Result<SystemStatus, AppError> {
        let total: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM system_checks")
            .fetch_one(&self.db)
            .await
            .map_err(Self::internal)?;
        let rows = sqlx::query("SELECT * FROM system_checks ORDER BY id DESC LIMIT ?")
            .bind(LIST_CHECKS)
            .fetch_all(&self.db)
            .await
            .map_err(Self::internal)?;
        let recent = rows
            .iter()
            .map(|row| -> Result<SystemCheck, sqlx::Error> {
                Ok(SystemCheck {
                    id: row.try_get("id")?,
                    checked_at: row.try_get("checked_at")?,
                    database_ms: row.try_get("database_ms")?,
                    free_bytes: row.try_get::<i64, _>("free_bytes")?.max(0) as u64,
                    ok: row.try_get::<i64, _>("ok")? != 0,
                    summary: row.try_get("summary")?,
                })
            })
            .collect::<Result<_, _>>()
            .map_err(Self::internal)?;
        let upstream = match self.probe().await {
            Ok((v, _)) => format!("which runs {v}"),
            Err(_) => "which does not answer".into(),
        };
        Ok(SystemStatus {
            version: format!(
                "{} (proxy for {}, {upstream})",
                env!("CARGO_PKG_VERSION"),
                self.upstream
            ),
            total_checks: total,
            recent,
        })
    }

    /// Checks both halves of a proxy node: the upstream answers its health check, and this
    /// node's own database takes a write and reads it back. Recorded like the embedded check.
    async fn run_system_check(&self) -> Result<SystemCheck, AppError> {
        let probe = self.probe().await;
        let dir = self.data_dir.clone();
        let free_bytes = tokio::task::spawn_blocking(move || fs4::available_space(&*dir))
            .await
            .map_err(Self::internal)?
            .map_err(Self::internal)?;
        let started = Instant::now();
        let checked_at = crate::api::now_rfc3339();
        let mut tx = self
            .db
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(Self::internal)?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO system_checks (checked_at, database_ms, free_bytes, ok, summary) \
             VALUES (?, 0, ?, 0, '') RETURNING id",
        )
        .bind(&checked_at)
        .bind(i64::try_from(free_bytes).unwrap_or(i64::MAX))
        .fetch_one(&mut *tx)
        .await
        .map_err(Self::internal)?;
        let read_back: String =
            sqlx::query_scalar("SELECT checked_at FROM system_checks WHERE id = ?")
                .bind(id)
                .fetch_one(&mut *tx)
                .await
                .map_err(Self::internal)?;
        let database_ms = started.elapsed().as_secs_f64() * 1000.0;
        let db_ok = read_back == checked_at;
        let upstream = match &probe {
            Ok((version, ms)) => format!(
                "The Snapline server at {} answered in {ms:.1} ms (version {version})",
                self.upstream
            ),
            Err(e) => e.to_string(),
        };
        let local = if db_ok {
            format!(
                "this proxy's database write and read-back took {database_ms:.1} ms; {} free \
                 in its data directory.",
                human_bytes(free_bytes)
            )
        } else {
            "this proxy's database returned something other than what was written.".into()
        };
        let ok = db_ok && probe.is_ok();
        let summary = format!(
            "{}. {upstream}; {local}",
            if ok { "passed" } else { "failed" }
        );
        sqlx::query("UPDATE system_checks SET database_ms = ?, ok = ?, summary = ? WHERE id = ?")
            .bind(database_ms)
            .bind(ok)
            .bind(&summary)
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(Self::internal)?;
        sqlx::query("DELETE FROM system_checks WHERE id <= ?")
            .bind(id - KEEP_CHECKS)
            .execute(&mut *tx)
            .await
            .map_err(Self::internal)?;
        tx.commit().await.map_err(Self::internal)?;
        Ok(SystemCheck {
            id,
            checked_at,
            database_ms,
            free_bytes,
            ok,
            summary,
        })
    }

    /// The upstream's own document: the docs page lists what the server behind it offers.
    async fn api_endpoints(&self) -> Result<Vec<EndpointSummary>, AppError> {
        let resp = self
            .send(
                None,
                Method::GET,
                self.upstream.api(&["openapi.json"], &[])?,
                None,
                CALL_TIMEOUT,
            )
            .await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let bytes = self.read_bounded(resp).await?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| self.unreadable(format!("the OpenAPI document is not JSON ({e})")))?;
        Ok(crate::dashboard::endpoints_of_json(&doc))
    }

    async fn identity(&self, token: &str) -> Result<Identity, AppError> {
        let (projects, admin) = tokio::try_join!(self.projects(token), self.is_admin(token))?;
        Ok(Identity { admin, projects })
    }

    async fn overview(&self, token: &str) -> Result<Overview, AppError> {
        let list_url = self
            .upstream
            .api(&["containers"], &[("include_deleted", "true")])?;
        let (identity, all, images) = tokio::try_join!(
            self.identity(token),
            self.get::<Containers>(token, list_url),
            self.get::<Images>(token, self.upstream.api(&["images"], &[])?),
        )?;
        let projects = &identity.projects;
        // Each container's snapshot list gives its "last snapshot" time (and a deleted one's
        // snapshots); only containers that have snapshots are asked.
        let cards: Vec<Result<(ContainerView, Vec<WireSnapshot>), AppError>> =
            futures_util::stream::iter(all.containers)
                .map(|c| async move {
                    let snaps = match c.snapshot_count {
                        0 => Vec::new(),
                        // A deleted container's card is its snapshots: they must be there.
                        _ if c.status == "deleted" => self.snapshots(token, &c.id).await?,
                        // A live card only shows the newest one's time: if the list cannot
                        // be had (rate limited, say), the card goes without it rather than
                        // the whole page failing.
                        _ => self.snapshots(token, &c.id).await.unwrap_or_else(|e| {
                            tracing::warn!(container = %c.id, error = %e, "no snapshot list");
                            Vec::new()
                        }),
                    };
                    let view = self
                        .container_view(token, c, projects, Some(&snaps))
                        .await?;
                    Ok((view, snaps))
                })
                .buffered(CONCURRENT_CALLS)
                .collect()
                .await;
        let (mut containers, mut deleted) = (Vec::new(), Vec::new());
        for card in cards {
            let (view, snaps) = card?;
            if view.status == "deleted" {
                if view.snapshot_count > 0 {
                    deleted.push((view, snaps.into_iter().map(SnapshotView::from).collect()));
                }
            } else {
                containers.push(view);
            }
        }
        Ok(Overview {
            identity,
            containers,
            deleted,
            images: images.images.into_iter().map(|i| i.name).collect(),
            now: crate::api::now_rfc3339(),
        })
    }

    async fn create_container(
        &self,
        token: &str,
        project: &str,
        name: &str,
        image: &str,
    ) -> Result<ContainerView, AppError> {
        let body = json!({"project_id": project, "name": name, "image": image});
        let (c, projects) = tokio::try_join!(
            self.call::<OneContainer>(
                Some(token),
                Method::POST,
                self.upstream.api(&["containers"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            ),
            self.projects(token),
        )?;
        self.container_view(token, c.container, &projects, None)
            .await
    }

    async fn container_action(&self, token: &str, id: &str, action: &str) -> Result<(), AppError> {
        let (method, url) = match action {
            "start" | "stop" => (
                Method::POST,
                self.upstream.api(&["containers", id, action], &[])?,
            ),
            "delete" => (Method::DELETE, self.upstream.api(&["containers", id], &[])?),
            other => {
                return Err(AppError::BadRequest(format!(
                    "Unknown action {other:?}: use start, stop or delete."
                )));
            }
        };
        self.call::<Ignored>(Some(token), method, url, None, LONG_TIMEOUT)
            .await
            .map(|_| ())
    }

    async fn timeline(&self, token: &str, id: &str) -> Result<Timeline, AppError> {
        let (projects, c, snaps) = tokio::try_join!(
            self.projects(token),
            self.get::<OneContainer>(token, self.upstream.api(&["containers", id], &[])?),
            self.snapshots(token, id),
        )?;
        let container = self
            .container_view(token, c.container, &projects, Some(&snaps))
            .await?;
        // Exclusive bytes come only with `GET` of one snapshot: the newest few are fetched
        // (advisory, so a failure just leaves the number out), the rest stay unknown.
        // (The names are collected first: a borrowing iterator inside the stream makes the
        // future lose `Send`.)
        let newest: Vec<String> = snaps
            .iter()
            .take(EXCLUSIVE_FOR_NEWEST)
            .map(|s| s.name.clone())
            .collect();
        let exclusive: Vec<Option<u64>> = futures_util::stream::iter(newest)
            .map(|name| async move {
                let url = self
                    .upstream
                    .api(&["containers", id, "snapshots", &name], &[])
                    .ok()?;
                let one: OneSnapshot = self.get(token, url).await.ok()?;
                one.snapshot.exclusive_bytes
            })
            .buffered(CONCURRENT_CALLS)
            .collect()
            .await;
        let snapshots: Vec<SnapshotView> = snaps
            .into_iter()
            .enumerate()
            .map(|(i, s)| SnapshotView {
                exclusive_bytes: exclusive.get(i).copied().flatten().or(s.exclusive_bytes),
                ..SnapshotView::from(s)
            })
            .collect();
        let axis = snapshots
            .iter()
            .map(|s| AxisPoint {
                name: s.name.clone(),
                created_at: s.created_at.clone(),
                added_bytes: s.added_bytes,
                exclusive_bytes: s.exclusive_bytes,
                stored_bytes: None,
            })
            .collect();
        Ok(Timeline {
            container,
            total: snapshots.len(),
            axis,
            snapshots,
            projects,
            now: crate::api::now_rfc3339(),
            schedule: None,
        })
    }

    async fn create_snapshot(
        &self,
        token: &str,
        id: &str,
        alias: Option<String>,
        expiry_days: Option<i64>,
    ) -> Result<SnapshotView, AppError> {
        let mut body = serde_json::Map::new();
        if let Some(a) = alias {
            body.insert("alias".into(), a.into());
        }
        if let Some(d) = expiry_days {
            body.insert("expiry".into(), d.into());
        }
        let s: OneSnapshot = self
            .call(
                Some(token),
                Method::POST,
                self.upstream.api(&["containers", id, "snapshots"], &[])?,
                Some(Value::Object(body)),
                LONG_TIMEOUT,
            )
            .await?;
        Ok(s.snapshot.into())
    }

    async fn restore_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        safety: bool,
    ) -> Result<RestoreOutcome, AppError> {
        let r: Restored = self
            .call(
                Some(token),
                Method::PATCH,
                self.upstream
                    .api(&["containers", id, "snapshots", name], &[])?,
                Some(json!({"safety_snapshot": safety})),
                LONG_TIMEOUT,
            )
            .await?;
        Ok(RestoreOutcome {
            restored: r.snapshot.into(),
            safety: r.safety_snapshot.map(SnapshotView::from),
        })
    }

    async fn delete_snapshot(&self, token: &str, id: &str, name: &str) -> Result<(), AppError> {
        self.call::<Ignored>(
            Some(token),
            Method::DELETE,
            self.upstream
                .api(&["containers", id, "snapshots", name], &[])?,
            None,
            LONG_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    async fn copy_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        project: &str,
        new_name: &str,
    ) -> Result<ContainerView, AppError> {
        let body = json!({"target_project_id": project, "name": new_name, "source_snapshot": name});
        let (c, projects) = tokio::try_join!(
            self.call::<OneContainer>(
                Some(token),
                Method::POST,
                self.upstream.api(&["containers", id, "copy"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            ),
            self.projects(token),
        )?;
        self.container_view(token, c.container, &projects, None)
            .await
    }

    async fn update_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        change: SnapshotChange,
    ) -> Result<SnapshotView, AppError> {
        // `SnapshotChange` serializes as the REST body: an absent field is left as it is,
        // `null` clears it.
        let body = serde_json::to_value(&change).map_err(|e| AppError::Internal(e.to_string()))?;
        let s: OneSnapshot = self
            .call(
                Some(token),
                Method::PATCH,
                self.upstream
                    .api(&["containers", id, "snapshots", name, "metadata"], &[])?,
                Some(body),
                LONG_TIMEOUT,
            )
            .await?;
        Ok(s.snapshot.into())
    }

    async fn diff_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        against: &str,
    ) -> Result<DiffView, AppError> {
        let limit = app::model::DIFF_LIMIT.to_string();
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "diff"],
            &[("against", against), ("limit", &limit)],
        )?;
        self.call(Some(token), Method::GET, url, None, LONG_TIMEOUT)
            .await
    }

    async fn browse_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<Listing, AppError> {
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "files"],
            &[("path", path)],
        )?;
        self.get(token, url).await
    }

    /// Streams the file through as it arrives: nothing of it is buffered here.
    async fn read_file(
        &self,
        token: &str,
        id: &str,
        name: &str,
        path: &str,
    ) -> Result<(u64, ByteStream), AppError> {
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "files", "content"],
            &[("path", path)],
        )?;
        // No total timeout: a large file takes as long as it takes.
        let resp = self
            .send_streaming(token, url, "application/octet-stream")
            .await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let size = resp
            .content_length()
            .ok_or_else(|| self.unreadable("the download did not say its size"))?;
        let upstream = self.upstream.clone();
        let stream = resp.bytes_stream().map_err(move |e| {
            std::io::Error::other(format!(
                "the download from {upstream} broke off: {}",
                causes(&e)
            ))
        });
        Ok((size, stream.boxed()))
    }

    async fn verify_snapshot(
        &self,
        token: &str,
        id: &str,
        name: &str,
        deep: bool,
    ) -> Result<VerifyView, AppError> {
        let url = self.upstream.api(
            &["containers", id, "snapshots", name, "verify"],
            &[("deep", if deep { "true" } else { "false" })],
        )?;
        self.call(Some(token), Method::POST, url, None, LONG_TIMEOUT)
            .await
    }

    async fn schedule(&self, token: &str, id: &str) -> Result<Option<ScheduleView>, AppError> {
        let url = self.upstream.api(&["containers", id, "schedule"], &[])?;
        match self.get::<OneSchedule>(token, url).await {
            Ok(s) => Ok(Some(s.schedule)),
            // 404 is either "no such container" or "no schedule": asking for the container
            // tells them apart.
            Err(AppError::NotFound(_)) => {
                self.get::<OneContainer>(token, self.upstream.api(&["containers", id], &[])?)
                    .await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn set_schedule(
        &self,
        token: &str,
        id: &str,
        spec: ScheduleSpecView,
    ) -> Result<ScheduleView, AppError> {
        let body = serde_json::to_value(&spec).map_err(|e| AppError::Internal(e.to_string()))?;
        let s: OneSchedule = self
            .call(
                Some(token),
                Method::PUT,
                self.upstream.api(&["containers", id, "schedule"], &[])?,
                Some(body),
                CALL_TIMEOUT,
            )
            .await?;
        Ok(s.schedule)
    }

    async fn delete_schedule(&self, token: &str, id: &str) -> Result<(), AppError> {
        self.call::<Ignored>(
            Some(token),
            Method::DELETE,
            self.upstream.api(&["containers", id, "schedule"], &[])?,
            None,
            CALL_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    /// The upstream's event stream, parsed as it arrives. It ends when the upstream closes it
    /// or the connection breaks; the page then reconnects.
    async fn run_request(
        &self,
        token: &str,
        req: app::model::RunRequest,
    ) -> Result<app::model::RunResult, AppError> {
        if let Some(problem) = app::model::run_request_problem(&req) {
            return Err(AppError::BadRequest(problem));
        }
        // Only the configured upstream, only under its /api/v1: the path passed the rule,
        // and the parsed address is checked again before anything is sent.
        let url = Url::parse(&format!("{}{}", self.upstream.as_str(), req.path))
            .map_err(|e| AppError::BadRequest(format!("The path cannot be used: {e}")))?;
        let base = Url::parse(self.upstream.as_str())
            .map_err(|e| AppError::Internal(format!("the upstream address is not valid: {e}")))?;
        if url.origin() != base.origin() || !url.path().starts_with("/api/v1") {
            return Err(AppError::BadRequest(format!(
                "The path {} would leave the upstream's API; it is refused.",
                req.path
            )));
        }
        let method = Method::from_bytes(req.method.as_bytes())
            .map_err(|e| AppError::BadRequest(format!("Bad method: {e}")))?;
        let mut builder = self
            .http
            .request(method, url)
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .timeout(LONG_TIMEOUT);
        if let Some(b) = req.body.clone() {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(b);
        }
        let started = Instant::now();
        let resp = builder.send().await.map_err(|e| self.transport(&e))?;
        let status = resp.status().as_u16();
        let headers = crate::dashboard::header_list(resp.headers());
        let sse = crate::run::is_event_stream(
            resp.headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
        );
        let (body, truncated) = crate::run::read_answer(resp.bytes_stream(), sse).await;
        Ok(app::model::RunResult {
            method: req.method,
            path: req.path,
            status,
            micros: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            headers,
            body,
            truncated,
        })
    }

    async fn events(&self, token: &str) -> Result<EventStream, AppError> {
        let url = self.upstream.api(&["events"], &[])?;
        let resp = self.send_streaming(token, url, "text/event-stream").await?;
        if !resp.status().is_success() {
            return Err(self.failed(resp).await);
        }
        let upstream = self.upstream.clone();
        let state = (
            resp.bytes_stream().boxed(),
            SseParser::default(),
            VecDeque::new(),
        );
        let stream = futures_util::stream::unfold(
            state,
            move |(mut bytes, mut parser, mut ready)| {
                let upstream = upstream.clone();
                async move {
                    loop {
                        if let Some(e) = ready.pop_front() {
                            return Some((e, (bytes, parser, ready)));
                        }
                        match bytes.next().await? {
                            Ok(chunk) => match parser.feed(&chunk) {
                                Ok(events) => ready.extend(events.iter().filter_map(live_event)),
                                Err(e) => {
                                    tracing::warn!(%upstream, error = %e, "event stream refused");
                                    return None;
                                }
                            },
                            Err(e) => {
                                tracing::info!(%upstream, error = %causes(&e), "event stream ended");
                                return None;
                            }
                        }
                    }
                }
            },
        );
        Ok(stream.boxed())
    }
}

/// One event of a Server-Sent Events stream: its `event:` name and its `data:` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// An event stream that broke the parser's bound.
#[derive(Debug, thiserror::Error)]
#[error("an event of the stream is longer than {MAX_SSE_EVENT_BYTES} bytes")]
pub struct SseTooLong;

/// Splits a byte stream into events as the SSE format defines them: lines end in LF, CRLF or
/// CR (a CRLF may be split across chunks); a blank line ends an event; a line starting with
/// `:` is a comment (keep-alives); one space after the field's colon is not part of the value;
/// an event without data is not dispatched. `id` and `retry` are not needed here.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous byte was a CR, so an LF right after it ends nothing.
    after_cr: bool,
    event: Option<String>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds the next bytes; returns the events they completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseTooLong> {
        let mut out = Vec::new();
        for &b in chunk {
            let after_cr = std::mem::replace(&mut self.after_cr, b == b'\r');
            match b {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    let line = std::mem::take(&mut self.line);
                    if let Some(e) = self.line_done(&line)? {
                        out.push(e);
                    }
                }
                _ => {
                    if self.line.len() >= MAX_SSE_EVENT_BYTES {
                        return Err(SseTooLong);
                    }
                    self.line.push(b);
                }
            }
        }
        Ok(out)
    }

    fn line_done(&mut self, line: &[u8]) -> Result<Option<SseEvent>, SseTooLong> {
        if line.is_empty() {
            let event = self.event.take();
            return Ok(self.data.take().map(|mut data| {
                data.pop();
                SseEvent { event, data }
            }));
        }
        if line[0] == b':' {
            return Ok(None);
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                let data = self.data.get_or_insert_with(String::new);
                if data.len() + value.len() >= MAX_SSE_EVENT_BYTES {
                    return Err(SseTooLong);
                }
                // Each data line ends in a newline; the last one is dropped at dispatch.
                data.push_str(value);
                data.push('\n');
            }
            _ => {}
        }
        Ok(None)
    }
}

/// The dashboard's view of one upstream event: `lagged` (the upstream dropped events for this
/// stream, so the page reloads), or the REST event's type, container and progress figures.
/// Anything else (an event that is not JSON) is skipped.
pub fn live_event(e: &SseEvent) -> Option<LiveEvent> {
    if e.event.as_deref() == Some("lagged") {
        return Some(lagged());
    }
    #[derive(Deserialize)]
    struct Wire {
        #[serde(rename = "type")]
        kind: String,
        #[serde(default)]
        container_id: Option<String>,
        #[serde(default)]
        data: Value,
    }
    let w: Wire = serde_json::from_str(&e.data).ok()?;
    let field = |k: &str| w.data.get(k);
    Some(LiveEvent {
        operation: field("operation")
            .and_then(Value::as_str)
            .map(str::to_string),
        phase: field("phase").and_then(Value::as_str).map(str::to_string),
        files: field("files").and_then(Value::as_u64),
        bytes: field("bytes").and_then(Value::as_u64),
        kind: w.kind,
        container_id: w.container_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            (413, AppError::BadRequest(said("said so"))),
            (422, AppError::BadRequest(said("said so"))),
            (429, AppError::Busy(said("said so"))),
            (503, AppError::Busy(said("said so"))),
            (401, AppError::Unauthorized(said("said so"))),
            (403, AppError::Unauthorized(said("said so"))),
            (404, AppError::NotFound(said("said so"))),
            (405, AppError::NotFound(said("said so"))),
            (409, AppError::Conflict(said("said so"))),
            (507, AppError::OutOfDisk(said("said so"))),
            (500, AppError::Internal(said("said so"))),
            (502, AppError::Internal(said("said so"))),
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
            AppError::Internal("The server answered 502 Bad Gateway.".into())
        );
        let e = status_error(StatusCode::TOO_MANY_REQUESTS, b"slow down");
        assert_eq!(
            e,
            AppError::Busy("The server answered 429 Too Many Requests: slow down".into())
        );
        let e = status_error(StatusCode::FOUND, b"");
        assert!(
            matches!(e, AppError::Transport(ref m) if m.contains("redirect")),
            "{e:?}"
        );
    }

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::default();
        chunks.iter().flat_map(|c| p.feed(c).unwrap()).collect()
    }

    #[test]
    fn sse_lines_become_events() {
        let ev = |event: Option<&str>, data: &str| SseEvent {
            event: event.map(str::to_string),
            data: data.into(),
        };
        // As axum writes them, split at awkward places, with a keep-alive comment.
        let got = parse_all(&[
            b"event: snapshot.cre",
            b"ated\nid: 1\ndata: {\"a\":1}\n",
            b"\n:\n\nevent: lagged\r",
            b"\ndata: {}\r\n\r\n",
        ]);
        assert_eq!(
            got,
            vec![
                ev(Some("snapshot.created"), "{\"a\":1}"),
                ev(Some("lagged"), "{}")
            ]
        );
        // Several data lines join with newlines; no space after the colon is fine; CR alone
        // ends lines; an event without data is not dispatched.
        let got = parse_all(&[b"data:one\rdata: two\r\revent: x\n\ndata\n\n"]);
        assert_eq!(got, vec![ev(None, "one\ntwo"), ev(None, "")]);
        // Nothing is dispatched before the blank line.
        assert!(parse_all(&[b"data: {}\n"]).is_empty());
        // An endless line is refused, not buffered forever.
        let mut p = SseParser::default();
        let long = vec![b'x'; MAX_SSE_EVENT_BYTES + 1];
        assert!(p.feed(&long).is_err());
    }

    #[test]
    fn sse_events_become_live_events() {
        let e = SseEvent {
            event: Some("progress".into()),
            data: json!({"id": 3, "type": "progress", "project_id": "p",
                "container_id": "c1", "at": "2025-11-09T14:30:45.000Z",
                "data": {"operation": "snapshot", "phase": "scan", "files": 12, "bytes": 3400}})
            .to_string(),
        };
        assert_eq!(
            live_event(&e),
            Some(LiveEvent {
                kind: "progress".into(),
                container_id: Some("c1".into()),
                operation: Some("snapshot".into()),
                phase: Some("scan".into()),
                files: Some(12),
                bytes: Some(3400),
            })
        );
        let lagged_event = SseEvent {
            event: Some("lagged".into()),
            data: "{}".into(),
        };
        assert_eq!(live_event(&lagged_event).unwrap().kind, "lagged");
        let junk = SseEvent {
            event: None,
            data: "not json".into(),
        };
        assert_eq!(live_event(&junk), None);
    }

    #[test]
    fn openapi_documents_flatten_from_plain_json_too() {
        // An older, hand-written document: no components, no security.
        let doc = json!({"openapi": "3.0.0", "paths": {"/api/v1/health": {"get": {
            "tags": ["System"], "summary": "Health",
            "responses": {"200": {"description": "ok"}}}}}});
        let list = crate::dashboard::endpoints_of_json(&doc);
        assert_eq!(list.len(), 1);
        assert_eq!((list[0].method.as_str(), list[0].secured), ("GET", false));
        assert_eq!(
            list[0].responses,
            vec![("200".to_string(), "ok".to_string())]
        );
    }
}
