//! What the timeline's last action did, in words: one sentence per action (snapshot,
//! restore with "Undo restore", delete, copy or fork, edit, verify, publish, container
//! start/stop, schedule saved or turned off).

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::api::CreateSnapshot;
use crate::components::ErrorNotice;
use crate::error::AppError;
use crate::model::{Copied, Done, count, short_time};
use crate::pages::timeline::Actions;

/// What the last action did, in words, with "Undo restore" after a restore that took a
/// safety snapshot.
#[component]
pub(crate) fn Outcomes(
    create: ServerAction<CreateSnapshot>,
    actions: Actions,
    /// The outcome of a plain form, from the address (see [`Done`]).
    from_address: Option<Done>,
) -> impl IntoView {
    let Actions {
        restore,
        delete,
        copy,
        update,
        verify,
        publish,
        container,
        save_schedule,
        turn_off,
    } = actions;
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    // Only the most recent outcome is shown: the action whose version changed last.
    let versions = move || {
        [
            create.version().get(),
            restore.version().get(),
            delete.version().get(),
            copy.version().get(),
            update.version().get(),
            verify.version().get(),
            publish.version().get(),
            container.version().get(),
            save_schedule.version().get(),
            turn_off.version().get(),
        ]
    };
    let last = RwSignal::new(None::<usize>);
    Effect::new(move |prev: Option<[usize; 10]>| {
        let now = versions();
        if let Some(prev) = prev
            && let Some(i) = (0..10).find(|&i| now[i] != prev[i])
        {
            last.set(Some(i));
        }
        now
    });
    // A card action sent by a plain form (no JavaScript) comes back with its outcome in the
    // address, which the timeline's loader checked; it is shown until an action of this
    // page says something newer.
    let said = move || -> Option<Result<Said, AppError>> {
        let done = match last.get() {
            None => return from_address.clone().map(|d| Ok(said_of(d))),
            Some(0) => create.value().get()?.map(Done::Taken),
            Some(1) => restore.value().get()?.map(|o| Done::Restored(Box::new(o))),
            Some(2) => delete.value().get()?.map(Done::Deleted),
            Some(3) => copy.value().get()?.map(Done::Copied),
            Some(4) => update.value().get()?.map(Done::Saved),
            Some(5) => verify.value().get()?.map(|(n, v)| Done::verified(n, v)),
            Some(6) => publish.value().get()?.map(Done::Published),
            Some(7) => container.value().get()?.map(Done::Container),
            // A refused save is said in the schedule form, beside what was typed.
            Some(8) => Ok(Done::ScheduleSaved(save_schedule.value().get()?.ok()?)),
            Some(_) => turn_off.value().get()?.map(|()| Done::ScheduleOff),
        };
        Some(done.map(said_of))
    };
    view! {
        <div class="outcomes" role="status" aria-live="polite" data-testid="outcome">
            {move || said().map(|r| match r {
                Ok(s) => {
                    let damaged = !s.damage.is_empty();
                    let undo = s.undo.map(|name| view! {
                        <ActionForm action=restore attr:class="inline-form">
                            <input type="hidden" name="id" value=id()/>
                            <input type="hidden" name="name" value=name/>
                            <button type="submit" class="button">"Undo restore"</button>
                        </ActionForm>
                    });
                    let link = s.link.map(|(href, label)| view! { <a href=href>{label}</a>"." });
                    view! {
                        <div class=if damaged { "notice error" } else { "notice ok restore-done" }>
                            <span>{s.text}{link}</span>
                            {undo}
                            {damaged.then(|| view! { <ul>{s.damage.into_iter().map(|d| view! { <li><code>{d}</code></li> }).collect_view()}</ul> })}
                        </div>
                    }.into_any()
                }
                Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
            })}
        </div>
    }
}

/// An outcome in words.
fn said_of(done: Done) -> Said {
    let name =
        |alias: Option<String>, name: String| crate::model::snapshot_label(alias.as_deref(), &name);
    match done {
        Done::Taken(s) => Said::text(format!("Snapshot {} taken.", name(s.alias, s.name))),
        Done::Restored(o) => Said {
            text: format!("Restored to {}.", name(o.restored.alias, o.restored.name)),
            undo: o.safety.map(|s| s.name),
            ..Said::default()
        },
        Done::Deleted(n) => Said::text(format!("Snapshot {n} deleted.")),
        Done::ScheduleSaved(s) => Said::text(format!(
            "Schedule saved: {} (UTC), next snapshot {}.{}",
            s.schedule,
            short_time(&s.next_run_at),
            s.keep
                .map(|k| format!(" Keep policy: {}.", k.describe()))
                .unwrap_or_default()
        )),
        Done::ScheduleOff => {
            Said::text("Automatic snapshots turned off; the snapshots they took stay.".into())
        }
        Done::Copied(c) => copied_said(c),
        Done::Container(acted) => Said::text(acted.said()),
        // Said on their own pages; a timeline shows them as they are said there.
        other @ (Done::ProjectDeleted(_)
        | Done::ContainerCreated(_)
        | Done::ExampleDeleted(_)
        | Done::RunsCleared(_)
        | Done::DraftsCleared(_)) => Said::text(other.sentence().unwrap_or_default()),
        Done::Published(i) => Said::text(format!(
            "Published image {}. Choose it when you create a container.",
            i.name
        )),
        Done::Saved(s) => {
            let expiry = s
                .expires_at
                .as_deref()
                .map(|e| format!("expires {}", short_time(e)))
                .unwrap_or_else(|| "pinned".into());
            Said::text(format!(
                "Snapshot {} saved: {expiry}.",
                name(s.alias, s.name)
            ))
        }
        Done::Verified {
            name, report: v, ..
        } if v.clean => Said::text(format!(
            "Snapshot {name} verified{}: no damage ({}, {} checked).",
            if v.deep { " deeply" } else { "" },
            count(v.trees as usize, "tree", "trees"),
            count(v.chunks as usize, "chunk", "chunks")
        )),
        Done::Verified {
            name,
            report: v,
            damaged,
        } => Said {
            text: format!(
                "Snapshot {name} is damaged: {}.",
                count(damaged, "object", "objects")
            ),
            damage: v
                .damaged
                .into_iter()
                .take(Done::LISTED)
                .map(|d| format!("{} {}", d.object, d.reason))
                .collect(),
            ..Said::default()
        },
    }
}

/// What a copy or a fork made, and each copy that failed with why.
fn copied_said(c: Copied) -> Said {
    let failed = c
        .failed
        .iter()
        .map(|(n, why)| format!("{n}: {why}"))
        .collect::<Vec<_>>();
    match c.made.as_slice() {
        [] => Said {
            text: format!(
                "No container was made: {} failed, listed below.",
                count(failed.len(), "copy", "copies")
            ),
            damage: failed,
            ..Said::default()
        },
        [(id, name)] => Said {
            text: "Copied into ".into(),
            link: Some((format!("/containers/{id}"), name.clone())),
            damage: failed,
            ..Said::default()
        },
        made => Said {
            text: format!(
                "Copied into {}: {}.{} ",
                count(made.len(), "container", "containers"),
                made.iter()
                    .map(|(_, n)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if failed.is_empty() {
                    String::new()
                } else {
                    format!(" {} failed, listed below.", failed.len())
                }
            ),
            link: Some(("/".into(), "See them with the other containers".into())),
            damage: failed,
            ..Said::default()
        },
    }
}

/// One outcome in words.
#[derive(Default)]
struct Said {
    text: String,
    /// A safety snapshot that "Undo restore" restores.
    undo: Option<String>,
    /// A link after the text: where, and its label.
    link: Option<(String, String)>,
    /// Damage a verify found, one line per object.
    damage: Vec<String>,
}

impl Said {
    fn text(text: String) -> Self {
        Said {
            text,
            ..Said::default()
        }
    }
}
