//! `snapline snapshots export`: a snapshot's tar archive, written as it streams, to standard
//! output or to a file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use super::{Client, enc};

/// `snapline snapshots export --container C --name N [--output FILE]`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The container's id.
    #[arg(long)]
    pub container: String,
    /// The snapshot's name (or its alias, when exactly one snapshot has it).
    #[arg(long)]
    pub name: String,
    /// Write the archive to this file instead of standard output (it appears only once the
    /// archive is complete).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

/// Where the archive goes: standard output, or a partial file renamed into place at the end
/// (so an interrupted export never leaves a file that looks complete).
enum Sink {
    Stdout(tokio::io::Stdout),
    File {
        file: tokio::fs::File,
        partial: PathBuf,
        target: PathBuf,
    },
}

pub(super) async fn run(c: &Client, args: ExportArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if args.output.is_none() && std::io::stdout().is_terminal() {
        bail!(
            "refusing to write a tar archive to a terminal: redirect standard output \
             (`snapline snapshots export ... > snapshot.tar`) or pass --output FILE"
        );
    }
    let path = format!(
        "/api/v1/containers/{}/snapshots/{}/export",
        enc(&args.container),
        enc(&args.name)
    );
    // Ask first: a refused export (unknown snapshot, bad token) creates no file.
    let resp = c.get_stream(&path).await?;
    let mut sink = match &args.output {
        None => Sink::Stdout(tokio::io::stdout()),
        Some(target) => {
            let mut partial = target.clone().into_os_string();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = tokio::fs::File::create(&partial)
                .await
                .with_context(|| format!("cannot create {}", partial.display()))?;
            Sink::File {
                file,
                partial,
                target: target.clone(),
            }
        }
    };
    let result = copy(resp, &mut sink).await;
    match (sink, result) {
        (Sink::Stdout(_), Ok(n)) => {
            eprintln!("Exported snapshot {} ({n} bytes)", args.name);
            Ok(())
        }
        (
            Sink::File {
                partial, target, ..
            },
            Ok(n),
        ) => {
            tokio::fs::rename(&partial, &target)
                .await
                .with_context(|| format!("cannot rename {} into place", partial.display()))?;
            eprintln!(
                "Exported snapshot {} to {} ({n} bytes)",
                args.name,
                target.display()
            );
            Ok(())
        }
        (Sink::File { partial, .. }, Err(e)) => {
            let _ = tokio::fs::remove_file(&partial).await;
            Err(e)
        }
        (Sink::Stdout(_), Err(e)) => Err(e),
    }
}

/// Copies the answer's body into `sink` as it arrives; returns the bytes written.
async fn copy(resp: reqwest::Response, sink: &mut Sink) -> anyhow::Result<u64> {
    let mut body = resp.bytes_stream();
    let mut written = 0u64;
    while let Some(piece) = body.next().await {
        let piece = piece.map_err(|e| {
            anyhow::anyhow!(
                "the export broke off after {written} bytes ({}); the archive is incomplete \
                 (the server's log says why)",
                crate::proxy::causes(&e)
            )
        })?;
        match sink {
            Sink::Stdout(out) => out.write_all(&piece).await.map_err(stdout_error)?,
            Sink::File { file, .. } => file
                .write_all(&piece)
                .await
                .context("cannot write the archive")?,
        }
        written += piece.len() as u64;
    }
    match sink {
        Sink::Stdout(out) => out.flush().await.map_err(stdout_error)?,
        Sink::File { file, .. } => file.sync_all().await.context("cannot write the archive")?,
    }
    Ok(written)
}

/// A failed write to standard output: its reader going away is [`super::StdoutClosed`]
/// (the command then ends as Unix tools do), anything else an error that says so.
fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        anyhow::Error::new(super::StdoutClosed)
    } else {
        anyhow::Error::new(e).context("cannot write the archive")
    }
}
