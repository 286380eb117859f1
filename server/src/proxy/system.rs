//! The proxy node's own side: its status and self-check (this node's database and the
//! upstream's health together), the upstream's API description for the docs page, and the
//! docs' "Try it" requests sent to the upstream.

use std::time::Instant;

use app::AppError;
use app::model::{EndpointSummary, SystemCheck, SystemStatus, human_bytes};
use reqwest::{Method, Url};
use serde_json::Value;
use service::selfcheck;

use super::backend::RemoteBackend;
use super::upstream::*;

impl RemoteBackend {
    /// This node's version and self-checks, and the upstream's version when it answers.
    pub(super) async fn node_status(&self) -> Result<SystemStatus, AppError> {
        let upstream = match self.probe().await {
            Ok((v, _)) => format!("which runs {v}"),
            Err(_) => "which does not answer".into(),
        };
        let version = format!(
            "{} (proxy for {}, {upstream})",
            env!("CARGO_PKG_VERSION"),
            self.upstream
        );
        selfcheck::status(&self.db, version)
            .await
            .map_err(Self::service_error)
    }

    /// Checks both halves of a proxy node: the upstream answers its health check, and this
    /// node's own database takes a write and reads it back. Recorded like the embedded check.
    pub(super) async fn node_check(&self) -> Result<SystemCheck, AppError> {
        let probe = self.probe().await;
        let upstream = match &probe {
            Ok((version, ms)) => format!(
                "The Snapline server at {} answered in {ms:.1} ms (version {version})",
                self.upstream
            ),
            Err(e) => e.to_string(),
        };
        selfcheck::run(&self.db, &self.data_dir, |m| {
            let local = if m.database_ok {
                format!(
                    "this proxy's database write and read-back took {:.1} ms; {} free in its \
                     data directory.",
                    m.database_ms,
                    human_bytes(m.free_bytes)
                )
            } else {
                "this proxy's database returned something other than what was written.".into()
            };
            let ok = m.database_ok && probe.is_ok();
            let word = if ok { "passed" } else { "failed" };
            (ok, format!("{word}. {upstream}; {local}"))
        })
        .await
        .map_err(Self::service_error)
    }

    /// The upstream's own document: the docs page lists what the server behind it offers.
    pub(super) async fn upstream_endpoints(&self) -> Result<Vec<EndpointSummary>, AppError> {
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

    /// Runs a request of the API docs' "Try it" against the upstream, as the signed-in
    /// user: only under the upstream's `/api/v1`.
    pub(super) async fn run_on_upstream(
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
}
