//! Signing in and out with an API token, and who is signed in (the session cookie,
//! [`crate::session`]).

use leptos::prelude::*;

use crate::error::AppError;
use crate::model::Identity;

#[cfg(feature = "ssr")]
use super::forms::{plain_form, referer_path};

/// Signs in with an API token: checks it, then keeps it in an HttpOnly session cookie.
#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(token: String) -> Result<Identity, AppError> {
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(AppError::BadRequest(
            "Paste your API token (it starts with hdy_).".into(),
        ));
    }
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let identity = backend.identity(&token).await?;
    request.start(&token).await?;
    // A plain form goes back to the page it was on (the sign-in page itself leads to the
    // containers). With JavaScript the form reloads its page itself (see `SignInForm`): a
    // redirect to the address the router is already on would change nothing.
    if plain {
        let back = request
            .parts()
            .and_then(referer_path)
            .unwrap_or_else(|| "/".into());
        request.redirect(&back);
    }
    Ok(identity)
}

/// Signs out: the session is deleted on the server and the cookie cleared.
#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    let request = crate::session::Request::take();
    request.end().await?;
    request.redirect("/signin");
    Ok(())
}

/// Who is signed in, if anyone.
#[server(prefix = "/rpc", endpoint = "whoami")]
pub async fn whoami() -> Result<Option<Identity>, AppError> {
    let (backend, sessions) = (crate::backend::backend()?, crate::backend::sessions()?);
    let Some(token) = crate::session::read_token().await else {
        return Ok(None);
    };
    match backend.identity(&token).await {
        Ok(i) => Ok(Some(i)),
        Err(AppError::Unauthorized(_)) => {
            // The token was revoked: its sessions end here, not only at their expiry.
            sessions.end_all(&token).await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
