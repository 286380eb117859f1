//! One module per route.

pub mod containers;
#[cfg(feature = "ssr")]
pub mod diff;
#[cfg(feature = "ssr")]
pub mod docs;
#[cfg(feature = "ssr")]
pub mod files;
pub mod not_found;
#[cfg(feature = "ssr")]
pub mod restore_path;
pub mod retention;
pub mod schedule;
pub mod signin;
pub mod storage;
#[cfg(feature = "ssr")]
pub mod system;
pub mod timeline;
pub mod timeline_card;
pub mod timeline_outcomes;

/// The server-only pages (see [`crate::is_server_only`]): rendered by the server; in the
/// browser the router only hands them back to the server.
pub mod server_only {
    #[cfg(not(feature = "ssr"))]
    use leptos::prelude::*;

    #[cfg(feature = "ssr")]
    pub use super::diff::DiffPage;
    #[cfg(feature = "ssr")]
    pub use super::docs::DocsPage;
    #[cfg(feature = "ssr")]
    pub use super::files::FilesPage;
    #[cfg(feature = "ssr")]
    pub use super::restore_path::RestorePathPage;
    #[cfg(feature = "ssr")]
    pub use super::system::SystemPage;

    /// In the browser, a link followed inside the app to a server-only page becomes a full
    /// page load of the same address.
    #[cfg(not(feature = "ssr"))]
    #[component]
    pub fn DiffPage() -> impl IntoView {
        load_from_server()
    }

    #[cfg(not(feature = "ssr"))]
    #[component]
    pub fn FilesPage() -> impl IntoView {
        load_from_server()
    }

    #[cfg(not(feature = "ssr"))]
    #[component]
    pub fn RestorePathPage() -> impl IntoView {
        load_from_server()
    }

    #[cfg(not(feature = "ssr"))]
    #[component]
    pub fn DocsPage() -> impl IntoView {
        load_from_server()
    }

    #[cfg(not(feature = "ssr"))]
    #[component]
    pub fn SystemPage() -> impl IntoView {
        load_from_server()
    }

    #[cfg(not(feature = "ssr"))]
    fn load_from_server() -> impl IntoView {
        Effect::new(|_| {
            let _ = window().location().reload();
        });
        view! { <p class="muted">"Loading…"</p> }
    }
}
