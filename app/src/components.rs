//! Small pieces shared by several pages.

use leptos::prelude::*;

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
