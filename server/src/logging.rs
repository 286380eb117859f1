//! Logging setup: `tracing` to stderr, filtered by `SNAPLINE_LOG` or `RUST_LOG`.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Defaults to `info` for Snapline and `warn` for libraries.
pub fn init() {
    let filter = std::env::var("SNAPLINE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| {
            "warn,snapline=info,snapline_server=info,service=info,engine=info".into()
        });
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warning: ignoring the log filter {filter:?}: {e}");
        EnvFilter::new("warn,snapline_server=info")
    });
    // try_init: tests may install their own subscriber first.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
