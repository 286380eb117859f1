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

/// What the session needs of the current request, taken from its context at once.
///
/// Server functions take it before their first `.await`: after one, a function called by a
/// resource during server rendering may have lost its reactive owner, and with it the
/// context (see [`crate::backend::backend`]). Everything here is a cheap shared handle.
#[derive(Clone)]
pub struct Request {
    parts: Option<http::request::Parts>,
    response: Option<leptos_axum::ResponseOptions>,
    sessions: Option<crate::backend::SharedSessions>,
}

impl Request {
    /// Takes the request's parts, its response options and the session store.
    pub fn take() -> Self {
        Self {
            parts: leptos::prelude::use_context(),
            response: leptos::prelude::use_context(),
            sessions: crate::backend::sessions().ok(),
        }
    }

    /// The request's parts (method, address, headers), if it came through Leptos.
    pub fn parts(&self) -> Option<&http::request::Parts> {
        self.parts.as_ref()
    }

    /// The session token, if the request has a live session.
    pub async fn read_token(&self) -> Option<String> {
        let (parts, sessions) = (self.parts.as_ref()?, self.sessions.as_ref()?);
        token_from_headers(sessions.as_ref(), &parts.headers)
            .await
            .ok()
            .flatten()
    }

    /// The session token, or `Unauthorized`.
    pub async fn token(&self) -> Result<String, AppError> {
        self.read_token().await.ok_or_else(|| {
            // A server function called directly answers 401; a page rendered on the server
            // stays 200 and shows the sign-in form in place.
            let rpc = self
                .parts
                .as_ref()
                .is_some_and(|p| p.uri.path().starts_with("/rpc/"));
            if rpc && let Some(res) = &self.response {
                res.set_status(http::StatusCode::UNAUTHORIZED);
            }
            AppError::Unauthorized("Sign in with your API token to continue.".into())
        })
    }

    /// Signs `token` (already checked) in: a new server-side session, whose id the
    /// response's cookie carries for 30 days.
    pub async fn start(&self, token: &str) -> Result<(), AppError> {
        let sessions = self.sessions.clone().ok_or_else(no_store)?;
        let id = sessions.create(token).await?;
        self.set_cookie(&format!(
            "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
        ));
        Ok(())
    }

    /// Signs out: the session is deleted on the server (a copy of the cookie stops working
    /// too) and the cookie cleared.
    pub async fn end(&self) -> Result<(), AppError> {
        if let Some(id) = self.parts.as_ref().and_then(|p| session_id(&p.headers)) {
            let sessions = self.sessions.clone().ok_or_else(no_store)?;
            sessions.end(&id).await?;
        }
        self.set_cookie(&format!(
            "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        ));
        Ok(())
    }

    /// Answers with a redirect to `to`: `leptos_axum::redirect`, run with this request's
    /// parts and response (a 302 for a plain form, the server-fn redirect header otherwise).
    pub fn redirect(&self, to: &str) {
        let (parts, response) = (self.parts.clone(), self.response.clone());
        leptos::prelude::Owner::new().with(|| {
            if let Some(parts) = parts {
                leptos::prelude::provide_context(parts);
            }
            if let Some(response) = response {
                leptos::prelude::provide_context(response);
            }
            leptos_axum::redirect(to);
        });
    }

    fn set_cookie(&self, value: &str) {
        if let (Some(res), Ok(v)) = (&self.response, http::HeaderValue::from_str(value)) {
            res.append_header(http::header::SET_COOKIE, v);
        }
    }
}

fn no_store() -> AppError {
    AppError::Internal("the session store is not configured".into())
}

/// The session token of the current request, if it has a live one.
pub async fn read_token() -> Option<String> {
    Request::take().read_token().await
}

/// The token of the current request's session, or `Unauthorized`.
pub async fn token() -> Result<String, AppError> {
    Request::take().token().await
}
