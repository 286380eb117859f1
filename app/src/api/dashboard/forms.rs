//! Plain HTML forms (no JavaScript): telling them from JavaScript calls, sending the browser
//! back with a signed outcome, and checking the outcome or error a redirect carries.

use leptos::prelude::*;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::model::Done;

/// The path of this site a request came from (its `Referer`), if any: never another origin,
/// never `//host`, never the sign-in page.
#[cfg(feature = "ssr")]
pub(super) fn referer_path(p: &http::request::Parts) -> Option<String> {
    let referer = p.headers.get(http::header::REFERER)?.to_str().ok()?;
    let uri: http::Uri = referer.parse().ok()?;
    let path = uri.path_and_query()?.as_str().to_string();
    (path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/signin"))
        .then_some(path)
}

/// The outcome a plain form's redirect carries (`done`, `sig`: see [`crate::model::Done`]),
/// if its signature holds for this session; `None` otherwise (a link made by someone else).
#[server(prefix = "/rpc", endpoint = "check_outcome")]
pub async fn check_outcome(
    done: String,
    sig: String,
) -> Result<Option<crate::model::Done>, AppError> {
    let token = crate::session::token().await?;
    Ok(crate::model::Done::from_query(&token, &done, &sig))
}

/// The error a refused plain form's redirect carries (`__path`, `__err`, `__sig`: see
/// [`crate::model::url_error`]), if its signature holds for this session; `None` otherwise
/// (a link made by someone else, or no session).
#[server(prefix = "/rpc", endpoint = "check_url_error")]
pub async fn check_url_error(
    path: String,
    err: String,
    sig: String,
) -> Result<Option<AppError>, AppError> {
    let Some(token) = crate::session::Request::take().read_token().await else {
        return Ok(None);
    };
    Ok(crate::model::url_error::holds(&token, &path, &err, &sig)
        .then(|| leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(&err)))
}

/// After a plain form (no JavaScript), whose answer the page does not read, sends the
/// browser back to the timeline of `id` with what was done in the address, signed for this
/// session (see [`Done`]). With JavaScript the action's own value says it, and nothing
/// happens here.
#[cfg(feature = "ssr")]
pub(super) fn come_back(token: &str, id: &str, done: impl FnOnce() -> Done) {
    come_back_to(token, id, "", done);
}

/// [`come_back`] to a place of the timeline (`#schedule-title`), so the page comes back
/// where the form was, not at its top (on a phone, a long way up).
#[cfg(feature = "ssr")]
pub(super) fn come_back_to(token: &str, id: &str, anchor: &str, done: impl FnOnce() -> Done) {
    if plain_form() {
        leptos_axum::redirect(&format!(
            "/containers/{}?{}{anchor}",
            crate::model::query_escape(id),
            done().to_query(token)
        ));
    }
}

/// Whether the request is a plain HTML form POST (no JavaScript ran): the browser then
/// follows a redirect, not the JSON answer.
#[cfg(feature = "ssr")]
pub(super) fn plain_form() -> bool {
    use_context::<http::request::Parts>()
        .and_then(|p| {
            p.headers
                .get(http::header::ACCEPT)?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .is_some_and(|accept| accept.contains("text/html"))
}
