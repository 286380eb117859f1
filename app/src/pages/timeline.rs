//! A container's timeline: a time axis from the oldest snapshot to NOW, and a card per
//! snapshot with restore (with a safety snapshot and undo), delete and copy. Confirmations are
//! `<details>` disclosures, so they work before and without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{
    ContainerAction, CopySnapshot, CreateSnapshot, DeleteSnapshot, PublishImage, RestoreSnapshot,
    UpdateSnapshot, VerifySnapshot, load_timeline,
};
use crate::components::{
    Confirm, ContainerActionButton, PageError, StatusBadge, UrlError, succeeded,
};
use crate::error::AppError;
use crate::model::{
    AxisPoint, ContainerStatus, Project, Snapshot, Timeline, alias_problem, epoch_seconds,
    escape_html, human_bytes, relative, short_time, tenths,
};
use crate::pages::signin::SignInForm;
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
    };
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

/// What every card needs besides its snapshot.
#[derive(Clone)]
struct CardContext {
    id: String,
    now: String,
    projects: Vec<Project>,
    deleted: bool,
    /// The container's status: a restore stops a running or paused one and starts it again,
    /// which its confirmation says.
    status: ContainerStatus,
    /// The schedule's keep policy in words (`daily 7, weekly 4`), when it has one: it may
    /// delete the cards marked `scheduled`.
    policy: Option<String>,
    /// On the newest card only, when it is the safety snapshot of the last restore: the
    /// restore's time (`14:05 UTC`), for "Undo the restore of …" (it survives a reload).
    undo: Option<String>,
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
}

/// The parts of the page that simply follow the data: title, status, axis, storage and
/// schedule.
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
    let sched_id = c.id.clone();
    let schedule = t.schedule.clone();
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
        <div class="timeline-tools">
            <crate::pages::storage::StorageChart points=t.axis.clone()/>
            <Show when=move || !deleted>
                <crate::pages::schedule::ScheduleSection id=sched_id.clone() schedule=schedule.clone()/>
            </Show>
        </div>
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

#[component]
fn SnapshotCard(s: Snapshot, ctx: CardContext, actions: Actions) -> impl IntoView {
    let CardContext {
        id,
        now,
        projects,
        deleted,
        status,
        policy,
        undo,
    } = ctx;
    let title = s.alias.clone().unwrap_or_else(|| s.name.clone());
    let named = title.clone();
    let restore_label = crate::model::snapshot_label(s.alias.as_deref(), &s.name);
    // "permanent" only when nothing will delete it: a scheduled snapshot under a keep
    // policy goes when newer ones replace it, unless it is pinned.
    let expiry = match (&s.expires_at, policy.filter(|_| s.scheduled)) {
        (Some(e), _) => {
            view! { <span class="badge expiring">{format!("expires {}", relative(e, &now))}</span> }
                .into_any()
        }
        (None, Some(p)) => view! {
            <span class="badge expiring" data-testid="kept-by-policy"
                title=format!("Taken by the schedule. Its keep policy ({p}) deletes it once newer snapshots replace it (see what it would delete now under the schedule); Edit… → Forever pins it.")>
                "under keep policy"
            </span>
        }
        .into_any(),
        (None, None) => view! { <span class="badge permanent">"permanent"</span> }.into_any(),
    };
    let used = s
        .last_used_at
        .as_ref()
        .map(|u| format!("last used {}", relative(u, &now)))
        .unwrap_or_else(|| "never used".into());
    let frees = s
        .exclusive_bytes
        .map(|b| format!("frees {} if deleted", human_bytes(b)));
    let restart = match status {
        ContainerStatus::Running => {
            " The container is running: it will be stopped, and started again once the files are restored."
        }
        ContainerStatus::Paused => {
            " The container is paused: it will be stopped, started again once the files are restored, and paused again."
        }
        _ => "",
    };
    let when = format!(
        "Files changed since {} will be lost.{restart}",
        short_time(&s.created_at)
    );
    let (n1, n2, n3, n4) = (
        s.name.clone(),
        s.name.clone(),
        s.name.clone(),
        s.name.clone(),
    );
    let (i1, i2, i3, i4) = (id.clone(), id.clone(), id.clone(), id.clone());
    let browse = format!("/containers/{id}/snapshots/{}/files", s.name);
    let diff = format!("/containers/{id}/diff?from={}&against=live", s.name);
    let edit = view! { <EditSnapshot id=id.clone() s=s.clone() update=actions.update/> };
    let export = view! { <crate::components::ExportTarLink id=id.clone() name=s.name.clone()/> };
    let undo = undo.filter(|_| !deleted).map(|at| {
        let (uid, uname) = (id.clone(), s.name.clone());
        view! {
            <ActionForm action=actions.restore attr:class="inline-form">
                <input type="hidden" name="id" value=uid/>
                <input type="hidden" name="name" value=uname/>
                <button type="submit" class="button primary" data-testid="undo-restore">
                    {format!("Undo the restore of {at}")}
                </button>
            </ActionForm>
        }
    });
    let verify_name = s.name.clone();
    let verify_id = id.clone();
    let verify_alias = s.alias.clone().unwrap_or_default();
    let verify = view! {
        <Confirm id=format!("verify-{}", s.name) label="Verify…" title=format!("Verify snapshot {title}") closes=succeeded(actions.verify)>
            <p>"Checks that everything this snapshot needs is in the store and intact."</p>
            <ActionForm action=actions.verify attr:class="stack-form">
                <input type="hidden" name="id" value=verify_id/>
                <input type="hidden" name="name" value=verify_name/>
                <input type="hidden" name="alias" value=verify_alias/>
                <label class="check">
                    <input type="checkbox" name="deep" value="on"/>
                    " Re-read and re-hash all its data (slower)"
                </label>
                <button type="submit" class="button">"Verify snapshot"</button>
            </ActionForm>
        </Confirm>
    };
    let image_default = title
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect::<String>()
        .trim_matches('-')
        .to_string();
    let copy_default = format!(
        "{}-copy",
        title
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(40)
            .collect::<String>()
    );
    view! {
        <li class="snapshot-card card" data-snapshot=s.name.clone()>
            <div class="snapshot-head">
                <h3 class="snapshot-title">{title}</h3>
                {expiry}
            </div>
            <p class="snapshot-meta">
                <code>{s.name.clone()}</code>
                <time datetime=s.created_at.clone() title=short_time(&s.created_at)>
                    {format!(" · {} ({})", relative(&s.created_at, &now), short_time(&s.created_at))}
                </time>
            </p>
            <p class="snapshot-facts muted">
                {format!("{} · stored {} new · {}", human_bytes(s.size), human_bytes(s.added_bytes), used)}
                {frees.map(|f| format!(" · {f}"))}
            </p>
            <div class="snapshot-actions">
                <a href=browse class="button" rel="external">"Browse files"</a>
                {export}
                <Show when=move || !deleted>
                    <a href=diff.clone() class="button" rel="external">"Compare with now"</a>
                </Show>
                {undo}
                {edit}
                {verify}
                <Show when=move || !deleted>
                    <RestoreConfirm id=i1.clone() name=n1.clone() label=restore_label.clone() warning=when.clone() restore=actions.restore/>
                </Show>
                <Confirm id=format!("copy-{}", s.name) label="Copy…" title=format!("Copy snapshot {named}") closes=succeeded(actions.copy)>
                    <ActionForm action=actions.copy attr:class="stack-form">
                        <input type="hidden" name="id" value=i2.clone()/>
                        <input type="hidden" name="name" value=n2.clone()/>
                        <label>"New container"
                            <input name="new_name" required=true maxlength="63" value=copy_default.clone()/>
                        </label>
                        <label>"Project"
                            <select name="project">
                                {projects.iter().map(|p| view! { <option value=p.id.clone()>{p.name.clone()}</option> }).collect_view()}
                            </select>
                        </label>
                        <label>"How many (to fork)"
                            <input name="count" type="number" min="1" max="50" placeholder="empty: one" inputmode="numeric"/>
                        </label>
                        <p class="muted small">"Empty: one container with the name above. A number N forks the snapshot into NAME-1 … NAME-N, all filled from one read."</p>
                        <button type="submit" class="button">"Copy"</button>
                    </ActionForm>
                </Confirm>
                <Confirm id=format!("publish-{}", s.name) label="Publish…" title=format!("Publish snapshot {named}") closes=succeeded(actions.publish)>
                    <p>"Makes an image from this snapshot. New containers can start from it, exactly as this snapshot; it stores nothing new."</p>
                    <ActionForm action=actions.publish attr:class="stack-form">
                        <input type="hidden" name="id" value=i4.clone()/>
                        <input type="hidden" name="name" value=n4.clone()/>
                        <label>"Image name"
                            <input name="image" required=true maxlength="64" pattern=r"[a-z0-9][a-z0-9._\-]*"
                                value=image_default.clone() title="Lowercase letters, digits, '.', '_' or '-'"/>
                        </label>
                        <button type="submit" class="button">"Publish as an image"</button>
                    </ActionForm>
                </Confirm>
                <Confirm id=format!("delete-{}", s.name) label="Delete…" title=format!("Delete snapshot {named}") class="button danger-outline" closes=succeeded(actions.delete)>
                    <p>"This snapshot cannot be recovered once deleted."</p>
                    <ActionForm action=actions.delete attr:class="inline-form">
                        <input type="hidden" name="id" value=i3.clone()/>
                        <input type="hidden" name="name" value=n3.clone()/>
                        <input type="hidden" name="alias" value=s.alias.clone().unwrap_or_default()/>
                        <button type="submit" class="button danger">"Delete snapshot"</button>
                    </ActionForm>
                </Confirm>
            </div>
        </li>
    }
    .into_any()
}

/// Edits a snapshot's alias and expiry, or pins it (it never expires).
#[component]
fn EditSnapshot(id: String, s: Snapshot, update: ServerAction<UpdateSnapshot>) -> impl IntoView {
    let alias = RwSignal::new(s.alias.clone().unwrap_or_default());
    let problem = move || alias_problem(&alias.get());
    let help_id = format!("edit-help-{}", s.name);
    let keep_label = match &s.expires_at {
        Some(e) => format!("Keep the current expiry ({})", short_time(e)),
        None => "Keep it pinned (never expires)".to_string(),
    };
    view! {
        <Confirm id=format!("edit-{}", s.name) label="Edit…" title=format!("Edit snapshot {}", s.alias.clone().unwrap_or_else(|| s.name.clone())) closes=succeeded(update)>
            <ActionForm action=update attr:class="stack-form">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="name" value=s.name.clone()/>
                <label>"New alias"
                    <input name="alias" value=s.alias.clone().unwrap_or_default() maxlength="400"
                        placeholder="no alias" aria-describedby=help_id.clone()
                        on:input=move |ev| alias.set(event_target_value(&ev))/>
                </label>
                <p id=help_id class=move || if problem().is_some() { "field-error" } else { "muted small" } aria-live="polite">
                    {move || problem().unwrap_or_else(|| "Empty for no alias.".into())}
                </p>
                <label>"New expiry"
                    <select name="expiry">
                        <option value="keep" selected=true>{keep_label}</option>
                        <option value="never">"Pin: never expire"</option>
                        <option value="7">"Expire in 7 days"</option>
                        <option value="30">"Expire in 30 days"</option>
                        <option value="90">"Expire in 90 days"</option>
                    </select>
                </label>
                <button type="submit" class="button primary" disabled=move || problem().is_some()>"Save changes"</button>
            </ActionForm>
        </Confirm>
    }
}

/// The restore confirmation: what will be lost, and a safety snapshot checked by default.
#[component]
fn RestoreConfirm(
    id: String,
    name: String,
    /// The snapshot as messages name it (alias and name).
    label: String,
    warning: String,
    restore: ServerAction<RestoreSnapshot>,
) -> impl IntoView {
    view! {
        <Confirm id=format!("restore-{name}") label="Restore…" title=format!("Restore snapshot {label}") closes=succeeded(restore)>
            <p>{warning}</p>
            <ActionForm action=restore attr:class="stack-form">
                <input type="hidden" name="id" value=id/>
                <input type="hidden" name="name" value=name/>
                <label class="check">
                    <input type="checkbox" name="safety" value="on" checked=true/>
                    " Take a safety snapshot first (so this restore can be undone)"
                </label>
                <button type="submit" class="button primary">"Restore this snapshot"</button>
            </ActionForm>
        </Confirm>
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
