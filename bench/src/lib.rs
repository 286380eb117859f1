//! What Snapline's benchmark programs share (`src/bin/`): a deterministic generator for
//! their data, percentiles, and a real `snapline serve` started as a child process; and the
//! parts of `snapline-bench` (the engine side by side with cp, tar and restic): its trees
//! ([`tree`]), the tools it runs ([`tools`]) on fresh filesystems ([`fresh_fs`]), and its
//! report ([`report`]).
//!
//! The programs are benchmarks, not tests: they print what they measured and whether each
//! bar was met, and a slow or noisy machine never makes them fail.

pub mod fresh_fs;
pub mod report;
pub mod rng;
pub mod s3;
pub mod server;
pub mod stats;
pub mod tools;
pub mod tree;

pub use rng::XorShift;
pub use server::{Server, SnaplineArgs, start};
pub use stats::{human_bytes, percentile};

/// A progress line on stderr, `bench: MSG` (stdout carries only the report).
pub fn say(msg: impl AsRef<str>) {
    eprintln!("bench: {}", msg.as_ref());
}

/// Logging for a benchmark program: `tracing` to stderr at `warn` (libraries such as sqlx
/// report there), or what `RUST_LOG` says.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The exit code of a benchmark program; an error is printed with its whole chain, since
/// each layer says what it was doing.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
