//! The `snapline` binary. `main` only parses the command line and wires things together.

use std::process::ExitCode;

use clap::Parser;
use snapline_server::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        // A client whose output is cut short (`| head`) ends as Unix tools do. The server
        // keeps Rust's default (SIGPIPE ignored): a closed pipe to a child is an error
        // there, never a reason to die.
        sigpipe::reset();
    }
    snapline_server::logging::init();
    let result = match cli.command {
        Command::Serve(args) => snapline_server::serve::run(args).await,
        Command::Snapshots(c) => snapline_server::cli::snapshots(cli.remote, c).await,
        Command::Containers(c) => snapline_server::cli::containers(cli.remote, c).await,
        Command::Images(c) => snapline_server::cli::images(cli.remote, c).await,
        Command::Projects(c) => snapline_server::cli::projects(cli.remote, c).await,
        Command::Schedule(c) => snapline_server::cli::schedule(cli.remote, c).await,
        Command::Token(c) => snapline_server::cli::token(c).await,
        Command::Api(a) => snapline_server::cli::api(cli.remote, a).await,
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
