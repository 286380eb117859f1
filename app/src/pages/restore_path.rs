//! "Restore this file/folder": the confirmation page of a partial restore, reached from the
//! Files and Compare pages. It lists what the restore will change (the differences between
//! the snapshot and the live files at and below the path), restores only that path with a
//! plain form, and then says what it did, with "Undo" (the same path from the safety
//! snapshot). Server-rendered like the pages that link to it: no JavaScript needed.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{RestorePath, browse_snapshot, diff_snapshot, load_timeline};
use crate::components::{PageError, UrlError, query_bytes, query_value};
use crate::error::AppError;
use crate::model::{DiffChange, SnapshotDiff, normalize_bytes};
use crate::pages::signin::SignInForm;

/// Whether the diff path `change` (relative, as the diff gives it) is `path` (absolute) or
/// lies below it.
/// Exact bytes: names that are not UTF-8 are compared as they are, never by the text that
/// shows them (two such names can look alike).
pub fn is_under(change: &[u8], path: &[u8]) -> bool {
    let start = path.iter().position(|b| *b != b'/').unwrap_or(path.len());
    let end = path
        .iter()
        .rposition(|b| *b != b'/')
        .map_or(start, |i| i + 1);
    let p = &path[start..end.max(start)];
    p.is_empty() || change == p || (change.starts_with(p) && change.get(p.len()) == Some(&b'/'))
}

/// What the restore does to a change found between the snapshot and the live files.
pub fn undo_word(c: &DiffChange) -> String {
    match c.kind.as_str() {
        "added" => "deleted (added since the snapshot)".into(),
        "removed" => "brought back".into(),
        "modified" => "rewritten as in the snapshot".into(),
        "metadata" if c.hard_links.is_some() => "hard links made as in the snapshot".into(),
        "metadata" => "owner, mode or time reset".into(),
        // The diff runs from the snapshot to the live files: the previous type is the
        // snapshot's.
        "type_changed" => format!(
            "made a {} again, as in the snapshot (it is a {} now)",
            type_word(c.previous_type.as_deref().unwrap_or("file")),
            type_word(&c.entry_type)
        ),
        _ => "changed".into(),
    }
}

/// An entry type (`dir`, `char-device`, ...) in everyday words.
fn type_word(t: &str) -> &str {
    match t {
        "dir" => "folder",
        "symlink" => "symbolic link",
        "char-device" => "character device",
        "block-device" => "block device",
        "fifo" => "named pipe",
        other => other,
    }
}

/// The changes at and below `path` (exact bytes), in words; a path that is not UTF-8 shows
/// its exact bytes beside its text.
fn changes_under(d: &SnapshotDiff, path: &[u8]) -> Vec<(String, String)> {
    d.changes
        .iter()
        .filter(|c| {
            let exact = c
                .raw_path
                .as_deref()
                .map(types::raw::decode)
                .unwrap_or_else(|| c.path.as_bytes().to_vec());
            is_under(&exact, path)
        })
        .map(|c| {
            let shown = match &c.raw_path {
                Some(raw) => format!("/{} (/{raw})", c.path),
                None => format!("/{}", c.path),
            };
            (shown, undo_word(c))
        })
        .collect()
}

/// Why the page cannot offer a restore of `raw` (the address's `?path=`), in the words the
/// REST API uses for the same refusal; `None` when it is a path the API takes.
pub fn path_problem(raw: &str) -> Option<String> {
    // The engine's limit on one path (engine::selection).
    const MAX_PATH_BYTES: usize = 4096;
    if raw.is_empty() || normalize(raw) == "/" {
        return Some(
            "Choose a file or folder to restore; the whole container is restored from its \
             timeline."
                .into(),
        );
    }
    if !raw.starts_with('/') {
        return Some(format!(
            "The path {raw:?} is not absolute: start it with '/', like /etc/nginx."
        ));
    }
    if raw.len() > MAX_PATH_BYTES {
        return Some(format!(
            "A path of {} bytes is too long (at most {MAX_PATH_BYTES}).",
            raw.len()
        ));
    }
    if raw.contains('\0') {
        return Some(format!(
            "The path {raw:?} has a NUL byte in it, which no file name can hold."
        ));
    }
    if raw.split('/').any(|p| p == "." || p == "..") {
        return Some(format!(
            "The path {raw:?} has a '.' or '..' in it; give the full path of the file or \
             folder, like /etc/nginx."
        ));
    }
    None
}

/// `/a/b/` and `a//b` both become `/a/b`; the root is `/`.
pub fn normalize(p: &str) -> String {
    let parts: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
    format!("/{}", parts.join("/"))
}

#[component]
pub fn RestorePathPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    // The path as bytes: names need not be UTF-8. Shown as text (U+FFFD for bad bytes),
    // carried percent-encoded.
    let (path_value, back_value) = (query_bytes("path"), query_value("back"));
    let path_bytes = move || normalize_bytes(&path_value().unwrap_or_default());
    let path = move || String::from_utf8_lossy(&path_bytes()).into_owned();
    let restored = move || query.read().get("restored").is_some_and(|v| v == "1");
    let safety = move || query.read().get("safety").filter(|s| !s.is_empty());
    let raw_path = move || String::from_utf8_lossy(&path_value().unwrap_or_default()).into_owned();
    let back = move || back_value().unwrap_or_default();
    let data = Resource::new(
        move || (id(), name(), path_value().unwrap_or_default()),
        |(id, name, raw)| async move {
            // The page only offers a restore the API would do: a path the API refuses, or
            // one the snapshot lacks, is said so, with no form.
            if let Some(problem) = path_problem(&String::from_utf8_lossy(&raw)) {
                return Err(AppError::BadRequest(problem));
            }
            let whole = normalize_bytes(&raw);
            let path = String::from_utf8_lossy(&whole).into_owned();
            let cut = whole.iter().rposition(|b| *b == b'/').unwrap_or(0);
            let (parent, leaf) = (&whole[..cut.max(1)], &whole[cut + 1..]);
            let (listing, label) =
                browse_snapshot(id.clone(), name.clone(), types::raw::encode(parent)).await?;
            let exact = |e: &crate::model::FileEntry| {
                e.raw_name
                    .as_deref()
                    .map(types::raw::decode)
                    .unwrap_or_else(|| e.name.as_bytes().to_vec())
            };
            if !listing.entries.iter().any(|e| exact(e) == leaf) {
                return Err(AppError::NotFound(format!(
                    "Snapshot {label} has nothing at {path}, so there is nothing to restore there."
                )));
            }
            let t = load_timeline(id.clone(), true).await?;
            let d = diff_snapshot(id, name, "live".into()).await?;
            Ok::<_, AppError>((t, d))
        },
    );
    view! {
        <Title text="Restore a file or folder"/>
        <Transition fallback=|| view! { <p class="muted">"Comparing with the live files…"</p> }>
            {move || data.get().map(|r| {
                let (id, name, path) = (id(), name(), path());
                let back = crate::model::back_within(&id, &back()).map(str::to_string);
                match r {
                    Ok((t, d)) => {
                        let label = t.snapshots.iter().find(|s| s.name == name)
                            .and_then(|s| s.alias.clone())
                            .map(|a| format!("{a} ({name})"))
                            .unwrap_or_else(|| name.clone());
                        let encoded = types::raw::encode(&path_bytes());
                        view! {
                            <Confirm id=id name=name label=label container=t.container.name.clone() path=path
                                encoded=encoded d=d restored=restored() safety=safety() back=back/>
                        }.into_any()
                    }
                    Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                    Err(e) => view! {
                        <div class="page-head"><h1>"Restore "<code>{raw_path()}</code></h1></div>
                        <PageError error=e/>
                        {match back {
                            Some(b) => {
                                let label = format!("Back to {}", origin_label(&id, &b));
                                view! { <p><a href=b>{label}</a></p> }.into_any()
                            }
                            None => view! { <p><a href=format!("/containers/{id}")>"Back to the timeline"</a></p> }.into_any(),
                        }}
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What the page at `back` (one of container `id`'s) is called in a link back to it.
fn origin_label(id: &str, back: &str) -> &'static str {
    if back.starts_with(&format!("/containers/{id}/diff")) {
        "Compare"
    } else {
        "Files"
    }
}

#[component]
#[allow(clippy::too_many_arguments)]
fn Confirm(
    id: String,
    name: String,
    label: String,
    container: String,
    path: String,
    /// The path's exact bytes, percent-encoded: what the form sends.
    encoded: String,
    d: SnapshotDiff,
    restored: bool,
    safety: Option<String>,
    /// The page the confirmation was opened from (checked to be this container's).
    back: Option<String>,
) -> impl IntoView {
    let url = <RestorePath as leptos::server_fn::ServerFn>::url();
    let list = changes_under(&d, &types::raw::decode(&encoded));
    let n = list.len();
    let parent = match encoded.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => encoded[..i].to_string(),
    };
    // Cancel and the breadcrumb go back where the user came from: the Files listing or the
    // Compare page; without that, to the listing of the path's folder.
    let (origin, origin_label) = match &back {
        Some(b) => (b.clone(), origin_label(&id, b)),
        None => (
            format!("/containers/{id}/snapshots/{name}/files?path={parent}"),
            "Files",
        ),
    };
    let back = back.unwrap_or_default();
    let timeline = format!("/containers/{id}");
    let truncated = d.truncated;
    let changes = if n == 0 {
        view! {
            <p class="muted" data-testid="restore-changes">
                {format!("{path} is the same as in the snapshot: nothing to change.")}
            </p>
        }
        .into_any()
    } else {
        view! {
            <p>{if n == 1 { "This will change:".to_string() } else { format!("These {n} will change:") }}</p>
            <ul class="changes" data-testid="restore-changes">
                {list.into_iter().map(|(p, word)| view! { <li><code>{p}</code>" "{word}</li> }).collect_view()}
            </ul>
            {d.truncated.then(|| view! { <p class="notice warn">"The container has more changes than were compared; some under this path may not be listed."</p> })}
        }
        .into_any()
    };
    let done = restored.then(|| {
        let undo = safety.map(|s| {
            view! {
                <form method="post" action=url class="inline-form">
                    <input type="hidden" name="id" value=id.clone()/>
                    <input type="hidden" name="name" value=s/>
                    <input type="hidden" name="path" value=encoded.clone()/>
                    <input type="hidden" name="back" value=back.clone()/>
                    <button type="submit" class="button">"Undo"</button>
                </form>
            }
        });
        view! {
            <div class="notice ok restore-done" role="status" data-testid="outcome">
                <span>{format!("Restored {path} from {label}. The rest of the container was not touched.")}</span>
                {undo}
            </div>
        }
    });
    view! {
        <div class="page-head">
            <p class="crumbs"><a href="/">"Containers"</a>" / "<a href=timeline>{container}</a>" / "<a href=origin.clone()>{origin_label}</a>" / "</p>
            <h1>"Restore "<code>{path.clone()}</code></h1>
            <p class="muted">{format!("From snapshot {label}")}</p>
        </div>
        <UrlError paths=&["/rpc/restore_path"]/>
        {done}
        <section class="card" aria-labelledby="restore-title">
            <h2 id="restore-title">"What changes"</h2>
            <p>{format!("Only {path} is made exactly as in the snapshot; the rest of the container stays as it is now.")}</p>
            {changes}
            // Nothing to change (and the comparison was whole): no form, only the way back.
            {(n == 0 && !truncated).then(|| view! {
                <p class="actions"><a href=origin.clone() class="button">"Back"</a></p>
            })}
            <form method="post" action=url class="stack-form" hidden=n == 0 && !truncated>
                <input type="hidden" name="id" value=id.clone()/>
                <input type="hidden" name="name" value=name.clone()/>
                <input type="hidden" name="path" value=encoded.clone()/>
                <input type="hidden" name="back" value=back.clone()/>
                <label class="check">
                    <input type="checkbox" name="safety" value="on" checked=true/>
                    " Take a safety snapshot first (so this can be undone)"
                </label>
                <label class="check">
                    <input type="checkbox" name="restart" value="on"/>
                    " Stop and start the container around the restore (otherwise a running container keeps running)"
                </label>
                <p class="actions">
                    <button type="submit" class="button primary">{format!("Restore {path}")}</button>
                    " "<a href=origin class="button">"Cancel"</a>
                </p>
            </form>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_under_a_path_only_at_a_separator() {
        assert!(is_under(b"etc/nginx", b"/etc/nginx"));
        assert!(is_under(b"etc/nginx/sites/a", b"/etc/nginx"));
        assert!(!is_under(b"etc/nginx2", b"/etc/nginx"));
        assert!(!is_under(b"etc", b"/etc/nginx"));
        assert!(is_under(b"anything", b"/"));
    }

    #[test]
    fn the_page_refuses_the_paths_the_api_refuses() {
        for (raw, says) in [
            ("", "Choose a file"),
            ("//", "Choose a file"),
            ("etc/nginx", "not absolute"),
            ("/etc/a\0b", "NUL"),
            ("/etc/../root", "'..'"),
            ("/./etc", "'.'"),
        ] {
            let got = path_problem(raw).unwrap_or_default();
            assert!(got.contains(says), "{raw:?}: {got:?}");
        }
        assert!(path_problem(&format!("/{}", "a".repeat(5000))).is_some());
        assert_eq!(path_problem("/etc/nginx/"), None);
        assert_eq!(path_problem("/srv/my app/ü.txt"), None);
    }

    #[test]
    fn a_type_change_says_what_comes_back() {
        let c = DiffChange {
            path: "srv/data".into(),
            raw_path: None,
            kind: types::ChangeKind::TypeChanged,
            entry_type: "file".into(),
            previous_type: Some("dir".into()),
            hard_links: None,
        };
        assert_eq!(
            undo_word(&c),
            "made a folder again, as in the snapshot (it is a file now)"
        );
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize("etc//nginx/"), "/etc/nginx");
        assert_eq!(normalize(""), "/");
    }
}
