//! The user's run history on the API docs page: the latest runs with their request and
//! answer, each with Replay and a link that opens it in its form.

use leptos::prelude::*;

use super::Workspace;
use crate::api::docs_widget_url;
use crate::model::{Done, RunRecord};
use crate::run_form::CUSTOM;

pub(super) fn history(w: &Workspace) -> AnyView {
    let runs: Vec<RunRecord> = w.state.runs.iter().take(30).cloned().collect();
    let said = w
        .said
        .as_ref()
        .filter(|d| matches!(d, Done::RunsCleared(_) | Done::DraftsCleared(_)))
        .and_then(Done::sentence)
        .map(|s| view! { <p class="notice ok" role="status">{s}</p> });
    let (has_runs, drafts) = (!runs.is_empty(), w.state.drafts.len());
    view! {
        <section class="card" id="history" aria-labelledby="history-title">
            <div class="card-head">
                <h2 id="history-title">"Your runs"</h2>
                <div class="button-row">
                    {has_runs.then(|| clear("runs", "Clear history…", "Delete your whole run history? Your drafts and your team's examples stay."))}
                    {(drafts > 0).then(|| clear("drafts", "Clear drafts…", "Delete what every form was left with? Each form starts from its example again; runs and examples stay."))}
                </div>
            </div>
            {said}
            {if runs.is_empty() {
                view! { <p class="muted">"Nothing run yet. Runs are kept per user, newest 200."</p> }.into_any()
            } else {
                view! {
                    <ul class="run-history">
                        {runs.into_iter().map(|r| {
                            let operation = if r.operation.is_empty() { CUSTOM.to_string() } else { r.operation.clone() };
                            let class = format!("status status-{}", r.status / 100);
                            view! {
                                <li data-testid="history-run">
                                    <code class=class>{r.status}</code>" "
                                    <span class="method">{r.method.clone()}</span>" "<code>{r.path.clone()}</code>
                                    <span class="muted">" · "{format!("{}.{} ms", r.micros / 1000, (r.micros % 1000) / 100)}" · "{crate::model::short_time(&r.ran_at)}</span>
                                    <details>
                                        <summary>"Request and answer"</summary>
                                        {(!r.body.is_empty()).then(|| view! { <pre class="json" tabindex="0"><code>{r.body.clone()}</code></pre> })}
                                        <pre class="json" tabindex="0"><code>{r.response.clone()}</code></pre>
                                    </details>
                                    <div class="button-row">
                                        {replay(&r)}
                                        <a class="button small" href=docs_widget_url(&operation, &format!("from={}", r.id))>"Open in its form"</a>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }.into_any()
}

/// Replay: a read (`GET`, `HEAD`) is sent again at once; anything else changes state (a
/// restore, a delete), so it asks first, saying what will be sent.
fn replay(r: &RunRecord) -> AnyView {
    let id = r.id.to_string();
    let form = move |label: &'static str, class: &'static str| {
        view! {
            <form method="post" action="/rpc/docs_replay" class="inline-form">
                <input type="hidden" name="run" value=id.clone()/>
                <button type="submit" class=class>{label}</button>
            </form>
        }
    };
    if matches!(r.method.as_str(), "GET" | "HEAD") {
        return form("Replay", "button small").into_any();
    }
    let question = format!(
        "Send {} {} again? It changes state, as it did when it ran.",
        r.method, r.path
    );
    view! {
        <crate::components::Confirm id=format!("replay-{}", r.id) label="Replay…"
            title=format!("Replay {} {}", r.method, r.path) class="button small">
            <p>{question}</p>
            {form("Send it again", "button primary")}
        </crate::components::Confirm>
    }
    .into_any()
}

/// A button that clears the user's runs or drafts, after asking.
fn clear(what: &'static str, label: &'static str, question: &'static str) -> AnyView {
    view! {
        <crate::components::Confirm id=format!("clear-{what}") label=label
            title=label.trim_end_matches('…').to_string() class="button small danger-outline">
            <p>{question}</p>
            <form method="post" action="/rpc/docs_clear" class="inline-form">
                <input type="hidden" name="what" value=what/>
                <button type="submit" class="button danger">{label.trim_end_matches('…').to_string()}</button>
            </form>
        </crate::components::Confirm>
    }
    .into_any()
}
