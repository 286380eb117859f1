//! The Containers page and a container's timeline: the list, creating a container, its
//! start/stop/pause/resume/delete actions, and the timeline's data.

use leptos::prelude::*;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::model::Done;
use crate::model::{ContainerView, Overview, Timeline};

#[cfg(feature = "ssr")]
use super::forms::{plain_form, referer_path};

/// The Containers page: live containers, deleted ones with their snapshots, images.
#[server(prefix = "/rpc", endpoint = "overview")]
pub async fn load_overview() -> Result<Overview, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let mut o = backend.overview(&token).await?;
    o.servers = server_choices(backend.as_ref(), &token).await;
    Ok(o)
}

/// Every node, for the copy dialog's picker and the container list's node names.
/// Advisory: an upstream without `GET /api/v1/servers` gives none (the picker and the
/// names are left out).
#[cfg(feature = "ssr")]
pub(super) async fn server_choices(
    backend: &dyn crate::backend::Backend,
    token: &str,
) -> Vec<crate::model::ServerChoice> {
    backend
        .servers(token)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(crate::model::ServerChoice::from)
        .collect()
}

/// Creates a container from an image.
#[server(prefix = "/rpc", endpoint = "create_container")]
pub async fn create_container(
    project: String,
    name: String,
    image: String,
    #[server(default)] memory_mb: Option<String>,
    #[server(default)] pids: Option<String>,
    #[server(default)] cpus: Option<String>,
) -> Result<ContainerView, AppError> {
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let token = request.token().await?;
    let made = match crate::model::limits_from_form(
        memory_mb.as_deref(),
        pids.as_deref(),
        cpus.as_deref(),
    ) {
        Ok(limits) => {
            backend
                .create_container(&token, &project, name.trim(), &image, limits)
                .await
        }
        Err(e) => Err(e),
    };
    // Without JavaScript the page comes back to the form: saying what was made, or why not
    // with what was typed still in the fields.
    if plain {
        let esc = crate::model::query_escape;
        match &made {
            Ok(c) => request.redirect(&format!(
                "/?{}",
                Done::ContainerCreated(c.name.clone()).to_query(&token)
            )),
            Err(e) => {
                let typed = [
                    ("name", Some(&name)),
                    ("image", Some(&image)),
                    ("project", Some(&project)),
                    ("memory_mb", memory_mb.as_ref()),
                    ("pids", pids.as_ref()),
                    ("cpus", cpus.as_ref()),
                ];
                let fields: Vec<String> = typed
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k}={}", esc(v))))
                    .collect();
                request.redirect(&format!(
                    "/?{}&{}#create-container-title",
                    fields.join("&"),
                    crate::model::url_error::query(&token, "/rpc/create_container", e.clone())
                ));
            }
        }
    }
    made
}

/// Starts, stops, pauses, resumes or deletes a container (`action` is one of those words);
/// `name` is the container's name as the page showed it, for the sentence that says what was
/// done. A plain form (no JavaScript) comes back to the page it was sent from with that
/// outcome in the address (signed, see [`Done`]).
#[server(prefix = "/rpc", endpoint = "container_action")]
pub async fn container_action(
    id: String,
    action: String,
    #[server(default)] name: String,
) -> Result<crate::model::ContainerActed, AppError> {
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let token = request.token().await?;
    let op: crate::model::ContainerOp = action.parse()?;
    backend.container_action(&token, &id, op).await?;
    let name = name.trim();
    let acted = crate::model::ContainerActed {
        op,
        id: id.clone(),
        name: if name.is_empty() || name.len() > 200 {
            id.clone()
        } else {
            name.to_string()
        },
    };
    if plain {
        let back = request
            .parts()
            .and_then(referer_path)
            .map(|p| p.split('?').next().unwrap_or("/").to_string())
            .unwrap_or_else(|| "/".into());
        request.redirect(&format!(
            "{back}?{}",
            Done::Container(acted.clone()).to_query(&token)
        ));
    }
    Ok(acted)
}

/// One container's timeline.
#[server(prefix = "/rpc", endpoint = "timeline")]
pub async fn load_timeline(id: String, all: bool) -> Result<Timeline, AppError> {
    page_container(&id)?;
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let mut t = backend.timeline(&token, &id).await?;
    if !all {
        t.snapshots.truncate(crate::model::CARD_LIMIT);
    }
    if t.container.status != crate::model::ContainerStatus::Deleted {
        t.schedule = backend.schedule(&token, &id).await?;
    }
    // Where a copy may be built (the copy dialog's server picker).
    t.servers = server_choices(backend.as_ref(), &token).await;
    Ok(t)
}

/// A container id from a page's address: one that cannot be an id is a page that does not
/// exist (404 in the dashboard's words), not a malformed request.
#[cfg(feature = "ssr")]
pub(super) fn page_container(id: &str) -> Result<(), AppError> {
    if id.len() == 24
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Ok(());
    }
    let shown: String = id.chars().take(40).collect();
    Err(AppError::NotFound(format!(
        "There is no container {shown:?} (a container's address holds its 24-character id); open one from the Containers page."
    )))
}
