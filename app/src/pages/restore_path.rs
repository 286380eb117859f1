//! "Restore this file/folder": the confirmation page of a partial restore, reached from the
//! Files and Compare pages. It lists what the restore will change (the differences between
//! the snapshot and the live files at and below the path), restores only that path with a
//! plain form, and then says what it did, with "Undo" (the same path from the safety
//! snapshot). Server-rendered like the pages that link to it: no JavaScript needed.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{RestorePath, browse_snapshot, diff_snapshot, load_timeline};
use crate::components::{PageError, UrlError};
use crate::error::AppError;
use crate::model::{SnapshotDiff, query_escape};
use crate::pages::signin::SignInForm;

/// Whether the diff path `change` (relative, as the diff gives it) is `path` (absolute) or
/// lies below it.
pub fn is_under(change: &str, path: &str) -> bool {
    let p = path.trim_matches('/');
    p.is_empty()
        || change == p
        || (change.starts_with(p) && change.as_bytes().get(p.len()) == Some(&b'/'))
}

/// What the restore does to a change found between the snapshot and the live files.
pub fn undo_word(kind: &str) -> &'static str {
    match kind {
        "added" => "deleted (added since the snapshot)",
        "removed" => "brought back",
        "modified" => "rewritten as in the snapshot",
        "metadata" => "owner, mode or time reset",
        "type_changed" => "replaced by the snapshot's",
        _ => "changed",
    }
}

/// The changes at and below `path`, in words.
fn changes_under(d: &SnapshotDiff, path: &str) -> Vec<(String, &'static str)> {
    d.changes
        .iter()
        .filter(|c| is_under(&c.path, path))
        .map(|c| (format!("/{}", c.path), undo_word(c.kind.as_str())))
        .collect()
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
    let path = move || normalize(&query.read().get("path").unwrap_or_default());
    let restored = move || query.read().get("restored").is_some_and(|v| v == "1");
    let safety = move || query.read().get("safety").filter(|s| !s.is_empty());
    let raw_path = move || query.read().get("path").unwrap_or_default();
    let data = Resource::new(
        move || (id(), name(), raw_path()),
        |(id, name, raw)| async move {
            // The page only offers a restore the API would do: a path with `.` or `..`, or
            // one the snapshot lacks, is said so, with no form.
            if raw.split('/').any(|p| p == "." || p == "..") {
                return Err(AppError::BadRequest(format!(
                    "The path {raw:?} has a '.' or '..' in it; give the full path of the file \
                     or folder, like /etc/nginx."
                )));
            }
            let path = normalize(&raw);
            if path == "/" {
                return Err(AppError::BadRequest(
                    "Choose a file or folder to restore; the whole container is restored from \
                     its timeline."
                        .into(),
                ));
            }
            let (parent, leaf) = path.rsplit_once('/').unwrap_or(("", &path));
            let listing = browse_snapshot(id.clone(), name.clone(), parent.to_string()).await?;
            if !listing.entries.iter().any(|e| e.name == leaf) {
                return Err(AppError::NotFound(format!(
                    "Snapshot {name} has nothing at {path}, so there is nothing to restore there."
                )));
            }
            let t = load_timeline(id.clone(), true, None, None).await?;
            let d = diff_snapshot(id, name, "live".into()).await?;
            Ok::<_, AppError>((t, d))
        },
    );
    view! {
        <Title text="Restore a file or folder"/>
        <Transition fallback=|| view! { <p class="muted">"Comparing with the live files…"</p> }>
            {move || data.get().map(|r| {
                let (id, name, path) = (id(), name(), path());
                match r {
                    Ok((t, d)) => {
                        let label = t.snapshots.iter().find(|s| s.name == name)
                            .and_then(|s| s.alias.clone())
                            .map(|a| format!("{a} ({name})"))
                            .unwrap_or_else(|| name.clone());
                        view! {
                            <Confirm id=id name=name label=label container=t.container.name.clone() path=path
                                d=d restored=restored() safety=safety()/>
                        }.into_any()
                    }
                    Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                    Err(e) => view! {
                        <div class="page-head"><h1>"Restore "<code>{path}</code></h1></div>
                        <PageError error=e/>
                        <p><A href=format!("/containers/{id}")>"Back to the timeline"</A></p>
                    }.into_any(),
                }
            })}
        </Transition>
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
    d: SnapshotDiff,
    restored: bool,
    safety: Option<String>,
) -> impl IntoView {
    let url = <RestorePath as leptos::server_fn::ServerFn>::url();
    let list = changes_under(&d, &path);
    let n = list.len();
    let parent = match path.rfind('/') {
        Some(0) | None => "/".to_string(),
        Some(i) => path[..i].to_string(),
    };
    let files = format!(
        "/containers/{id}/snapshots/{name}/files?path={}",
        query_escape(&parent)
    );
    let back = format!("/containers/{id}");
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
                    <input type="hidden" name="path" value=path.clone()/>
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
            <p class="crumbs"><A href="/">"Containers"</A>" / "<A href=back.clone()>{container}</A>" / "<A href=files.clone()>"Files"</A>" / "</p>
            <h1>"Restore "<code>{path.clone()}</code></h1>
            <p class="muted">{format!("From snapshot {label}")}</p>
        </div>
        <UrlError paths=&["/rpc/restore_path"]/>
        {done}
        <section class="card" aria-labelledby="restore-title">
            <h2 id="restore-title">"What changes"</h2>
            <p>{format!("Only {path} is made exactly as in the snapshot; the rest of the container stays as it is now.")}</p>
            {changes}
            <form method="post" action=url class="stack-form">
                <input type="hidden" name="id" value=id.clone()/>
                <input type="hidden" name="name" value=name.clone()/>
                <input type="hidden" name="path" value=path.clone()/>
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
                    " "<A href=files attr:class="button">"Cancel"</A>
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
        assert!(is_under("etc/nginx", "/etc/nginx"));
        assert!(is_under("etc/nginx/sites/a", "/etc/nginx"));
        assert!(!is_under("etc/nginx2", "/etc/nginx"));
        assert!(!is_under("etc", "/etc/nginx"));
        assert!(is_under("anything", "/"));
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(normalize("etc//nginx/"), "/etc/nginx");
        assert_eq!(normalize(""), "/");
    }
}
