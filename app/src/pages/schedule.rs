//! A container's automatic snapshots: what is set, and a form to set, change or remove it.

use leptos::prelude::*;

use crate::api::{DeleteSchedule, SaveSchedule, load_schedule};
use crate::components::ErrorNotice;
use crate::model::short_time;

#[component]
pub fn ScheduleSection(id: String) -> impl IntoView {
    let save = ServerAction::<SaveSchedule>::new();
    let remove = ServerAction::<DeleteSchedule>::new();
    let cid = id.clone();
    let data = Resource::new(
        move || (save.version().get(), remove.version().get()),
        move |_| load_schedule(cid.clone()),
    );
    let (form_id, remove_id) = (id.clone(), id);
    view! {
        <section class="card schedule" aria-labelledby="schedule-title">
            <h2 id="schedule-title">"Automatic snapshots"</h2>
            <Transition fallback=|| view! { <p class="muted">"Loading the schedule…"</p> }>
                {move || data.get().map(|r| match r {
                    Ok(Some(s)) => {
                        let keep = s.expiry.map(|d| format!("kept {d} days")).unwrap_or_else(|| "kept until deleted".into());
                        let last = s.last_run_at.as_deref().map(|t| format!("Last ran {}.", short_time(t))).unwrap_or_default();
                        let remove_id = remove_id.clone();
                        view! {
                            <p data-testid="schedule-current">
                                <strong><code>{s.schedule.clone()}</code></strong>
                                {format!(" (UTC), {keep}, named {}{}. Next: {}. {last}", s.alias_pattern,
                                    if s.include_stopped { ", also when stopped" } else { "" }, short_time(&s.next_run_at))}
                            </p>
                            {s.last_error.map(|e| view! { <p class="notice warn">"The last run failed: "{e}</p> })}
                            <ActionForm action=remove attr:class="inline-form">
                                <input type="hidden" name="id" value=remove_id/>
                                <button type="submit" class="button danger-outline">"Turn off"</button>
                            </ActionForm>
                        }.into_any()
                    }
                    Ok(None) => view! {
                        <p class="muted" data-testid="schedule-current">"No schedule: snapshots are taken only by hand."</p>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
            <details class="confirm">
                <summary class="button">"Set a schedule…"</summary>
                <div class="confirm-body">
                    <ActionForm action=save attr:class="stack-form">
                        <input type="hidden" name="id" value=form_id/>
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
                    </ActionForm>
                </div>
            </details>
            <div role="status" aria-live="polite">
                {move || save.value().get().map(|r| match r {
                    Ok(s) => view! { <p class="notice ok">{format!("Schedule saved. Next snapshot {}.", short_time(&s.next_run_at))}</p> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
                {move || remove.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
        </section>
    }
}
