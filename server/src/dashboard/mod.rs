//! The dashboard's server side: Leptos SSR routes, server functions under `/rpc`, static
//! assets, and the embedded [`app::backend::Backend`] they call.
//!
//! - [`embedded`]: the backend over the service in this process;
//! - [`docs_store`]: what the API docs page keeps (runs, drafts, examples);
//! - [`openapi`]: the REST API's operations as the docs page lists them;
//! - [`csrf`]: cross-site requests to server functions are refused;
//! - [`schema`]: the dashboard's own tables (the only ones on a proxy node).

pub mod csrf;
pub mod docs_store;
pub mod embedded;
pub mod markdown;
pub mod openapi;
pub mod schema;
pub mod sessions;

pub use embedded::EmbeddedBackend;
pub use openapi::{endpoints_of, endpoints_of_json, header_list};

use app::AppError;
use app::backend::SharedBackend;
use futures_util::StreamExt;

use app::backend::{SharedDocs, SharedSessions};
use axum::Router;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};

/// Sends a Content-Security-Policy without inline script: the hydration scripts carry a
/// fresh per-response nonce, and nothing else may run.
fn content_security_policy() {
    use leptos::prelude::use_context;
    let Some(res) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::Nonce::new();
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        &*nonce
    );
    if let Ok(v) = http::HeaderValue::from_str(&policy) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
    }
    provide_context(nonce);
}

/// An error of the dashboard's plain routes, as a short text the browser shows.
fn plain_error(e: AppError) -> axum::response::Response {
    use axum::response::IntoResponse;
    let status = crate::http::status::status_of(e.kind());
    (status, format!("{}: {e}\n", e.title())).into_response()
}

async fn session_token(
    state: &DashboardState,
    headers: &http::HeaderMap,
) -> Result<String, AppError> {
    app::session::token_from_headers(state.sessions.as_ref(), headers)
        .await?
        .ok_or_else(|| AppError::Unauthorized("Sign in to Snapline first.".into()))
}

/// `GET /download/{id}/{name}?path=/etc/hostname`: one file of a snapshot, for the browse
/// page's download links. The session cookie authenticates (SameSite=Strict: another site
/// cannot make the browser send it), and nothing changes, so a plain GET is right.
async fn download(
    axum::extract::State(state): axum::extract::State<DashboardState>,
    headers: http::HeaderMap,
    axum::extract::Path((id, name)): axum::extract::Path<(String, String)>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> axum::response::Response {
    // The path as bytes: `%XX` escapes are bytes, so names that are not UTF-8 download too.
    let Some(path) = query
        .as_deref()
        .and_then(|q| app::model::query_bytes(q, "path"))
        .filter(|p| !p.is_empty())
    else {
        return plain_error(AppError::BadRequest(
            "Say which file: add ?path=/some/file to the address.".into(),
        ));
    };
    let result = async {
        let token = session_token(&state, &headers).await?;
        state.backend.read_file(&token, &id, &name, &path).await
    }
    .await;
    match result {
        Ok((size, stream)) => {
            crate::http::download::file_download(&String::from_utf8_lossy(&path), size, stream)
        }
        Err(e) => plain_error(e),
    }
}

/// `GET /export/{id}/{name}`: a snapshot's whole root as a tar download, for the timeline's
/// "Export .tar" links. Authenticated by the session like [`download`]; streamed from
/// whichever backend is in use (the embedded service, or the upstream in proxy mode).
async fn export(
    axum::extract::State(state): axum::extract::State<DashboardState>,
    headers: http::HeaderMap,
    axum::extract::Path((id, name)): axum::extract::Path<(String, String)>,
) -> axum::response::Response {
    let result = async {
        let token = session_token(&state, &headers).await?;
        state.backend.export_snapshot(&token, &id, &name).await
    }
    .await;
    match result {
        Ok((file_name, stream)) => crate::http::download::tar_download(&file_name, stream),
        Err(e) => plain_error(e),
    }
}

/// `GET /live/events`: the events the signed-in user may see, as Server-Sent Events whose
/// data is a [`LiveEvent`]. The browser's `EventSource` cannot send a bearer token, so the
/// dashboard serves its own stream over the session, from whichever backend is in use.
async fn live_events(
    axum::extract::State(state): axum::extract::State<DashboardState>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
    let stream = match session_token(&state, &headers).await {
        Ok(token) => state.backend.events(&token).await,
        Err(e) => Err(e),
    };
    match stream {
        Ok(stream) => Sse::new(stream.map(|e| {
            Ok::<_, std::convert::Infallible>(SseEvent::default().json_data(&e).unwrap_or_default())
        }))
        .keep_alive(KeepAlive::default())
        .into_response(),
        Err(e) => plain_error(e),
    }
}

/// Pages are made for one session from live data: `Cache-Control: no-store`, so Back or a
/// bookmark never shows a page from the browser's cache (a schedule turned off since, a
/// container deleted since), and a shared computer keeps no copy. Assets keep their own
/// headers.
async fn no_store_pages(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use http::header::{CACHE_CONTROL, CONTENT_TYPE};
    let mut res = next.run(req).await;
    let html = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html"));
    if html && !res.headers().contains_key(CACHE_CONTROL) {
        res.headers_mut()
            .insert(CACHE_CONTROL, http::HeaderValue::from_static("no-store"));
    }
    res
}

/// Signs the error a refused plain form (no JavaScript) carries back to its page: a server
/// function's redirect whose target holds `__path` and `__err` gets `__sig` for the
/// session that sent the form (`app::model::url_error`), without which the page does not
/// show the error. Without a session nothing is signed, so nothing is shown.
async fn sign_url_errors(
    axum::extract::State(sessions): axum::extract::State<SharedSessions>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use http::header::LOCATION;
    if !req.uri().path().starts_with("/rpc/") {
        return next.run(req).await;
    }
    let headers = req.headers().clone();
    let mut res = next.run(req).await;
    let location = match res.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
        Some(l) if l.contains("__err=") => l.to_owned(),
        _ => return res,
    };
    let token = app::session::token_from_headers(sessions.as_ref(), &headers)
        .await
        .ok()
        .flatten();
    let signed = token
        .and_then(|t| app::model::url_error::sign_location(&t, &location))
        .and_then(|l| http::HeaderValue::from_str(&l).ok());
    if let Some(signed) = signed {
        res.headers_mut().insert(LOCATION, signed);
    }
    res
}

/// What the dashboard's routes need, in either mode: no service, so a proxy node builds it
/// without opening an engine.
#[derive(Clone)]
pub struct DashboardState {
    /// Where the dashboard's compiled assets are, and their names.
    pub leptos_options: LeptosOptions,
    /// What the server functions call: the embedded service, or an upstream (proxy mode).
    pub backend: SharedBackend,
    /// What the API docs page keeps (this node's database, in either mode).
    pub docs: SharedDocs,
    /// Who is signed in (this node's database, in either mode).
    pub sessions: SharedSessions,
}

impl FromRef<DashboardState> for LeptosOptions {
    fn from_ref(state: &DashboardState) -> Self {
        state.leptos_options.clone()
    }
}

/// SSR pages, server functions and static assets.
pub fn router(state: DashboardState) -> Router {
    let routes = generate_route_list(app::App);
    let backend: SharedBackend = state.backend.clone();
    let docs = state.docs.clone();
    let sessions = state.sessions.clone();
    let context = move || {
        provide_context(backend.clone());
        provide_context(docs.clone());
        provide_context(sessions.clone());
        content_security_policy();
    };
    let options = state.leptos_options.clone();
    let rpc_guard = axum::middleware::from_fn(crate::dashboard::csrf::refuse_cross_site);
    Router::new()
        .route("/live/events", axum::routing::get(live_events))
        .route("/download/{id}/{name}", axum::routing::get(download))
        .route("/export/{id}/{name}", axum::routing::get(export))
        .leptos_routes_with_context(&state, routes, context.clone(), move || {
            app::shell(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            DashboardState,
            _,
        >(context, app::shell))
        .layer(axum::middleware::from_fn(crate::http::rpc::error_status))
        .layer(axum::middleware::from_fn_with_state(
            state.sessions.clone(),
            sign_url_errors,
        ))
        .layer(axum::middleware::from_fn(no_store_pages))
        .layer(rpc_guard)
        .with_state(state)
}
