//! Request bodies: JSON whatever the `Content-Type` says (the vendor document's curl
//! examples send `-d '{...}'` without one), size-limited, and strict: unknown fields, wrong
//! types and malformed JSON are 400s with serde's explanation.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Largest JSON body accepted (image tars have their own limit).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// A required JSON body.
pub struct Json<T>(pub T);

/// A JSON body that may be absent: an empty body gives `T::default()`.
pub struct OptionalJson<T>(pub T);

async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(format!(
                "the request body is larger than {} KiB",
                MAX_JSON_BODY / 1024
            ))
        } else {
            ApiError::bad_request(format!("cannot read the request body: {rejection}"))
        }
    })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every route's body is an object. serde's derived structs would also take an array of
    // their fields in order (`[]` a whole restore, `[false, ["/etc"]]` a partial one), which
    // no user means: refused in words.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::bad_request(
            "the body must be a JSON object ({\"field\": value, …}), not an array; see \
             /api/v1/openapi.json for this route's fields",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        // The field at fault is named, so "expected i64" says which number.
        let field = e.path().to_string();
        let e = e.into_inner();
        let what = match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "the body is not valid JSON".to_string()
            }
            _ if field == "." => "the body does not match what this route takes".to_string(),
            _ => format!("the body does not match what this route takes (field `{field}`)"),
        };
        ApiError::bad_request(format!("{what}: {}", plain_words(&e.to_string())))
    })?;
    // Trailing data after the value (`{} {}`) is refused, as serde_json::from_slice does.
    de.end()
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// serde's explanation without Rust's words: `expected struct PublishImage with 2 elements`
/// and `expected struct ImageOrigin` become `expected a JSON object`, `expected u32` (and the
/// other integer types) `expected a whole number`. The rest (field names, positions, the
/// value that was found) stays as serde wrote it.
fn plain_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("expected ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "expected ".len()..];
        let word_end = |t: &str| {
            t.find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                .unwrap_or(t.len())
        };
        if let Some(t) = after.strip_prefix("struct ") {
            let mut tail = &t[word_end(t)..];
            if let Some(w) = tail.strip_prefix(" with ") {
                let digits = w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len());
                let w = &w[digits..];
                tail = w
                    .strip_prefix(" elements")
                    .or_else(|| w.strip_prefix(" element"))
                    .unwrap_or(tail);
            }
            out.push_str("expected a JSON object");
            rest = tail;
            continue;
        }
        let word = &after[..word_end(after)];
        let plain = match word {
            "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" | "isize" => {
                Some("a whole number")
            }
            "f32" | "f64" => Some("a number"),
            _ => None,
        };
        match plain {
            Some(p) => {
                out.push_str("expected ");
                out.push_str(p);
                rest = &after[word.len()..];
            }
            None => {
                out.push_str("expected ");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "this route needs a JSON body; see /api/v1/openapi.json for its fields",
            ));
        }
        parse(&bytes).map(Json)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse(&bytes).map(OptionalJson)
    }
}

/// A required JSON body read from a route whose body limit is lifted (it carries other
/// content too): at most [`MAX_JSON_BODY`] bytes are read.
pub async fn limited_json<T: DeserializeOwned>(body: axum::body::Body) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_JSON_BODY)
        .await
        .map_err(|_| {
            ApiError::payload_too_large(format!(
                "the request body is larger than {} KiB, or was cut off",
                MAX_JSON_BODY / 1024
            ))
        })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "this route needs a JSON body; see /api/v1/openapi.json for its fields",
        ));
    }
    parse(&bytes)
}

/// A query string, strict like bodies.
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| {
                // axum says "Failed to deserialize query string: <serde's words>"; the
                // serde part names the parameter and what it takes.
                let text = e.body_text();
                let why = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::bad_request(format!(
                    "the query string does not match what this route takes: {why}; see \
                     /api/v1/openapi.json for its parameters"
                ))
            })
    }
}

/// Path parameters; a malformed one is a 400, never a plain-text rejection.
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|e| ApiError::bad_request(format!("bad path: {}", e.body_text())))
    }
}

#[cfg(test)]
mod plain_words_tests {
    use super::plain_words;

    /// A struct body sent as an array of its fields is refused, as every other non-object.
    #[test]
    fn arrays_are_not_objects() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Restore {
            #[serde(default)]
            safety: bool,
            #[serde(default)]
            paths: Option<Vec<String>>,
        }
        for body in ["[]", "  [false, [\"/etc\"]]", "\n[1,2]"] {
            let err = super::parse::<Restore>(body.as_bytes()).unwrap_err();
            assert_eq!(err.0.kind, types::ErrorKind::BadRequest, "{body}");
            assert!(
                err.0.message.contains("not an array"),
                "{body}: {}",
                err.0.message
            );
        }
        assert!(super::parse::<Restore>(b" {\"paths\": [\"/etc\"]}").is_ok());
    }

    #[test]
    fn rust_words_become_plain_ones() {
        for (from, to) in [
            (
                "invalid type: sequence, expected struct PublishImage with 2 elements at line 1 column 2",
                "invalid type: sequence, expected a JSON object at line 1 column 2",
            ),
            (
                "invalid type: null, expected struct ImageOrigin at line 1 column 20",
                "invalid type: null, expected a JSON object at line 1 column 20",
            ),
            (
                "invalid type: floating point `1e20`, expected u32 at line 1 column 30",
                "invalid type: floating point `1e20`, expected a whole number at line 1 column 30",
            ),
            (
                "invalid type: string \"x\", expected f64",
                "invalid type: string \"x\", expected a number",
            ),
            (
                "unknown field `x`, expected one of `a`, `b`",
                "unknown field `x`, expected one of `a`, `b`",
            ),
            (
                "invalid type: map, expected struct X with 1 element",
                "invalid type: map, expected a JSON object",
            ),
        ] {
            assert_eq!(plain_words(from), to);
        }
    }
}
