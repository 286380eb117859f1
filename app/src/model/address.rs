//! The dashboard's addresses: query values read and written (once decoded, as bytes where
//! file names need not be UTF-8), and the links between its pages.

/// Percent-encodes a query value (`/` kept, for readable paths).
pub fn query_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The value of `key` in the raw query string `search` (no leading `?`), decoded once.
///
/// The router's own query map decodes twice (leptos_router 0.8: `query_pairs` decodes, then
/// `ParamsMap::insert` decodes again), so a file named `a%2Fb` would read as `a/b`: values
/// that hold file paths or free text are read here instead.
pub fn query_value(search: &str, key: &str) -> Option<String> {
    form_urlencoded::parse(search.trim_start_matches('?').as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .last()
}

/// The query value `key` of `search` as bytes (form decoding: `+` is a space, `%XX` one
/// byte), for file paths whose names need not be UTF-8.
pub fn query_bytes(search: &str, key: &str) -> Option<Vec<u8>> {
    search
        .trim_start_matches('?')
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| types::raw::decode(&k.replace('+', " ")) == key.as_bytes())
        .map(|(_, v)| types::raw::decode(&v.replace('+', " ")))
        .next_back()
}

/// A path given as bytes, made absolute and without empty components (`/` for none).
pub fn normalize_bytes(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len() + 1);
    for part in p.split(|b| *b == b'/').filter(|s| !s.is_empty()) {
        out.push(b'/');
        out.extend_from_slice(part);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// The confirmation page of a partial restore of `path` from snapshot `name`, reached from
/// the page at `back` (the Files listing or the Compare page it was opened from), where its
/// Cancel and breadcrumb return.
pub fn restore_page(id: &str, name: &str, path: &str, back: &str) -> String {
    restore_page_bytes(id, name, path.as_bytes(), back)
}

/// [`restore_page`] for a path given as bytes (names need not be UTF-8).
pub fn restore_page_bytes(id: &str, name: &str, path: &[u8], back: &str) -> String {
    format!(
        "/containers/{}/snapshots/{}/restore?path={}&back={}",
        query_escape(id),
        query_escape(name),
        types::raw::encode(path),
        query_escape(back)
    )
}

/// `back` when it is the address of one of container `id`'s own pages (`/containers/{id}/…`),
/// else `None`: a link made elsewhere cannot make a Cancel button leave the dashboard.
pub fn back_within<'a>(id: &str, back: &'a str) -> Option<&'a str> {
    let prefix = format!("/containers/{id}/");
    (back.starts_with(&prefix) && !back.contains(['\\', '\n', '\r', '\0'])).then_some(back)
}
