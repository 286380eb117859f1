//! A refused plain form's error, signed for the session that sent the form.
//!
//! Without JavaScript a server function's error travels back in the address the browser is
//! redirected to: `__path` (the function) and `__err` (the error, server_fn's URL-safe
//! base64), the format `server_fn` itself writes. Anyone can make such an address, so the
//! page shows the error only with `__sig`, a BLAKE3 keyed hash of both under a key derived
//! from the session's token, which only the server reads (the cookie is HttpOnly). Otherwise
//! a link could put its own text ("your session expired, sign in at …") in a red notice on
//! Snapline's own page. The signature is added by the server: the dashboard's middleware
//! signs `server_fn`'s redirects ([`sign_location`]), and a function that makes its own
//! redirect uses [`query`].

use crate::error::AppError;

fn key(token: &str) -> [u8; 32] {
    blake3::derive_key("snapline dashboard: plain-form error v1", token.as_bytes())
}

fn mac(token: &str, path: &str, err: &str) -> blake3::Hash {
    // The path never holds a newline, so the pair is read back one way only.
    blake3::keyed_hash(&key(token), format!("{path}\n{err}").as_bytes())
}

/// The signature (hex) of the error `err` (as in the address, decoded once) of the function
/// at `path`, for the session of `token`.
pub fn sign(token: &str, path: &str, err: &str) -> String {
    mac(token, path, err).to_hex().to_string()
}

/// Whether `sig` is [`sign`]'s signature of `path` and `err` for `token` (compared in
/// constant time).
pub fn holds(token: &str, path: &str, err: &str, sig: &str) -> bool {
    blake3::Hash::from_hex(sig).is_ok_and(|s| s == mac(token, path, err))
}

/// The query (`__path=…&__err=…&__sig=…`) that carries `error` of the function at `path` to
/// the session of `token`.
pub fn query(token: &str, path: &str, error: AppError) -> String {
    use leptos::server_fn::error::ServerFnUrlError;
    let esc = super::query_escape;
    let err = ServerFnUrlError::new(path, error)
        .to_url("http://localhost/")
        .ok()
        .and_then(|u| {
            u.query_pairs()
                .find(|(k, _)| k == "__err")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_default();
    format!(
        "__path={}&__err={}&__sig={}",
        esc(path),
        esc(&err),
        sign(token, path, &err)
    )
}

/// `location` (a redirect's target) with its `__path` and `__err` signed for `token`: any
/// `__sig` already there (left by an earlier refusal, which `server_fn` strips of its own
/// two fields only) is replaced. `None` when it carries no error.
pub fn sign_location(token: &str, location: &str) -> Option<String> {
    let (head, fragment) = match location.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (location, None),
    };
    let (base, search) = head.split_once('?')?;
    let pairs: Vec<(String, String)> = form_urlencoded::parse(search.as_bytes())
        .into_owned()
        .filter(|(k, _)| k != "__sig")
        .collect();
    let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let sig = sign(token, get("__path")?, get("__err")?);
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.extend_pairs(&pairs).append_pair("__sig", &sig);
    Some(format!(
        "{base}?{}{}",
        query.finish(),
        fragment.map(|f| format!("#{f}")).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_error_holds_only_for_its_session_path_and_text() {
        let q = query(
            "tok-a",
            "/rpc/save_schedule",
            AppError::BadRequest("bad".into()),
        );
        let get = |k: &str| crate::model::query_value(&q, k).unwrap();
        let (path, err, sig) = (get("__path"), get("__err"), get("__sig"));
        assert!(holds("tok-a", &path, &err, &sig));
        assert!(!holds("tok-b", &path, &err, &sig));
        assert!(!holds("tok-a", "/rpc/create_container", &err, &sig));
        let forged = leptos::server_fn::error::ServerFnUrlError::new(
            "/rpc/save_schedule",
            AppError::BadRequest("sign in at evil.example".into()),
        )
        .to_url("http://x/")
        .unwrap();
        let forged_err = forged
            .query_pairs()
            .find(|(k, _)| k == "__err")
            .unwrap()
            .1
            .into_owned();
        assert!(!holds("tok-a", &path, &forged_err, &sig));
        assert!(!holds("tok-a", &path, &err, "not hex"));
    }

    #[test]
    fn a_redirect_is_signed_once_and_keeps_its_fields_and_fragment() {
        let loc = "http://h/containers/x?all=1&__sig=old&__path=%2Frpc%2Fverify&__err=QUJD#top";
        let signed = sign_location("tok", loc).unwrap();
        assert!(
            signed.starts_with(
                "http://h/containers/x?all=1&__path=%2Frpc%2Fverify&__err=QUJD&__sig="
            )
        );
        assert!(signed.ends_with("#top"));
        assert_eq!(signed.matches("__sig=").count(), 1);
        let search = signed.split_once('?').unwrap().1.split_once('#').unwrap().0;
        let sig = crate::model::query_value(search, "__sig").unwrap();
        assert!(holds("tok", "/rpc/verify", "QUJD", &sig));
        // No error, nothing to sign.
        assert_eq!(sign_location("tok", "http://h/?__sig=old"), None);
        assert_eq!(sign_location("tok", "/containers/x"), None);
    }
}
