//! The API docs page, generated from the OpenAPI document the server serves, so nothing is
//! written twice: operations grouped by tag, a search, and for each its parameters, request
//! example and schema, every answer it can give, and a Run widget.
//!
//! Server-rendered without hydration: each widget is a plain form posting to the
//! `docs_run` server function, which keeps the draft, checks the request (path rule, body
//! against the schema) and either sends it or comes back here with `refused=1`; the answer is
//! shown from the user's run history (`run=ID`). So the page works the same in both modes and
//! without JavaScript, and adds nothing to the browser's wasm bundle.

use std::collections::BTreeMap;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::docs_widget_url;
use crate::error::AppError;
use crate::model::EndpointSummary;
use crate::model::{
    DocsState, Example, Project, RunRecord, escape_html, query_escape, widget_anchor,
};
use crate::run_form::{CUSTOM, body_problems, fill_path, operation_key, snippets};

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
fn base_url() -> String {
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
async fn snapshot_names(token: &str, container: &str) -> Vec<(String, String)> {
    let Ok(backend) = crate::backend::backend() else {
        return Vec::new();
    };
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
    let backend = crate::backend::backend()?;
    let endpoints = backend.api_endpoints().await?;
    let Some(token) = crate::session::read_token() else {
        return Ok(DocsData {
            endpoints,
            workspace: None,
        });
    };
    let overview = backend.overview(&token).await?;
    let store = crate::backend::docs_store()?;
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
    let lists = sources.iter().map(|id| snapshot_names(&token, id));
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
            base: base_url(),
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

/// The page's only script: "Copy" buttons for the code snippets. It is inline with the
/// response's CSP nonce (the page loads no wasm), and it only reads the snippet's text.
#[component]
fn CopyScript() -> impl IntoView {
    const SCRIPT: &str = r#"
document.querySelectorAll('button[data-copy]').forEach(function (b) { b.hidden = false; });
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

fn endpoint(
    e: EndpointSummary,
    ws: Option<&Workspace>,
    wanted: &Wanted,
    all: &[EndpointSummary],
) -> AnyView {
    let method_class = format!("method method-{}", e.method.to_lowercase());
    let params = (!e.parameters.is_empty()).then(|| view! {
        <table class="params">
            <caption class="visually-hidden">"Parameters"</caption>
            <thead><tr><th scope="col">"Parameter"</th><th scope="col">"In"</th><th scope="col">"Description"</th></tr></thead>
            <tbody>
                {e.parameters.iter().map(|p| view! {
                    <tr>
                        <td><code>{p.name.clone()}</code>{p.required.then_some(" (required)")}</td>
                        <td>{p.location.clone()}</td>
                        <td>{p.description.clone()}{p.example.clone().map(|x| view! { <span class="muted">" e.g. "<code>{x}</code></span> })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    });
    let body = e.request_example.clone().map(|x| {
        view! {
            <h4>"Request body"</h4>
            <pre class="json"><code>{x}</code></pre>
        }
    });
    let schema = e.request_schema.clone().map(|x| view! {
        <details><summary>"Request schema"</summary><pre class="json"><code>{x}</code></pre></details>
    });
    let key = operation_key(&e);
    let widget = ws.map(|w| widget(&e, w, wanted, all));
    let open = wanted.op == key;
    view! {
        <article class="card endpoint" data-operation=key.clone()>
            <header class="endpoint-head">
                <span class=method_class>{e.method.clone()}</span>
                <code class="endpoint-path">{e.path.clone()}</code>
                {e.secured.then(|| view! { <span class="tag">"token"</span> })}
            </header>
            <p class="endpoint-summary">{e.summary.clone()}</p>
            {(!e.description.is_empty()).then(|| view! { <p class="muted">{e.description.clone()}</p> })}
            <details class="endpoint-details" open=open>
                <summary>"Parameters, body and answers"</summary>
                {params}
                {body}
                {schema}
                <h4>"Answers"</h4>
                <ul class="responses">
                    {e.responses.iter().map(|(status, what)| {
                        let schema = e.response_schemas.iter().find(|(s, _)| s == status).map(|(_, x)| x.clone());
                        view! {
                            <li>
                                <code class=format!("status status-{}", status.chars().next().unwrap_or('0'))>{status.clone()}</code>" "{what.clone()}
                                {schema.map(|x| view! {
                                    <details><summary>"Answer schema"</summary><pre class="json"><code>{x}</code></pre></details>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </details>
            {widget}
        </article>
    }.into_any()
}

/// The parameter values and body a widget starts with: an example or a run asked for in
/// the address, else the user's draft, else empty parameters and the document's example;
/// `set.NAME` values from the address override single parameters.
fn initial_values(
    key: &str,
    default_body: &str,
    w: &Workspace,
    wanted: &Wanted,
) -> (BTreeMap<String, String>, String) {
    let parse = |s: &str| serde_json::from_str::<BTreeMap<String, String>>(s).unwrap_or_default();
    let selected = wanted.op == key;
    let example = selected
        .then_some(wanted.example.as_ref())
        .flatten()
        .and_then(|id| {
            w.state
                .examples
                .iter()
                .find(|x| &x.id == id && x.operation == key)
        });
    let from_run = selected
        .then_some(w.from.as_ref())
        .flatten()
        .filter(|r| r.operation == key);
    let draft = w.state.drafts.iter().find(|d| d.operation == key);
    let (mut params, body) = if let Some(x) = example {
        (parse(&x.params), x.body.clone())
    } else if let Some(r) = from_run {
        (parse(&r.params), r.body.clone())
    } else if let Some(d) = draft {
        (parse(&d.params), d.body.clone())
    } else {
        (BTreeMap::new(), default_body.to_string())
    };
    if selected {
        params.extend(wanted.set.clone());
    }
    (params, body)
}

/// The dropdown a parameter takes its values from, by name.
fn datalist_for(name: &str) -> Option<&'static str> {
    match name {
        "container_id" | "id" => Some("dl-containers"),
        "snapshot_name" | "source_snapshot" => Some("dl-snapshots"),
        "project_id" | "project" => Some("dl-projects"),
        _ => None,
    }
}

fn widget(e: &EndpointSummary, w: &Workspace, wanted: &Wanted, all: &[EndpointSummary]) -> AnyView {
    let key = operation_key(e);
    let anchor = widget_anchor(&key);
    let selected = wanted.op == key;
    let (params, body) =
        initial_values(&key, e.request_example.as_deref().unwrap_or(""), w, wanted);
    let filled = fill_path(e, &params);
    let mut problems = Vec::new();
    if selected && wanted.refused {
        if let Err(p) = &filled {
            problems.push(p.clone());
        }
        problems.extend(body_problems(e.request_schema.as_deref(), &body));
    }
    let path_for_snippets = filled.clone().unwrap_or_else(|_| e.path.clone());
    let fields = e
        .parameters
        .iter()
        .map(|p| {
            let id = format!("{anchor}-p-{}", p.name);
            let value = params.get(&p.name).cloned().unwrap_or_default();
            let placeholder = p.example.clone().unwrap_or_default();
            let label = format!(
                "{} ({}{})",
                p.name,
                p.location,
                if p.required { ", required" } else { "" }
            );
            view! {
                <label for=id.clone()>{label}</label>
                <input id=id name=format!("p[{}]", p.name) value=value placeholder=placeholder
                    list=datalist_for(&p.name) maxlength="300" autocomplete="off"
                    required=p.required && p.location == "path"/>
            }
        })
        .collect_view();
    let has_body = e.request_schema.is_some() || !body.is_empty();
    let is_tar = e.path == "/api/v1/images" && e.method == "POST";
    let shown = w
        .shown
        .as_ref()
        .filter(|r| selected && r.operation == key)
        .cloned();
    let examples: Vec<Example> = w
        .state
        .examples
        .iter()
        .filter(|x| x.operation == key)
        .cloned()
        .collect();
    let editing = selected
        .then_some(wanted.example.as_ref())
        .flatten()
        .and_then(|id| examples.iter().find(|x| &x.id == id))
        .cloned();
    view! {
        <details class="run-widget" id=anchor.clone() open=selected>
            <summary class="button">"Try it"</summary>
            <form method="post" action="/rpc/docs_run" class="stack-form run-form" novalidate=true>
                <input type="hidden" name="op" value=key.clone()/>
                <p class="run-line"><span class=format!("method method-{}", e.method.to_lowercase())>{e.method.clone()}</span>
                    " "<code data-testid="run-path">{path_for_snippets.clone()}</code></p>
                {fields}
                {has_body.then(|| {
                    let body_id = format!("{anchor}-body");
                    view! {
                        <label for=body_id.clone()>"Body (JSON)"</label>
                        <textarea id=body_id name="body" rows="6" spellcheck="false" class="code"
                            aria-invalid=(!problems.is_empty()).then_some("true")
                            aria-describedby=format!("{anchor}-problems")
                            // Escaped by hand: the renderer writes a textarea's text as it
                            // is, and `</textarea>` in a body would end the element.
                            inner_html=escape_html(&body)></textarea>
                    }
                })}
                {is_tar.then(|| view! {
                    <p class="muted small">"This operation takes a tar stream, not JSON: use the curl or CLI code below (snapline images import)."</p>
                })}
                <div id=format!("{anchor}-problems") role="alert" class="run-problems">
                    {(!problems.is_empty()).then(|| view! {
                        <p class="notice error"><strong>"Not sent: "</strong>"fix these first."</p>
                        <ul class="problems">{problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                    })}
                </div>
                {(selected && wanted.kept).then(|| view! { <p class="notice ok" role="status">"Draft kept."</p> })}
                <div class="button-row">
                    <button type="submit" name="action" value="run" class="button primary">"Run"</button>
                    <button type="submit" name="action" value="draft" class="button">"Keep draft"</button>
                </div>
                <details class="save-example" open=editing.is_some()>
                    <summary>{if editing.is_some() { "Edit this example" } else { "Save as an example for your team…" }}</summary>
                    {editing.as_ref().map(|x| view! { <input type="hidden" name="example_id" value=x.id.clone()/> })}
                    <label>"Name"<input name="example_name" maxlength="100" value=editing.as_ref().map(|x| x.name.clone())/></label>
                    <label>"Project"
                        <select name="example_project">
                            {w.choices.projects.iter().map(|p| {
                                let chosen = editing.as_ref().is_some_and(|x| x.project_id == p.id);
                                view! { <option value=p.id.clone() selected=chosen>{p.name.clone()}</option> }
                            }).collect_view()}
                        </select>
                    </label>
                    <label>"Note"<textarea name="example_note" rows="2" maxlength="2000"
                        inner_html=escape_html(editing.as_ref().map(|x| x.note.as_str()).unwrap_or(""))></textarea></label>
                    <button type="submit" name="action" value="example" class="button">
                        {if editing.is_some() { "Save changes" } else { "Save example" }}
                    </button>
                </details>
            </form>
            {shown.map(|r| result_panel(r, all))}
            {examples_list(&key, &examples, &w.choices.projects)}
            {code_snippets(&w.base, &e.method, &path_for_snippets, &body)}
        </details>
    }.into_any()
}

/// The raw widget: any method and any path under `/api/v1`, checked by the same rule.
fn custom_widget(w: &Workspace, wanted: &Wanted, all: &[EndpointSummary]) -> AnyView {
    let selected = wanted.op == CUSTOM;
    let (params, body) = initial_values(CUSTOM, "", w, wanted);
    let method = params
        .get("method")
        .cloned()
        .unwrap_or_else(|| "GET".into());
    let path = params
        .get("path")
        .cloned()
        .unwrap_or_else(|| "/api/v1/health".into());
    let mut problems = Vec::new();
    if selected && wanted.refused {
        let req = crate::model::RunRequest {
            method: method.to_ascii_uppercase(),
            path: path.trim().to_string(),
            body: Some(body.clone()),
        };
        problems.extend(crate::model::run_request_problem(&req));
        problems.extend(body_problems(None, &body));
    }
    let shown = w
        .shown
        .as_ref()
        .filter(|r| selected && r.operation == CUSTOM)
        .cloned();
    view! {
        <section class="card endpoint" id="run-custom" aria-labelledby="custom-title">
            <h2 id="custom-title">"Any request"</h2>
            <p class="muted">"A method and a path under "<code>"/api/v1"</code>", sent with your token. Only paths of this API are accepted."</p>
            <form method="post" action="/rpc/docs_run" class="stack-form run-form" novalidate=true>
                <input type="hidden" name="op" value=CUSTOM/>
                <label for="custom-method">"Method"</label>
                <select id="custom-method" name="p[method]">
                    {["GET", "POST", "PUT", "PATCH", "DELETE"].into_iter().map(|m| view! {
                        <option value=m selected=method.eq_ignore_ascii_case(m)>{m}</option>
                    }).collect_view()}
                </select>
                <label for="custom-path">"Path"</label>
                <input id="custom-path" name="p[path]" value=path.clone() maxlength="2000" autocomplete="off"/>
                <label for="custom-body">"Body (JSON, optional)"</label>
                <textarea id="custom-body" name="body" rows="4" spellcheck="false" class="code"
                    inner_html=escape_html(&body)></textarea>
                <div role="alert" class="run-problems">
                    {(!problems.is_empty()).then(|| view! {
                        <p class="notice error"><strong>"Not sent: "</strong>"fix these first."</p>
                        <ul class="problems">{problems.iter().map(|p| view! { <li>{p.clone()}</li> }).collect_view()}</ul>
                    })}
                </div>
                <div class="button-row">
                    <button type="submit" name="action" value="run" class="button primary">"Run"</button>
                </div>
            </form>
            {shown.map(|r| result_panel(r, all))}
            {code_snippets(&w.base, &method.to_ascii_uppercase(), &path, &body)}
        </section>
    }.into_any()
}

/// A run's answer: status, time, headers and the body (pretty when it is JSON), and for a
/// new snapshot, links that put its name into the widgets that take one.
fn result_panel(r: RunRecord, all: &[EndpointSummary]) -> AnyView {
    let reason = http::StatusCode::from_u16(r.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    let parsed = serde_json::from_str::<serde_json::Value>(&r.response).ok();
    let pretty = parsed
        .as_ref()
        .and_then(|v| serde_json::to_string_pretty(v).ok())
        .unwrap_or_else(|| r.response.clone());
    let message = parsed
        .as_ref()
        .and_then(|v| v["message"].as_str().map(str::to_string));
    let new_name = parsed
        .as_ref()
        .filter(|_| r.method == "POST" && r.path.ends_with("/snapshots") && r.status < 300)
        .and_then(|v| v["data"]["snapshot"]["name"].as_str().map(str::to_string));
    let container = serde_json::from_str::<BTreeMap<String, String>>(&r.params)
        .ok()
        .and_then(|p| p.get("container_id").cloned())
        .unwrap_or_default();
    let fills = new_name.map(|name| {
        let targets: Vec<&EndpointSummary> = all
            .iter()
            .filter(|e| e.path.ends_with("/snapshots/{snapshot_name}") || e.path.ends_with("/snapshots/{snapshot_name}/metadata"))
            .collect();
        view! {
            <p class="fill-links" data-testid="fill-links">"Use "<code>{name.clone()}</code>" in: "
                {targets.into_iter().map(|t| {
                    let key = operation_key(t);
                    let extra = format!(
                        "set.container_id={}&set.snapshot_name={}",
                        query_escape(&container),
                        query_escape(&name)
                    );
                    view! {
                        <a class="button small" href=docs_widget_url(&key, &extra)>{format!("{} · {}", t.method, first_sentence(&t.summary))}</a>" "
                    }
                }).collect_view()}
            </p>
        }
    });
    let ms = format!("{}.{} ms", r.micros / 1000, (r.micros % 1000) / 100);
    let class = format!("status status-{}", r.status / 100);
    view! {
        <section class="run-result" aria-label="Answer" data-testid="run-result">
            <p class="run-status" role="status">
                <code class=class data-testid="run-status">{r.status}</code>" "{reason}
                <span class="muted">" · "{ms}" · "{r.method.clone()}" "<code>{r.path.clone()}</code></span>
            </p>
            {message.map(|m| view! { <p class="run-message" data-testid="run-message">{m}</p> })}
            {fills}
            <details>
                <summary>{format!("Headers ({})", r.headers.len())}</summary>
                <table class="params">
                    <caption class="visually-hidden">"Response headers"</caption>
                    <tbody>
                        {r.headers.iter().map(|(k, v)| view! { <tr><th scope="row"><code>{k.clone()}</code></th><td><code>{v.clone()}</code></td></tr> }).collect_view()}
                    </tbody>
                </table>
            </details>
            <pre class="json" data-testid="run-body"><code>{pretty}</code></pre>
        </section>
    }.into_any()
}

/// The first sentence of an operation's summary, for a short button label.
fn first_sentence(text: &str) -> String {
    let end = text.find(['.', '(', ',', '\n']).unwrap_or(text.len());
    let s = text[..end].trim();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

fn examples_list(key: &str, examples: &[Example], projects: &[Project]) -> AnyView {
    (!examples.is_empty()).then(|| {
        let project_name = |id: &str| {
            projects
                .iter()
                .find(|p| p.id == id)
                .map(|p| p.name.clone())
                .unwrap_or_else(|| id.to_string())
        };
        view! {
            <section class="examples" aria-label="Saved examples">
                <h4>"Your team's examples"</h4>
                <ul>
                    {examples.iter().map(|x| view! {
                        <li data-testid="example">
                            <strong>{x.name.clone()}</strong>
                            <span class="muted">" · "{project_name(&x.project_id)}" · "{crate::model::short_time(&x.updated_at)}</span>
                            {(!x.note.is_empty()).then(|| view! { <p class="muted small">{x.note.clone()}</p> })}
                            <div class="button-row">
                                <a class="button small" href=docs_widget_url(key, &format!("example={}", query_escape(&x.id)))>"Use / edit"</a>
                                <form method="post" action="/rpc/delete_example" class="inline-form">
                                    <input type="hidden" name="id" value=x.id.clone()/>
                                    <button type="submit" class="button small danger-outline">"Delete"</button>
                                </form>
                            </div>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        }
    }).into_any()
}

fn code_snippets(base: &str, method: &str, path: &str, body: &str) -> AnyView {
    view! {
        <details class="snippets">
            <summary>"Code: curl, fetch, Rust, CLI"</summary>
            <p class="muted small">"Set "<code>"SNAPLINE_TOKEN"</code>" to your API token first. The code is the request as the form stands."</p>
            {snippets(base, method, path, body).into_iter().map(|s| view! {
                <figure class="snippet">
                    <figcaption>{s.label}
                        // Shown by the page's script: without JavaScript there is nothing to click.
                        <button type="button" class="button small copy" data-copy="" hidden=true>"Copy"</button>
                    </figcaption>
                    <pre data-snippet=s.kind><code>{s.code}</code></pre>
                </figure>
            }).collect_view()}
        </details>
    }.into_any()
}

fn history(w: &Workspace) -> AnyView {
    let runs: Vec<RunRecord> = w.state.runs.iter().take(30).cloned().collect();
    view! {
        <section class="card" id="history" aria-labelledby="history-title">
            <h2 id="history-title">"Your runs"</h2>
            {if runs.is_empty() {
                view! { <p class="muted">"Nothing run yet. Runs are kept per user, newest 200."</p> }.into_any()
            } else {
                view! {
                    <ul class="run-history">
                        {runs.into_iter().map(|r| {
                            let operation = if r.operation.is_empty() { CUSTOM.to_string() } else { r.operation.clone() };
                            let class = format!("status status-{}", r.status / 100);
                            view! {
                                <li data-testid="history-run">
                                    <code class=class>{r.status}</code>" "
                                    <span class="method">{r.method.clone()}</span>" "<code>{r.path.clone()}</code>
                                    <span class="muted">" · "{format!("{}.{} ms", r.micros / 1000, (r.micros % 1000) / 100)}" · "{crate::model::short_time(&r.ran_at)}</span>
                                    <details>
                                        <summary>"Request and answer"</summary>
                                        {(!r.body.is_empty()).then(|| view! { <pre class="json"><code>{r.body.clone()}</code></pre> })}
                                        <pre class="json"><code>{r.response.clone()}</code></pre>
                                    </details>
                                    <div class="button-row">
                                        <form method="post" action="/rpc/docs_replay" class="inline-form">
                                            <input type="hidden" name="run" value=r.id.to_string()/>
                                            <button type="submit" class="button small">"Replay"</button>
                                        </form>
                                        <a class="button small" href=docs_widget_url(&operation, &format!("from={}", r.id))>"Open in its form"</a>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }.into_any()
}
