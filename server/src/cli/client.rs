//! The HTTP side of the client commands.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use types::{Envelope, ErrorBody, Event, ImageData};

use super::Remote;

/// An error answer as a sentence: its message (the whole text when it is not an error
/// envelope, say a proxy's HTML page) followed by the status.
/// A next step the server hints at is named as the `snapline` command that takes it, not as
/// the REST route.
fn failure(status: reqwest::StatusCode, text: String) -> String {
    let message = serde_json::from_str::<ErrorBody>(&text)
        .map(|e| match &e.hint {
            Some(h) => h.for_cli(&e.message),
            None => e.message,
        })
        .unwrap_or(text);
    format!("{message} ({status})")
}

/// A client of one server with one token.
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// Reads the token from `--token`, `SNAPLINE_TOKEN` or `HOODY_TOKEN`.
    pub fn new(remote: &Remote) -> anyhow::Result<Self> {
        let token = remote
            .token
            .clone()
            .or_else(|| std::env::var("HOODY_TOKEN").ok())
            .filter(|t| !t.is_empty())
            .context(
                "no token: set SNAPLINE_TOKEN (or HOODY_TOKEN) or pass --token; the admin token \
                 is the SNAPLINE_ADMIN_TOKEN the server was started with, or else the one it \
                 printed at its first start and saved in its data directory (data/admin-token)",
            )?;
        let base = remote.url.trim_end_matches('/').to_string();
        if !base.starts_with("http://") && !base.starts_with("https://") {
            bail!("SNAPLINE_URL must start with http:// or https:// (got {base:?})");
        }
        Ok(Client {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            base,
            token,
        })
    }

    /// The `data` of a success envelope, or the error answer's message (the whole text when
    /// it is not an error envelope, say a proxy's HTML page) followed by the status.
    async fn answer<T: DeserializeOwned>(&self, resp: reqwest::Response) -> anyhow::Result<T> {
        let status = resp.status();
        let text = resp
            .text()
            .await
            .context("cannot read the server's answer")?;
        if !status.is_success() {
            bail!(failure(status, text));
        }
        let envelope: Envelope<T> = serde_json::from_str(&text)
            .with_context(|| format!("cannot read the server's answer ({status})"))?;
        Ok(envelope.data)
    }

    /// Sends a request with a JSON body; returns the answer's `data`, or the server's message
    /// as the error.
    pub async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&B>,
    ) -> anyhow::Result<T> {
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the Snapline server at {}", self.base))?;
        self.answer(resp).await
    }

    /// [`Client::send`] without a body.
    pub async fn call<T: DeserializeOwned>(&self, method: &str, path: &str) -> anyhow::Result<T> {
        self.send::<(), T>(method, path, None).await
    }

    /// Sends a GET whose answer is a stream (an export) and returns the response once its
    /// status says success; otherwise the server's message is the error.
    pub async fn get_stream(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .with_context(|| format!("cannot reach the Snapline server at {}", self.base))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp
                .text()
                .await
                .context("cannot read the server's answer")?;
            bail!(failure(status, text));
        }
        Ok(resp)
    }

    /// Sends a request as it is and returns the status and the answer's text, whatever the
    /// status (`snapline api`).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<(reqwest::StatusCode, String)> {
        let mut req = self
            .http
            .request(method.parse()?, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body.filter(|b| !b.trim().is_empty()) {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach the Snapline server at {}", self.base))?;
        let status = resp.status();
        let text = resp
            .text()
            .await
            .context("cannot read the server's answer")?;
        Ok((status, text))
    }

    /// Streams a tar file (or stdin for `-`) to `POST /api/v1/images`.
    pub async fn import(&self, name: &str, file: &std::path::Path) -> anyhow::Result<ImageData> {
        let body = if file.as_os_str() == "-" {
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(tokio::io::stdin()))
        } else {
            let f = tokio::fs::File::open(file)
                .await
                .with_context(|| format!("cannot open {}", file.display()))?;
            // Checked here, or the read error surfaces as a failed request to the server.
            if !f.metadata().await.is_ok_and(|m| m.is_file()) {
                anyhow::bail!(
                    "{} is not a file: give a tar archive (or - for stdin)",
                    file.display()
                );
            }
            reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(f))
        };
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/images", self.base),
            &[("name", name)],
        )?;
        let resp = self
            .http
            .post(url)
            .bearer_auth(&self.token)
            .header("content-type", "application/x-tar")
            .body(body)
            .send()
            .await
            .with_context(|| format!("cannot reach the Snapline server at {}", self.base))?;
        self.answer(resp).await
    }

    /// Runs `op` with a spinner on stderr that shows the server's progress events for
    /// `container` (files and bytes done). Silent when stderr is not a terminal.
    pub async fn with_progress<T>(
        &self,
        container: &str,
        label: &str,
        op: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return op.await;
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        let events = self
            .http
            .get(format!("{}/api/v1/events", self.base))
            .bearer_auth(&self.token)
            .send();
        let (bar2, label, container) = (bar.clone(), label.to_string(), container.to_string());
        let watcher = tokio::spawn(async move {
            let Ok(resp) = events.await else { return };
            let mut stream = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    let progress = event
                        .lines()
                        .find_map(|l| l.strip_prefix("data:"))
                        .and_then(|d| serde_json::from_str::<Event>(d.trim()).ok())
                        .filter(|e| e.container_id.as_deref() == Some(container.as_str()))
                        .and_then(|e| e.progress());
                    if let Some(p) = progress {
                        bar2.set_message(format!(
                            "{label}: {} files, {}",
                            p.files,
                            super::table::bytes(p.bytes)
                        ));
                    }
                }
            }
        });
        let result = op.await;
        watcher.abort();
        bar.finish_and_clear();
        result
    }
}
