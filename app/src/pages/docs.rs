//! The API docs page, generated from the OpenAPI document the server serves, so nothing is
//! written twice.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{EndpointSummary, api_endpoints};

#[component]
pub fn DocsPage() -> impl IntoView {
    let endpoints = Resource::new(|| (), |_| api_endpoints());
    view! {
        <Title text="API docs"/>
        <div class="page-head">
            <h1>"API docs"</h1>
            <p class="lede">
                "Every endpoint of the REST API under "<code>"/api/v1"</code>". The machine-readable "
                "document is at "<a href="/api/v1/openapi.json">"/api/v1/openapi.json"</a>"."
            </p>
        </div>
        <Suspense fallback=|| view! { <p class="muted">"Loading the API description…"</p> }>
            {move || endpoints.get().map(|r| match r {
                Ok(list) => render_endpoints(list).into_any(),
                Err(e) => view! {
                    <p class="notice error" role="alert"><strong>{e.title()}</strong>": "{e.to_string()}</p>
                }.into_any(),
            })}
        </Suspense>
    }
}

fn render_endpoints(list: Vec<EndpointSummary>) -> impl IntoView {
    if list.is_empty() {
        return view! { <p class="muted">"The API document lists no operations."</p> }.into_any();
    }
    view! {
        <div class="endpoint-list">
            {list.into_iter().map(|e| {
                let method_class = format!("method method-{}", e.method.to_lowercase());
                view! {
                    <article class="card endpoint">
                        <header class="endpoint-head">
                            <span class=method_class>{e.method.clone()}</span>
                            <code class="endpoint-path">{e.path.clone()}</code>
                            <span class="tag">{e.tag.clone()}</span>
                        </header>
                        <p class="endpoint-summary">{e.summary.clone()}</p>
                        {(!e.description.is_empty()).then(|| view! { <p class="muted">{e.description.clone()}</p> })}
                    </article>
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}
