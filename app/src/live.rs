//! Live updates: the browser listens to the dashboard's `/live/events` stream and tells the
//! page when to reload its data and what is running now.
//!
//! Events only say *when* to look again; the data itself is always reloaded through the
//! server functions, so a missed or duplicated event cannot show anything wrong.

use leptos::prelude::*;

use types::{EventKind, Operation};

use crate::model::LiveEvent;

/// What a page learns from the stream.
#[derive(Clone, Copy)]
pub struct Live {
    /// Increases whenever something the page shows may have changed.
    pub changes: ReadSignal<u64>,
    /// The operation running now on the watched container(s), if any.
    pub progress: ReadSignal<Option<LiveEvent>>,
}

/// Listens while the calling component is mounted, from the moment `enabled` first says
/// so (a page enables it once its data loaded: a signed-out page opens no stream). `watch`
/// says which container's events matter (`None`: every container's). On the server this
/// only creates the signals.
pub fn use_live(
    watch: impl Fn() -> Option<String> + Send + Sync + 'static,
    enabled: impl Fn() -> bool + Send + Sync + 'static,
) -> Live {
    let (changes, set_changes) = signal(0u64);
    let (progress, set_progress) = signal(None::<LiveEvent>);
    let on_event = move |e: LiveEvent| {
        let wanted = watch();
        let mine = wanted.is_none() || e.container_id.is_none() || e.container_id == wanted;
        if !mine && e.kind != EventKind::Lagged {
            return;
        }
        if e.kind == EventKind::Progress {
            let done = e.progress.as_ref().is_none_or(|p| p.phase.is_done());
            set_progress.set((!done).then_some(e));
        } else {
            if e.kind.is_snapshot() {
                set_progress.set(None);
            }
            set_changes.update(|n| *n += 1);
        }
    };
    #[cfg(feature = "hydrate")]
    listen(on_event, enabled);
    #[cfg(not(feature = "hydrate"))]
    let _ = (on_event, enabled);
    Live { changes, progress }
}

/// Opens the EventSource once `enabled`, after hydration, and closes it when the component
/// unmounts (the cleanup belongs to the component, not to the effect that starts it).
#[cfg(feature = "hydrate")]
fn listen(on_event: impl Fn(LiveEvent) + 'static, enabled: impl Fn() -> bool + 'static) {
    let (stop, stopped) = futures_channel::oneshot::channel::<()>();
    let stop = std::sync::Mutex::new(Some(stop));
    on_cleanup(move || {
        if let Some(tx) = stop.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(());
        }
    });
    let start = std::cell::Cell::new(Some((on_event, stopped)));
    Effect::new(move |_| {
        if !enabled() {
            return;
        }
        if let Some((on_event, stopped)) = start.take() {
            spawn(on_event, stopped);
        }
    });
}

#[cfg(feature = "hydrate")]
fn spawn(on_event: impl Fn(LiveEvent) + 'static, stopped: futures_channel::oneshot::Receiver<()>) {
    use futures_util::StreamExt;
    use gloo_net::eventsource::futures::EventSource;
    leptos::task::spawn_local(async move {
        let Ok(mut source) = EventSource::new("/live/events") else {
            return;
        };
        let Ok(messages) = source.subscribe("message") else {
            return;
        };
        let mut messages = messages.take_until(stopped);
        // Errors (the server restarting, say) are retried by the browser itself.
        while let Some(item) = messages.next().await {
            let Ok((_, msg)) = item else { continue };
            let Some(text) = msg.data().as_string() else {
                continue;
            };
            if let Ok(e) = serde_json::from_str::<LiveEvent>(&text) {
                on_event(e);
            }
        }
        source.close();
    });
}

/// A sentence for a running operation: "Taking a snapshot: 1,204 files, 48.2 MB so far".
pub fn describe(e: &LiveEvent) -> String {
    let Some(p) = &e.progress else {
        return "Working…".to_string();
    };
    let counts = if p.files > 0 {
        format!(
            ": {}, {} so far",
            crate::model::count(p.files as usize, "file", "files"),
            crate::model::human_bytes(p.bytes)
        )
    } else {
        "…".to_string()
    };
    match p.operation {
        Operation::Snapshot => format!("Taking a snapshot{counts}"),
        Operation::Restore => "Restoring: the container's files are being put back…".to_string(),
        Operation::Copy => "Copying into a new container…".to_string(),
        Operation::Unknown => format!("Working{counts}"),
    }
}
