//! Names that are not UTF-8. Linux file names are bytes; JSON strings and the text people
//! read are UTF-8. Where a name or path is not valid UTF-8, the wire carries two forms: the
//! text with U+FFFD in place of the bad bytes (for people; two names can look alike), and
//! the exact bytes percent-encoded (RFC 3986), which tell them apart and go as they are into
//! a `path` query parameter, whose percent-escapes the server takes as bytes.

/// The percent-encoded form of `bytes` (`/` and RFC 3986 unreserved characters kept, every
/// other byte as `%XX`), or `None` when `bytes` is valid UTF-8 and its text says it all.
pub fn encode_if_not_utf8(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).is_err().then(|| encode(bytes))
}

/// Bytes kept as they are: `/` and RFC 3986's unreserved characters.
const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// Every byte of `bytes` outside `/` and the unreserved characters as `%XX`.
pub fn encode(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, KEEP).to_string()
}

/// Decodes `%XX` escapes into bytes; everything else (a `%` without two hex digits
/// included) is kept as it is, so a plain UTF-8 path decodes to its own bytes.
pub fn decode(text: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(text).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_utf8_needs_no_second_form() {
        let names: [&[u8]; 4] = [
            b"\xff-report.txt",
            b"\xfe-report.txt",
            b"/a b/%/\x00x",
            b"ok",
        ];
        for n in names {
            assert_eq!(decode(&encode(n)), n);
        }
        assert_eq!(encode(b"\xff-report.txt"), "%FF-report.txt");
        assert_eq!(encode_if_not_utf8("résumé.pdf".as_bytes()), None);
        assert_ne!(
            encode_if_not_utf8(b"\xff-report.txt"),
            encode_if_not_utf8(b"\xfe-report.txt")
        );
        assert_eq!(decode("100%"), b"100%");
        assert_eq!(decode("/r%C3%A9sum%C3%A9"), "/résumé".as_bytes());
    }
}
