//! One snapshot's card on the timeline: its facts, and its actions (browse, export, compare,
//! edit, verify, restore, copy and fork, publish, delete, and the undo of the last restore),
//! each a confirmation that works without JavaScript.

use leptos::prelude::*;

use crate::api::{RestoreSnapshot, UpdateSnapshot};
use crate::components::{Confirm, succeeded};
use crate::model::{
    ContainerStatus, Project, ServerChoice, Snapshot, alias_problem, human_bytes, relative,
    short_time,
};
use crate::pages::timeline::Actions;

/// What every card needs besides its snapshot.
#[derive(Clone)]
pub(crate) struct CardContext {
    pub(crate) id: String,
    pub(crate) now: String,
    pub(crate) projects: Vec<Project>,
    pub(crate) deleted: bool,
    /// The container's status: a restore stops a running or paused one and starts it again,
    /// which its confirmation says.
    pub(crate) status: ContainerStatus,
    /// The schedule's keep policy in words (`daily 7, weekly 4`), when it has one: it may
    /// delete the cards marked `scheduled`.
    pub(crate) policy: Option<String>,
    /// On the newest card only, when it is the safety snapshot of the last restore: the
    /// restore's time (`14:05 UTC`), for "Undo the restore of …" (it survives a reload).
    pub(crate) undo: Option<String>,
    /// The nodes a copy may be built on; the copy dialog offers them when there are several.
    pub(crate) servers: Vec<ServerChoice>,
    /// The node that holds the container (the picker's default).
    pub(crate) server_id: String,
}

#[component]
pub(crate) fn SnapshotCard(s: Snapshot, ctx: CardContext, actions: Actions) -> impl IntoView {
    let CardContext {
        id,
        now,
        projects,
        deleted,
        status,
        policy,
        undo,
        servers,
        server_id,
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
                        {(servers.len() > 1).then(|| view! {
                            <label>"Server"
                                <select name="server" data-testid="copy-server">
                                    {servers.iter().map(|n| {
                                        let here = n.id == server_id;
                                        let label = n.option_label(here);
                                        view! { <option value=n.id.clone() selected=here disabled=!n.active>{label}</option> }
                                    }).collect_view()}
                                </select>
                            </label>
                        })}
                        <label>"How many (to fork)"
                            <input name="count" type="number" min="1" max="50" placeholder="1" inputmode="numeric"/>
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
