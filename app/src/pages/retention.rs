//! The keep policy's preview on the timeline: which of the schedule's snapshots the policy
//! would delete on the job's next pass and which it keeps, with the reasons (restic's
//! `forget --dry-run`). It previews the saved policy, or the one typed into the schedule
//! form when its Preview button put it in the page's address (`keep_daily=7&...`).

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{KEEP_FORM_FIELDS, RetentionEntry, RetentionPreview, preview_schedule};
use crate::model::short_time;

/// Rows shown per list; the rest are counted.
const ROWS: usize = 50;

#[component]
pub fn RetentionPreviewPanel(id: String, has_schedule: bool) -> impl IntoView {
    let query = use_query_map();
    let typed = move || KEEP_FORM_FIELDS.map(|f| query.read().get(f));
    let previewing = move || typed().iter().any(Option::is_some);
    let preview = Resource::new(
        move || (id.clone(), typed()),
        move |(id, [last, hourly, daily, weekly, monthly])| async move {
            let form = [&last, &hourly, &daily, &weekly, &monthly];
            // Nothing saved and nothing typed: nothing to ask for.
            if !has_schedule && form.iter().all(|f| f.is_none()) {
                return Ok(None);
            }
            preview_schedule(id, last, hourly, daily, weekly, monthly)
                .await
                .map(Some)
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="muted small">"Working out what the keep policy does…"</p> }>
            {move || preview.get().map(|r| {
                let title = if previewing() {
                    "Preview of the keep policy in the form (not saved)"
                } else {
                    "What the keep policy does now"
                };
                match r {
                    Ok(None) => ().into_any(),
                    Ok(Some(p)) => view! {
                        <div class="retention-preview" data-testid="retention-preview">
                            <h3>{title}</h3>
                            <PreviewBody p=p/>
                        </div>
                    }.into_any(),
                    Err(e) => view! {
                        <p class="notice warn" data-testid="retention-preview-error">
                            {format!("{title}: {}: {}", e.title(), e.message())}
                        </p>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn PreviewBody(p: RetentionPreview) -> impl IntoView {
    let summary = match &p.policy {
        None => format!(
            "No keep policy: the schedule's {} snapshot{} stay until their expiry.",
            p.keep.len(),
            if p.keep.len() == 1 { "" } else { "s" }
        ),
        Some(k) => format!(
            "Policy {}: keeps {} and deletes {} of the schedule's snapshots on the next pass.",
            k.describe(),
            p.keep.len(),
            p.delete.len()
        ),
    };
    let untouched = (!p.untouched.is_empty()).then(|| {
        format!(
            "{} taken by hand or pinned: never touched by the policy.",
            p.untouched.len()
        )
    });
    let keep_title = format!("Kept ({})", p.keep.len());
    // The reasons name snapshots (`… snap-… is newer`); the rows show aliases: the reasons
    // say both, so the two can be matched.
    let aliases: Vec<(String, String)> = p
        .keep
        .iter()
        .chain(&p.delete)
        .chain(&p.untouched)
        .filter_map(|e| e.alias.clone().map(|a| (e.name.clone(), a)))
        .collect();
    let aliases2 = aliases.clone();
    view! {
        <p class="small" data-testid="retention-summary">{summary}</p>
        {(!p.delete.is_empty()).then(|| view! {
            <p class="small"><strong>{format!("Would be deleted ({})", p.delete.len())}</strong></p>
            <Entries list=p.delete testid="preview-delete" aliases=aliases/>
        })}
        {(!p.keep.is_empty()).then(|| view! {
            <details data-testid="preview-kept-details" open=p.policy.is_some()>
                <summary class="small">{keep_title}</summary>
                <Entries list=p.keep testid="preview-keep" aliases=aliases2/>
            </details>
        })}
        {untouched.map(|u| view! { <p class="muted small" data-testid="preview-untouched">{u}</p> })}
    }
}

/// A list of snapshots with their reasons, newest first, at most [`ROWS`].
#[component]
fn Entries(
    list: Vec<RetentionEntry>,
    testid: &'static str,
    /// `(name, alias)` of every snapshot of the preview that has an alias.
    aliases: Vec<(String, String)>,
) -> impl IntoView {
    let more = list.len().saturating_sub(ROWS);
    let rows = list
        .into_iter()
        .take(ROWS)
        .map(|e| {
            let label = e.alias.clone().unwrap_or_else(|| e.name.clone());
            let taken = short_time(&e.created_at);
            let mut why = e.reasons.join("; ");
            for (name, alias) in &aliases {
                if why.contains(name.as_str()) {
                    why = why.replace(
                        name.as_str(),
                        &crate::model::snapshot_label(Some(alias), name),
                    );
                }
            }
            let title = e.name.clone();
            view! {
                <tr data-name=e.name>
                    <td title=title>{label}</td>
                    <td>{taken}</td>
                    <td>{why}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="files" data-testid=testid>
                <thead><tr><th>"Snapshot"</th><th>"Taken"</th><th>"Why"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
        {(more > 0).then(|| view! { <p class="muted small">{format!("… and {more} more.")}</p> })}
    }
}
