//! The Run widget of each operation on the API docs page, and the one for any request: the
//! form with its starting values, the checks shown when a request was refused, the answer
//! of a run, the team's saved examples and the code snippets.

use std::collections::BTreeMap;

use leptos::prelude::*;

use super::{Wanted, Workspace};
use crate::api::docs_widget_url;
use crate::model::EndpointSummary;
use crate::model::{Example, Project, RunRecord, escape_html, query_escape, widget_anchor};
use crate::run_form::{CUSTOM, body_problems, fill_path, operation_key, snippets};

pub(super) fn endpoint(
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
                        <td><span inner_html=p.description_html.clone()></span>{p.example.clone().map(|x| view! { <span class="muted">" e.g. "<code>{x}</code></span> })}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    });
    let body = e.request_example.clone().map(|x| {
        view! {
            <h4>"Request body"</h4>
            <pre class="json" tabindex="0"><code>{x}</code></pre>
        }
    });
    let schema = e.request_schema.clone().map(|x| view! {
        <details><summary>"Request schema"</summary><pre class="json" tabindex="0"><code>{x}</code></pre></details>
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
            <p class="endpoint-summary" inner_html=e.summary_html.clone()></p>
            {(!e.description_html.is_empty()).then(|| view! { <div class="muted prose" inner_html=e.description_html.clone()></div> })}
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
                                <code class=format!("status status-{}", status.chars().next().unwrap_or('0'))>{status.clone()}</code>" "<span inner_html=what.clone()></span>
                                {schema.map(|x| view! {
                                    <details><summary>"Answer schema"</summary><pre class="json" tabindex="0"><code>{x}</code></pre></details>
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
            {examples_list(&key, &examples, &w.choices.projects, w.said.as_ref().filter(|d| selected && matches!(d, crate::model::Done::ExampleDeleted(_))).and_then(|d| d.sentence()))}
            {code_snippets(&w.base, &e.method, &path_for_snippets, &body)}
        </details>
    }.into_any()
}

/// The raw widget: any method and any path under `/api/v1`, checked by the same rule.
pub(super) fn custom_widget(w: &Workspace, wanted: &Wanted, all: &[EndpointSummary]) -> AnyView {
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
            <pre class="json" data-testid="run-body" tabindex="0"><code>{pretty}</code></pre>
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

fn examples_list(
    key: &str,
    examples: &[Example],
    projects: &[Project],
    deleted: Option<String>,
) -> AnyView {
    let deleted = deleted.map(|said| view! { <p class="notice ok" role="status">{said}</p> });
    let list = (!examples.is_empty()).then(|| {
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
                    {examples.iter().map(|x| {
                        // A confirmation's children outlive this function: owned values.
                        let (xid, xname, op) = (x.id.clone(), x.name.clone(), key.to_string());
                        let question = format!(
                            "Delete the example \u{201c}{}\u{201d} for everyone in {}? This cannot be undone.",
                            x.name,
                            project_name(&x.project_id)
                        );
                        view! {
                        <li data-testid="example">
                            <strong>{x.name.clone()}</strong>
                            <span class="muted">" · "{project_name(&x.project_id)}" · "{crate::model::short_time(&x.updated_at)}</span>
                            {(!x.note.is_empty()).then(|| view! { <p class="muted small">{x.note.clone()}</p> })}
                            <div class="button-row">
                                <a class="button small" href=docs_widget_url(key, &format!("example={}", query_escape(&x.id)))>"Use / edit"</a>
                                <crate::components::Confirm id=format!("delete-example-{}", x.id) label="Delete…"
                                    title=format!("Delete the example {}", x.name) class="button small danger-outline">
                                    <p>{question}</p>
                                    <form method="post" action="/rpc/delete_example" class="inline-form">
                                        <input type="hidden" name="id" value=xid/>
                                        <input type="hidden" name="operation" value=op/>
                                        <input type="hidden" name="name" value=xname/>
                                        <button type="submit" class="button danger">"Delete example"</button>
                                    </form>
                                </crate::components::Confirm>
                            </div>
                        </li>
                    }
                    }).collect_view()}
                </ul>
            </section>
        }
    });
    view! { {deleted}{list} }.into_any()
}

fn code_snippets(base: &str, method: &str, path: &str, body: &str) -> AnyView {
    view! {
        <details class="snippets">
            <summary>"Code: curl, fetch, Rust, CLI"</summary>
            // Without JavaScript the code is the form as the page was made; the page's script
            // makes it follow the form, and says so.
            <p class="muted small">"Set "<code>"SNAPLINE_TOKEN"</code>" to your API token first. "
                <span data-snippet-hint="The code follows the form as you type.">"The code is the request as last run or kept (Run or Keep draft updates it)."</span></p>
            {snippets(base, method, path, body).into_iter().map(|s| view! {
                <figure class="snippet">
                    <figcaption>{s.label}
                        // Shown by the page's script: without JavaScript there is nothing to click.
                        <button type="button" class="button small copy" data-copy="" hidden=true>"Copy"</button>
                    </figcaption>
                    <pre data-snippet=s.kind tabindex="0"><code>{s.code}</code></pre>
                </figure>
            }).collect_view()}
        </details>
    }.into_any()
}
