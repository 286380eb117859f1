//! The node's own page: its version and self-checks (a database write and read-back, and
//! the data directory's free space), every node serving from the same database with its
//! status and figures, and the projects the user sees, which an admin can delete once they
//! are empty. Every action is a plain form POST that comes back to this
//! page: the new check on top, or what was deleted (a signed outcome, see
//! [`crate::model::Done`]).

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{load_servers, load_system_status, whoami};
use crate::components::{Confirm, ErrorNotice, UrlError};
use crate::error::AppError;
use crate::model::SystemStatus;
use crate::pages::signin::SignInForm;

#[component]
pub fn SystemPage() -> impl IntoView {
    let status = Resource::new(|| (), |_| load_system_status());

    view! {
        <Title text="System"/>
        <div class="page-head">
            <h1>"System"</h1>
            <p class="lede">"This Snapline node: its version, its self-checks and the servers beside it."</p>
        </div>
        <section class="card" aria-labelledby="system-check-title">
            <div class="card-head">
                <h2 id="system-check-title">"System check"</h2>
                <form method="post" action="/rpc/run_system_check" class="inline-form">
                    <button type="submit" class="button">"Run system check"</button>
                </form>
            </div>
            <p class="muted">
                "Writes a record to the database, reads it back and measures the free space "
                "of the data directory."
            </p>
            <div class="result" role="status" aria-live="polite" data-testid="check-result">
                <UrlError paths=&["/rpc/run_system_check"]/>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading recent checks…"</p> }>
                {move || status.get().map(|s| match s {
                    Ok(s) => render_status(s).into_any(),
                    Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
        </section>
        <ServersCard/>
        <ProjectsCard/>
    }
}

/// Every node serving from this database: which answers (its heartbeat is recent), how much
/// its store holds, its free disk and how many containers live on it.
#[component]
fn ServersCard() -> impl IntoView {
    let servers = Resource::new(|| (), |_| load_servers());
    view! {
        <section class="card" id="servers" aria-labelledby="servers-title">
            <h2 id="servers-title">"Servers"</h2>
            <p class="muted">
                "The nodes serving from this database, this one first. A node is offline when "
                "it has not reported for 20 seconds; its containers stay on it."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading servers…"</p> }>
                {move || servers.get().map(|r| match r {
                    Ok(list) => view! {
                        <ul class="check-list server-list">
                            {list.into_iter().map(|s| {
                                let active = s.status == "active";
                                let containers = s.container_count;
                                // The macro renders children before attributes: own copies.
                                let (attr_id, attr_status) = (s.id.clone(), s.status.clone());
                                view! {
                                    <li data-server=attr_id data-status=attr_status>
                                        <span class=if active { "dot ok" } else { "dot warn" } aria-hidden="true"></span>
                                        <strong>{s.name}</strong>
                                        " "<code class="muted">{s.id}</code>
                                        {(!s.url.is_empty()).then(|| view! { " "<code class="muted">{s.url.clone()}</code> })}
                                        " "<span class=if active { "badge status-running" } else { "badge status-paused" }>{s.status}</span>
                                        <span class="check-summary">
                                            {format!(
                                                "{containers} {} · store {}{} · {} free of {} · Snapline {}",
                                                if containers == 1 { "container" } else { "containers" },
                                                types::units::human_bytes(s.store_bytes),
                                                if s.store == "local" {
                                                    String::new()
                                                } else {
                                                    format!(
                                                        " in {} ({} cached here)",
                                                        s.store,
                                                        types::units::human_bytes(s.cache_bytes)
                                                    )
                                                },
                                                types::units::human_bytes(s.disk_free_bytes),
                                                types::units::human_bytes(s.disk_total_bytes),
                                                s.version,
                                            )}
                                            {(!active && !s.last_seen_at.is_empty()).then(|| view! {
                                                " · last seen "<time datetime=s.last_seen_at.clone()>{s.last_seen_at.clone()}</time>
                                            })}
                                        </span>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(AppError::Unauthorized(_)) => ().into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

/// The projects the user sees; an admin deletes one that holds nothing any more.
#[component]
fn ProjectsCard() -> impl IntoView {
    let who = Resource::new(|| (), |_| whoami());
    let outcome = crate::components::signed_outcome();
    view! {
        <section class="card" aria-labelledby="projects-title">
            <h2 id="projects-title">"Projects"</h2>
            <p class="muted">
                "An admin can delete a project once it holds no containers, no snapshots of "
                "deleted containers and no published images. The last project stays."
            </p>
            <div class="result" role="status" aria-live="polite" data-testid="project-outcome">
                <UrlError paths=&["/rpc/delete_project"]/>
                <Suspense fallback=|| ()>
                    {move || outcome.get().and_then(|o| o.ok().flatten()).and_then(|d| match d {
                        crate::model::Done::ProjectDeleted(_) => d.sentence(),
                        _ => None,
                    }).map(|s| view! { <p class="notice ok">{s}</p> })}
                </Suspense>
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading projects…"</p> }>
                {move || who.get().map(|r| match r {
                    Ok(Some(identity)) => view! {
                        <ul class="project-list">
                            {identity.projects.into_iter().map(|p| {
                                let question = format!(
                                    "Delete the project {}? It is refused while it holds anything, and the answer says what.",
                                    p.name
                                );
                                let (id, name) = (p.id.clone(), p.name.clone());
                                view! {
                                    <li data-project=p.name.clone()>
                                        <strong>{p.name.clone()}</strong>" "<code class="muted">{p.id.clone()}</code>
                                        {identity.admin.then(|| view! {
                                            <Confirm id=format!("delete-project-{}", p.id) label="Delete…"
                                                title=format!("Delete project {}", p.name) class="button small danger-outline">
                                                <p>{question}</p>
                                                <form method="post" action="/rpc/delete_project" class="inline-form">
                                                    <input type="hidden" name="id" value=id/>
                                                    <input type="hidden" name="name" value=name/>
                                                    <button type="submit" class="button danger">"Delete project"</button>
                                                </form>
                                            </Confirm>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

fn render_status(s: SystemStatus) -> impl IntoView {
    let total = s.total_checks;
    let version = s.version;
    if s.recent.is_empty() {
        return view! {
            <p class="muted" data-testid="check-count" data-count=total>
                {format!("No checks recorded yet · Snapline {version}")}
            </p>
        }
        .into_any();
    }
    view! {
        <p class="muted" data-testid="check-count" data-count=total>
            {format!("{total} {} recorded · Snapline {version}", if total == 1 { "check" } else { "checks" })}
        </p>
        <ul class="check-list">
            {s.recent.into_iter().map(|c| view! {
                <li data-check-id=c.id>
                    <span class=if c.ok { "dot ok" } else { "dot warn" } aria-hidden="true"></span>
                    <span class="check-id">{format!("#{}", c.id)}</span>
                    <time datetime=c.checked_at.clone()>{c.checked_at.clone()}</time>
                    <span class="check-summary">{c.summary}</span>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}
