//! A container's timeline: a time axis from the oldest snapshot to NOW, and a card per
//! snapshot (`timeline_card`) with restore (with a safety snapshot and undo), delete and copy.
//! Every form works before and without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    ContainerAction, CopySnapshot, CreateSnapshot, DeleteSchedule, DeleteSnapshot, PublishImage,
    RestoreSnapshot, SaveSchedule, UpdateSnapshot, VerifySnapshot, load_timeline,
};
use crate::components::{ContainerActionButton, PageError, StatusBadge, UrlError};
use crate::error::AppError;
use crate::model::{
    AxisPoint, ContainerStatus, Snapshot, Timeline, alias_problem, epoch_seconds, escape_html,
    human_bytes, relative, short_time, tenths,
};
use crate::pages::signin::SignInForm;
use crate::pages::timeline_card::{CardContext, SnapshotCard};
use crate::pages::timeline_outcomes::Outcomes;

#[component]
pub fn TimelinePage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let all = move || query.read().get("all").is_some_and(|v| v == "1");
    let create = ServerAction::<CreateSnapshot>::new();
    let restore = ServerAction::<RestoreSnapshot>::new();
    let delete = ServerAction::<DeleteSnapshot>::new();
    let copy = ServerAction::<CopySnapshot>::new();
    let update = ServerAction::<UpdateSnapshot>::new();
    let verify = ServerAction::<VerifySnapshot>::new();
    let publish = ServerAction::<PublishImage>::new();
    let container = ServerAction::<ContainerAction>::new();
    let save_schedule = ServerAction::<SaveSchedule>::new();
    let turn_off = ServerAction::<DeleteSchedule>::new();
    // A teammate's snapshot, or one made with the CLI, reloads the page's data; the stream
    // opens once the timeline loaded (a signed-out visitor opens none).
    let loaded = RwSignal::new(false);
    let live = crate::live::use_live(move || Some(id()), move || loaded.get());
    let data = Resource::new(
        move || {
            (
                id(),
                all(),
                live.changes.get(),
                update.version().get(),
                create.version().get(),
                restore.version().get(),
                delete.version().get(),
                copy.version().get(),
                container.version().get(),
                save_schedule.version().get(),
                turn_off.version().get(),
            )
        },
        |(id, all, ..)| load_timeline(id, all),
    );
    let outcome = crate::components::signed_outcome();
    Effect::new(move |_| {
        if data.with(|d| matches!(d, Some(Ok(_)))) {
            loaded.set(true);
        }
    });
    let actions = Actions {
        restore,
        delete,
        copy,
        update,
        verify,
        publish,
        container,
        save_schedule,
        turn_off,
    };
    // The schedule section is rebuilt only when the schedule itself changed: a live update
    // or a refused save leaves the form as it is, with what was typed.
    let schedule = Memo::new(move |_| {
        data.with(|d| match d {
            Some(Ok(t)) if t.container.status != ContainerStatus::Deleted => {
                Some((t.container.id.clone(), t.schedule.clone()))
            }
            _ => None,
        })
    });
    let ok = move |f: fn(&Timeline) -> bool| data.with(|d| matches!(d, Some(Ok(t)) if f(t)));
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading the timeline…"</p> }>
            // The header, axis and charts follow every change;
            {move || data.get().map(|r| match r {
                Ok(t) => view! { <TimelineHead t=t act=container/> }.into_any(),
                Err(AppError::Unauthorized(_)) => view! { <Title text="Sign in"/><SignInForm/> }.into_any(),
                Err(e) => view! {
                    <Title text="Timeline"/>
                    <div class="page-head"><h1>"Timeline"</h1></div>
                    <PageError error=e/>
                    <p><a href="/">"Back to containers"</a></p>
                }.into_any(),
            })}
            <Show when=move || ok(|_| true)>
                <div class="timeline-tools">
                    {move || data.with(|d| match d {
                        Some(Ok(t)) => Some(view! { <crate::pages::storage::StorageChart points=t.axis.clone()/> }),
                        _ => None,
                    })}
                    <Show when=move || schedule.with(Option::is_some)>
                        <crate::pages::schedule::ScheduleCard schedule=schedule save=save_schedule turn_off=turn_off/>
                    </Show>
                </div>
            </Show>
            // the form and the cards keep their state (typed text, an open confirmation)
            // when a live update reloads the data: a card is rebuilt only if it changed.
            <Show when=move || ok(|t| t.container.status != ContainerStatus::Deleted)>
                <CreateSnapshotForm id=id() create=create/>
            </Show>
            <Show when=move || ok(|_| true)>
                <section aria-labelledby="snapshots-title">
                    <h2 id="snapshots-title">"Snapshots"</h2>
                    <Show when=move || ok(|t| t.snapshots.is_empty())>
                        <p class="card empty-state">"No snapshots yet. Take one before your next risky change."</p>
                    </Show>
                    <ol class="snapshot-cards">
                        <For each=move || cards(data) key=card_key let:item>
                            <SnapshotCard s=item.0 ctx=item.1 actions=actions/>
                        </For>
                    </ol>
                    {move || data.with(|d| match d {
                        Some(Ok(t)) if t.total > t.snapshots.len() => {
                            let href = format!("/containers/{}?all=1", t.container.id);
                            let text = format!("Showing the newest {} of {} snapshots. ", t.snapshots.len(), t.total);
                            Some(view! { <p class="muted">{text}<a href=href>"Show all"</a></p> })
                        }
                        _ => None,
                    })}
                </section>
            </Show>
        </Transition>
        // A plain form's outcome is checked by the server before the page is sent (its own
        // resource, which changes only with the address: the outcomes of this page's actions
        // stay when the timeline reloads).
        <Suspense fallback=|| ()>
            {move || outcome.get().map(|done| view! {
                <Outcomes create=create actions=actions from_address=done.ok().flatten()/>
            })}
        </Suspense>
        <div class="outcomes" role="status" aria-live="polite">
            // Without JavaScript every form of the page is a plain POST: an error comes
            // back in the address.
            <UrlError paths=&[
                "/rpc/container_action", "/rpc/create_snapshot", "/rpc/restore_snapshot",
                "/rpc/delete_snapshot", "/rpc/copy_snapshot", "/rpc/publish_image",
                "/rpc/update_snapshot", "/rpc/verify",
            ]/>
        </div>
        <Progress live=live/>
    }
}

fn cards(data: Resource<Result<Timeline, AppError>>) -> Vec<(Snapshot, CardContext)> {
    data.with(|d| match d {
        Some(Ok(t)) => {
            let ctx = CardContext {
                id: t.container.id.clone(),
                now: t.now.clone(),
                projects: t.projects.clone(),
                deleted: t.container.status == ContainerStatus::Deleted,
                status: t.container.status,
                policy: t
                    .schedule
                    .as_ref()
                    .and_then(|s| s.keep)
                    .map(|k| k.describe()),
                undo: None,
                servers: t.servers.clone(),
                server_id: t.container.server_id.clone(),
            };
            let undo = undo_of_last_restore(&t.snapshots);
            t.snapshots
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let mut ctx = ctx.clone();
                    if i == 0 {
                        ctx.undo = undo.clone();
                    }
                    (s.clone(), ctx)
                })
                .collect()
        }
        _ => Vec::new(),
    })
}

/// When the newest snapshot is the safety snapshot of the last restore, that restore's time
/// (`14:05 UTC`): its alias is `before-restore-<name>` (or `…-2`, see the service's
/// `free_alias`), snapshot `<name>` exists, and was used (restored) after it was taken.
/// Undoing restores the safety snapshot, as the outcome's "Undo restore" does.
fn undo_of_last_restore(snapshots: &[Snapshot]) -> Option<String> {
    let newest = snapshots.first()?;
    let target = newest.alias.as_deref()?.strip_prefix("before-restore-")?;
    let restored = snapshots.iter().skip(1).find(|t| {
        target == t.name
            || target
                .strip_prefix(t.name.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|n| n.parse::<u32>().is_ok())
    })?;
    let used = restored.last_used_at.as_deref()?;
    (epoch_seconds(used)? >= epoch_seconds(&newest.created_at)?)
        .then(|| newest.created_at.get(11..16).map(|hm| format!("{hm} UTC")))
        .flatten()
}

/// What a card shows: a card is rebuilt when this changed, and only then.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CardKey {
    name: String,
    alias: Option<String>,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    exclusive_bytes: Option<u64>,
    deleted: bool,
    status: ContainerStatus,
    /// The keep policy that may delete it (scheduled snapshots only).
    policy: Option<String>,
    undo: Option<String>,
}

fn card_key((s, ctx): &(Snapshot, CardContext)) -> CardKey {
    CardKey {
        name: s.name.clone(),
        alias: s.alias.clone(),
        expires_at: s.expires_at.clone(),
        last_used_at: s.last_used_at.clone(),
        exclusive_bytes: s.exclusive_bytes,
        deleted: ctx.deleted,
        status: ctx.status,
        policy: ctx.policy.clone().filter(|_| s.scheduled),
        undo: ctx.undo.clone(),
    }
}

/// What is running on this container now, from the live stream.
#[component]
fn Progress(live: crate::live::Live) -> impl IntoView {
    view! {
        <div class="live-progress" role="status" aria-live="polite" data-testid="progress">
            {move || live.progress.get().map(|e| view! {
                <p class="notice info"><span class="spinner" aria-hidden="true"></span>{crate::live::describe(&e)}</p>
            })}
        </div>
    }
}

/// The per-snapshot actions, shared by every card.
#[derive(Clone, Copy)]
pub(crate) struct Actions {
    pub(crate) restore: ServerAction<RestoreSnapshot>,
    pub(crate) delete: ServerAction<DeleteSnapshot>,
    pub(crate) copy: ServerAction<CopySnapshot>,
    pub(crate) update: ServerAction<UpdateSnapshot>,
    pub(crate) verify: ServerAction<VerifySnapshot>,
    pub(crate) publish: ServerAction<PublishImage>,
    pub(crate) container: ServerAction<ContainerAction>,
    pub(crate) save_schedule: ServerAction<SaveSchedule>,
    pub(crate) turn_off: ServerAction<DeleteSchedule>,
}

/// The parts of the page that simply follow the data: title, status and axis.
#[component]
fn TimelineHead(t: Timeline, act: ServerAction<ContainerAction>) -> impl IntoView {
    let c = t.container.clone();
    let deleted = c.status == ContainerStatus::Deleted;
    // Paused counts as running: its processes exist, and stop ends them.
    let paused = c.status == ContainerStatus::Paused;
    let running = c.status == ContainerStatus::Running || paused;
    let title = c.name.clone();
    let cname = c.name.clone();
    let cid = c.id.clone();
    let compare = (!t.snapshots.is_empty()).then(|| {
        let href = format!("/containers/{}/diff", c.id);
        view! { <a href=href class="button" rel="external">"Compare snapshots"</a> }
    });
    view! {
        <Title text=title.clone()/>
        <div class="page-head timeline-head">
            <p class="crumbs"><a href="/">"Containers"</a>" / "</p>
            <h1>{c.name.clone()}" "<StatusBadge status=c.status.to_string()/></h1>
            <p class="lede">
                {format!("{} · image {} · {} · {} snapshot{}", c.project_name, c.image, human_bytes(c.size),
                    t.total, if t.total == 1 { "" } else { "s" })}
            </p>
            <p class="muted" data-testid="limits">
                {format!("Limits: {} MiB memory · {} processes · {} CPU{}", c.limits.memory_mb, c.limits.pids,
                    c.limits.cpus, if c.limits.cpus == 1.0 { "" } else { "s" })}
                " · on server "
                <a href="/system#servers" rel="external" data-testid="server"><code>{c.server_id.clone()}</code></a>
            </p>
            // In the static head, before any Suspense: a sibling after the schedule's
            // resources would move the hydration markers when they resolve late.
            {c.attention.clone().map(|why| view! {
                <p class="notice error" role="alert" data-testid="attention">
                    <strong>"Needs attention: "</strong>{why}
                </p>
            })}
            <div class="head-actions">
                <Show when=move || !deleted>
                    <ContainerActionButton act=act id=cid.clone() name=cname.clone()
                        action=if running { "stop" } else { "start" }
                        label=if running { "Stop container" } else { "Start container" }/>
                    {running.then(|| view! {
                        <ContainerActionButton act=act id=cid.clone() name=cname.clone()
                            action=if paused { "resume" } else { "pause" }
                            label=if paused { "Resume" } else { "Pause" }/>
                    })}
                </Show>
                {compare}
            </div>
        </div>
        <Axis times=t.axis.clone() snapshots=t.snapshots.clone() now=t.now.clone()/>
        {deleted.then(|| view! {
            <p class="notice warn">"This container was deleted. Its snapshots remain: copy one into a new container, or delete them."</p>
        })}
    }
}

/// A horizontal time axis from the oldest snapshot to NOW, one point per snapshot.
///
/// The SVG is built as markup (every user string escaped): the same string on the server
/// and in the browser, and far less code in the wasm bundle than a reactive view per point.
/// Positions are attributes, so the Content-Security-Policy needs no inline styles.
#[component]
fn Axis(times: Vec<AxisPoint>, snapshots: Vec<Snapshot>, now: String) -> impl IntoView {
    let svg = axis_svg(&times, &snapshots, &now);
    let first_label = times
        .last()
        .map(|t| relative(&t.created_at, &now))
        .unwrap_or_else(|| "no snapshots yet".into());
    view! {
        <figure class="axis card" aria-label="Snapshot timeline">
            <div class="axis-svg" inner_html=svg></div>
            <figcaption class="axis-labels">
                <span>{first_label}</span>
                <span class="axis-now-label">"NOW"</span>
            </figcaption>
        </figure>
    }
}

fn axis_svg(times: &[AxisPoint], snapshots: &[Snapshot], now: &str) -> String {
    use std::fmt::Write;
    let now_s = epoch_seconds(now).unwrap_or(0);
    let oldest = times
        .iter()
        .filter_map(|t| epoch_seconds(&t.created_at))
        .min()
        .unwrap_or(now_s);
    let span = (now_s - oldest).max(1) as f64;
    // The line runs from x=20 to x=980 of a 1000-wide box.
    let x = |t: &str| 20.0 + 940.0 * ((epoch_seconds(t).unwrap_or(oldest) - oldest) as f64 / span);
    let mut svg = String::from(
        r#"<svg viewBox="0 0 1000 56" role="img" aria-hidden="true" preserveAspectRatio="none"><line x1="20" y1="24" x2="980" y2="24" class="axis-line"/>"#,
    );
    // Named points for the snapshots with cards; the rest of the history as plain dots.
    let named: std::collections::HashSet<&str> =
        snapshots.iter().map(|s| s.created_at.as_str()).collect();
    for t in times
        .iter()
        .filter(|t| !named.contains(t.created_at.as_str()))
    {
        let _ = write!(
            svg,
            r#"<circle cx="{}" cy="24" r="5" class="axis-point older"/>"#,
            tenths(x(&t.created_at))
        );
    }
    for s in snapshots {
        let label = format!(
            "{} · {}",
            s.alias.as_deref().unwrap_or(&s.name),
            short_time(&s.created_at)
        );
        let _ = write!(
            svg,
            r#"<circle cx="{}" cy="24" r="7" class="axis-point"><title>{}</title></circle>"#,
            tenths(x(&s.created_at)),
            escape_html(&label)
        );
    }
    svg.push_str(r#"<circle cx="980" cy="24" r="9" class="axis-now"/></svg>"#);
    svg
}

#[component]
fn CreateSnapshotForm(id: String, create: ServerAction<CreateSnapshot>) -> impl IntoView {
    let alias = RwSignal::new(String::new());
    let problem = move || alias_problem(&alias.get());
    // Taken: the alias is cleared, so a second click does not make a second snapshot
    // under the same alias.
    let form = NodeRef::new();
    crate::components::reset_after_success(
        move || matches!(create.value().get(), Some(Ok(_))),
        form,
        move || alias.set(String::new()),
    );
    view! {
        <section class="card" aria-labelledby="take-title">
            <h2 id="take-title">"Take a snapshot"</h2>
            <ActionForm action=create node_ref=form attr:class="grid-form">
                <input type="hidden" name="id" value=id/>
                <label for="alias">"Alias"</label>
                <div>
                    <input id="alias" name="alias" placeholder="before-ai-refactor"
                        aria-describedby="alias-help"
                        on:input=move |ev| alias.set(event_target_value(&ev))/>
                    <p id="alias-help" class=move || if problem().is_some() { "field-error" } else { "muted small" } aria-live="polite">
                        {move || problem().unwrap_or_else(|| "Optional. Up to 100 characters.".into())}
                    </p>
                </div>
                <span id="expiry-label">"Keep for"</span>
                <div class="presets" role="radiogroup" aria-labelledby="expiry-label">
                    {[("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("never", "Forever")].into_iter().map(|(v, label)| view! {
                        <label class="preset">
                            <input type="radio" name="expiry" value=v checked=v == "never"/>
                            <span>{label}</span>
                        </label>
                    }).collect_view()}
                </div>
                <span></span>
                <button type="submit" class="button primary"
                    disabled=move || create.pending().get() || problem().is_some()>
                    {move || if create.pending().get() { "Taking snapshot…" } else { "Take snapshot" }}
                </button>
            </ActionForm>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, alias: Option<&str>, created: &str, used: Option<&str>) -> Snapshot {
        let mut s: Snapshot = serde_json::from_value(serde_json::json!({
            "name": name, "created_at": created, "stateful": false, "size": 0,
            "file_count": 0, "added_bytes": 0,
        }))
        .unwrap();
        s.alias = alias.map(str::to_string);
        s.last_used_at = used.map(str::to_string);
        s
    }

    #[test]
    fn the_newest_safety_snapshot_of_a_restore_offers_its_undo() {
        let target = "snap-20261130-100000-aaaa";
        let restored = snap(
            target,
            Some("good"),
            "2026-11-30T10:00:00Z",
            Some("2026-11-30T14:05:09Z"),
        );
        let safety = |alias: &str| snap("snap-b", Some(alias), "2026-11-30T14:05:08Z", None);
        let undo = |list: &[Snapshot]| undo_of_last_restore(list);
        let alias = format!("before-restore-{target}");
        assert_eq!(
            undo(&[safety(&alias), restored.clone()]).as_deref(),
            Some("14:05 UTC")
        );
        // The aliases Snapline takes when the first is taken (`…-2`).
        assert_eq!(
            undo(&[safety(&format!("{alias}-2")), restored.clone()]).as_deref(),
            Some("14:05 UTC")
        );
        // Not the newest: a snapshot taken since hides it.
        let later = snap("snap-c", None, "2026-11-30T15:00:00Z", None);
        assert_eq!(undo(&[later, safety(&alias), restored.clone()]), None);
        // A snapshot merely named like one, with no restore after it, offers nothing.
        let unused = snap(target, None, "2026-11-30T10:00:00Z", None);
        assert_eq!(undo(&[safety(&alias), unused]), None);
        assert_eq!(
            undo(&[safety("before-restore-snap-gone"), restored.clone()]),
            None
        );
        assert_eq!(undo(&[safety(&format!("{alias}-x")), restored]), None);
    }

    #[test]
    fn messages_name_a_snapshot_by_alias_and_name() {
        use crate::model::snapshot_label;
        assert_eq!(
            snapshot_label(Some("before-ai"), "snap-1"),
            "before-ai (snap-1)"
        );
        assert_eq!(snapshot_label(None, "snap-1"), "snap-1");
        assert_eq!(snapshot_label(Some(" "), "snap-1"), "snap-1");
        assert_eq!(snapshot_label(Some("snap-1"), "snap-1"), "snap-1");
    }
}
