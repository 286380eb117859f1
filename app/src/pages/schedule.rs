//! A container's automatic snapshots: what is set, and forms to set, change or remove it.
//!
//! The forms are plain HTML POSTs to the server functions: the server answers with a
//! redirect back to the timeline, which then shows the new schedule (or the error, carried
//! in the address). They need no code in the browser's bundle.

use leptos::prelude::*;

use crate::components::UrlError;
use crate::model::{Schedule, short_time};

#[component]
pub fn ScheduleSection(id: String, schedule: Option<Schedule>) -> impl IntoView {
    let current = match schedule {
        Some(s) => {
            let keep = s
                .expiry
                .map(|d| format!("kept {d} days"))
                .unwrap_or_else(|| "kept until deleted".into());
            let last = s
                .last_run_at
                .as_deref()
                .map(|t| format!(" Last ran {}.", short_time(t)))
                .unwrap_or_default();
            let text = format!(
                " (UTC), {keep}, named {}{}. Next: {}.{last}",
                s.alias_pattern,
                if s.include_stopped { ", also when stopped" } else { "" },
                short_time(&s.next_run_at)
            );
            view! {
                <p data-testid="schedule-current"><strong><code>{s.schedule}</code></strong>{text}</p>
                {s.last_error.map(|e| view! { <p class="notice warn">"The last run failed: "{e}</p> })}
                <form method="post" action="/rpc/delete_schedule" class="inline-form">
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="button danger-outline">"Turn off"</button>
                </form>
            }
            .into_any()
        }
        None => view! {
            <p class="muted" data-testid="schedule-current">"No schedule: snapshots are taken only by hand."</p>
        }
        .into_any(),
    };
    view! {
        <section class="card schedule" aria-labelledby="schedule-title">
            <h2 id="schedule-title">"Automatic snapshots"</h2>
            {current}
            <UrlError paths=&["/rpc/save_schedule", "/rpc/delete_schedule"]/>
            <details class="confirm">
                <summary class="button">"Set a schedule…"</summary>
                <div class="confirm-body">
                    <form method="post" action="/rpc/save_schedule" class="stack-form">
                        <input type="hidden" name="id" value=id/>
                        <label>"When (UTC)"
                            <input name="schedule" value="@daily" required=true maxlength="100" list="schedule-presets"
                                aria-describedby="schedule-help"/>
                        </label>
                        <datalist id="schedule-presets">
                            <option value="@hourly"/><option value="@daily"/><option value="@weekly"/><option value="0 3 * * *"/>
                        </datalist>
                        <p id="schedule-help" class="muted small">"@hourly, @daily, @weekly, or five cron fields: minute hour day month weekday."</p>
                        <label>"Keep each for"
                            <select name="expiry">
                                <option value="7" selected=true>"7 days"</option>
                                <option value="30">"30 days"</option>
                                <option value="90">"90 days"</option>
                                <option value="never">"Forever"</option>
                            </select>
                        </label>
                        <label>"Alias pattern"
                            <input name="alias_pattern" value="auto-%Y%m%d-%H%M" maxlength="100"/>
                        </label>
                        <label class="check">
                            <input type="checkbox" name="include_stopped" value="on"/>
                            " Also when the container is stopped"
                        </label>
                        <button type="submit" class="button primary">"Save schedule"</button>
                    </form>
                </div>
            </details>
        </section>
    }
}
