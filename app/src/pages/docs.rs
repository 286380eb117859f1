//! The API docs page, generated from the OpenAPI document the server serves, so nothing is
//! written twice: operations grouped by tag, a search, and for each its parameters, request
//! example and schema, and every answer it can give. Server-rendered without hydration.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::{EndpointSummary, api_endpoints};

#[component]
pub fn DocsPage() -> impl IntoView {
    let endpoints = Resource::new(|| (), |_| api_endpoints());
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    view! {
        <Title text="API docs"/>
        <div class="page-head">
            <h1>"API docs"</h1>
            <p class="lede">
                "Every endpoint of the REST API under "<code>"/api/v1"</code>". The machine-readable "
                "document is at "<a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>"."
            </p>
        </div>
        <form method="get" action="/docs" class="card docs-search" role="search">
            <label for="docs-q">"Search"</label>
            <input id="docs-q" name="q" value=q() placeholder="snapshot, restore, /containers…" maxlength="100"/>
            <button type="submit" class="button">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p class="muted">"Loading the API description…"</p> }>
            {move || endpoints.get().map(|r| match r {
                Ok(list) => render_endpoints(list, &q()).into_any(),
                Err(e) => view! {
                    <p class="notice error" role="alert"><strong>{e.title()}</strong>": "{e.to_string()}</p>
                }.into_any(),
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

fn render_endpoints(list: Vec<EndpointSummary>, q: &str) -> impl IntoView {
    let total = list.len();
    let found: Vec<EndpointSummary> = list.into_iter().filter(|e| matches(e, q)).collect();
    if found.is_empty() {
        let text = if total == 0 {
            "The API document lists no operations.".to_string()
        } else {
            format!("No operation matches {q:?}.")
        };
        return view! { <p class="muted card empty-state">{text}</p> }.into_any();
    }
    // Groups in the order the document first names them.
    let mut tags: Vec<String> = Vec::new();
    for e in &found {
        if !tags.contains(&e.tag) {
            tags.push(e.tag.clone());
        }
    }
    let count = (!q.is_empty()).then(|| format!("{} of {total} operations match.", found.len()));
    view! {
        {count.map(|c| view! { <p class="muted" role="status">{c}</p> })}
        <nav class="docs-tags" aria-label="Groups">
            {tags.iter().map(|t| view! { <a href=format!("#tag-{t}")>{t.clone()}</a> }).collect_view()}
        </nav>
        {tags.into_iter().map(|tag| {
            let ops: Vec<EndpointSummary> = found.iter().filter(|e| e.tag == tag).cloned().collect();
            view! {
                <section class="docs-group" aria-labelledby=format!("tag-{tag}")>
                    <h2 id=format!("tag-{tag}")>{tag.clone()}</h2>
                    <div class="endpoint-list">{ops.into_iter().map(endpoint).collect_view()}</div>
                </section>
            }
        }).collect_view()}
    }
    .into_any()
}

fn endpoint(e: EndpointSummary) -> impl IntoView {
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
    view! {
        <article class="card endpoint" data-operation=format!("{} {}", e.method, e.path)>
            <header class="endpoint-head">
                <span class=method_class>{e.method.clone()}</span>
                <code class="endpoint-path">{e.path.clone()}</code>
                {e.secured.then(|| view! { <span class="tag">"token"</span> })}
            </header>
            <p class="endpoint-summary">{e.summary.clone()}</p>
            {(!e.description.is_empty()).then(|| view! { <p class="muted">{e.description.clone()}</p> })}
            <details class="endpoint-details">
                <summary>"Parameters, body and answers"</summary>
                {params}
                {body}
                {schema}
                <h4>"Answers"</h4>
                <ul class="responses">
                    {e.responses.iter().map(|(status, what)| view! {
                        <li><code class=format!("status status-{}", status.chars().next().unwrap_or('0'))>{status.clone()}</code>" "{what.clone()}</li>
                    }).collect_view()}
                </ul>
            </details>
        </article>
    }
}
