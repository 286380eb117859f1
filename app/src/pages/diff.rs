//! Compare two snapshots, or a snapshot with the live files: what was added, removed,
//! modified, or changed only in its metadata.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{diff_snapshot, load_timeline};
use crate::components::PageError;
use crate::error::AppError;
use crate::model::{
    ContainerStatus, SnapshotDiff, Timeline, query_escape, restore_page, short_time,
};
use crate::pages::signin::SignInForm;

#[component]
pub fn DiffPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let from = move || query.read().get("from").unwrap_or_default();
    let against = move || query.read().get("against").unwrap_or_else(|| "live".into());
    let timeline = Resource::new(id, |id| load_timeline(id, false));
    let diff = Resource::new(
        move || (id(), from(), against()),
        |(id, from, against)| async move {
            if from.is_empty() {
                Ok(None)
            } else {
                diff_snapshot(id, from, against).await.map(Some)
            }
        },
    );
    view! {
        <Title text="Compare"/>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || timeline.get().map(|r| match r {
                Ok(t) => view! { <Chooser t=t from=from() against=against()/> }.into_any(),
                Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                Err(e) => view! {
                    <div class="page-head"><h1>"Compare"</h1></div>
                    <PageError error=e/>
                    <p><a href="/">"Back to containers"</a></p>
                }.into_any(),
            })}
        </Transition>
        <Transition fallback=|| view! { <p class="muted">"Comparing…"</p> }>
            {move || diff.get().map(|r| match r {
                Ok(Some(d)) => {
                    // Snapshots named as their cards name them (alias and name).
                    let label = |name: &str| timeline.with(|t| match t {
                        Some(Ok(t)) => t.snapshots.iter().find(|s| s.name == name)
                            .map(|s| crate::model::snapshot_label(s.alias.as_deref(), &s.name)),
                        _ => None,
                    }).unwrap_or_else(|| name.to_string());
                    let (from_label, against_label) = (label(&d.from), label(&d.against));
                    view! { <Changes id=id() d=d from_label=from_label against_label=against_label/> }.into_any()
                }
                Ok(None) => view! { <p class="muted card empty-state">"Choose a snapshot, then what to compare it with."</p> }.into_any(),
                // When the container itself failed to load, that error above says it all.
                Err(_) if timeline.with(|t| matches!(t, Some(Err(_)))) => ().into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Transition>
    }
}

/// The two sides, as a GET form (it works without JavaScript and gives a shareable address).
#[component]
fn Chooser(t: Timeline, from: String, against: String) -> impl IntoView {
    let c = t.container.clone();
    let back = format!("/containers/{}", c.id);
    let label = |name: &str| {
        let alias = t
            .snapshots
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| s.alias.clone());
        match alias {
            Some(a) => format!("{a} ({name})"),
            None => name.to_string(),
        }
    };
    let options = |selected: &str| {
        t.axis
            .iter()
            .map(|p| {
                let text = format!("{} · {}", label(&p.name), short_time(&p.created_at));
                view! { <option value=p.name.clone() selected=p.name == selected>{text}</option> }
            })
            .collect_view()
    };
    let deleted = c.status == ContainerStatus::Deleted;
    let (from_opts, against_opts) = (options(&from), options(&against));
    view! {
        <div class="page-head">
            <p class="crumbs"><a href="/">"Containers"</a>" / "<a href=back>{c.name.clone()}</a>" / "</p>
            <h1>"Compare"</h1>
        </div>
        <Form method="GET" action="" attr:class="card grid-form diff-form">
            <label for="from">"Snapshot"</label>
            <select id="from" name="from">{from_opts}</select>
            <label for="against">"Compared with"</label>
            <select id="against" name="against">
                {(!deleted).then(|| view! { <option value="live" selected=against == "live">"The live files now"</option> })}
                {against_opts}
            </select>
            <span></span>
            <button type="submit" class="button primary">"Compare"</button>
        </Form>
    }
}

#[component]
fn Changes(
    id: String,
    d: SnapshotDiff,
    /// `d.from` and `d.against` as the page names them.
    from_label: String,
    against_label: String,
) -> impl IntoView {
    // Against the live files, each change links to the restore page that undoes it.
    // The restore page's Cancel comes back to this comparison.
    let here = format!(
        "/containers/{id}/diff?from={}&against=live",
        query_escape(&d.from)
    );
    let restore = (d.against == "live").then(|| (id.clone(), d.from.clone(), here));
    let count = |k: &str| d.changes.iter().filter(|c| c.kind.as_str() == k).count();
    let summary = [
        ("added", "added"),
        ("removed", "removed"),
        ("modified", "modified"),
        ("metadata", "metadata only"),
        ("type_changed", "type changed"),
    ]
    .into_iter()
    .map(|(k, label)| {
        let n = count(k);
        view! { <span class=format!("badge change-{k}")>{format!("{n} {label}")}</span> }
    })
    .collect_view();
    let against = if d.against == "live" {
        "the live files".to_string()
    } else {
        against_label
    };
    let total = d.changes.len();
    view! {
        <section class="card" aria-labelledby="changes-title" data-testid="diff">
            <h2 id="changes-title">{format!("From {from_label} to {against}")}</h2>
            {if total == 0 {
                view! { <p class="empty-state">"No differences: the two are identical."</p> }.into_any()
            } else {
                view! {
                    <p class="change-summary">{summary}</p>
                    <ul class="changes">
                        {d.changes.into_iter().map(|c| {
                            let path = format!("/{}", c.path);
                            // The root is restored from the timeline, not path by path.
                            let link = restore
                                .as_ref()
                                .filter(|_| restore_target(&c.kind, &path) != "/")
                                .map(|(id, from, here)| restore_link(id, from, here, &c.kind, &path));
                            let kind = match &c.previous_type {
                                Some(was) => format!(" {was} → {}", c.entry_type),
                                None => format!(" {}", c.entry_type),
                            };
                            let links = c.hard_links.as_ref().map(|l| hard_links_words(l));
                            view! {
                                <li data-kind=c.kind.as_str()>
                                    <span class=format!("badge change-{}", c.kind.as_str())>{c.kind.as_str().replace('_', " ")}</span>
                                    " "<code>{path}</code>
                                    <span class="muted small">{kind}</span>
                                    {links.map(|w| view! { " "<span class="muted small" data-testid="hard-links">{w}</span> })}
                                    {link}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
            {d.truncated.then(|| view! { <p class="notice warn">{format!("Only the first {total} changes are listed.")}</p> })}
        </section>
    }
}

/// The words for a file whose hard links changed: the names it now shares its inode with.
fn hard_links_words(others: &[String]) -> String {
    if others.is_empty() {
        "(hard links: now a file of its own)".to_string()
    } else {
        let names: Vec<String> = others.iter().map(|p| format!("/{p}")).collect();
        format!("(hard links: now one file with {})", names.join(", "))
    }
}

/// What restoring one change restores: the path itself, or for an added one (which the
/// snapshot lacks) its folder.
fn restore_target(kind: &types::ChangeKind, path: &str) -> String {
    if kind.as_str() != "added" {
        return path.to_string();
    }
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".to_string(),
        Some((dir, _)) => dir.to_string(),
    }
}

/// The "Restore…" link of one change against the live files. A path the snapshot has is
/// restored itself; an added one is not in the snapshot, so its folder is what to restore
/// (which removes it, and the confirmation lists whatever else that changes).
fn restore_link(
    id: &str,
    from: &str,
    here: &str,
    kind: &types::ChangeKind,
    path: &str,
) -> impl IntoView + use<> {
    let target = restore_target(kind, path);
    // An added path's link says it restores the folder: the row is one file, the restore
    // is the whole folder (the confirmation lists all it changes).
    let (text, label) = if kind.as_str() == "added" {
        (
            "Restore folder…",
            format!("Restore folder {target}, which removes {path}…"),
        )
    } else {
        ("Restore…", format!("Restore {path}…"))
    };
    let href = restore_page(id, from, &target, here);
    view! { " "<a href=href class="restore-link" aria-label=label>{text}</a> }
}
