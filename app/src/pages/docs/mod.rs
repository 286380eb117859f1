//! The API docs page, generated from the OpenAPI document the server serves, so nothing is
//! written twice: operations grouped by tag, a search, and for each its parameters, request
//! example and schema, every answer it can give, and a Run widget.
//!
//! Server-rendered without hydration: each widget is a plain form posting to the
//! `docs_run` server function, which keeps the draft, checks the request (path rule, body
//! against the schema) and either sends it or comes back here with `refused=1`; the answer is
//! shown from the user's run history (`run=ID`). So the page works the same in both modes and
//! without JavaScript, and adds nothing to the browser's wasm bundle.
//!
//! This file holds the page itself: reading the address, loading the data and laying out
//! the groups. The Run widgets are in `run.rs`, the user's run history in `history.rs`.

mod history;
mod run;

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::error::AppError;
use crate::model::EndpointSummary;
use crate::model::{DocsState, Project, RunRecord};
use history::history;
use run::{custom_widget, endpoint};

/// What the address asks the page to show.
#[derive(Debug, Clone, Default)]
struct Wanted {
    q: String,
    /// The operation the other fields are about.
    op: String,
    /// A run of the user's to show at its widget.
    run: Option<i64>,
    /// The widget's last request was refused before sending.
    refused: bool,
    /// The draft was kept.
    kept: bool,
    /// An example to load into the widget.
    example: Option<String>,
    /// A signed outcome (`done`, `sig`: see [`crate::model::Done`]), read with one decoding
    /// and checked by the loader.
    done: Option<(String, String)>,
    /// A run whose parameters and body to load into the widget.
    from: Option<i64>,
    /// Parameters to set (`set.NAME=value`): the "use this name" links.
    set: BTreeMap<String, String>,
}

impl Wanted {
    fn read() -> Self {
        let query = use_query_map().get_untracked();
        let get = |k: &str| query.get(k).unwrap_or_default();
        let set = (&query)
            .into_iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("set.")
                    .map(|name| (name.to_string(), v.to_string()))
            })
            .take(20)
            .collect();
        Wanted {
            q: get("q"),
            op: get("op"),
            run: get("run").parse().ok(),
            refused: get("refused") == "1",
            kept: get("kept") == "1",
            example: query.get("example"),
            done: crate::components::query_value("done")()
                .zip(crate::components::query_value("sig")()),
            from: get("from").parse().ok(),
            set,
        }
    }
}

/// Live data for the parameter dropdowns: `(value, label)` pairs.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Choices {
    containers: Vec<(String, String)>,
    snapshots: Vec<(String, String)>,
    projects: Vec<Project>,
}

/// Everything a signed-in user's widgets show.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Workspace {
    state: DocsState,
    choices: Choices,
    /// The run asked for with `run=`, with its whole answer while it is recent.
    shown: Option<RunRecord>,
    /// The run asked for with `from=`.
    from: Option<RunRecord>,
    /// The server's origin as the browser sees it, for snippets.
    base: String,
    /// What the last action did (a deleted example, a cleared history), if the address
    /// says so with a signature that holds for this session.
    said: Option<crate::model::Done>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct DocsData {
    endpoints: Vec<EndpointSummary>,
    /// `None` when nobody is signed in (the reference is public; running needs a token).
    workspace: Option<Workspace>,
}

/// Containers whose snapshots the snapshot-name dropdown lists. Each costs one list request
/// against the user's own rate limit on every page load, so they are few: the containers the
/// user's forms are about first, then the first of the rest.
const SNAPSHOT_SOURCES: usize = 5;
/// Snapshot names offered per container.
const SNAPSHOTS_PER_CONTAINER: usize = 50;

/// The origin the browser used, for snippets (`X-Forwarded-Proto` says when a proxy in
/// front terminated TLS).
pub(crate) fn base_url() -> String {
    let Some(parts) = use_context::<http::request::Parts>() else {
        return "http://127.0.0.1:3000".into();
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let host = header("host").unwrap_or_else(|| "127.0.0.1:3000".into());
    let scheme = match header("x-forwarded-proto").as_deref() {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// Snapshot names of a container (the list the REST clients see), for the dropdowns. A
/// container the user cannot list simply offers none.
async fn snapshot_names(
    backend: &crate::backend::SharedBackend,
    token: &str,
    container: &str,
) -> Vec<(String, String)> {
    let Ok(list) = backend.list_snapshots(token, container).await else {
        return Vec::new();
    };
    list.into_iter()
        .take(SNAPSHOTS_PER_CONTAINER)
        .map(|s| {
            let alias = s.alias.unwrap_or_default();
            (s.name, format!("{container} {alias}").trim().to_string())
        })
        .collect()
}

async fn load(wanted: Wanted) -> Result<DocsData, AppError> {
    // Every context is taken before the first await (see `crate::backend::backend`).
    let backend = crate::backend::backend()?;
    let store = crate::backend::docs_store()?;
    let request = crate::session::Request::take();
    let base = base_url();
    let endpoints = backend.api_endpoints().await?;
    let Some(token) = request.read_token().await else {
        return Ok(DocsData {
            endpoints,
            workspace: None,
        });
    };
    let overview = backend.overview(&token).await?;
    let projects: Vec<String> = overview
        .identity
        .projects
        .iter()
        .map(|p| p.id.clone())
        .collect();
    let state = store.state(&token, &projects).await?;
    let shown = match wanted.run {
        Some(id) => store.run(&token, id).await?,
        None => None,
    };
    let from = match wanted.from {
        Some(id) => store.run(&token, id).await?,
        None => None,
    };
    let live: Vec<&str> = overview.containers.iter().map(|c| c.id.as_str()).collect();
    let drafted: Vec<String> = state
        .drafts
        .iter()
        .filter_map(|d| serde_json::from_str::<BTreeMap<String, String>>(&d.params).ok())
        .filter_map(|mut p| p.remove("container_id"))
        .collect();
    let mut sources: Vec<&str> = Vec::new();
    let mentioned = wanted
        .set
        .get("container_id")
        .into_iter()
        .chain(&drafted)
        .map(String::as_str);
    for id in mentioned.chain(live.iter().copied()) {
        if live.contains(&id) && !sources.contains(&id) && sources.len() < SNAPSHOT_SOURCES {
            sources.push(id);
        }
    }
    let mut snapshots = Vec::new();
    let lists = sources
        .iter()
        .map(|id| snapshot_names(&backend, &token, id));
    for list in futures_util::future::join_all(lists).await {
        snapshots.extend(list);
    }
    for (c, snaps) in &overview.deleted {
        snapshots.extend(snaps.iter().take(SNAPSHOTS_PER_CONTAINER).map(|s| {
            let label = format!("{} (deleted) {}", c.id, s.alias.as_deref().unwrap_or(""));
            (s.name.clone(), label.trim().to_string())
        }));
    }
    let containers = overview
        .containers
        .iter()
        .chain(overview.deleted.iter().map(|(c, _)| c))
        .map(|c| {
            (
                c.id.clone(),
                format!("{} ({}, {})", c.name, c.project_name, c.status),
            )
        })
        .collect();
    Ok(DocsData {
        endpoints,
        workspace: Some(Workspace {
            state,
            choices: Choices {
                containers,
                snapshots,
                projects: overview.identity.projects,
            },
            shown,
            from,
            base,
            said: wanted
                .done
                .as_ref()
                .and_then(|(done, sig)| crate::model::Done::from_query(&token, done, sig)),
        }),
    })
}

#[component]
pub fn DocsPage() -> impl IntoView {
    let wanted = Wanted::read();
    let data = Resource::new(|| (), {
        let wanted = wanted.clone();
        move |_| load(wanted.clone())
    });
    let q = wanted.q.clone();
    view! {
        <Title text="API docs"/>
        <div class="page-head">
            <h1>"API docs"</h1>
            <p class="lede">
                "Every endpoint of the REST API under "<code>"/api/v1"</code>", with a Run form that "
                "sends it as you, code to copy, your history and your team's saved examples. The "
                "machine-readable document is at "<a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>"."
            </p>
        </div>
        <form method="get" action="/docs" class="card docs-search" role="search">
            <label for="docs-q">"Search"</label>
            <input id="docs-q" name="q" value=q placeholder="snapshot, restore, /containers…" maxlength="100"/>
            <button type="submit" class="button">"Search"</button>
        </form>
        <crate::components::UrlError paths=&["/rpc/docs_run", "/rpc/docs_replay", "/rpc/delete_example"]/>
        <Suspense fallback=|| view! { <p class="muted">"Loading the API description…"</p> }>
            {move || data.get().map(|r| match r {
                Ok(d) => render(d, wanted.clone()).into_any(),
                Err(e) => view! { <crate::components::ErrorNotice error=e/> }.into_any(),
            })}
        </Suspense>
    }
}

/// Whether an operation matches a search (every word, anywhere in its method, path, tag or
/// text, ignoring case).
fn matches(e: &EndpointSummary, q: &str) -> bool {
    let hay = format!(
        "{} {} {} {} {}",
        e.method, e.path, e.tag, e.summary, e.description
    )
    .to_lowercase();
    q.to_lowercase().split_whitespace().all(|w| hay.contains(w))
}

fn render(d: DocsData, wanted: Wanted) -> impl IntoView {
    let total = d.endpoints.len();
    let q = wanted.q.clone();
    let found: Vec<EndpointSummary> = d
        .endpoints
        .iter()
        .filter(|e| matches(e, &q))
        .cloned()
        .collect();
    // Groups in the order the document first names them.
    let mut tags: Vec<String> = Vec::new();
    for e in &found {
        if !tags.contains(&e.tag) {
            tags.push(e.tag.clone());
        }
    }
    let count = (!q.is_empty()).then(|| format!("{} of {total} operations match.", found.len()));
    let empty = found.is_empty().then(|| {
        let text = if total == 0 {
            "The API document lists no operations.".to_string()
        } else {
            format!("No operation matches {q:?}.")
        };
        view! { <p class="muted card empty-state">{text}</p> }
    });
    let ws = d.workspace.clone();
    let datalists = ws.as_ref().map(|w| {
        let options = |list: &[(String, String)]| {
            list.iter()
                .map(|(v, l)| view! { <option value=v.clone()>{l.clone()}</option> })
                .collect_view()
        };
        view! {
            <datalist id="dl-containers">{options(&w.choices.containers)}</datalist>
            <datalist id="dl-snapshots">{options(&w.choices.snapshots)}</datalist>
            <datalist id="dl-projects">
                {w.choices.projects.iter().map(|p| view! { <option value=p.id.clone()>{p.name.clone()}</option> }).collect_view()}
            </datalist>
        }
    });
    let signin = ws.is_none().then(|| view! {
        <p class="notice info">
            <a href="/signin">"Sign in"</a>" to run requests from this page: they are sent with your own token."
        </p>
    });
    let endpoints = d.endpoints.clone();
    view! {
        {signin}
        {datalists}
        {count.map(|c| view! { <p class="muted" role="status">{c}</p> })}
        <nav class="docs-tags" aria-label="Groups">
            {tags.iter().map(|t| view! { <a href=format!("#tag-{t}")>{t.clone()}</a> }).collect_view()}
            {ws.is_some().then(|| view! { <a href="#run-custom">"Any request"</a><a href="#history">"Your runs"</a> })}
        </nav>
        {empty}
        {tags.into_iter().map(|tag| {
            let ops: Vec<EndpointSummary> = found.iter().filter(|e| e.tag == tag).cloned().collect();
            let ws = ws.clone();
            let wanted = wanted.clone();
            let endpoints = endpoints.clone();
            view! {
                <section class="docs-group" aria-labelledby=format!("tag-{tag}")>
                    <h2 id=format!("tag-{tag}")>{tag.clone()}</h2>
                    <div class="endpoint-list">
                        {ops.into_iter().map(|e| endpoint(e, ws.as_ref(), &wanted, &endpoints)).collect_view()}
                    </div>
                </section>
            }
        }).collect_view()}
        {ws.map(|w| view! {
            {custom_widget(&w, &wanted, &endpoints)}
            {history(&w)}
        })}
        <CopyScript/>
    }
}

/// The page's only script. It is inline with the response's CSP nonce (the page loads no
/// wasm). "Copy" buttons for the code snippets; and the snippets follow the form as the user
/// types: a quarter second after the last keystroke it asks the server for the code of the
/// form as it stands (`docs_snippets`, the same Rust that wrote the page), so there is one
/// writer of snippets, not a second one in JavaScript.
#[component]
fn CopyScript() -> impl IntoView {
    const SCRIPT: &str = r#"
document.querySelectorAll('button[data-copy]').forEach(function (b) { b.hidden = false; });
document.querySelectorAll('[data-snippet-hint]').forEach(function (p) {
  p.textContent = p.getAttribute('data-snippet-hint');
});
var waiting = new WeakMap();
document.addEventListener('input', function (e) {
  var form = e.target.closest && e.target.closest('form.run-form');
  if (!form) return;
  clearTimeout(waiting.get(form));
  waiting.set(form, setTimeout(function () { follow(form); }, 250));
});
function follow(form) {
  var sent = new URLSearchParams();
  new FormData(form).forEach(function (v, k) {
    if (k === 'op' || k === 'body' || k.indexOf('p[') === 0) sent.append(k, v);
  });
  fetch('/rpc/docs_snippets', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Accept': 'application/json' },
    body: sent.toString()
  }).then(function (r) { return r.ok ? r.json() : null; }).then(function (now) {
    if (!now) return;
    var box = form.closest('.run-widget, #run-custom');
    now.snippets.forEach(function (s) {
      var code = box.querySelector('pre[data-snippet="' + s[0] + '"] code');
      if (code) code.textContent = s[1];
    });
    var path = box.querySelector('[data-testid=run-path]');
    if (path) path.textContent = now.path;
  }, function () {});
}
document.addEventListener('click', function (e) {
  var b = e.target.closest('button[data-copy]');
  if (!b) return;
  var code = b.closest('figure').querySelector('pre').innerText;
  navigator.clipboard.writeText(code).then(function () {
    b.textContent = 'Copied';
    setTimeout(function () { b.textContent = 'Copy'; }, 1500);
  }, function () { b.textContent = 'Select and copy by hand'; });
});
"#;
    let nonce = leptos::nonce::use_nonce();
    view! { <script nonce=nonce inner_html=SCRIPT></script> }
}
