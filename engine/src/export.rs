//! `export`: a snapshot's whole root as a tar stream (encoded by [`crate::tarball`]).
//!
//! Nothing is buffered whole. The archive is written on a blocking thread into a bounded
//! channel, piece by piece; the reader ([`TarExport`]) takes the pieces as it can send them
//! on, so a slow reader slows the writer and memory stays at a few pieces plus one chunk.
//! Dropping the reader stops the writer at its next piece.
//!
//! The export resolves its snapshot under the GC lease and pins the snapshot's tree before
//! it lets the lease go (`Engine::pin`); the pin lasts until the last piece is written.
//! So a collection that runs meanwhile keeps every object the export will read, even if the
//! snapshot is deleted, and objects it repacks are followed to their new pack. An export to
//! a slow reader never holds GC back, and so never holds back the snapshots that would
//! queue behind a waiting GC.

use std::task::{Context, Poll};

use tokio::sync::mpsc;

use crate::catalog::SnapshotInfo;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::ids::ContainerId;
use crate::materialize::load_root;
use crate::tarball::write_tar;

/// How [`Engine::export`] hands out the stream.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Bytes per piece (at least 512; default 256 KiB).
    pub piece_bytes: usize,
    /// Pieces written ahead of the reader (at least 1; default 4). Memory of an export is
    /// about `piece_bytes * (queue + 2)` plus one chunk.
    pub queue: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            piece_bytes: 256 * 1024,
            queue: 4,
        }
    }
}

/// What travels from the writer to the reader: a piece, the end of a complete archive
/// (`Ok(None)`), or the error that ended it.
type Item = Result<Option<Vec<u8>>, EngineError>;

/// A running export: the tar stream of one snapshot, in pieces.
///
/// The stream is complete only when [`TarExport::next_piece`] returns `None`; an error is
/// always the last item, and a writer that stopped without finishing (a panic) shows up as
/// an error too, never as a short archive that looks whole.
pub struct TarExport {
    snapshot: SnapshotInfo,
    rx: mpsc::Receiver<Item>,
    done: bool,
}

impl std::fmt::Debug for TarExport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TarExport")
            .field("snapshot", &self.snapshot.name)
            .field("done", &self.done)
            .finish()
    }
}

impl TarExport {
    /// The snapshot being exported (its name, even when it was asked for by alias).
    pub fn snapshot(&self) -> &SnapshotInfo {
        &self.snapshot
    }

    /// The next piece of the archive; `None` once the archive is complete. After an error
    /// (damaged data, a failed read), `None` follows.
    pub async fn next_piece(&mut self) -> Option<Result<Vec<u8>, EngineError>> {
        std::future::poll_fn(|cx| self.poll_piece(cx)).await
    }

    /// [`TarExport::next_piece`] for hand-written streams.
    pub fn poll_piece(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Vec<u8>, EngineError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let item = match self.rx.poll_recv(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        Poll::Ready(match item {
            Some(Ok(Some(piece))) => Some(Ok(piece)),
            Some(Ok(None)) => {
                self.done = true;
                None
            }
            Some(Err(e)) => {
                self.done = true;
                Some(Err(e))
            }
            None => {
                self.done = true;
                Some(Err(EngineError::Invalid(format!(
                    "the export of snapshot {} stopped before the end of the archive (its \
                     worker failed)",
                    self.snapshot.name
                ))))
            }
        })
    }
}

/// A `Write` that cuts what it is given into pieces and sends each into the channel,
/// waiting while the channel is full.
struct PieceWriter {
    tx: mpsc::Sender<Item>,
    buf: Vec<u8>,
    piece: usize,
}

impl PieceWriter {
    fn send(&mut self) -> std::io::Result<()> {
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(self.piece));
        self.tx.blocking_send(Ok(Some(piece))).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the reader of the export went away",
            )
        })
    }
}

impl std::io::Write for PieceWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(self.piece - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == self.piece {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

impl Engine {
    /// Starts exporting snapshot `name_or_alias` of container `c` (by name, or by an
    /// unambiguous alias; works after the container was deleted) as a tar stream of its whole
    /// root: see [`crate::tarball`] for the format.
    ///
    /// Errors before the first byte: [`EngineError::NoSuchSnapshot`],
    /// [`EngineError::AmbiguousAlias`], or a damaged root tree. Errors after it end the
    /// stream (see [`TarExport`]).
    pub async fn export(
        &self,
        c: &ContainerId,
        name_or_alias: &str,
        options: ExportOptions,
    ) -> Result<TarExport, EngineError> {
        // The lease first: a collection cannot run between resolving the snapshot and
        // pinning its tree. Then the pin alone keeps the tree's objects.
        let lease = self.lease().await?;
        let snapshot = self.get(c, name_or_alias).await?;
        let top = snapshot.top_tree;
        let pin = self.pin(lease, top).await?;
        // A shared store: the pin is now in the database, where every node's GC sees it. A
        // collection that marked before it was written kept the tree only if the snapshot
        // still existed then, so the snapshot must exist still (deletion is final).
        if self.inner.remote.is_some() {
            self.get(c, &snapshot.name).await?;
        }
        let root = self
            .blocking(move |e| Ok(load_root(&e.inner.store, &top)?))
            .await?;
        let (tx, rx) = mpsc::channel::<Item>(options.queue.max(1));
        let piece = options.piece_bytes.max(512);
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            let _pin = pin;
            let mut out = PieceWriter {
                tx: tx.clone(),
                buf: Vec::with_capacity(piece),
                piece,
            };
            let last = write_tar(&engine.inner.store, &root, &mut out).map(|_| None);
            // A reader that went away wants nothing more, not even the error.
            if !tx.is_closed() {
                let _ = tx.blocking_send(last);
            }
        });
        Ok(TarExport {
            snapshot,
            rx,
            done: false,
        })
    }
}
