//! `snapline serve`: startup checks, database, admin token, socket, graceful shutdown.

use anyhow::Context;
use leptos::config::{Env, LeptosOptions};

use crate::config::ServeArgs;
use crate::proxy::forward::Forwarder;
use crate::proxy::{RemoteBackend, Upstream};
use crate::tokens::{self, Bootstrap};
use crate::{AppState, app, db, proxy_app, startup};

/// Name of the compiled wasm/js/css bundle (`output-name` in the workspace's Leptos metadata).
pub const OUTPUT_NAME: &str = "snapline";

/// Leptos options for a site root, independent of cargo-leptos's environment variables so the
/// release binary runs on its own.
pub fn leptos_options(site_root: &std::path::Path, addr: std::net::SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(addr)
        .env(Env::PROD)
        .build()
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    // Debug builds only: the tests that kill a server at an exact step name it here
    // (`SNAPLINE_FAILPOINTS`; a release build neither reads it nor has fail points).
    #[cfg(debug_assertions)]
    engine::fail_points_from_env().map_err(anyhow::Error::msg)?;
    let data_dir = startup::prepare_data_dir(&args.data_dir)?;
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| db::default_url(&data_dir));
    // A full node's schema is the service's and engine's plus the dashboard's; a proxy node
    // keeps only the dashboard's (see `dashboard::schema`).
    let pool = db::open(&url).await?;
    // Held for the server's whole life (dropped when `run` returns).
    // Several nodes may serve one PostgreSQL database when they share an S3 store (each
    // keeps its containers' files, calls are forwarded to a container's node, and GC follows
    // the shared store's protocol). With local stores, or on SQLite, one node per database.
    let sqlite = engine::Dialect::of(&pool) == engine::Dialect::Sqlite;
    let _serving = if args.upstream.is_none() && (args.store == "local" || sqlite) {
        let held = engine::db::try_serving_lock(&pool, &url)
            .await
            .context("cannot check whether another node serves this database")?;
        if held.is_none() && sqlite {
            anyhow::bail!(
                "another Snapline node already serves containers from the SQLite database \
                 {:?}: SQLite is one node's database. Several nodes share a PostgreSQL \
                 database (--database-url postgres://…) and an S3 store (--store \
                 s3://BUCKET/PREFIX); otherwise give this node a database of its own, or \
                 stop the other",
                db::redact(&url)
            );
        }
        if held.is_none() {
            anyhow::bail!(
                "another Snapline node already serves containers from the database {:?}, and \
                 this node's store is local: several nodes share a database only with a \
                 shared S3 store (--store s3://BUCKET/PREFIX on every node). Give this node a \
                 database of its own, or stop the other",
                db::redact(&url)
            );
        }
        held
    } else {
        None
    };
    if args.upstream.is_none() {
        crate::dashboard::schema::before_service_schema(&pool).await?;
        db::migrate(&pool)
            .await
            .with_context(|| format!("cannot migrate the database {:?}", db::redact(&url)))?;
    }
    crate::dashboard::schema::migrate(&pool).await?;

    // Bind before announcing anything, so a taken port fails fast and clearly.
    let listener = startup::bind(args.listen).await?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;

    // A proxy node has no tokens of its own: users sign in with the upstream's.
    if args.upstream.is_none() {
        announce_admin_token(&pool, &data_dir).await?;
    }

    let site_root = startup::resolve_site_root(args.site_root.clone());
    if !site_root.join("pkg").is_dir() {
        tracing::warn!(
            site_root = %site_root.display(),
            "the dashboard's assets are missing; build them with `cargo leptos build --release` \
             or point --site-root at them. The API works without them."
        );
    }
    let options = leptos_options(&site_root, addr);
    let (router, jobs) = match &args.upstream {
        None => {
            let state = AppState::build_with(
                options,
                pool.clone(),
                data_dir.clone(),
                args.limits(),
                &args.store_config(&data_dir),
            )
            .await?;
            match state.service.first_start_demo(!args.no_demo).await {
                Ok(crate::service::demo::DemoOutcome::Made(id)) => {
                    println!(
                        "  First start: made the demo project, container {id} with 3 snapshots."
                    );
                    tracing::info!(container = %id, "first start: demo made (turn off with --no-demo)");
                }
                Ok(crate::service::demo::DemoOutcome::Skipped(why)) => {
                    tracing::debug!(why, "no demo made");
                }
                // The demo is a courtesy: without it Snapline works all the same.
                Err(e) => tracing::warn!(error = %e, "the first start's demo could not be made"),
            }
            let advertised = match &args.advertise_url {
                Some(u) => u.as_str().to_string(),
                None if addr.ip().is_unspecified() => format!("http://127.0.0.1:{}", addr.port()),
                None => format!("http://{addr}"),
            };
            state
                .service
                .advertise(&advertised)
                .await
                .context("cannot record this node's URL")?;
            let jobs = state.service.spawn_jobs(args.job_interval());
            let heartbeat = state.service.spawn_heartbeat();
            // Several nodes on PostgreSQL: every node's stream shows the whole cluster.
            let relay = state.service.spawn_event_relay();
            let service = state.service.clone();
            (app(state), Some((jobs, heartbeat, relay, service)))
        }
        // Nothing lives on a proxy node (no demo either), so it runs no background jobs.
        Some(upstream) => (proxy(options, &pool, &data_dir, upstream).await?, None),
    };

    let shutdown = shutdown_signal()?;
    tracing::info!(%addr, data_dir = %data_dir.display(), database = %db::redact(&url), store = %args.store, "Snapline is serving");
    match &args.upstream {
        None => println!("Snapline is serving on http://{addr}"),
        Some(upstream) => {
            println!("Snapline is serving on http://{addr} as a proxy for {upstream}")
        }
    }
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("the HTTP server failed")?;
    if let Some((jobs, heartbeat, relay, service)) = jobs {
        jobs.abort();
        heartbeat.abort();
        for task in relay.into_iter().flatten() {
            task.abort();
        }
        // Containers outlive the server on purpose; say which, and how to end them.
        let running = service.running_containers();
        if !running.is_empty() {
            tracing::info!(
                containers = %running.join(" "),
                "{} container(s) keep running; the next start re-attaches to them (end one \
                 with `snapline containers stop ID` while a server runs)",
                running.len()
            );
        }
    }
    pool.close().await;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Makes sure an admin token exists; a generated one is printed once.
async fn announce_admin_token(
    pool: &engine::DbPool,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let env_token = std::env::var("SNAPLINE_ADMIN_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    match tokens::bootstrap(pool, data_dir, env_token.as_deref()).await? {
        Bootstrap::Generated { token, file } => {
            // Printed once, on stdout, outside the log stream: it is the operator's key.
            println!(
                "\n  Snapline admin token (shown once, also saved in {}):\n\n    {token}\n",
                file.display()
            );
        }
        Bootstrap::FromEnv => tracing::info!("admin token taken from SNAPLINE_ADMIN_TOKEN"),
        Bootstrap::Existing => tracing::info!(
            "an admin token exists; it was printed at first start and saved in {}",
            data_dir.join(tokens::ADMIN_TOKEN_FILE).display()
        ),
    }
    Ok(())
}

/// A proxy node's router: the dashboard over a [`RemoteBackend`] for `upstream`, and `/api`
/// forwarded there. No service and no engine: nothing but the dashboard's own tables (API
/// docs drafts and runs, self-checks) lives on a proxy node.
async fn proxy(
    leptos_options: LeptosOptions,
    pool: &engine::DbPool,
    data_dir: &std::path::Path,
    upstream: &Upstream,
) -> anyhow::Result<axum::Router> {
    let data_dir = std::sync::Arc::new(data_dir.to_path_buf());
    let remote = RemoteBackend::new(upstream.clone(), pool.clone(), data_dir)?;
    remote.warn_if_unreachable().await;
    let forwarder = Forwarder::new(upstream.clone(), remote.http_client());
    let state = crate::dashboard::DashboardState {
        leptos_options,
        backend: std::sync::Arc::new(remote),
        docs: std::sync::Arc::new(crate::dashboard::docs_store::SqliteDocs::new(pool.clone())),
        sessions: std::sync::Arc::new(crate::dashboard::sessions::SqliteSessions::new(
            pool.clone(),
        )),
    };
    Ok(proxy_app(state, forwarder))
}

/// Installs the SIGINT and SIGTERM handlers now and returns a future that resolves on either.
///
/// The handlers must exist before the server announces itself: a supervisor that sends
/// SIGTERM right after "serving" would otherwise kill the process with the default action.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        }
    })
}
