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
    #[command(flatten)]
    pub remote: crate::cli::Remote,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API and the dashboard.
    ///
    /// On first start an admin token is created, printed once and saved in the data
    /// directory (file `admin-token`, mode 0600), unless SNAPLINE_ADMIN_TOKEN sets it.
    Serve(ServeArgs),
    /// Snapshots of a container: create, list, restore, export, delete (talks to a server).
    #[command(subcommand)]
    Snapshots(crate::cli::SnapshotsCmd),
    /// Containers: list, create, get, start, stop, pause, resume, delete, exec, copy (talks to
    /// a server).
    #[command(subcommand)]
    Containers(crate::cli::ContainersCmd),
    /// Images: list, import a root filesystem tar, publish a snapshot, delete (talks to a
    /// server).
    #[command(subcommand)]
    Images(crate::cli::ImagesCmd),
    /// Projects: list, create, delete (talks to a server).
    #[command(subcommand)]
    Projects(crate::cli::ProjectsCmd),
    /// The nodes serving from this server's database: list, get (talks to a server).
    #[command(subcommand)]
    Servers(crate::cli::ServersCmd),
    /// A container's automatic snapshots and keep policy: get, set, delete, preview (talks
    /// to a server).
    #[command(subcommand)]
    Schedule(crate::cli::ScheduleCmd),
    /// API tokens: create, list, revoke (on the server's own database).
    #[command(subcommand)]
    Token(crate::cli::TokenCmd),
    /// Send any request to the REST API and print the answer (what the API docs' "CLI"
    /// snippets run). The status goes to standard error; a 4xx or 5xx exits non-zero.
    Api(crate::cli::ApiArgs),
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

    /// Requests per second allowed per token (sustained); more get 429.
    #[arg(long, env = "SNAPLINE_RATE_LIMIT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate_limit: u32,

    /// Requests a token may send at once above the sustained rate.
    #[arg(long, env = "SNAPLINE_RATE_BURST", default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_burst: u32,

    /// Snapshots, copies and imports are refused (507) when less than this many MiB are free.
    #[arg(long, env = "SNAPLINE_MIN_FREE_MB", default_value_t = 256)]
    pub min_free_mb: u64,

    /// Largest image tar accepted, in MiB.
    #[arg(long, env = "SNAPLINE_MAX_IMAGE_MB", default_value_t = 8192)]
    pub max_image_mb: u64,

    /// Seconds a second operation on a busy container waits before answering 409.
    #[arg(long, env = "SNAPLINE_LOCK_WAIT_S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub lock_wait_s: u64,

    /// Seconds `stop` waits after SIGTERM before SIGKILL.
    #[arg(long, env = "SNAPLINE_STOP_TIMEOUT_S", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub stop_timeout_s: u64,

    /// Seconds between runs of the background jobs (expiry, GC, schedules).
    #[arg(long, env = "SNAPLINE_JOB_INTERVAL_S", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub job_interval_s: u64,

    /// Do not make the demo project (a container with a few snapshots) on the first start
    /// of an empty data directory.
    #[arg(long, env = "SNAPLINE_NO_DEMO")]
    pub no_demo: bool,

    /// Proxy mode: serve the dashboard for another Snapline (or Hoody-compatible) server at
    /// this base URL (http or https, like http://10.0.0.5:3000). Users sign in with that
    /// server's tokens, every action happens there, and this node's /api/v1 forwards to it.
    /// The data directory then holds only this node's own database.
    #[arg(long, env = "SNAPLINE_UPSTREAM", value_name = "URL", value_parser = crate::proxy::Upstream::parse)]
    pub upstream: Option<crate::proxy::Upstream>,

    /// Where snapshot packs live: `local` (the data directory's store/) or
    /// `s3://BUCKET[/PREFIX]`, a bucket the nodes of a cluster share. The endpoint, region
    /// and credentials come from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and AWS_ALLOW_HTTP, or from the --s3-* flags. A database keeps
    /// one store for good.
    #[arg(long, env = "SNAPLINE_STORE", value_name = "local|s3://BUCKET[/PREFIX]", default_value = "local", value_parser = parse_store)]
    pub store: String,

    /// MiB of S3 data packs this node keeps in `<data-dir>/cache` (tree packs and footers
    /// are kept on top). Only with an S3 store.
    #[arg(long, env = "SNAPLINE_CACHE_MB", default_value_t = 2048, value_parser = clap::value_parser!(u64).range(64..=16_777_216))]
    pub cache_mb: u64,

    /// The URL other nodes reach this node's API at, when several nodes share a database
    /// and an S3 store: calls about a container that arrive at another node are forwarded
    /// here. Defaults to http:// and the bound address (127.0.0.1 when listening on all
    /// addresses), which fits nodes on one host; give the host's reachable address for
    /// nodes on several hosts.
    #[arg(long, env = "SNAPLINE_ADVERTISE_URL", value_name = "URL", value_parser = crate::proxy::Upstream::parse)]
    pub advertise_url: Option<crate::proxy::Upstream>,

    /// The S3 endpoint, e.g. http://127.0.0.1:3900 (instead of AWS_ENDPOINT_URL).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// The S3 region (instead of AWS_REGION; Garage's default is `garage`).
    #[arg(long)]
    pub s3_region: Option<String>,

    /// The S3 access key id (instead of AWS_ACCESS_KEY_ID).
    #[arg(long)]
    pub s3_access_key_id: Option<String>,

    /// The S3 secret key (instead of AWS_SECRET_ACCESS_KEY, which keeps it out of `ps`).
    #[arg(long)]
    pub s3_secret_access_key: Option<String>,

    /// Allow a plain http:// S3 endpoint (instead of AWS_ALLOW_HTTP=true).
    #[arg(long)]
    pub s3_allow_http: bool,
}

/// `--store`: `local`, or an S3 URL whose bucket and prefix are valid.
fn parse_store(s: &str) -> Result<String, String> {
    if s == "local" {
        return Ok(s.to_string());
    }
    engine::s3::parse_url(s)?;
    Ok(s.trim_end_matches('/').to_string())
}

impl ServeArgs {
    /// The engine's store these options name, its cache in `<data_dir>/cache`.
    pub fn store_config(&self, data_dir: &std::path::Path) -> engine::StoreConfig {
        if self.store == "local" {
            return engine::StoreConfig::Local;
        }
        engine::StoreConfig::S3(engine::S3Options {
            url: self.store.clone(),
            endpoint: self.s3_endpoint.clone(),
            region: self.s3_region.clone(),
            access_key_id: self.s3_access_key_id.clone(),
            secret_access_key: self.s3_secret_access_key.clone(),
            allow_http: self.s3_allow_http.then_some(true),
            cache_dir: data_dir.join("cache"),
            cache_bytes: self.cache_mb << 20,
        })
    }

    /// The service limits these options set.
    pub fn limits(&self) -> crate::service::Limits {
        crate::service::Limits {
            lock_wait: std::time::Duration::from_secs(self.lock_wait_s),
            min_free_bytes: self.min_free_mb << 20,
            max_image_bytes: self.max_image_mb << 20,
            rate_per_second: self.rate_limit,
            rate_burst: self.rate_burst,
            stop_timeout: std::time::Duration::from_secs(self.stop_timeout_s),
            ..Default::default()
        }
    }

    /// How often the background jobs run.
    pub fn job_interval(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.job_interval_s)
    }
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
        let Command::Serve(args) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(args.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn the_upstream_is_validated_when_parsed() {
        let cli = Cli::try_parse_from(["snapline", "serve", "--upstream", "http://10.0.0.5:3000/"])
            .unwrap();
        let Command::Serve(args) = cli.command else {
            panic!("expected serve");
        };
        assert_eq!(args.upstream.unwrap().as_str(), "http://10.0.0.5:3000");
        let err = Cli::try_parse_from(["snapline", "serve", "--upstream", "file:///etc"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--upstream") && err.contains("http://"),
            "{err}"
        );
    }

    #[test]
    fn a_malformed_listen_address_is_refused() {
        let err = Cli::try_parse_from(["snapline", "serve", "--listen", "localhost"]).unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
    }
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every argument of every command says what it is in `--help`: a bare `--container
    /// <CONTAINER>` leaves a new user guessing whether it takes an id or a name.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if ["help", "version"].contains(&id) {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "snapline", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }
}
