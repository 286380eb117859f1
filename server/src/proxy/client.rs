//! How the proxy's backend talks to its upstream: requests with the signed-in user's token,
//! timeouts, bounded answers, and the REST envelopes around the shared wire types. The
//! [`Backend`](app::backend::Backend) methods in [`super::backend`] are built on these.

use std::time::{Duration, Instant};

use app::AppError;
use app::model::{ContainerView, Project, Schedule, Snapshot, human_bytes};
use reqwest::{Method, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::upstream::*;

use super::backend::RemoteBackend;

// The REST answers' envelopes around the shared wire types (`types`), which read leniently
// (`default`) where a Hoody-compatible server may leave a Snapline extra out.

#[derive(Deserialize)]
pub(super) struct Envelope<T> {
    pub(super) data: T,
}

#[derive(Deserialize)]
pub(super) struct Projects {
    pub(super) projects: Vec<Project>,
}

#[derive(Deserialize)]
pub(super) struct WireToken {
    #[serde(default)]
    pub(super) admin: bool,
}

#[derive(Deserialize)]
pub(super) struct Tokens {
    pub(super) tokens: Vec<WireToken>,
}

#[derive(Deserialize)]
pub(super) struct Images {
    pub(super) images: Vec<types::Image>,
}

#[derive(Deserialize)]
pub(super) struct Containers {
    pub(super) containers: Vec<types::Container>,
}

#[derive(Deserialize)]
pub(super) struct OneContainer {
    pub(super) container: types::Container,
}

#[derive(Deserialize)]
pub(super) struct Snapshots {
    pub(super) snapshots: Vec<Snapshot>,
}

#[derive(Deserialize)]
pub(super) struct OneSnapshot {
    pub(super) snapshot: Snapshot,
}

#[derive(Deserialize)]
pub(super) struct OneSchedule {
    pub(super) schedule: Schedule,
}

#[derive(Deserialize)]
pub(super) struct Health {
    #[serde(default)]
    pub(super) version: Option<String>,
}

/// Whatever an answer's `data` is, when only success matters.
#[derive(Deserialize)]
pub(super) struct Ignored {}

impl RemoteBackend {
    pub(super) fn transport(&self, e: &reqwest::Error) -> AppError {
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

    pub(super) fn unreadable(&self, why: impl std::fmt::Display) -> AppError {
        AppError::Transport(format!(
            "The Snapline server at {} sent an answer that could not be read: {why}",
            self.upstream
        ))
    }

    /// Sends one request. `Accept-Encoding: identity` keeps `Content-Length` meaningful for
    /// downloads whatever compression the upstream (or a client feature) would use.
    pub(super) async fn send(
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
    pub(super) async fn send_streaming(
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
    pub(super) async fn read_bounded(
        &self,
        mut resp: reqwest::Response,
    ) -> Result<Vec<u8>, AppError> {
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
    pub(super) async fn failed(&self, resp: reqwest::Response) -> AppError {
        let status = resp.status();
        match self.read_bounded(resp).await {
            Ok(body) => status_error(status, &body),
            Err(_) => status_error(status, b""),
        }
    }

    /// Sends a request and returns the answer's `data`, or the error its status stands for.
    pub(super) async fn call<T: DeserializeOwned>(
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

    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        token: &str,
        url: Url,
    ) -> Result<T, AppError> {
        self.call(Some(token), Method::GET, url, None, CALL_TIMEOUT)
            .await
    }

    pub(super) async fn projects(&self, token: &str) -> Result<Vec<Project>, AppError> {
        let p: Projects = self
            .get(token, self.upstream.api(&["projects"], &[])?)
            .await?;
        Ok(p.projects)
    }

    /// Whether the token is an admin's. The API has no "who am I", but `GET /tokens` lists
    /// every token to an admin and only its own to anyone else, so an admin token is in an
    /// admin's list and never in anyone else's.
    pub(super) async fn is_admin(&self, token: &str) -> Result<bool, AppError> {
        let t: Tokens = self
            .get(token, self.upstream.api(&["tokens"], &[])?)
            .await?;
        Ok(t.tokens.iter().any(|t| t.admin))
    }

    pub(super) async fn snapshots(&self, token: &str, id: &str) -> Result<Vec<Snapshot>, AppError> {
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
    pub(super) async fn container_view(
        &self,
        token: &str,
        c: types::Container,
        projects: &[Project],
        snapshots: Option<&[Snapshot]>,
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
        Ok(ContainerView::new(c, projects, last_snapshot_at))
    }

    /// `GET /api/v1/health` without a token: the upstream's version and the round trip.
    pub(super) async fn probe(&self) -> Result<(String, f64), AppError> {
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

    /// An error of this node's own service code (its self-check), kept by kind.
    pub(super) fn service_error(e: service::ServiceError) -> AppError {
        AppError::new(e.kind, crate::http::error::public_message(&e))
    }
}
