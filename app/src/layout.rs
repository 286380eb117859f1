//! The frame around every page: header with navigation, main content, footer.

use leptos::prelude::*;
use leptos_router::components::A;

/// The page frame. It also marks the document as hydrated once the wasm has taken over,
/// so tests (and styles) can tell a live page from server-rendered HTML.
#[component]
pub fn Frame(children: Children) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| hydrated.set(true));

    view! {
        <div class="frame" data-hydrated=move || hydrated.get().to_string()>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <header class="topbar">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"Snapline"</span>
                </A>
                <nav class="nav" aria-label="Main">
                    <A href="/" exact=true>"Containers"</A>
                    <A href="/docs">"API docs"</A>
                </nav>
            </header>
            <main id="main" class="content" tabindex="-1">{children()}</main>
            <footer class="footer">
                <span>"Snapline · time travel for containers"</span>
            </footer>
        </div>
    }
}
