//! Snapline's server: the REST API, the dashboard's server side, and the CLI.
//!
//! [`app`] builds the whole HTTP surface from an [`AppState`] without a socket, so tests drive
//! it with `tower::ServiceExt::oneshot`; [`serve::run`] adds the socket, signals and startup.

pub mod cli;
pub mod config;
pub mod dashboard;
pub mod http;
pub mod logging;
pub mod proxy;
pub mod run;
pub mod serve;
pub mod startup;

/// The snapshot service crate, re-exported: front ends reach it as `crate::service`.
pub use ::service;
pub use ::service::{db, tokens};

use std::path::PathBuf;
use std::sync::Arc;

use app::backend::SharedBackend;
use axum::Router;
use axum::extract::FromRef;
use engine::DbPool;
use leptos::config::LeptosOptions;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Where the dashboard's compiled assets are, and their names.
    pub leptos_options: LeptosOptions,
    /// The metadata database.
    pub db: DbPool,
    /// The data directory (containers, store, database by default).
    pub data_dir: Arc<PathBuf>,
    /// What the dashboard's server functions call.
    pub backend: SharedBackend,
    /// What the API docs page keeps (this node's database, in either mode).
    pub docs: app::backend::SharedDocs,
    /// Who is signed in to the dashboard (this node's database).
    pub sessions: app::backend::SharedSessions,
    /// Projects, containers, snapshots, jobs and events over the engine.
    pub service: service::Service,
    /// The REST API's router as the dashboard's "Run" reaches it in-process. Weak: the
    /// router holds this state, so a strong reference here would be a cycle.
    pub api_slot: ApiSlot,
}

pub use dashboard::embedded::ApiSlot;

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// What the dashboard's routes get: the embedded backend and this node's docs store.
    pub fn dashboard(&self) -> dashboard::DashboardState {
        dashboard::DashboardState {
            leptos_options: self.leptos_options.clone(),
            backend: self.backend.clone(),
            docs: self.docs.clone(),
            sessions: self.sessions.clone(),
        }
    }

    /// Builds the state: brings the dashboard's tables up to date, opens the engine and the
    /// service over the database and data directory, and the dashboard's embedded backend
    /// over the same.
    pub async fn build(
        leptos_options: LeptosOptions,
        db: DbPool,
        data_dir: PathBuf,
        limits: service::Limits,
    ) -> anyhow::Result<Self> {
        Self::build_with(
            leptos_options,
            db,
            data_dir,
            limits,
            &engine::StoreConfig::Local,
        )
        .await
    }

    /// [`AppState::build`] with the packs where `store` says (`--store`).
    pub async fn build_with(
        leptos_options: LeptosOptions,
        db: DbPool,
        data_dir: PathBuf,
        limits: service::Limits,
        store: &engine::StoreConfig,
    ) -> anyhow::Result<Self> {
        dashboard::schema::migrate(&db).await?;
        let service =
            service::Service::open_with(db.clone(), data_dir.clone(), limits, store).await?;
        let data_dir = Arc::new(data_dir);
        let api_slot = ApiSlot::default();
        let backend: SharedBackend = Arc::new(dashboard::EmbeddedBackend::new(
            db.clone(),
            data_dir.clone(),
            service.clone(),
            api_slot.clone(),
        ));
        Ok(AppState {
            docs: Arc::new(dashboard::docs_store::SqliteDocs::new(db.clone())),
            sessions: Arc::new(dashboard::sessions::SqliteSessions::new(db.clone())),
            leptos_options,
            db,
            data_dir,
            backend,
            service,
            api_slot,
        })
    }
}

/// The whole HTTP surface: `/api/v1` (REST), `/rpc` (server functions) and the dashboard.
pub fn app(state: AppState) -> Router {
    let api = crate::http::router(state.service.clone());
    // The dashboard's router owns the API router the "Run" widget calls in-process; the
    // backend only holds it weakly.
    let run_api = Arc::new(api.clone());
    if let Ok(mut slot) = state.api_slot.write() {
        *slot = Arc::downgrade(&run_api);
    }
    layers(
        dashboard::router(state.dashboard())
            .layer(axum::Extension(run_api))
            .merge(api),
    )
}

/// The HTTP surface of a proxy node (`serve --upstream`): the dashboard over the
/// [`proxy::RemoteBackend`] that `state.backend` holds, and `/api` forwarded upstream.
pub fn proxy_app(state: dashboard::DashboardState, forwarder: proxy::forward::Forwarder) -> Router {
    layers(dashboard::router(state).merge(proxy::forward::router(forwarder)))
}

/// What every response passes through, in either mode.
fn layers(router: Router) -> Router {
    router
        // The wasm bundle shrinks to about a third with gzip; JSON too.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(
                    tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO),
                )
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::DEBUG),
                ),
        )
}
