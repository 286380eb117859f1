//! Small pieces shared by several pages.

use leptos::prelude::*;

use crate::api::ContainerAction;
use crate::error::AppError;

/// An error in words: its kind as a headline, then what to do.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    view! {
        <p class="notice error" role="alert" data-error-kind=error.title()>
            <strong>{error.title()}</strong>": "{error.to_string()}
        </p>
    }
}

/// The error of the page's own data (what the address asked for failed), in words, and as
/// the response's status when the page is rendered on the server. Errors of actions taken on
/// a page that loaded use [`ErrorNotice`].
#[component]
pub fn PageError(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>()
        && let Ok(kind) = http::HeaderValue::from_str(&format!("{:?}", error.kind()))
    {
        res.insert_header(
            http::HeaderName::from_static(crate::error::PAGE_ERROR_KIND_HEADER),
            kind,
        );
    }
    view! { <ErrorNotice error=error/> }
}

/// Clears `form` (the browser's own reset: every field back to its initial value) each time
/// `succeeded` turns true, so a form that did its work is ready for the next one and a second
/// click does not send the same thing again. Runs in the browser only; without JavaScript the
/// page reloads anyway.
pub fn reset_after_success(
    succeeded: impl Fn() -> bool + Send + Sync + 'static,
    form: NodeRef<leptos::html::Form>,
    then: impl Fn() + Send + Sync + 'static,
) {
    Effect::new(move |_| {
        if succeeded()
            && let Some(f) = form.get()
        {
            f.reset();
            then();
        }
    });
}

/// A confirmation: a button that opens a small dialog holding `children` (what will happen,
/// and the form that does it) and a Cancel button.
///
/// It is an HTML popover (`popover="auto"`, opened by `popovertarget`), so the browser gives
/// what a person expects, with or without JavaScript: Escape and Cancel close it and put the
/// focus back on the button that opened it; opening one closes any other; it sits above the
/// page, so the buttons around it never move. Cancel has the focus when it opens, so Enter
/// does nothing harmful. With JavaScript, it closes when its action succeeds (`closes`); a
/// refusal leaves it open with what was typed, to fix and send again (the page's status
/// area says why).
#[component]
pub fn Confirm(
    /// An id unique on the page (letters, digits, `-` and `_`), for the dialog.
    id: String,
    /// The opening button's text (`"Delete…"`).
    #[prop(into)]
    label: String,
    /// The dialog's accessible name (`"Delete snapshot before-ai"`).
    title: String,
    #[prop(default = "button")] class: &'static str,
    /// The action's (version, whether its last answer was a success): the dialog closes
    /// when the version moves on with a success.
    #[prop(optional)]
    closes: Option<Signal<(usize, bool)>>,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Div>::new();
    if let Some(closes) = closes {
        Effect::new(move |seen: Option<usize>| {
            let (version, ok) = closes.get();
            if seen.is_some_and(|v| v != version) && ok {
                #[cfg(feature = "hydrate")]
                if let Some(d) = dialog.get() {
                    let _ = d.hide_popover();
                }
            }
            version
        });
    }
    let id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let (opens, closes) = (id.clone(), id.clone());
    view! {
        <button type="button" class=class popovertarget=opens aria-haspopup="dialog">{label}</button>
        <div id=id popover="auto" class="confirm-pop" role="dialog" aria-label=title node_ref=dialog>
            {children()}
            <button type="button" class="button confirm-cancel" popovertarget=closes popovertargetaction="hide" autofocus=true>
                "Cancel"
            </button>
        </div>
    }
}

/// A container's status as a coloured badge (the word is always there, never only colour).
#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("badge status-{status}");
    let label = status.clone();
    view! { <span class=class data-status=status>{label}</span> }
}

/// A one-button form that starts, stops, pauses, resumes or deletes a container through
/// `act`: with JavaScript the page updates in place and says what was done; without, it is a
/// plain POST that comes back to the page with the outcome in the address.
#[component]
pub fn ContainerActionButton(
    act: ServerAction<ContainerAction>,
    id: String,
    /// The container's name, for the sentence that says what was done.
    name: String,
    /// `start`, `stop`, `pause`, `resume` or `delete`.
    action: &'static str,
    label: &'static str,
    #[prop(default = "button")] class: &'static str,
) -> impl IntoView {
    view! {
        <ActionForm action=act attr:class="inline-form">
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="action" value=action/>
            <input type="hidden" name="name" value=name/>
            <button type="submit" class=class disabled=move || act.pending().get()>{label}</button>
        </ActionForm>
    }
}

/// The error of a plain form POST to one of `paths` (server functions), which the server
/// carries back in the address it redirects to (`__path`, `__err`), signed for the session
/// (`__sig`, see [`crate::model`]'s `url_error`): shown only when the server finds the
/// signature holds, so a link cannot put its own words in the notice.
#[component]
pub fn UrlError(
    paths: &'static [&'static str],
    /// For tests: the notice's `data-testid`.
    #[prop(optional)]
    testid: Option<&'static str>,
) -> impl IntoView {
    let (path, err, sig) = (
        query_value("__path"),
        query_value("__err"),
        query_value("__sig"),
    );
    let checked = Resource::new(
        move || (path(), err(), sig()),
        move |(path, err, sig)| async move {
            match (path, err, sig) {
                (Some(path), Some(err), Some(sig)) if paths.contains(&path.as_str()) => {
                    crate::api::check_url_error(path, err, sig)
                        .await
                        .ok()
                        .flatten()
                }
                _ => None,
            }
        },
    );
    view! {
        <Suspense fallback=|| ()>
            {move || checked.get().flatten().map(|error| view! {
                <div data-testid=testid.unwrap_or("url-error")><ErrorNotice error=error/></div>
            })}
        </Suspense>
    }
}

/// A link that downloads a snapshot's whole root as a tar archive through the dashboard's
/// `/export/{id}/{name}` route (the session authenticates it; in proxy mode it streams from
/// the upstream). A plain link (rel=external): the router must not take it over.
#[component]
pub fn ExportTarLink(id: String, name: String) -> impl IntoView {
    let href = format!(
        "/export/{}/{}",
        crate::model::query_escape(&id),
        crate::model::query_escape(&name)
    );
    let label = format!("Export snapshot {name} as a tar archive");
    view! {
        <a href=href rel="external" download="" class="button export-tar" aria-label=label
            title="Download every file of this snapshot as one .tar (owners, modes, times, xattrs, links and holes kept)">
            "Export .tar"
        </a>
    }
}

/// The current address's query value `key` as bytes ([`crate::model::query_bytes`]): file
/// paths, whose names need not be UTF-8. (Only the server-rendered pages read paths.)
#[cfg(feature = "ssr")]
pub fn query_bytes(key: &'static str) -> impl Fn() -> Option<Vec<u8>> + Copy + Send + Sync {
    let location = leptos_router::hooks::use_location();
    move || location.search.with(|s| crate::model::query_bytes(s, key))
}

/// The current address's query value `key`, decoded once ([`crate::model::query_value`]),
/// for values that hold file paths or free text; the router's query map decodes them twice.
pub fn query_value(key: &'static str) -> impl Fn() -> Option<String> + Copy + Send + Sync {
    let location = leptos_router::hooks::use_location();
    move || location.search.with(|s| crate::model::query_value(s, key))
}

/// The outcome a plain form's redirect carries in the address (`done`, `sig`: see
/// [`crate::model::Done`]), checked by the server for this session: `None` when there is
/// none, or its signature does not hold (a link made by someone else). Its own resource,
/// which changes only with the address.
pub fn signed_outcome() -> Resource<Result<Option<crate::model::Done>, AppError>> {
    // The JSON is free text: read with one decoding, as it was signed.
    let (done, sig) = (query_value("done"), query_value("sig"));
    Resource::new(
        move || (done(), sig()),
        |(done, sig)| async move {
            match (done, sig) {
                (Some(done), Some(sig)) => crate::api::check_outcome(done, sig).await,
                _ => Ok(None),
            }
        },
    )
}

/// The answer to a dispatch of `action` made on this page; `None` before the first.
///
/// The router gives a server action the error a plain form's address carries (`__path`,
/// `__err`) as its first value, unchecked, and anyone can make such an address: read
/// through this, a page shows only what its own dispatches answered. Errors from the
/// address are shown by [`UrlError`], after the server checked their signature.
pub fn answer<S>(action: ServerAction<S>) -> Option<Result<S::Output, S::Error>>
where
    S: leptos::server_fn::ServerFn + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
    S::Error: Clone + Send + Sync + 'static,
{
    if action.version().get() == 0 {
        return None;
    }
    action.value().get()
}

/// What [`Confirm`]'s `closes` takes from a server action: its version, and whether its
/// last answer was a success.
pub fn succeeded<S>(action: ServerAction<S>) -> Signal<(usize, bool)>
where
    S: leptos::server_fn::ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    Signal::derive(move || {
        (
            action.version().get(),
            action.value().with(|v| matches!(v, Some(Ok(_)))),
        )
    })
}
