//! The user's run history on the API docs page: the latest runs with their request and
//! answer, each with Replay and a link that opens it in its form.

use leptos::prelude::*;

use super::Workspace;
use crate::api::docs_widget_url;
use crate::model::RunRecord;
use crate::run_form::CUSTOM;

pub(super) fn history(w: &Workspace) -> AnyView {
    let runs: Vec<RunRecord> = w.state.runs.iter().take(30).cloned().collect();
    view! {
        <section class="card" id="history" aria-labelledby="history-title">
            <h2 id="history-title">"Your runs"</h2>
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
                                        {(!r.body.is_empty()).then(|| view! { <pre class="json"><code>{r.body.clone()}</code></pre> })}
                                        <pre class="json"><code>{r.response.clone()}</code></pre>
                                    </details>
                                    <div class="button-row">
                                        <form method="post" action="/rpc/docs_replay" class="inline-form">
                                            <input type="hidden" name="run" value=r.id.to_string()/>
                                            <button type="submit" class="button small">"Replay"</button>
                                        </form>
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
