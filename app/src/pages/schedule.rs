//! A container's automatic snapshots: what is set (schedule and keep policy), a form to set
//! or change it (filled with what is set), and the keep policy's preview
//! ([`crate::pages::retention`]).
//!
//! With JavaScript, Save and Turn off act in place: the timeline reloads its data, the
//! toast says what was done, and a refused save stays in the open form with what was typed
//! and why. Without, the forms are plain HTML: saving POSTs to the server function, which
//! answers with a redirect back to the timeline's schedule, which then shows the new schedule
//! (or the error, carried in the address). The form's Preview button always GETs the
//! timeline itself with the form's fields in the address, and the page previews that policy
//! (and keeps what was typed).

use leptos::prelude::*;

use crate::api::{DeleteSchedule, KEEP_FIELDS, KEEP_FORM_FIELDS, SaveSchedule};
use crate::components::{UrlError, succeeded};
use crate::model::{Schedule, short_time};
use types::MAX_KEEP;

/// The timeline's "Automatic snapshots" card, for `schedule` (the container's id and its
/// schedule; the timeline shows no card for `None`, a deleted container). Its contents are
/// rebuilt only when the schedule changed, so a live update or a refused save leaves the
/// form as it is, with what was typed. Its heading always stays, and takes the focus when
/// Save or Turn off succeeded in place (the form it came from is closed or gone).
#[component]
pub fn ScheduleCard(
    schedule: Memo<Option<(String, Option<Schedule>)>>,
    save: ServerAction<SaveSchedule>,
    turn_off: ServerAction<DeleteSchedule>,
) -> impl IntoView {
    focus_when(succeeded(save), "schedule-title");
    focus_when(succeeded(turn_off), "schedule-title");
    view! {
        <section class="card schedule" aria-labelledby="schedule-title">
            <h2 id="schedule-title" tabindex="-1">"Automatic snapshots"</h2>
            {move || schedule.get().map(|(id, s)| view! {
                <ScheduleSection id=id schedule=s save=save turn_off=turn_off/>
            })}
        </section>
    }
}

/// Moves the focus to the element `id` after the next paint each time `when`'s version
/// moves on with its flag set (the page changed where the focus was); `when` is an action's
/// [`succeeded`], or the like.
fn focus_when(when: Signal<(usize, bool)>, id: &'static str) {
    Effect::new(move |seen: Option<usize>| {
        let (version, yes) = when.get();
        if seen.is_some_and(|v| v != version) && yes {
            #[cfg(feature = "hydrate")]
            request_animation_frame(move || {
                use leptos::wasm_bindgen::JsCast;
                if let Some(el) = document().get_element_by_id(id) {
                    let _ = el.unchecked_into::<leptos::web_sys::HtmlElement>().focus();
                }
            });
            #[cfg(not(feature = "hydrate"))]
            let _ = id;
        }
        version
    });
}

/// What is set, Turn off, and the form.
#[component]
fn ScheduleSection(
    id: String,
    schedule: Option<Schedule>,
    save: ServerAction<SaveSchedule>,
    turn_off: ServerAction<DeleteSchedule>,
) -> impl IntoView {
    let off_id = id.clone();
    let current = match schedule.clone() {
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
            let policy = match &s.keep {
                Some(k) => format!(
                    "Keep policy: {}: it keeps {}, as restic forget does. Only snapshots this \
                     schedule took are ever deleted by it.",
                    k.describe(),
                    keeps(k)
                ),
                None => "No keep policy: each scheduled snapshot stays until its expiry.".into(),
            };
            view! {
                <p data-testid="schedule-current"><strong><code>{s.schedule}</code></strong>{text}</p>
                <p class="small" data-testid="schedule-keep">{policy}</p>
                {s.last_error.map(|e| view! { <p class="notice warn">"The last run failed: "{e}</p> })}
                <ActionForm action=turn_off attr:class="inline-form">
                    <input type="hidden" name="id" value=off_id/>
                    <button type="submit" class="button danger-outline" disabled=move || turn_off.pending().get()>
                        {move || if turn_off.pending().get() { "Turning off…" } else { "Turn off" }}
                    </button>
                </ActionForm>
            }
            .into_any()
        }
        None => view! {
            <p class="muted" data-testid="schedule-current">"No schedule: snapshots are taken only by hand."</p>
        }
        .into_any(),
    };
    let has_schedule = schedule.is_some();
    view! {
        {current}
        <UrlError paths=&["/rpc/save_schedule", "/rpc/delete_schedule"] testid="schedule-error"/>
        <ScheduleForm id=id.clone() schedule=schedule save=save/>
        <crate::pages::retention::RetentionPreviewPanel id=id has_schedule=has_schedule/>
    }
    .into_any()
}

/// What the form starts with: what the page's address says (after a Preview), else what is
/// set, else the defaults.
struct Prefill {
    schedule: String,
    expiry: String,
    alias_pattern: String,
    include_stopped: bool,
    keep: [String; 5],
    /// The address holds a previewed form: show it open.
    previewing: bool,
}

/// `search` is the address's raw query: the typed values are read with one decoding (an alias
/// pattern holds `%`). A refused save comes back with them too, and its signed error.
fn prefill(schedule: Option<&Schedule>, search: &str) -> Prefill {
    let get = |name: &str| crate::model::query_value(search, name);
    let previewing = KEEP_FORM_FIELDS.iter().any(|f| get(f).is_some())
        || get("__path").as_deref() == Some("/rpc/save_schedule");
    let typed = |name: &str| get(name).filter(|_| previewing);
    let counts = schedule
        .and_then(|s| s.keep)
        .map(|k| k.counts())
        .unwrap_or_default();
    let keep = std::array::from_fn(|i| {
        typed(KEEP_FORM_FIELDS[i])
            .unwrap_or_else(|| counts[i].map(|n| n.to_string()).unwrap_or_default())
    });
    Prefill {
        schedule: typed("schedule")
            .or_else(|| schedule.map(|s| s.schedule.clone()))
            .unwrap_or_else(|| "@daily".into()),
        expiry: typed("expiry")
            .or_else(|| {
                schedule.map(|s| {
                    s.expiry
                        .map(|d| d.to_string())
                        .unwrap_or_else(|| "never".into())
                })
            })
            .unwrap_or_else(|| "7".into()),
        alias_pattern: typed("alias_pattern")
            .or_else(|| schedule.map(|s| s.alias_pattern.clone()))
            .unwrap_or_else(|| "auto-%Y%m%d-%H%M".into()),
        include_stopped: if previewing {
            get("include_stopped").is_some()
        } else {
            schedule.is_some_and(|s| s.include_stopped)
        },
        keep,
        previewing,
    }
}

/// Sets or changes the schedule and its keep policy, filled with what is set.
#[component]
fn ScheduleForm(
    id: String,
    schedule: Option<Schedule>,
    save: ServerAction<SaveSchedule>,
) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let search = location.search.get_untracked();
    let p = prefill(schedule.as_ref(), &search);
    // A save refused in place: why, in words, above the form, until the form is edited (a
    // plain form's refusal is the section's `UrlError`).
    let edited = RwSignal::new(false);
    let refused = move || {
        let why = match crate::components::answer(save) {
            Some(Err(e)) if !edited.get() => e.to_string(),
            _ => return None,
        };
        Some(view! {
            <p class="notice error" role="alert" tabindex="-1" id="schedule-refused" data-testid="schedule-error">{why}</p>
        })
    };
    // Refused in place: the message takes the focus, so it is seen (on a phone it sits
    // far above the Save button) and read.
    let refusals = Signal::derive(move || {
        (
            save.version().get(),
            save.value().with(|v| matches!(v, Some(Err(_)))),
        )
    });
    focus_when(refusals, "schedule-refused");
    let details = NodeRef::<leptos::html::Details>::new();
    saved_in_place(save, details, id.clone());
    // The presets, plus the current expiry when it is another number of days (set through
    // the API), so saving the form does not change it unasked.
    let mut expiries: Vec<(String, String)> =
        [("7", "7 days"), ("30", "30 days"), ("90", "90 days")]
            .into_iter()
            .map(|(v, l)| (v.to_string(), l.to_string()))
            .collect();
    if p.expiry != "never" && !expiries.iter().any(|(v, _)| *v == p.expiry) {
        expiries.push((p.expiry.clone(), format!("{} days", p.expiry)));
    }
    expiries.push(("never".into(), "Forever".into()));
    let selected = p.expiry.clone();
    let summary = if schedule.is_some() {
        "Change the schedule or keep policy…"
    } else {
        "Set a schedule…"
    };
    // Back at the schedule card, not at the top of the page.
    let preview_action = format!("/containers/{id}#schedule-title");
    let keep_inputs = KEEP_FIELDS
        .iter()
        .zip(KEEP_FORM_FIELDS)
        .zip(p.keep)
        .map(|((label, name), value)| {
            view! {
                <label>{*label}
                    <input type="number" name=name value=value min="0" max=MAX_KEEP.to_string() step="1"
                        inputmode="numeric" placeholder="-" aria-describedby="keep-help"/>
                </label>
            }
        })
        .collect_view();
    view! {
        <details class="confirm" open=p.previewing node_ref=details>
            <summary class="button">{summary}</summary>
            <div class="confirm-body">
                {refused}
                <form method="post" action="/rpc/save_schedule" class="stack-form" data-testid="schedule-form"
                    on:input=move |_| edited.set(true)
                    on:submit=move |ev| {
                        edited.set(false);
                        send_in_place(ev, save)
                    }>
                    <input type="hidden" name="id" value=id/>
                    <label>"When (UTC)"
                        <input name="schedule" value=p.schedule required=true maxlength="100" list="schedule-presets"
                            aria-describedby="schedule-help"/>
                    </label>
                    <datalist id="schedule-presets">
                        <option value="@hourly"/><option value="@daily"/><option value="@weekly"/><option value="0 3 * * *"/>
                    </datalist>
                    <p id="schedule-help" class="muted small">"@hourly, @daily, @weekly, or five cron fields: minute hour day month weekday."</p>
                    <label>"Keep each for"
                        <select name="expiry">
                            {expiries.into_iter().map(|(v, l)| {
                                let on = v == selected;
                                view! { <option value=v selected=on>{l}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"Alias pattern"
                        <input name="alias_pattern" value=p.alias_pattern maxlength="100"/>
                    </label>
                    <label class="check">
                        <input type="checkbox" name="include_stopped" value="on" checked=p.include_stopped/>
                        " Also when the container is stopped"
                    </label>
                    <fieldset class="keep-policy">
                        <legend>"Keep policy (empty: no limit)"</legend>
                        <div class="keep-fields">{keep_inputs}</div>
                        <p id="keep-help" class="muted small">
                            {format!("How many to keep, 0 to {MAX_KEEP} each, as restic forget --keep-*: \
                              the newest N snapshots (last), and the newest snapshot of each of the N newest \
                              UTC hours, days, ISO weeks and months that have one. A snapshot kept by any \
                              rule stays; the schedule's other snapshots are deleted. Snapshots taken by \
                              hand and pinned ones are never touched.")}
                        </p>
                    </fieldset>
                    <div class="inline-form">
                        <button type="submit" class="button primary" disabled=move || save.pending().get()>
                            {move || if save.pending().get() { "Saving…" } else { "Save schedule" }}
                        </button>
                        <button type="submit" class="button" formmethod="get" formaction=preview_action
                            formnovalidate=true data-testid="preview-policy">"Preview keep policy"</button>
                    </div>
                </form>
            </div>
        </details>
    }
    // Erased: the form is a deep static view, and rendering it inside the timeline's typed
    // tree overflowed a worker thread's stack in debug builds.
    .into_any()
}

/// Sends the schedule form through `save` (the page stays), unless its Preview button sent
/// it: that one is a GET of the page itself, which the browser does.
fn send_in_place(ev: leptos::ev::SubmitEvent, save: ServerAction<SaveSchedule>) {
    use leptos::form::FromFormData;
    let by_preview = ev
        .submitter()
        .is_some_and(|b| b.get_attribute("formmethod").as_deref() == Some("get"));
    if by_preview {
        return;
    }
    ev.prevent_default();
    match SaveSchedule::from_event(&ev) {
        Ok(args) => {
            save.dispatch(args);
        }
        // Only a form that lost its fields gets here: the server's refusal, in the page.
        Err(e) => leptos::logging::error!("the schedule form could not be read: {e:?}"),
    }
}

/// After a save in place succeeds: the form closes (the section is rebuilt when the data
/// shows the new schedule; [`ScheduleCard`] moves the focus), and an address that held a
/// previewed policy goes back to the timeline itself, so the page previews what is saved.
fn saved_in_place(
    save: ServerAction<SaveSchedule>,
    details: NodeRef<leptos::html::Details>,
    id: String,
) {
    let navigate = leptos_router::hooks::use_navigate();
    let query = leptos_router::hooks::use_query_map();
    let saved = succeeded(save);
    Effect::new(move |seen: Option<usize>| {
        let (version, ok) = saved.get();
        if seen.is_some_and(|v| v != version) && ok {
            #[cfg(feature = "hydrate")]
            if let Some(d) = details.get_untracked() {
                d.set_open(false);
            }
            let previewed = query.with_untracked(|q| {
                KEEP_FORM_FIELDS
                    .iter()
                    .chain(&["schedule", "__path"])
                    .any(|f| q.get(f).is_some())
            });
            if previewed {
                let to = format!("/containers/{}", crate::model::query_escape(&id));
                navigate(
                    &to,
                    leptos_router::NavigateOptions {
                        replace: true,
                        scroll: false,
                        ..Default::default()
                    },
                );
            }
        }
        version
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = details;
}

/// What a keep policy keeps, in words, naming only the rules it sets: "the 5 newest and the
/// newest of each of the last 7 UTC days".
fn keeps(k: &types::KeepPolicy) -> String {
    let units = [
        ("UTC hour", "UTC hours"),
        ("UTC day", "UTC days"),
        ("ISO week", "ISO weeks"),
        ("UTC month", "UTC months"),
    ];
    let counts = k.counts();
    let mut parts = Vec::new();
    if let Some(n) = counts[0].filter(|&n| n > 0) {
        parts.push(if n == 1 {
            "the newest".to_string()
        } else {
            format!("the {n} newest")
        });
    }
    for (count, (one, many)) in counts[1..].iter().zip(units) {
        if let Some(n) = count.filter(|&n| n > 0) {
            parts.push(if n == 1 {
                format!("the newest of the last {one}")
            } else {
                format!("the newest of each of the last {n} {many}")
            });
        }
    }
    match parts.len() {
        0 => "nothing".into(),
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} and {last}", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::keeps;

    #[test]
    fn a_policy_is_said_by_the_rules_it_sets() {
        let k = |v: serde_json::Value| serde_json::from_value(v).unwrap();
        assert_eq!(keeps(&k(serde_json::json!({"last": 3}))), "the 3 newest");
        assert_eq!(
            keeps(&k(serde_json::json!({"last": 1, "daily": 7, "monthly": 1}))),
            "the newest, the newest of each of the last 7 UTC days and the newest of the last UTC month"
        );
    }
}
