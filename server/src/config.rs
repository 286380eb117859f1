//! The command line. Every option can also come from an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Snapline: time travel for containers.
#[derive(Debug, Parser)]
#[command(name = "snapline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API and the dashboard.
    ///
    /// On first start an admin token is created, printed once and saved in the data
    /// directory (file `admin-token`, mode 0600), unless SNAPLINE_ADMIN_TOKEN sets it.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "SNAPLINE_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Directory for containers, the snapshot store and (by default) the database.
    /// Created if missing.
    #[arg(long, env = "SNAPLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Metadata database URL. Defaults to an SQLite file `snapline.db` inside the data
    /// directory. Migrations run at start.
    #[arg(long, env = "SNAPLINE_DATABASE_URL")]
    pub database_url: Option<String>,

    /// Directory with the dashboard's compiled assets (the `target/site` that
    /// `cargo leptos build` writes). Defaults to `../site` next to the executable,
    /// then `./target/site`.
    #[arg(long, env = "LEPTOS_SITE_ROOT")]
    pub site_root: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_match_the_readme() {
        let cli = Cli::try_parse_from(["snapline", "serve"]).unwrap();
        let Command::Serve(args) = cli.command;
        assert_eq!(args.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(args.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn a_malformed_listen_address_is_refused() {
        let err = Cli::try_parse_from(["snapline", "serve", "--listen", "localhost"]).unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
    }
}
