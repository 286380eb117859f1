//! The frame around every page: header with navigation, main content, footer.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::api::{SignOut, whoami};

/// The page frame. It also marks the document as hydrated once the wasm has taken over,
/// so tests (and styles) can tell a live page from server-rendered HTML.
#[component]
pub fn Frame(children: Children) -> impl IntoView {
    // The router hands a plain form's error in the address (`__path`, `__err`) to every
    // server action of that path as its first value, unchecked: a link could put any text
    // in a page's error notice that way. Errors from the address are shown by
    // `components::UrlError` only, after the server checked their signature; no action
    // below starts with one.
    provide_context(leptos::server::ServerActionError::new("", ""));
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| hydrated.set(true));

    view! {
        <div class="frame" data-hydrated=move || hydrated.get().to_string()>
            <a class="skip-link" href="#main" on:click=skip_to_main>"Skip to content"</a>
            <header class="topbar">
                // A plain link: the router's `A` would mark it as the current page on every
                // page under `/` (only the link to the page itself may say so).
                <a href="/" class="brand">
                    <span class="brand-mark" aria-hidden="true"></span>
                    <span class="brand-name">"Snapline"</span>
                </a>
                <nav class="nav" aria-label="Main">
                    <A href="/" exact=true>"Containers"</A>
                    // Server-only pages: a full page load (rel=external), not the router.
                    <A href="/docs" attr:rel="external">"API docs"</A>
                    <A href="/system" attr:rel="external">"System"</A>
                </nav>
                <Account/>
            </header>
            <main id="main" class="content" tabindex="-1">{children()}</main>
            <footer class="footer">
                <span>"Snapline · time travel for containers"</span>
            </footer>
        </div>
    }
}

/// Moves focus to the main content (the router handles `#main` links itself, which would
/// scroll without moving focus). Without JavaScript the browser follows the fragment.
fn skip_to_main(ev: leptos::ev::MouseEvent) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(main) = document().get_element_by_id("main") {
            ev.prevent_default();
            let _ = main
                .unchecked_into::<leptos::web_sys::HtmlElement>()
                .focus();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

/// Who is signed in, with a sign-out button (a POST form: no state changes over GET).
#[component]
fn Account() -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    // Asked again after every navigation (signing in redirects to another page) and after
    // signing out.
    let location = leptos_router::hooks::use_location();
    let me = Resource::new(
        move || (location.pathname.get(), sign_out.version().get()),
        |_| whoami(),
    );
    view! {
        <div class="account">
            <Transition fallback=|| ()>
                {move || me.get().map(|r| match r {
                    Ok(Some(i)) => view! {
                        <span class="muted small">{if i.admin { "admin".to_string() } else {
                            i.projects.iter().map(|p| p.name.clone()).collect::<Vec<_>>().join(", ")
                        }}</span>
                        <ActionForm action=sign_out attr:class="inline-form">
                            <button type="submit" class="button small">"Sign out"</button>
                        </ActionForm>
                    }.into_any(),
                    _ => view! { <A href="/signin" attr:class="button small">"Sign in"</A> }.into_any(),
                })}
            </Transition>
        </div>
    }
}
