//! What happens, as a stream: `GET /api/v1/events` (Server-Sent Events) reads from here.
//!
//! Events are broadcast in memory; a subscriber that falls more than [`CAPACITY`] events
//! behind skips the oldest (and is told so). Nothing is persisted: the lists in the API are
//! the source of truth, events only say when to look again.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

/// Events kept for slow subscribers.
pub const CAPACITY: usize = 1024;

pub use types::{Event, EventKind};

/// The broadcast channel.
pub struct Bus {
    tx: broadcast::Sender<Event>,
    seq: AtomicU64,
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
        let _ = self.tx.send(event);
    }

    /// A new subscription, starting now.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
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
