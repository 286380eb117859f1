//! Snapline's dashboard: routes, components and server functions.
//!
//! Data flows one way: browser -> server functions (here) -> a [`backend::Backend`] provided by
//! the server crate through Leptos context. Nothing in this crate touches the disk or SQL; the
//! `ssr` feature only adds the server-side halves of the server functions.

#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
mod components;
pub mod error;
mod layout;
mod live;
pub mod model;
mod pages;
#[cfg(feature = "ssr")]
pub mod run_form;
#[cfg(feature = "ssr")]
pub mod session;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

pub use error::AppError;

/// Whether a path is one of the read-only pages (a snapshot's files, a comparison) that are
/// plain server-rendered HTML: they need no JavaScript, so their code stays out of the
/// browser's wasm bundle, which keeps it small.
pub fn is_server_only(path: &str) -> bool {
    let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    matches!(
        parts.as_slice(),
        ["", "docs"]
            | ["", "system"]
            | ["", "containers", _, "diff"]
            | ["", "containers", _, "snapshots", _, "files"]
            | ["", "containers", _, "snapshots", _, "restore"]
    )
}

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let hydrate =
        !use_context::<http::request::Parts>().is_some_and(|p| is_server_only(p.uri.path()));
    #[cfg(not(feature = "ssr"))]
    let hydrate = true;
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                {hydrate.then(|| view! { <HydrationScripts options/> })}
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The dashboard: navigation around one page per route.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    view! {
        <Stylesheet id="leptos" href="/pkg/snapline.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Snapline: time travel for containers"/>
        <Meta name="color-scheme" content="light dark"/>
        <Title formatter=|page: String| {
            if page.is_empty() { "Snapline".to_string() } else { format!("{page} · Snapline") }
        }/>
        <Router>
            <layout::Frame>
                // Async SSR: the server waits for the data and sends complete HTML, so lists
                // render (and forms work) before and without JavaScript.
                <Routes fallback=pages::not_found::NotFound>
                    <Route path=StaticSegment("") view=pages::containers::ContainersPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("docs") view=pages::server_only::DocsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("system") view=pages::server_only::SystemPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signin") view=pages::signin::SignInPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("containers"), ParamSegment("id")) view=pages::timeline::TimelinePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("containers"), ParamSegment("id"), StaticSegment("diff")) view=pages::server_only::DiffPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("containers"), ParamSegment("id"), StaticSegment("snapshots"), ParamSegment("name"), StaticSegment("files")) view=pages::server_only::FilesPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("containers"), ParamSegment("id"), StaticSegment("snapshots"), ParamSegment("name"), StaticSegment("restore")) view=pages::server_only::RestorePathPage ssr=SsrMode::Async/>
                </Routes>
            </layout::Frame>
        </Router>
    }
}
