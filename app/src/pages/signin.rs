//! Sign in with an API token. The token goes into an HttpOnly, SameSite=Strict cookie; the
//! form works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::SignIn;
use crate::components::ErrorNotice;

#[component]
pub fn SignInPage() -> impl IntoView {
    view! {
        <Title text="Sign in"/>
        <div class="page-head">
            <h1>"Sign in"</h1>
            <p class="lede">
                "Paste an API token. The first start of "<code>"snapline serve"</code>
                " printed the admin token (also saved in "<code>"data/admin-token"</code>
                "); "<code>"snapline token create --project NAME"</code>" makes one per project."
            </p>
        </div>
        <SignInForm/>
    }
}

/// The sign-in form, also shown in place of pages that need a session.
#[component]
pub fn SignInForm() -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    // Signed in: the page the form stands in for loads again, now with the session (the
    // sign-in page itself leads to the containers).
    Effect::new(move |_| {
        if matches!(action.value().get(), Some(Ok(_))) {
            #[cfg(feature = "hydrate")]
            {
                let location = window().location();
                if location.pathname().ok().as_deref() == Some("/signin") {
                    let _ = location.set_href("/");
                } else {
                    let _ = location.reload();
                }
            }
        }
    });
    view! {
        <section class="card signin" aria-labelledby="signin-title">
            <h2 id="signin-title">"Your API token"</h2>
            <ActionForm action=action attr:class="stack-form">
                <label for="token">"Token"</label>
                <input
                    id="token"
                    name="token"
                    type="password"
                    autocomplete="current-password"
                    placeholder="hdy_…"
                    required=true
                    spellcheck="false"
                />
                <button type="submit" class="button primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
            <div role="status" aria-live="polite">
                {move || action.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
        </section>
    }
}
