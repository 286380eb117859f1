//! Point-in-time captures: [`FreezeHooks`] freeze a running container (the cgroup freezer,
//! `runc pause`) right before the engine reads its tree and thaw it right after; [`Frozen`]
//! is the guard that makes the thaw certain (see the module above for the crash case).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::runc::Runc;
use super::{Bundle, Runtime};

impl Runtime {
    /// Freezes a running container for a point-in-time capture; `None` when there is
    /// nothing to freeze (not running, already paused by a user, or freezing turned off
    /// for a test). The guard thaws it. Blocking (two runc processes, about 20 ms): it runs
    /// where the capture runs, on the engine's worker thread ([`FreezeHooks`]).
    pub fn freeze_blocking(&self, id: &str, bundle: &Bundle) -> Result<Option<Frozen>, String> {
        if !self.freeze || !self.is_running(id) {
            return Ok(None);
        }
        let Some(runc) = self.runc.clone() else {
            return Ok(None);
        };
        match runc.state_blocking(id) {
            Some(s) if s.status == "running" => {}
            _ => return Ok(None),
        }
        // The marker first: a crash between pause and resume is thawed at the next start.
        std::fs::write(bundle.freeze_marker(), b"")
            .map_err(|e| format!("cannot mark the freeze: {e}"))?;
        if let Err(e) = runc.pause_blocking(id) {
            let _ = std::fs::remove_file(bundle.freeze_marker());
            return Err(e);
        }
        // Frozen from here (runc returns once the freezer reports FROZEN) until the resume
        // returns: the window reported is that, runc's own start-up on either side aside.
        let since = Instant::now();
        Ok(Some(Frozen(Arc::new(FrozenInner {
            runc,
            id: id.to_string(),
            marker: bundle.freeze_marker(),
            since,
            window: Mutex::new(None),
        }))))
    }
}

/// The engine's [`engine::ReadHooks`] for a point-in-time snapshot: freeze right before the
/// live tree is read (every lock already held), thaw right after. [`FreezeHooks::window`]
/// says how long it was frozen.
pub struct FreezeHooks {
    runtime: Arc<Runtime>,
    id: String,
    bundle: Bundle,
    frozen: Mutex<Option<Frozen>>,
    window: Mutex<Option<Duration>>,
}

impl FreezeHooks {
    pub fn new(runtime: Arc<Runtime>, id: &str, bundle: Bundle) -> Self {
        FreezeHooks {
            runtime,
            id: id.to_string(),
            bundle,
            frozen: Mutex::new(None),
            window: Mutex::new(None),
        }
    }

    /// How long the container was frozen (`None`: it was not).
    pub fn window(&self) -> Option<Duration> {
        *self.window.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl engine::ReadHooks for FreezeHooks {
    fn before_read(&self) -> Result<(), String> {
        let f = self.runtime.freeze_blocking(&self.id, &self.bundle)?;
        *self.frozen.lock().unwrap_or_else(|p| p.into_inner()) = f;
        Ok(())
    }

    fn after_read(&self) {
        let f = self.frozen.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(f) = f {
            *self.window.lock().unwrap_or_else(|p| p.into_inner()) = f.thaw_blocking();
            // A failed thaw: `f` drops here and tries once more; the marker stays for the
            // next start.
        }
    }
}

/// A container frozen for a capture. Clones share one freeze: the first
/// [`Frozen::thaw_blocking`] resumes it and fixes the window; when the last clone is dropped
/// without a thaw (an error, a panic), it is resumed then.
#[derive(Clone)]
pub struct Frozen(Arc<FrozenInner>);

struct FrozenInner {
    runc: Arc<Runc>,
    id: String,
    marker: PathBuf,
    since: Instant,
    /// How long it was frozen, once thawed.
    window: Mutex<Option<Duration>>,
}

impl FrozenInner {
    /// Resumes the container unless done already; keeps the marker if runc fails, so the
    /// next start thaws it.
    fn thaw(&self) -> Option<Duration> {
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if window.is_none() && self.runc.resume_blocking(&self.id) {
            *window = Some(self.since.elapsed());
            let _ = std::fs::remove_file(&self.marker);
        }
        *window
    }
}

impl Frozen {
    /// Resumes the container now (a runc process: about 10 ms; blocking, for the engine's
    /// worker thread). Returns how long it was frozen; `None` if runc could not resume it
    /// (then the drop tries again, and the next start after that).
    pub fn thaw_blocking(&self) -> Option<Duration> {
        self.0.thaw()
    }
}

impl Drop for FrozenInner {
    fn drop(&mut self) {
        self.thaw();
    }
}
