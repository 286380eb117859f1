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
                {move || crate::components::answer(action).and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
                {move || (action.version().get() == 0).then(refused_plain_form).flatten()}
            </div>
        </section>
    }
}

/// A sign-in refused without JavaScript comes back with its error in the address, which
/// anyone can write (and no session exists yet to sign it for): the page says why in its
/// own fixed words for the error's kind, never the address's text.
fn refused_plain_form() -> Option<impl IntoView> {
    use leptos::server_fn::error::ServerFnUrlError;
    let path = crate::components::query_value("__path")()?;
    let err = crate::components::query_value("__err")()?;
    if path != "/rpc/sign_in" {
        return None;
    }
    let why = match ServerFnUrlError::<crate::AppError>::decode_err(&err).kind() {
        types::ErrorKind::BadRequest => {
            "That is not an API token: paste the whole token, which starts with hdy_."
        }
        types::ErrorKind::Unauthorized | types::ErrorKind::Forbidden => {
            "That token was refused: it may be mistyped, revoked or expired. Check it, or ask \
             an admin for a new one."
        }
        _ => "Signing in failed on the server. Try again; if it keeps failing, ask an admin.",
    };
    Some(view! { <p class="notice error" role="alert" data-testid="signin-refused">{why}</p> })
}
