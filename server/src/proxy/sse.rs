//! A Server-Sent Events reader for the upstream's `GET /api/v1/events`: bounded, tolerant of
//! chunking, and the dashboard's live events made from what it reads.

use std::collections::VecDeque;

use app::AppError;
use app::backend::EventStream;
use app::model::LiveEvent;
use futures_util::StreamExt;

use super::upstream::causes;

/// Longest line or event accepted from the event stream.
pub(crate) const MAX_SSE_EVENT_BYTES: usize = 1 << 20;

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
        return Some(LiveEvent::lagged());
    }
    let event: types::Event = serde_json::from_str(&e.data).ok()?;
    Some(LiveEvent::from(&event))
}

impl super::backend::RemoteBackend {
    /// The upstream's event stream, parsed as it arrives. It ends when the upstream closes
    /// it or the connection breaks; the page then reconnects.
    pub(super) async fn event_stream(&self, token: &str) -> Result<EventStream, AppError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
                "data": {"operation": "snapshot", "phase": "snapshot", "files": 12, "bytes": 3400}})
            .to_string(),
        };
        assert_eq!(
            live_event(&e),
            Some(LiveEvent {
                kind: types::EventKind::Progress,
                container_id: Some("c1".into()),
                progress: Some(types::ProgressData {
                    operation: types::Operation::Snapshot,
                    phase: types::Phase::Snapshot,
                    files: 12,
                    bytes: 3400,
                }),
            })
        );
        let lagged_event = SseEvent {
            event: Some("lagged".into()),
            data: "{}".into(),
        };
        assert_eq!(
            live_event(&lagged_event).unwrap().kind,
            types::EventKind::Lagged
        );
        let junk = SseEvent {
            event: None,
            data: "not json".into(),
        };
        assert_eq!(live_event(&junk), None);
    }
}
