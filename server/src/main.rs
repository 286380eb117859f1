//! The `snapline` binary. `main` only parses the command line and wires things together.

use std::process::ExitCode;

use clap::Parser;
use snapline_server::config::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_when_stdout_closes();
    }
    snapline_server::logging::init();
    let result = match cli.command {
        Command::Serve(args) => snapline_server::serve::run(args).await,
        Command::Snapshots(c) => snapline_server::cli::snapshots(cli.remote, c).await,
        Command::Containers(c) => snapline_server::cli::containers(cli.remote, c).await,
        Command::Images(c) => snapline_server::cli::images(cli.remote, c).await,
        Command::Projects(c) => snapline_server::cli::projects(cli.remote, c).await,
        Command::Servers(c) => snapline_server::cli::servers(cli.remote, c).await,
        Command::Schedule(c) => snapline_server::cli::schedule(cli.remote, c).await,
        Command::Token(c) => snapline_server::cli::token(c).await,
        Command::Api(a) => snapline_server::cli::api(cli.remote, a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err)
            if err
                .downcast_ref::<snapline_server::cli::StdoutClosed>()
                .is_some() =>
        {
            die_of_sigpipe()
        }
        Err(err) => {
            // The error chain is the message: each layer says what it was doing.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// A client whose output is cut short (`snapline … | head`) ends as Unix tools do: killed by
/// SIGPIPE, without a word. Only standard output is meant: SIGPIPE stays ignored (Rust's
/// default) for sockets, where a server that refuses an upload before reading it all must
/// reach the user as the server's answer, not as a silent death (`writev` on a closed socket
/// raises SIGPIPE; `send` does not).
fn end_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // `println!` panics with this when its reader went away.
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            die_of_sigpipe();
        }
        default(info);
    }));
}

/// Ends the process as the default SIGPIPE action does, standard output being closed.
fn die_of_sigpipe() -> ! {
    use std::io::Write;
    // With the default action back, a write to the closed pipe raises SIGPIPE, which ends
    // the process without a word.
    sigpipe::reset();
    let mut out = std::io::stdout();
    let _ = out.write_all(b"\n").and_then(|()| out.flush());
    std::process::exit(141)
}
