//! Downloads with the same headers on every front end that serves them: a file of a snapshot
//! (REST's `files/content` and the dashboard's `/download`) and a snapshot's tar export
//! (REST's `export` and the dashboard's `/export`).

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What RFC 8187 lets stand unescaped in an extended value (its `attr-char`): letters,
/// digits and `!#$&+-.^_`|~`. Everything else is percent-encoded as UTF-8.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition` for a download saved as `name` (RFC 6266): `filename` with a plain
/// ASCII fallback (`fallback`: letters, digits, `.`, `-`, `_`) for old clients, and the exact
/// name in `filename*=UTF-8''…` (RFC 8187) whenever the two differ, which every current
/// browser and curl's `-J` prefer. So `résumé 2024.pdf` is saved as `résumé 2024.pdf`, not
/// `r_sum__2024.pdf`.
pub fn content_disposition(name: &str, fallback: &str) -> String {
    if name == fallback {
        return format!("attachment; filename=\"{fallback}\"");
    }
    format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR_CHAR)
    )
}

/// A 200 with `stream`'s `size` bytes, saved as the last part of `path`
/// ([`service::snapshots::download_name`]). The type is always `application/octet-stream`
/// and `nosniff` forbids the browser to guess another: a snapshot holds whatever its
/// container wrote, and an HTML file a browser rendered from our origin would run as us.
pub fn file_download<S>(path: &str, size: u64, stream: S) -> Response
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: Into<Bytes>,
    S::Error: Into<axum::BoxError>,
{
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                content_disposition(
                    path.rsplit('/')
                        .next()
                        .filter(|n| !n.is_empty())
                        .unwrap_or("file"),
                    &service::snapshots::download_name(path),
                ),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A 200 streaming a snapshot's tar archive as it is made, saved as `file_name` (see
/// [`service::export::export_file_name`]). No length: the archive's size is known only at
/// its end, so the body is chunked, and an error in `stream` aborts it (the client sees a
/// failed transfer, never a short archive that looks complete).
pub fn tar_download<S>(file_name: &str, stream: S) -> Response
where
    S: futures_util::TryStream + Send + 'static,
    S::Ok: Into<Bytes>,
    S::Error: Into<axum::BoxError>,
{
    (
        [
            (header::CONTENT_TYPE, "application/x-tar".to_string()),
            (
                header::CONTENT_DISPOSITION,
                // Container and snapshot names are plain ASCII already.
                content_disposition(file_name, file_name),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn names_keep_every_character_in_the_extended_value() {
        let cases = [
            (
                "résumé 2024.pdf",
                "r_sum__2024.pdf",
                "attachment; filename=\"r_sum__2024.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf",
            ),
            (
                "报告.txt",
                "__.txt",
                "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%8A%A5%E5%91%8A.txt",
            ),
            (
                "naïve+plan (v2).tar.gz",
                "na_ve_plan__v2_.tar.gz",
                "attachment; filename=\"na_ve_plan__v2_.tar.gz\"; filename*=UTF-8''na%C3%AFve+plan%20%28v2%29.tar.gz",
            ),
            // A quote, a backslash or a line break can never end the header value early.
            (
                "a\"b\\c\r\nd",
                "a_b_c__d",
                "attachment; filename=\"a_b_c__d\"; filename*=UTF-8''a%22b%5Cc%0D%0Ad",
            ),
            (
                "plain.txt",
                "plain.txt",
                "attachment; filename=\"plain.txt\"",
            ),
        ];
        for (name, fallback, want) in cases {
            let got = content_disposition(name, fallback);
            assert_eq!(got, want, "{name}");
            assert!(axum::http::HeaderValue::from_str(&got).is_ok(), "{got}");
        }
    }
}
