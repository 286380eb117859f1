//! Export: a snapshot's whole root as a tar stream, for a front end to send on as it comes.
//!
//! The stream ends with an error (never early and clean) when the engine finds damage, so a
//! front end that passes the error on aborts its transfer and the client sees a failure,
//! not a short archive. How an export ended (complete, failed, abandoned by its reader) is
//! logged here, once, whatever the front end.

use std::pin::Pin;
use std::task::{Context, Poll};

use engine::{ContainerId, ExportOptions, TarExport};

use super::{Caller, Service};
use crate::error::ServiceError;

/// A snapshot's tar stream: pieces of at most 256 KiB, each sent on before the next is made.
/// Dropping it stops the export.
pub struct TarStream {
    export: TarExport,
    container: ContainerId,
    /// Bytes handed out so far.
    sent: u64,
    /// Whether the stream reached its end (complete or failed).
    ended: bool,
}

impl futures_core::Stream for TarStream {
    type Item = Result<bytes::Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.ended {
            return Poll::Ready(None);
        }
        Poll::Ready(match std::task::ready!(this.export.poll_piece(cx)) {
            Some(Ok(piece)) => {
                this.sent += piece.len() as u64;
                Some(Ok(bytes::Bytes::from(piece)))
            }
            Some(Err(e)) => {
                this.ended = true;
                tracing::error!(
                    container = %this.container,
                    snapshot = %this.export.snapshot().name,
                    sent = this.sent,
                    "export failed, its transfer is aborted: {e}"
                );
                Some(Err(std::io::Error::other(format!(
                    "the export of snapshot {} failed: {e}",
                    this.export.snapshot().name
                ))))
            }
            None => {
                this.ended = true;
                tracing::info!(
                    container = %this.container,
                    snapshot = %this.export.snapshot().name,
                    bytes = this.sent,
                    "export complete"
                );
                None
            }
        })
    }
}

impl Drop for TarStream {
    fn drop(&mut self) {
        if !self.ended {
            tracing::info!(
                container = %self.container,
                snapshot = %self.export.snapshot().name,
                sent = self.sent,
                "export stopped: its reader went away"
            );
        }
    }
}

/// A started export: what to call the file, and its bytes.
pub struct Export {
    /// `<container>-<snapshot>.tar`, safe in a header ([`export_file_name`]).
    pub file_name: String,
    /// The archive.
    pub stream: TarStream,
}

/// The file name an export is saved under: `<container>-<snapshot>.tar`, with anything but
/// letters, digits, `.`, `-` and `_` replaced (it goes into a header).
pub fn export_file_name(container: &str, snapshot: &str) -> String {
    let clean = |s: &str| {
        s.replace(
            |c: char| !c.is_ascii_alphanumeric() && !".-_".contains(c),
            "_",
        )
    };
    format!("{}-{}.tar", clean(container), clean(snapshot))
}

impl Service {
    /// Starts exporting a snapshot (by name, or by an unambiguous alias) of a container the
    /// caller sees, deleted or not, as a tar stream of its whole root.
    ///
    /// Errors before the stream starts: the container is not among the caller's (not
    /// found), no such snapshot (not found), an ambiguous alias (conflict), damaged data
    /// at the root. Damage found later ends the stream with an error (see [`TarStream`]).
    pub async fn export_snapshot(
        &self,
        caller: &Caller,
        id: &ContainerId,
        name: &str,
    ) -> Result<Export, ServiceError> {
        let c = self.container_row(caller, id).await?;
        let export = self
            .engine()
            .export(&c.id, name, ExportOptions::default())
            .await?;
        tracing::info!(container = %c.id, snapshot = %export.snapshot().name, "export started");
        Ok(Export {
            file_name: export_file_name(&c.name, &export.snapshot().name),
            stream: TarStream {
                export,
                container: c.id,
                sent: 0,
                ended: false,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_file_names_are_safe_in_a_header() {
        assert_eq!(
            export_file_name("web", "snap-20251109-143045"),
            "web-snap-20251109-143045.tar"
        );
        assert_eq!(
            export_file_name("a \"b\"\r\n", "snap/x"),
            "a__b___-snap_x.tar"
        );
    }
}
