//! The dashboard session: a random session id in an HttpOnly, SameSite=Strict cookie, which
//! the server's session store ([`crate::backend::Sessions`]) maps to the user's API token.
//! Server functions read the token here and hand it to the backend, which checks it on every
//! call (a revoked token signs the session out at once). The token itself never reaches the
//! browser again after sign-in.

use crate::backend::Sessions;
use crate::error::AppError;

/// Name of the session cookie.
pub const COOKIE: &str = "snapline_session";

/// The session id in a request's `Cookie` headers, if any.
pub fn session_id(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty())
}

/// The token of the session in a request's cookies, if it has a live one (for the
/// dashboard's plain routes, which run outside Leptos: downloads and the live event stream).
pub async fn token_from_headers(
    sessions: &dyn Sessions,
    headers: &http::HeaderMap,
) -> Result<Option<String>, AppError> {
    match session_id(headers) {
        Some(id) => sessions.open(&id).await,
        None => Ok(None),
    }
}

/// The session token of the current request, if it has a live session.
pub async fn read_token() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    let sessions = crate::backend::sessions().ok()?;
    token_from_headers(sessions.as_ref(), &parts.headers)
        .await
        .ok()
        .flatten()
}

/// The token of the current request's session, or `Unauthorized`.
pub async fn token() -> Result<String, AppError> {
    read_token().await.ok_or_else(|| {
        // A server function called directly answers 401; a page rendered on the server
        // stays 200 and shows the sign-in form in place.
        let rpc = leptos::prelude::use_context::<http::request::Parts>()
            .is_some_and(|p| p.uri.path().starts_with("/rpc/"));
        if rpc && let Some(res) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            res.set_status(http::StatusCode::UNAUTHORIZED);
        }
        AppError::Unauthorized("Sign in with your API token to continue.".into())
    })
}

/// Signs `token` (already checked) in: a new server-side session, whose id the response's
/// cookie carries for 30 days.
pub async fn start(token: &str) -> Result<(), AppError> {
    let id = crate::backend::sessions()?.create(token).await?;
    set_cookie(&format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
    ));
    Ok(())
}

/// Signs out: the session is deleted on the server (a copy of the cookie stops working too)
/// and the cookie cleared.
pub async fn end() -> Result<(), AppError> {
    let id =
        leptos::prelude::use_context::<http::request::Parts>().and_then(|p| session_id(&p.headers));
    if let Some(id) = id {
        crate::backend::sessions()?.end(&id).await?;
    }
    set_cookie(&format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
    ));
    Ok(())
}

fn set_cookie(value: &str) {
    if let (Some(res), Ok(v)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(value),
    ) {
        res.append_header(http::header::SET_COOKIE, v);
    }
}
