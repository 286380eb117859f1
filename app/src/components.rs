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

/// A container's status as a coloured badge (the word is always there, never only colour).
#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("badge status-{status}");
    let label = status.clone();
    view! { <span class=class data-status=status>{label}</span> }
}

/// A one-button form that starts, stops or deletes a container (a POST; works without
/// JavaScript).
#[component]
pub fn ContainerActionButton(
    id: String,
    /// `start`, `stop` or `delete`.
    action: &'static str,
    label: &'static str,
    #[prop(default = "button")] class: &'static str,
    act: ServerAction<ContainerAction>,
) -> impl IntoView {
    view! {
        <ActionForm action=act attr:class="inline-form">
            <input type="hidden" name="id" value=id/>
            <input type="hidden" name="action" value=action/>
            <button type="submit" class=class>{label}</button>
        </ActionForm>
    }
}
