//! What happens, as a stream: `GET /api/v1/events` (Server-Sent Events) reads from here.
//!
//! Events are broadcast in memory; a subscriber that falls more than [`CAPACITY`] events
//! behind skips the oldest (and is told so). Nothing is persisted: the lists in the API are
//! the source of truth, events only say when to look again.
//!
//! Several nodes on one PostgreSQL database share their events through `NOTIFY` on the
//! channel [`CHANNEL`] ([`Service::spawn_event_relay`]): each node sends what it publishes
//! and delivers what the others sent into its own bus, so the stream (and the dashboard) of
//! any node shows the whole cluster. Each node numbers the events it delivers itself, so
//! `id` keeps increasing on every node's stream. An event sent while a node's listening
//! connection was down is missed by that node (PostgreSQL keeps no backlog for a listener
//! that is away); its stream then says `lagged`, as when a subscriber falls behind.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{broadcast, mpsc};

use crate::Service;

/// Events kept for slow subscribers.
pub const CAPACITY: usize = 1024;

pub use types::{Event, EventKind};

/// The PostgreSQL `LISTEN`/`NOTIFY` channel the nodes of a cluster share events on.
pub const CHANNEL: &str = "snapline_events";

/// Largest `NOTIFY` payload PostgreSQL takes is 8000 bytes; an event whose JSON is longer
/// is sent without its `data` (the lists in the API hold it anyway).
const MAX_NOTIFY_BYTES: usize = 7900;

/// Events waiting to be sent to the other nodes; beyond this (the database slow or away)
/// new ones are dropped for the other nodes, and the local stream is unaffected.
const OUTBOX: usize = 4096;

/// The broadcast channel.
pub struct Bus {
    tx: broadcast::Sender<Event>,
    seq: AtomicU64,
    /// Set once the relay runs (several nodes): what this node publishes also goes here.
    outbox: OnceLock<mpsc::Sender<Event>>,
}

/// One event as it travels between nodes: who sent it, and the event.
#[derive(serde::Serialize, serde::Deserialize)]
struct Relayed {
    node: String,
    event: Event,
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

impl Bus {
    /// A bus with no subscribers.
    pub fn new() -> Self {
        Bus {
            tx: broadcast::channel(CAPACITY).0,
            seq: AtomicU64::new(1),
            outbox: OnceLock::new(),
        }
    }

    /// Publishes an event (dropped when nobody listens).
    pub fn publish(
        &self,
        kind: EventKind,
        project_id: &str,
        container_id: Option<&str>,
        data: impl serde::Serialize,
    ) {
        let event = Event {
            id: self.seq.fetch_add(1, Ordering::Relaxed),
            kind,
            project_id: project_id.to_string(),
            container_id: container_id.map(str::to_string),
            at: super::fmt_time(super::now()),
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        };
        if let Some(out) = self.outbox.get()
            && out.try_send(event.clone()).is_err()
        {
            tracing::debug!("the event relay is behind; an event stays on this node");
        }
        let _ = self.tx.send(event);
    }

    /// Tells every subscriber it may have missed events (`lagged`: reload the lists), here
    /// only.
    fn lagged(&self) {
        self.deliver(Event {
            id: 0,
            kind: EventKind::Lagged,
            project_id: String::new(),
            container_id: None,
            at: super::fmt_time(super::now()),
            data: serde_json::json!({}),
        });
    }

    /// Delivers an event another node published, numbered in this node's sequence.
    fn deliver(&self, mut event: Event) {
        event.id = self.seq.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(event);
    }

    /// A new subscription, starting now.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

impl Service {
    /// Shares events with the other nodes of the database (PostgreSQL only: SQLite is one
    /// node's database, and then this returns `None`). Two tasks: one sends what this node
    /// publishes (`pg_notify`), one listens on its own connection and delivers what the
    /// others sent. Both outlive failures: a send that fails is logged and dropped, and the
    /// listener reconnects (its subscribers are told `lagged`, as they may have missed some).
    pub fn spawn_event_relay(&self) -> Option<[tokio::task::JoinHandle<()>; 2]> {
        if engine::Dialect::of(self.db()) != engine::Dialect::Postgres {
            return None;
        }
        let url = self.db().connect_options().database_url.to_string();
        let (tx, mut rx) = mpsc::channel::<Event>(OUTBOX);
        if self.events().outbox.set(tx).is_err() {
            return None;
        }
        let node = self.server_id().to_string();
        let db = self.db().clone();
        let sender = tokio::spawn({
            let node = node.clone();
            async move {
                while let Some(event) = rx.recv().await {
                    let payload = notify_payload(&node, event);
                    if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(&payload)
                        .execute(&db)
                        .await
                    {
                        tracing::warn!(error = %e, "cannot send an event to the other nodes");
                    }
                }
            }
        });
        let svc = self.clone();
        let listener = tokio::spawn(async move { listen(&svc, &url, &node).await });
        Some([sender, listener])
    }
}

/// The `NOTIFY` payload for `event`: without its `data` when it would be too long.
fn notify_payload(node: &str, event: Event) -> String {
    let mut relayed = Relayed {
        node: node.to_string(),
        event,
    };
    let full = serde_json::to_string(&relayed).unwrap_or_default();
    if full.len() <= MAX_NOTIFY_BYTES {
        return full;
    }
    relayed.event.data = serde_json::Value::Null;
    serde_json::to_string(&relayed).unwrap_or_default()
}

/// Receives the other nodes' events until the process ends; see
/// [`Service::spawn_event_relay`].
async fn listen(svc: &Service, url: &str, me: &str) {
    use sqlx::postgres::PgListener;
    let mut listener: Option<PgListener> = None;
    loop {
        let Some(l) = listener.as_mut() else {
            match PgListener::connect(url).await {
                Ok(mut l) => match l.listen(CHANNEL).await {
                    Ok(()) => {
                        listener = Some(l);
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for the other nodes' events")
                    }
                },
                Err(e) => tracing::warn!(error = %e, "cannot listen for the other nodes' events"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            continue;
        };
        match l.try_recv().await {
            Ok(Some(n)) => match serde_json::from_str::<Relayed>(n.payload()) {
                Ok(r) if r.node == me => {}
                Ok(r) => svc.events().deliver(r.event),
                Err(e) => tracing::warn!(error = %e, "an event from another node is unreadable"),
            },
            // The connection was lost: the next call reconnects (and listens again). What
            // was sent meanwhile is gone, so the streams say so.
            Ok(None) => {
                tracing::warn!(
                    "lost the connection that receives the other nodes' events; reconnecting"
                );
                svc.events().lagged();
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot receive the other nodes' events; retrying");
                listener = None;
                svc.events().lagged();
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }
    }
}

/// Engine progress reports, forwarded as `progress` events.
pub struct ProgressEvents {
    pub bus: std::sync::Arc<crate::Service>,
    pub project_id: String,
    pub container_id: String,
    pub operation: types::Operation,
}

impl engine::Progress for ProgressEvents {
    fn update(&self, u: engine::ProgressUpdate) {
        // The engine reports figures only while it captures a snapshot.
        let phase = match u.phase {
            "snapshot" => types::Phase::Snapshot,
            _ => types::Phase::Unknown,
        };
        self.bus.events().publish(
            types::EventKind::Progress,
            &self.project_id,
            Some(&self.container_id),
            types::ProgressData {
                operation: self.operation,
                phase,
                files: u.files,
                bytes: u.bytes,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: serde_json::Value) -> Event {
        Event {
            id: 7,
            kind: EventKind::SnapshotCreated,
            project_id: "p".into(),
            container_id: Some("c".into()),
            at: "2026-12-01T00:00:00.000Z".into(),
            data,
        }
    }

    /// An event crosses to the other nodes whole when it fits PostgreSQL's payload limit,
    /// and without its `data` (never cut mid-JSON) when it does not.
    #[test]
    fn notify_payloads_fit_postgres_limit() {
        let small = notify_payload("n1", event(serde_json::json!({"name": "s"})));
        let back: Relayed = serde_json::from_str(&small).unwrap();
        assert_eq!(back.node, "n1");
        assert_eq!(back.event, event(serde_json::json!({"name": "s"})));

        let big = notify_payload("n1", event(serde_json::json!({"x": "y".repeat(10_000)})));
        assert!(big.len() <= MAX_NOTIFY_BYTES, "{}", big.len());
        let back: Relayed = serde_json::from_str(&big).unwrap();
        assert_eq!(back.event.data, serde_json::Value::Null);
        assert_eq!(back.event.kind, EventKind::SnapshotCreated);
        assert_eq!(back.event.container_id.as_deref(), Some("c"));
    }

    /// Delivered events are numbered in this node's own sequence, after its own.
    #[tokio::test]
    async fn delivered_events_take_this_nodes_numbers() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        bus.publish(
            EventKind::ContainerCreated,
            "p",
            None,
            serde_json::json!({}),
        );
        bus.deliver(event(serde_json::json!({})));
        bus.lagged();
        let ids: Vec<u64> = (0..3).map(|_| rx.try_recv().unwrap().id).collect();
        assert_eq!(ids, vec![1, 2, 3]);
    }
}
