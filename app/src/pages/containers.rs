//! The Containers page: every container the signed-in token sees, with its status, size,
//! snapshot count and last snapshot; create, start, stop and delete; deleted containers whose
//! snapshots remain, shown apart. Everything renders on the server and every form works
//! before (and without) JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{ContainerAction, CreateContainer, load_overview};
use crate::components::{
    Confirm, ContainerActionButton, ErrorNotice, PageError, StatusBadge, UrlError,
};
use crate::error::AppError;
use crate::model::{
    ContainerStatus, ContainerView, Overview, Snapshot, human_bytes, relative, short_time,
};
use crate::pages::signin::SignInForm;

#[component]
pub fn ContainersPage() -> impl IntoView {
    let create = ServerAction::<CreateContainer>::new();
    let act = ServerAction::<ContainerAction>::new();
    // A plain form's outcome (no JavaScript) comes back in the address, signed.
    let outcome = crate::components::signed_outcome();
    // Containers and snapshots made elsewhere (a teammate, the CLI) show up without a reload.
    let loaded = RwSignal::new(false);
    let live = crate::live::use_live(|| None, move || loaded.get());
    let data = Resource::new(
        move || {
            (
                create.version().get(),
                act.version().get(),
                live.changes.get(),
            )
        },
        |_| load_overview(),
    );
    Effect::new(move |_| {
        if data.with(|d| matches!(d, Some(Ok(_)))) {
            loaded.set(true);
        }
    });
    view! {
        <Title text="Containers"/>
        <div class="page-head">
            <h1>"Containers"</h1>
            <p class="lede">
                "Snapshot before a risky change, and restore in one click when it goes wrong. "
                "Open a container to see its timeline."
            </p>
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading containers…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(o) => view! {
                    <ContainerList o=o.clone() act=act/>
                    <CreateContainerForm o=o.clone() create=create/>
                    <DeletedContainers o=o/>
                }.into_any(),
                Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                Err(e) => view! { <PageError error=e/> }.into_any(),
            })}
        </Transition>
        // What the last start, stop or delete did: this page's action, else a plain form's
        // outcome from the address.
        <Suspense fallback=|| ()>
            {move || outcome.get().map(|from_address| {
                let from_address = from_address.ok().flatten();
                view! {
                    <div class="outcomes" role="status" aria-live="polite" data-testid="outcome">
                        {move || match crate::components::answer(act) {
                            Some(Ok(acted)) => Some(view! { <p class="notice ok">{acted.said()}</p> }.into_any()),
                            Some(Err(e)) => Some(view! { <ErrorNotice error=e/> }.into_any()),
                            None => match from_address.clone() {
                                Some(crate::model::Done::Container(acted)) => Some(view! { <p class="notice ok">{acted.said()}</p> }.into_any()),
                                Some(d @ crate::model::Done::ContainerCreated(_)) => d.sentence().map(|s| view! { <p class="notice ok">{s}</p> }.into_any()),
                                _ => None,
                            },
                        }}
                        <UrlError paths=&["/rpc/container_action"]/>
                    </div>
                }
            })}
        </Suspense>
    }
}

#[component]
fn ContainerList(o: Overview, act: ServerAction<ContainerAction>) -> impl IntoView {
    if o.containers.is_empty() {
        return view! {
            <section class="card empty-state" aria-labelledby="no-containers">
                <h2 id="no-containers">"No containers yet"</h2>
                <p>"Create one below from an image; the "<code>"demo"</code>" image is a small busybox system."</p>
            </section>
        }
        .into_any();
    }
    let now = o.now.clone();
    view! {
        <section class="card" aria-labelledby="container-list-title">
            <h2 id="container-list-title" class="visually-hidden">"Your containers"</h2>
            <ul class="container-list">
                {o.containers.iter().cloned().map(|c| {
                    let node = o.node_label(&c.server_id);
                    view! { <ContainerRow c=c node=node now=now.clone() act=act/> }
                }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn ContainerRow(
    c: ContainerView,
    /// The node holding it, when the cluster has several ([`Overview::node_label`]).
    node: Option<String>,
    now: String,
    act: ServerAction<ContainerAction>,
) -> impl IntoView {
    let href = format!("/containers/{}", c.id);
    let last = match &c.last_snapshot_at {
        Some(t) => format!("last snapshot {}", relative(t, &now)),
        None => "no snapshot yet".to_string(),
    };
    // Paused counts as running: its processes exist, and stop ends them.
    let paused = c.status == ContainerStatus::Paused;
    let running = c.status == ContainerStatus::Running || paused;
    let id = c.id.clone();
    let id2 = c.id.clone();
    let delete_message = format!(
        "Delete {} and its live filesystem? Its snapshots stay and can be copied into a new container.",
        c.name
    );
    // Children of `<A>` are closures: take what they show out of `c` first.
    let name = c.name.clone();
    let cname = c.name.clone();
    let status = c.status.to_string();
    let place = match node {
        Some(node) => format!("{} · {} · on {node}", c.project_name, c.image),
        None => format!("{} · {}", c.project_name, c.image),
    };
    let attention = c.attention.clone();
    view! {
        <li class="container-row" data-container-id=c.id.clone()>
            <div class="container-main">
                <a href=href class="container-name">{name}</a>
                <StatusBadge status=status/>
                {attention.map(|why| view! { <span class="attention" title=why>"needs attention"</span> })}
                <span class="muted">{place}</span>
            </div>
            <div class="container-facts">
                <span>{human_bytes(c.size)}</span>
                <span>{format!("{} snapshot{}", c.snapshot_count, if c.snapshot_count == 1 { "" } else { "s" })}</span>
                <span class="muted">{last}</span>
            </div>
            <div class="container-actions">
                <ContainerActionButton act=act id=id.clone() name=cname.clone()
                    action=if running { "stop" } else { "start" }
                    label=if running { "Stop" } else { "Start" }/>
                {running.then(|| view! {
                    <ContainerActionButton act=act id=id.clone() name=cname.clone()
                        action=if paused { "resume" } else { "pause" }
                        label=if paused { "Resume" } else { "Pause" }/>
                })}
                <Confirm id=format!("delete-{}", c.id) label="Delete…" title=format!("Delete container {}", c.name) class="button danger-outline" closes=crate::components::succeeded(act)>
                    <p>{delete_message}</p>
                    <ContainerActionButton act=act id=id2 name=cname.clone() action="delete"
                        label="Delete container" class="button danger"/>
                </Confirm>
            </div>
        </li>
    }
}

#[component]
fn CreateContainerForm(o: Overview, create: ServerAction<CreateContainer>) -> impl IntoView {
    let form = NodeRef::new();
    crate::components::reset_after_success(
        move || matches!(create.value().get(), Some(Ok(_))),
        form,
        || {},
    );
    // After a refused plain form (no JavaScript) the address holds what was typed and why.
    let typed = |k: &'static str| crate::components::query_value(k)().unwrap_or_default();
    let (t_name, t_image, t_project) = (typed("name"), typed("image"), typed("project"));
    let (t_memory, t_pids, t_cpus) = (typed("memory_mb"), typed("pids"), typed("cpus"));
    let limits_typed = !(t_memory.is_empty() && t_pids.is_empty() && t_cpus.is_empty());
    view! {
        <section class="card" aria-labelledby="create-container-title">
            <h2 id="create-container-title">"Create a container"</h2>
            <UrlError paths=&["/rpc/create_container"] testid="create-error"/>
            <ActionForm action=create node_ref=form attr:class="grid-form">
                <label for="new-name">"Name"</label>
                <input id="new-name" name="name" required=true maxlength="63" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*"
                    title="Letters, digits, '.', '_' or '-', starting with a letter or digit" placeholder="web" value=t_name/>
                <label for="new-image">"Image"</label>
                <select id="new-image" name="image">
                    {o.images.into_iter().map(|i| {
                        let chosen = i == t_image;
                        view! { <option value=i.clone() selected=chosen>{i.clone()}</option> }
                    }).collect_view()}
                </select>
                <label for="new-project">"Project"</label>
                <select id="new-project" name="project">
                    {o.identity.projects.into_iter().map(|p| {
                        let chosen = p.id == t_project;
                        view! { <option value=p.id.clone() selected=chosen>{p.name.clone()}</option> }
                    }).collect_view()}
                </select>
                <details class="limits span-2" open=limits_typed>
                    <summary>"Limits (optional)"</summary>
                    <div class="grid-form">
                        <label for="new-memory">"Memory (MiB)"</label>
                        <input id="new-memory" name="memory_mb" type="number" min="16" step="1" placeholder="1024" value=t_memory/>
                        <label for="new-pids">"Processes"</label>
                        <input id="new-pids" name="pids" type="number" min="8" step="1" placeholder="1024" value=t_pids/>
                        <label for="new-cpus">"CPUs"</label>
                        <input id="new-cpus" name="cpus" type="number" min="0.01" step="0.01" placeholder="1" value=t_cpus/>
                    </div>
                </details>
                <span></span>
                <button type="submit" class="button primary" disabled=move || create.pending().get()>
                    {move || if create.pending().get() { "Creating…" } else { "Create container" }}
                </button>
            </ActionForm>
            <div role="status" aria-live="polite">
                {move || crate::components::answer(create).map(|r| match r {
                    Ok(c) => view! { <p class="notice ok">{format!("Created {}.", c.name)}</p> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </div>
        </section>
    }
}

#[component]
fn DeletedContainers(o: Overview) -> impl IntoView {
    if o.deleted.is_empty() {
        return ().into_any();
    }
    let now = o.now.clone();
    view! {
        <section class="card" aria-labelledby="deleted-title">
            <h2 id="deleted-title">"Deleted containers with snapshots"</h2>
            <p class="muted">"Their snapshots remain: open one to copy a snapshot into a new container, or delete them."</p>
            <ul class="container-list">
                {o.deleted.into_iter().map(|(c, snaps)| {
                    let href = format!("/containers/{}", c.id);
                    let status = c.status.to_string();
                    let name = c.name.clone();
                    view! {
                        <li class="container-row deleted" data-container-id=c.id.clone()>
                            <div class="container-main">
                                <a href=href class="container-name">{name}</a>
                                <StatusBadge status=status/>
                            </div>
                            <ul class="snapshot-chips">
                                {snaps.into_iter().map(|s: Snapshot| view! {
                                    <li title=short_time(&s.created_at)>
                                        {s.alias.clone().unwrap_or_else(|| s.name.clone())}
                                        <span class="muted">{format!(" · {}", relative(&s.created_at, &now))}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
    .into_any()
}
