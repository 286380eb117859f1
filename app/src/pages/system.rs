//! The node's own page: its version and self-checks (a database write and read-back, and
//! the data directory's free space). Server-rendered without hydration: the check is a
//! plain form POST that comes back to this page with the new check on top.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::load_system_status;
use crate::components::{ErrorNotice, UrlError};
use crate::error::AppError;
use crate::model::SystemStatus;
use crate::pages::signin::SignInForm;

#[component]
pub fn SystemPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| load_system_status());

    view! {
        <Title text="System"/>
        <div class="page-head">
            <h1>"System"</h1>
            <p class="lede">"This Snapline node: its version and its self-checks."</p>
        </div>
        <section class="card" aria-labelledby="system-check-title">
            <div class="card-head">
                <h2 id="system-check-title">"System check"</h2>
                <form method="post" action="/rpc/run_system_check" class="inline-form">
                    <button type="submit" class="button">"Run system check"</button>
                </form>
            </div>
            <p class="muted">
                "Writes a record to the database, reads it back and measures the free space "
                "of the data directory."
            </p>
            <div class="result" role="status" aria-live="polite" data-testid="check-result">
                <UrlError paths=&["/rpc/run_system_check"]/>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading recent checks…"</p> }>
                {move || status.get().map(|s| match s {
                    Ok(s) => render_status(s).into_any(),
                    Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
        </section>
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
