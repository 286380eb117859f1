//! Who is calling a REST route: the `Caller` extractor over the bearer token. The service
//! decides what a token may see ([`service::Service::caller`]); this file only reads the
//! header.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use service::Caller;

use super::ApiError;
use service::Service;

/// The bearer token of a request, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// A REST handler's caller: an authenticated, rate-counted token.
pub struct Authed(pub Caller);

impl FromRequestParts<Service> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, svc: &Service) -> Result<Self, ApiError> {
        let Some(token) = bearer(parts) else {
            return Err(ApiError::unauthorized(
                "This route needs a token: send `Authorization: Bearer hdy_...`. The admin token \
                 was printed when the server first started (also saved in data/admin-token).",
            ));
        };
        Ok(Authed(svc.caller(token).await?))
    }
}
