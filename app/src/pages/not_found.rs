use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path that is not a page.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found"/>
        <section class="empty-state">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. It may have moved, or the link is mistyped."</p>
            <a href="/" class="button">"Go to containers"</a>
        </section>
    }
}
