//! A snapshot's files: browse its directories and download one file.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::browse_snapshot;
use crate::components::PageError;
use crate::error::AppError;
use crate::model::{FileEntry, human_bytes, query_escape, restore_page, short_time};
use crate::pages::signin::SignInForm;

#[component]
pub fn FilesPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    let path_value = crate::components::query_value("path");
    let path = move || normalize(&path_value().unwrap_or_default());
    let data = Resource::new(
        move || (id(), name(), path()),
        |(id, name, path)| browse_snapshot(id, name, path),
    );
    view! {
        <Title text="Files"/>
        <Transition fallback=|| view! { <p class="muted">"Loading the directory…"</p> }>
            {move || data.get().map(|r| {
                let (id, name) = (id(), name());
                match r {
                    Ok(listing) => view! { <SnapshotFiles id=id name=name path=listing.path entries=listing.entries/> }.into_any(),
                    Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                    Err(e) => {
                        let back = format!("/containers/{id}");
                        view! {
                            <div class="page-head"><h1>"Files of "{name}</h1></div>
                            <PageError error=e/>
                            <p><A href=back>"Back to the timeline"</A></p>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

use crate::pages::restore_path::normalize;

fn join(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

#[component]
fn SnapshotFiles(id: String, name: String, path: String, entries: Vec<FileEntry>) -> impl IntoView {
    let base = format!("/containers/{id}/snapshots/{name}/files");
    // Breadcrumbs: / › etc › nginx
    let mut crumbs = vec![("/".to_string(), "/".to_string())];
    let mut acc = String::new();
    for part in path.split('/').filter(|s| !s.is_empty()) {
        acc = format!("{acc}/{part}");
        crumbs.push((acc.clone(), part.to_string()));
    }
    let last = crumbs.len() - 1;
    let crumbs = crumbs
        .into_iter()
        .enumerate()
        .map(|(i, (p, label))| {
            let href = format!("{base}?path={}", query_escape(&p));
            if i == last {
                view! { <span aria-current="page">{label}</span> }.into_any()
            } else {
                view! { <A href=href>{label}</A>" › " }.into_any()
            }
        })
        .collect_view();
    let count = entries.len();
    // The restore page's Cancel comes back to this listing.
    let here = format!("{base}?path={}", query_escape(&path));
    let restore_link = |full: &str, label: String| {
        let href = restore_page(&id, &name, full, &here);
        view! { <a href=href class="restore-link" aria-label=label>"Restore…"</a> }
    };
    let restore_here = (path != "/").then(|| {
        let href = restore_page(&id, &name, &path, &here);
        view! { <p><a href=href class="button">"Restore this folder…"</a></p> }
    });
    let rows = entries
        .into_iter()
        .map(|e| {
            let full = join(&path, &e.name);
            let (row_name, shown) = (e.name.clone(), e.name.clone());
            let link = match e.entry_type.as_str() {
                "dir" => {
                    let href = format!("{base}?path={}", query_escape(&full));
                    view! { <A href=href attr:class="entry-dir">{shown}"/"</A> }.into_any()
                }
                "file" => {
                    // A plain link (rel=external): the router must not take it over.
                    let href = format!("/download/{id}/{name}?path={}", query_escape(&full));
                    let label = format!("Download {}", e.name);
                    view! {
                        <span class="entry-file">{e.name.clone()}</span>
                        " "<a href=href rel="external" download="" class="download" aria-label=label>"Download"</a>
                    }.into_any()
                }
                _ => view! { <span>{e.name.clone()}</span> }.into_any(),
            };
            let restore = restore_link(&full, format!("Restore {}…", e.name));
            let detail = match (&e.entry_type[..], &e.link_target) {
                ("file", _) => human_bytes(e.size),
                ("symlink", Some(t)) => format!("→ {t}"),
                (t, _) => t.to_string(),
            };
            view! {
                <tr data-entry=row_name>
                    <td>{link}</td>
                    <td class="num">{detail}</td>
                    <td><code>{e.mode.clone()}</code>{format!(" {}:{}", e.uid, e.gid)}</td>
                    <td>{short_time(&e.mtime)}</td>
                    <td>{restore}</td>
                </tr>
            }
        })
        .collect_view();
    let back = format!("/containers/{id}");
    view! {
        <div class="page-head">
            <p class="crumbs"><A href="/">"Containers"</A>" / "<A href=back>"Timeline"</A>" / "</p>
            <h1>"Files of "<code>{name.clone()}</code></h1>
            <p><crate::components::ExportTarLink id=id.clone() name=name.clone()/></p>
            <nav class="path-crumbs" aria-label="Directory">{crumbs}</nav>
            {restore_here}
        </div>
        <section class="card">
            {if count == 0 {
                view! { <p class="muted empty-state">"This directory is empty."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="files">
                            <caption class="visually-hidden">{format!("{} in {path}", crate::model::count(count, "entry", "entries"))}</caption>
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Size"</th><th scope="col">"Mode, owner"</th><th scope="col">"Modified"</th><th scope="col"><span class="visually-hidden">"Restore"</span></th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
