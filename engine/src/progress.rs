//! `progress`: how a long operation reports how far it got. The engine never prints; the
//! caller implements [`Progress`] and decides what to show.

/// Receives the progress of a long operation. Called from a worker thread now and then
/// (every few hundred files), never for every file.
pub trait Progress: Send + Sync {
    /// What is done so far.
    fn update(&self, update: ProgressUpdate);
}

/// One progress report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressUpdate {
    /// What is running: `snapshot`.
    pub phase: &'static str,
    /// Regular files handled so far.
    pub files: u64,
    /// Logical bytes of those files.
    pub bytes: u64,
}
