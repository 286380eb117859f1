//! The `snapline` binary. `main` only parses the command line and wires things together.

use std::process::ExitCode;

use clap::Parser;
use snapline_server::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    snapline_server::logging::init();
    let result = match cli.command {
        Command::Serve(args) => snapline_server::serve::run(args).await,
        Command::Bench(args) => snapline_server::bench::run(args).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The error chain is the message: each layer says what it was doing.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
