//! The `snapline` client commands: the vendor document's `hoody snapshots ...` and
//! `hoody containers ...` calls against a Snapline server, plus `token` management on the
//! server's own database.
//!
//! Output is a table for people and `--json` (the API's `data`) for scripts; an error exits
//! non-zero with the server's message.

mod client;
mod export;
mod resources;
mod schedule;
mod table;

use std::path::PathBuf;
use std::slice;

use clap::{Args, Subcommand};
use serde::Serialize;
use types::{
    ContainerData, ContainerList, CopyRequest, CreateContainer, CreateSnapshot, Empty, ExecOutput,
    ExecRequest, RestoreSnapshot, SnapshotCreated, SnapshotDeleted, SnapshotList, SnapshotRestored,
};

pub use client::Client;
pub use resources::{ImagesCmd, ProjectsCmd, ServersCmd, images, projects, servers};
pub use schedule::{KeepArgs, ScheduleCmd, schedule};

/// Where the server is and who is calling.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// The server's base URL.
    #[arg(
        long,
        env = "SNAPLINE_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub url: String,
    /// API token (hdy_...). Also read from HOODY_TOKEN.
    #[arg(long, env = "SNAPLINE_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print the answer's data as JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `snapline api METHOD PATH [--data JSON]`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// A path under /api/v1, with its query (like /api/v1/containers?project=default).
    pub path: String,
    /// The JSON body; `@FILE` reads it from a file, `@-` from standard input.
    #[arg(long, short = 'd')]
    pub data: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum SnapshotsCmd {
    /// Take a snapshot of a container (running or stopped).
    Create {
        /// The container's id.
        #[arg(long)]
        container: String,
        /// A name to find it by (1 to 64 characters), besides its generated snap-… name.
        #[arg(long)]
        alias: Option<String>,
        /// Days until it expires (1 to 3650); omit it to keep it.
        #[arg(long)]
        expiry: Option<i64>,
    },
    /// List a container's snapshots, newest first.
    List {
        /// The container's id.
        #[arg(long)]
        container: String,
    },
    /// Restore a container to a snapshot (by name, or by alias when unambiguous).
    Restore {
        /// The container's id.
        #[arg(long)]
        container: String,
        /// The snapshot: its snap-… name, or its alias when no other snapshot has it.
        #[arg(long)]
        name: String,
        /// Snapshot the current state first, so the restore can be undone.
        #[arg(long)]
        safety_snapshot: bool,
        /// Restore only this file or folder (absolute, as inside the container); repeat for
        /// several. The rest of the container is untouched. Names need not be UTF-8: the
        /// bytes given are sent exactly (as `raw_paths`).
        #[arg(long = "path", value_name = "PATH")]
        paths: Vec<std::ffi::OsString>,
        /// With --path: stop a running container first and start it after (by default it
        /// keeps running).
        #[arg(long, requires = "paths")]
        restart: bool,
    },
    /// Delete a snapshot.
    Delete {
        /// The container's id.
        #[arg(long)]
        container: String,
        /// The snapshot: its snap-… name, or its alias when no other snapshot has it.
        #[arg(long)]
        name: String,
    },
    /// Write a snapshot's whole root as a tar archive to standard output (`> snap.tar`).
    Export(export::ExportArgs),
}

#[derive(Debug, Subcommand)]
pub enum ContainersCmd {
    /// List containers.
    List {
        /// Only this project (id or name).
        #[arg(long)]
        project: Option<String>,
        /// Also deleted containers whose snapshots remain.
        #[arg(long)]
        include_deleted: bool,
    },
    /// Create a container from an image.
    Create {
        /// Project id or name.
        #[arg(long, default_value = "default")]
        project: String,
        /// The container's name, unique in its project.
        #[arg(long)]
        name: String,
        /// The image it starts as (see `snapline images list`).
        #[arg(long, default_value = "demo")]
        image: String,
        /// Memory it may use, in MiB (default 1024).
        #[arg(long)]
        memory_mb: Option<u64>,
        /// Processes and threads it may run at once (default 1024).
        #[arg(long)]
        pids: Option<u64>,
        /// CPU time, in CPUs: 0.5 is half a core (default 1).
        #[arg(long)]
        cpus: Option<f64>,
        /// The command `start` runs (after `--`), instead of the image's default.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Show one container.
    Get {
        /// The container's id.
        id: String,
    },
    /// Start a container's command.
    Start {
        /// The container's id.
        id: String,
    },
    /// Stop a container (SIGTERM, then SIGKILL).
    Stop {
        /// The container's id.
        id: String,
    },
    /// Pause a running container (its processes are frozen until resumed).
    Pause {
        /// The container's id.
        id: String,
    },
    /// Resume a paused container.
    Resume {
        /// The container's id.
        id: String,
    },
    /// Delete a container (its snapshots stay).
    Delete {
        /// The container's id.
        id: String,
    },
    /// Run a command in a container: `snapline containers exec ID -- ls /`.
    Exec {
        /// The container's id (it must be running).
        id: String,
        /// Seconds before the command is killed (1 to 600, default 30).
        #[arg(long)]
        timeout_s: Option<u64>,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Make a new container from a snapshot (or the live state).
    Copy {
        /// The container to copy from (a deleted one's snapshots too).
        id: String,
        /// The project the new container goes in (id or name).
        #[arg(long)]
        target_project_id: String,
        /// The new container's name (with --count: the stem of NAME-1 … NAME-N).
        #[arg(long)]
        name: String,
        /// The snapshot to copy (name or alias); without it, the live files.
        #[arg(long)]
        source_snapshot: Option<String>,
        /// Fork: make this many containers (1 to 50), NAME-1 … NAME-N, from one read.
        #[arg(long)]
        count: Option<u32>,
        /// The node to build the copy on (an id from `snapline servers`); needs
        /// --source-snapshot when it is not the source's node. Default: the source's node.
        #[arg(long)]
        target_server: Option<String>,
    },
}

/// Token management works on the server's database directly (run it on the server).
#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Create a token for one or more projects (or an admin token); it is printed once.
    Create {
        /// Project id or name (repeat for several).
        #[arg(long = "project")]
        projects: Vec<String>,
        /// A label to tell it apart in `token list`.
        #[arg(long, default_value = "cli")]
        name: String,
        /// An admin token (sees every project).
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List tokens (never the tokens themselves).
    List {
        #[command(flatten)]
        db: DbArgs,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by id.
    Revoke {
        /// The token's id, from `token list`.
        id: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Which database `token` commands open.
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// The server's data directory (its database is `snapline.db` there).
    #[arg(long, env = "SNAPLINE_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The server's database, when it is not the data directory's.
    #[arg(long, env = "SNAPLINE_DATABASE_URL")]
    pub database_url: Option<String>,
}

pub async fn snapshots(remote: Remote, cmd: SnapshotsCmd) -> anyhow::Result<()> {
    let c = Client::new(&remote)?;
    let path = |id: &str| container_path(id, "/snapshots");
    match cmd {
        SnapshotsCmd::Create {
            container,
            alias,
            expiry,
        } => {
            let body = CreateSnapshot { alias, expiry };
            let p = path(&container);
            let data: SnapshotCreated = c
                .with_progress(
                    &container,
                    "Taking a snapshot",
                    c.send("POST", &p, Some(&body)),
                )
                .await?;
            show(&remote, &data, |d| {
                table::snapshots(slice::from_ref(&d.snapshot))
            })
        }
        SnapshotsCmd::List { container } => {
            let data: SnapshotList = c.call("GET", &path(&container)).await?;
            show(&remote, &data, |d| table::snapshots(&d.snapshots))
        }
        SnapshotsCmd::Restore {
            container,
            name,
            safety_snapshot,
            paths,
            restart,
        } => {
            // No body unless asked: a vendor-compatible server may not know the new fields.
            // Text paths as `paths`; bytes that are not UTF-8 percent-encoded in `raw_paths`.
            let (text, raw): (Vec<_>, Vec<_>) = paths
                .iter()
                .map(|p| std::os::unix::ffi::OsStrExt::as_bytes(p.as_os_str()))
                .partition(|b| std::str::from_utf8(b).is_ok());
            let text: Vec<String> = text
                .into_iter()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .collect();
            let raw: Vec<String> = raw.into_iter().map(types::raw::encode).collect();
            let body = (safety_snapshot || !paths.is_empty()).then(|| RestoreSnapshot {
                safety_snapshot: safety_snapshot.then_some(true),
                restart: restart.then_some(true),
                paths: (!text.is_empty()).then_some(text),
                raw_paths: (!raw.is_empty()).then_some(raw),
            });
            let p = format!("{}/{}", path(&container), enc(&name));
            let data: SnapshotRestored = c
                .with_progress(&container, "Restoring", c.send("PATCH", &p, body.as_ref()))
                .await?;
            show(&remote, &data, |d| {
                if let Some(s) = &d.safety_snapshot {
                    println!(
                        "Safety snapshot: {} ({})",
                        s.name,
                        s.alias.as_deref().unwrap_or_default()
                    );
                }
                match &d.paths {
                    Some(p) => println!("Restored {} from:", p.join(", ")),
                    None => println!("Restored to:"),
                }
                table::snapshots(slice::from_ref(&d.snapshot));
            })
        }
        SnapshotsCmd::Export(args) => export::run(&c, args).await,
        SnapshotsCmd::Delete { container, name } => {
            let p = format!("{}/{}", path(&container), enc(&name));
            let data: SnapshotDeleted = c.call("DELETE", &p).await?;
            show(&remote, &data, |d| {
                println!(
                    "Deleted {} (frees {} when the background GC runs)",
                    d.name,
                    table::bytes(d.freed_bytes)
                )
            })
        }
    }
}

pub async fn containers(remote: Remote, cmd: ContainersCmd) -> anyhow::Result<()> {
    let c = Client::new(&remote)?;
    let one = |d: &ContainerData| table::containers(slice::from_ref(&d.container));
    match cmd {
        ContainersCmd::List {
            project,
            include_deleted,
        } => {
            let mut q = vec![];
            if let Some(p) = project {
                q.push(format!("project_id={}", enc(&p)));
            }
            if include_deleted {
                q.push("include_deleted=true".into());
            }
            let query = if q.is_empty() {
                String::new()
            } else {
                format!("?{}", q.join("&"))
            };
            let data: ContainerList = c.call("GET", &format!("/api/v1/containers{query}")).await?;
            show(&remote, &data, |d| table::containers(&d.containers))
        }
        ContainersCmd::Create {
            project,
            name,
            image,
            memory_mb,
            pids,
            cpus,
            command,
        } => {
            // What was not given takes the default the server would (both from `types`).
            let limits = (memory_mb.is_some() || pids.is_some() || cpus.is_some()).then(|| {
                let d = types::ContainerLimits::default();
                types::ContainerLimits {
                    memory_mb: memory_mb.unwrap_or(d.memory_mb),
                    pids: pids.unwrap_or(d.pids),
                    cpus: cpus.unwrap_or(d.cpus),
                }
            });
            let body = CreateContainer {
                project_id: project,
                name,
                image,
                command: (!command.is_empty()).then_some(command),
                limits,
            };
            let data: ContainerData = c.send("POST", "/api/v1/containers", Some(&body)).await?;
            show(&remote, &data, one)
        }
        ContainersCmd::Get { id } => {
            let data: ContainerData = c.call("GET", &container_path(&id, "")).await?;
            show(&remote, &data, one)
        }
        ContainersCmd::Start { id } => {
            let data: ContainerData = c.call("POST", &container_path(&id, "/start")).await?;
            show(&remote, &data, one)
        }
        ContainersCmd::Stop { id } => {
            let data: ContainerData = c.call("POST", &container_path(&id, "/stop")).await?;
            show(&remote, &data, one)
        }
        ContainersCmd::Pause { id } => {
            let data: ContainerData = c.call("POST", &container_path(&id, "/pause")).await?;
            show(&remote, &data, one)
        }
        ContainersCmd::Resume { id } => {
            let data: ContainerData = c.call("POST", &container_path(&id, "/resume")).await?;
            show(&remote, &data, one)
        }
        ContainersCmd::Delete { id } => {
            let data: Empty = c.call("DELETE", &container_path(&id, "")).await?;
            show(&remote, &data, |_| {
                println!(
                    "Deleted container {id}; its snapshots remain (`snapline snapshots list --container {id}`)"
                )
            })
        }
        ContainersCmd::Exec {
            id,
            timeout_s,
            command,
        } => {
            let body = ExecRequest { command, timeout_s };
            let out: ExecOutput = c
                .send("POST", &container_path(&id, "/exec"), Some(&body))
                .await?;
            if remote.json {
                return table::print_json(&out);
            }
            print!("{}", out.stdout);
            eprint!("{}", out.stderr);
            if out.timed_out {
                anyhow::bail!("the command timed out");
            }
            // Killed by a signal (no exit code) counts as a failure.
            let code = out.exit_code.unwrap_or(1);
            if code != 0 {
                std::process::exit(code.clamp(1, 255));
            }
            Ok(())
        }
        ContainersCmd::Copy {
            id,
            target_project_id,
            name,
            source_snapshot,
            count,
            target_server,
        } => {
            let body = CopyRequest {
                target_project_id,
                name,
                source_snapshot,
                count,
                target_server,
            };
            let p = container_path(&id, "/copy");
            if count.is_none() {
                let data: ContainerData = c
                    .with_progress(&id, "Copying", c.send("POST", &p, Some(&body)))
                    .await?;
                return show(&remote, &data, one);
            }
            let data: types::ContainersCopied = c
                .with_progress(&id, "Forking", c.send("POST", &p, Some(&body)))
                .await?;
            show(&remote, &data, |d| {
                let made: Vec<_> = d
                    .results
                    .iter()
                    .filter_map(|r| r.container.clone())
                    .collect();
                table::containers(&made);
                for r in &d.results {
                    if let Some(e) = &r.error {
                        eprintln!("{}: {}", r.name, e.message);
                    }
                }
            })?;
            if data.failed > 0 {
                anyhow::bail!("{} of {} copies failed", data.failed, data.results.len());
            }
            Ok(())
        }
    }
}

/// Prints an answer's `data`: as JSON with `--json`, otherwise as `human` writes it.
fn show<T: Serialize>(remote: &Remote, data: &T, human: impl FnOnce(&T)) -> anyhow::Result<()> {
    if remote.json {
        return table::print_json(data);
    }
    human(data);
    Ok(())
}

async fn open_db(db: &DbArgs) -> anyhow::Result<engine::DbPool> {
    if db.database_url.is_none() && !db.data_dir.join("snapline.db").exists() {
        anyhow::bail!(
            "no Snapline database in {}; pass the server's --data-dir (or SNAPLINE_DATA_DIR)",
            db.data_dir.display()
        );
    }
    let url = db
        .database_url
        .clone()
        .unwrap_or_else(|| crate::db::default_url(&db.data_dir));
    // connect's errors name the database (its password redacted).
    crate::db::connect(&url).await
}

pub async fn token(cmd: TokenCmd) -> anyhow::Result<()> {
    use crate::service::{Caller, auth};
    match cmd {
        TokenCmd::Create {
            projects,
            name,
            admin,
            db,
        } => {
            let pool = open_db(&db).await?;
            let root = Caller {
                token_id: "cli".into(),
                admin: true,
                projects: vec![],
            };
            let mut ids = Vec::new();
            for p in &projects {
                ids.push(project_id(&pool, &root, p).await?);
            }
            let (token, info) = auth::create_token(&pool, &name, admin, &ids)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{token}");
            eprintln!(
                "Token {} ({}) created for {}. It is shown only now; store it safely.",
                info.id,
                info.name,
                if admin {
                    "every project (admin)".to_string()
                } else {
                    projects.join(", ")
                }
            );
        }
        TokenCmd::List { db, json } => {
            let pool = open_db(&db).await?;
            let list = auth::list_tokens(&pool)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if json {
                table::print_json(&list)?;
            } else {
                table::tokens(&list);
            }
        }
        TokenCmd::Revoke { id, db } => {
            let pool = open_db(&db).await?;
            auth::revoke_token(&pool, &id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("Revoked token {id}");
        }
    }
    Ok(())
}

async fn project_id(
    pool: &engine::DbPool,
    _root: &crate::service::Caller,
    p: &str,
) -> anyhow::Result<String> {
    sqlx::query_scalar("SELECT id FROM projects WHERE id = $1 OR name = $2")
        .bind(p)
        .bind(p)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no project {p:?}; create it with `snapline projects create {p}` or POST /api/v1/projects"
            )
        })
}

/// Percent-encodes a path segment (aliases may hold spaces and slashes).
/// The reader of standard output went away (`snapline … | head`): the command ends quietly,
/// as Unix tools end (see `main`).
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed")]
pub struct StdoutClosed;

/// `/api/v1/containers/{id}{rest}`, with the id escaped: whatever is typed stays one path
/// segment (`../images/x` must never reach another route).
fn container_path(id: &str, rest: &str) -> String {
    format!("/api/v1/containers/{}{rest}", enc(id))
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `snapline api`: one request, checked by the same rule as the API docs' Run widget, the
/// answer printed as it came (pretty when it is JSON).
pub async fn api(remote: Remote, args: ApiArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let body = match args.data.as_deref() {
        None => None,
        Some("@-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("cannot read the body from standard input")?;
            Some(text)
        }
        Some(d) => match d.strip_prefix('@') {
            Some(file) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read the body from {file}"))?,
            ),
            None => Some(d.to_string()),
        },
    };
    let req = app::model::RunRequest {
        method: args.method.trim().to_ascii_uppercase(),
        path: args.path.trim().to_string(),
        body,
    };
    if let Some(problem) = app::model::run_request_problem(&req) {
        anyhow::bail!("{problem}");
    }
    if let Some(b) = req.body.as_deref().filter(|b| !b.trim().is_empty()) {
        serde_json::from_str::<serde_json::Value>(b)
            .context("the body (--data) is not valid JSON")?;
    }
    let c = Client::new(&remote)?;
    let (status, text) = c.raw(&req.method, &req.path, req.body).await?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) => println!("{}", serde_json::to_string_pretty(&v)?),
        Err(_) if text.is_empty() => {}
        Err(_) => println!("{text}"),
    }
    eprintln!("HTTP {status}");
    if status.is_client_error() || status.is_server_error() {
        anyhow::bail!("the server answered {status}");
    }
    Ok(())
}
