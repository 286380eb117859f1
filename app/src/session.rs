//! The dashboard session: the user's own API token in an HttpOnly, SameSite=Strict cookie.
//! Server functions read it here and hand it to the backend, which checks it on every call
//! (a revoked token signs the session out at once).

use crate::error::AppError;

/// Name of the session cookie.
pub const COOKIE: &str = "snapline_session";

/// The session token of the current request, if it has one.
pub fn read_token() -> Option<String> {
    let parts = leptos::prelude::use_context::<http::request::Parts>()?;
    token_from_headers(&parts.headers)
}

/// The session token in a request's `Cookie` headers, if any (for the dashboard's plain
/// routes, which run outside Leptos: downloads and the live event stream).
pub fn token_from_headers(headers: &http::HeaderMap) -> Option<String> {
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

/// The token of the current request's session, or `Unauthorized`.
pub fn token() -> Result<String, AppError> {
    read_token().ok_or_else(|| {
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

/// Sets (or, with `None`, clears) the session cookie on the response.
pub fn set(token: Option<&str>) {
    let value = match token {
        // Tokens are `hdy_` and base62: nothing in them needs escaping in a cookie.
        Some(t) => format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    if let (Some(res), Ok(v)) = (
        leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        http::HeaderValue::from_str(&value),
    ) {
        res.append_header(http::header::SET_COOKIE, v);
    }
}
