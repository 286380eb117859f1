//! The Containers page. Until the snapshot service lands it shows the empty state and this
//! node's self-check, which exercises the whole path: browser -> server function -> SQLite.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{RunSystemCheck, SystemCheck, SystemStatus, load_system_status};
use crate::error::AppError;

#[component]
pub fn ContainersPage() -> impl IntoView {
    view! {
        <Title text="Containers"/>
        <div class="page-head">
            <h1>"Containers"</h1>
            <p class="lede">
                "Each container's snapshot timeline lives here: snapshot before a risky change, "
                "and restore in one click when it goes wrong."
            </p>
        </div>
        <section class="card empty-state" aria-labelledby="no-containers">
            <h2 id="no-containers">"No containers yet"</h2>
            <p>
                "Containers and their snapshots appear here once they exist. "
                "Meanwhile, check that this node is healthy."
            </p>
        </section>
        <SystemCheckPanel/>
    }
}

/// Runs and lists self-checks. The form works as a plain HTML form before hydration
/// (`ActionForm` posts to the server function and comes back), and in place afterwards.
#[component]
fn SystemCheckPanel() -> impl IntoView {
    let check = ServerAction::<RunSystemCheck>::new();
    // Refetch the list whenever a check finishes.
    let status = Resource::new(move || check.version().get(), |_| load_system_status());

    view! {
        <section class="card" aria-labelledby="system-check-title">
            <div class="card-head">
                <h2 id="system-check-title">"System check"</h2>
                <ActionForm action=check attr:class="inline-form">
                    <button type="submit" class="button primary" disabled=move || check.pending().get()>
                        {move || if check.pending().get() { "Checking…" } else { "Run system check" }}
                    </button>
                </ActionForm>
            </div>
            <p class="muted">
                "Writes a record to the database, reads it back and measures the free space "
                "of the data directory."
            </p>
            <div class="result" role="status" aria-live="polite" data-testid="check-result">
                {move || check.value().get().map(render_outcome)}
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading recent checks…"</p> }>
                {move || status.get().map(|s| match s {
                    Ok(s) => render_status(s).into_any(),
                    Err(e) => render_error(&e).into_any(),
                })}
            </Transition>
        </section>
    }
}

fn render_outcome(outcome: Result<SystemCheck, AppError>) -> impl IntoView {
    match outcome {
        Ok(c) => {
            let class = if c.ok { "notice ok" } else { "notice warn" };
            view! {
                <p class=class data-check-id=c.id>
                    <strong>{format!("Check #{}", c.id)}</strong>": "{c.summary}
                </p>
            }
            .into_any()
        }
        Err(e) => render_error(&e).into_any(),
    }
}

fn render_error(e: &AppError) -> impl IntoView {
    view! {
        <p class="notice error" role="alert">
            <strong>{e.title()}</strong>": "{e.to_string()}
        </p>
    }
}

fn render_status(s: SystemStatus) -> impl IntoView {
    let total = s.total_checks;
    let version = s.version;
    if s.recent.is_empty() {
        return view! {
            <p class="muted" data-testid="check-count" data-count=total>
                {format!("No checks recorded yet · Snapline {version}")}
            </p>
        }
        .into_any();
    }
    view! {
        <p class="muted" data-testid="check-count" data-count=total>
            {format!("{total} {} recorded · Snapline {version}", if total == 1 { "check" } else { "checks" })}
        </p>
        <ul class="check-list">
            {s.recent.into_iter().map(|c| view! {
                <li data-check-id=c.id>
                    <span class=if c.ok { "dot ok" } else { "dot warn" } aria-hidden="true"></span>
                    <span class="check-id">{format!("#{}", c.id)}</span>
                    <time datetime=c.checked_at.clone()>{c.checked_at.clone()}</time>
                    <span class="check-summary">{c.summary}</span>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}
