//! A snapshot's files: browse its directories and download one file.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::browse_snapshot;
use crate::components::PageError;
use crate::error::AppError;
use crate::model::{FileEntry, human_bytes, normalize_bytes, restore_page_bytes, short_time};
use crate::pages::signin::SignInForm;

#[component]
pub fn FilesPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let name = move || params.read().get("name").unwrap_or_default();
    // The path as bytes (names need not be UTF-8), sent percent-encoded.
    let path_value = crate::components::query_bytes("path");
    let path = move || types::raw::encode(&normalize_bytes(&path_value().unwrap_or_default()));
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
                    Ok((listing, label)) => {
                        let path = normalize_bytes(&path_value().unwrap_or_default());
                        view! { <SnapshotFiles id=id name=name label=label path=path entries=listing.entries/> }.into_any()
                    }
                    Err(AppError::Unauthorized(_)) => view! { <SignInForm/> }.into_any(),
                    Err(e) => {
                        let back = format!("/containers/{id}");
                        view! {
                            <div class="page-head"><h1>"Files"</h1></div>
                            <PageError error=e/>
                            <p><a href=back>"Back to the timeline"</a></p>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// `dir/name` as bytes.
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if p != b"/" {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// An entry's exact name: its `raw_name` when the name is not UTF-8.
fn name_bytes(e: &FileEntry) -> Vec<u8> {
    e.raw_name
        .as_deref()
        .map(types::raw::decode)
        .unwrap_or_else(|| e.name.as_bytes().to_vec())
}

#[component]
fn SnapshotFiles(
    id: String,
    name: String,
    /// The snapshot as the heading names it: alias (name).
    label: String,
    path: Vec<u8>,
    entries: Vec<FileEntry>,
) -> impl IntoView {
    let base = format!("/containers/{id}/snapshots/{name}/files");
    let shown_path = String::from_utf8_lossy(&path).into_owned();
    // Breadcrumbs: / › etc › nginx
    let mut crumbs = vec![(b"/".to_vec(), "/".to_string())];
    let mut acc: Vec<u8> = Vec::new();
    for part in path.split(|b| *b == b'/').filter(|s| !s.is_empty()) {
        acc.push(b'/');
        acc.extend_from_slice(part);
        crumbs.push((acc.clone(), String::from_utf8_lossy(part).into_owned()));
    }
    let last = crumbs.len() - 1;
    let crumbs = crumbs
        .into_iter()
        .enumerate()
        .map(|(i, (p, label))| {
            let href = format!("{base}?path={}", types::raw::encode(&p));
            if i == last {
                view! { <span aria-current="page">{label}</span> }.into_any()
            } else {
                view! { <a href=href>{label}</a>" › " }.into_any()
            }
        })
        .collect_view();
    let count = entries.len();
    // The restore page's Cancel comes back to this listing.
    let here = format!("{base}?path={}", types::raw::encode(&path));
    let restore_link = |full: &[u8], label: String| {
        let href = restore_page_bytes(&id, &name, full, &here);
        view! { <a href=href class="restore-link" aria-label=label>"Restore…"</a> }
    };
    let restore_here = (path != b"/").then(|| {
        let href = restore_page_bytes(&id, &name, &path, &here);
        view! { <p><a href=href class="button">"Restore this folder…"</a></p> }
    });
    let rows = entries
        .into_iter()
        .map(|e| {
            let full = join(&path, &name_bytes(&e));
            let row_name = e.raw_name.clone().unwrap_or_else(|| e.name.clone());
            // A name that is not UTF-8 shows U+FFFD for its bad bytes, and its exact bytes
            // beside, so two such names never look like one.
            let raw = e.raw_name.clone().map(|r| {
                let title = "The name is not UTF-8: these are its exact bytes";
                view! { " "<code class="muted small raw-name" title=title>{r}</code> }
            });
            let shown = e.name.clone();
            let link = match e.entry_type.as_str() {
                "dir" => {
                    let href = format!("{base}?path={}", types::raw::encode(&full));
                    view! { <a href=href class="entry-dir">{shown}"/"</a>{raw} }.into_any()
                }
                "file" => {
                    // A plain link (rel=external): the router must not take it over.
                    let href = format!("/download/{id}/{name}?path={}", types::raw::encode(&full));
                    let label = format!("Download {row_name}");
                    view! {
                        <span class="entry-file">{e.name.clone()}</span>{raw}
                        " "<a href=href rel="external" download="" class="download" aria-label=label>"Download"</a>
                    }.into_any()
                }
                _ => view! { <span>{e.name.clone()}</span>{raw} }.into_any(),
            };
            let restore = restore_link(&full, format!("Restore {row_name}…"));
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
            <p class="crumbs"><a href="/">"Containers"</a>" / "<a href=back>"Timeline"</a>" / "</p>
            <h1>"Files of "{label}</h1>
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
                        <table class="files browse">
                            <caption class="visually-hidden">{format!("{} in {shown_path}", crate::model::count(count, "entry", "entries"))}</caption>
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Size"</th><th scope="col">"Mode, owner"</th><th scope="col">"Modified"</th><th scope="col"><span class="visually-hidden">"Restore"</span></th></tr></thead>
                            <tbody>{rows}</tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}
