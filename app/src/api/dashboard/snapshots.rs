//! The timeline's snapshot actions: take, restore (whole or one path), delete, copy or
//! fork, publish as an image, edit, diff, browse and verify.

use leptos::prelude::*;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::model::{Done, SnapshotChange};
use crate::model::{RestoreOutcome, Snapshot, SnapshotDiff, SnapshotFiles, SnapshotVerified};

#[cfg(feature = "ssr")]
use super::containers::page_container;
#[cfg(feature = "ssr")]
use super::forms::come_back;

/// Parses the expiry presets of the create form: `7`, `30`, `90` days or `never`.
pub fn parse_expiry(expiry: &str) -> Result<Option<i64>, AppError> {
    match expiry {
        "" | "never" => Ok(None),
        d => match d.parse::<i64>() {
            Ok(n @ 1..=3650) => Ok(Some(n)),
            _ => Err(AppError::BadRequest(format!(
                "Expiry {d:?} is not valid: choose 7, 30 or 90 days, or never."
            ))),
        },
    }
}

/// The alias a form sent, trimmed (empty for none), or why it cannot be one (400).
#[cfg(feature = "ssr")]
fn form_alias(alias: &str) -> Result<String, AppError> {
    let alias = alias.trim().to_string();
    match crate::model::alias_problem(&alias) {
        Some(problem) => Err(AppError::BadRequest(problem)),
        None => Ok(alias),
    }
}

/// Takes a snapshot. `alias` may be empty; `expiry` is `7`, `30`, `90` or `never`.
#[server(prefix = "/rpc", endpoint = "create_snapshot")]
pub async fn create_snapshot(
    id: String,
    alias: String,
    expiry: String,
) -> Result<Snapshot, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let alias = form_alias(&alias)?;
    let expiry = parse_expiry(&expiry)?;
    let s = backend
        .create_snapshot(&token, &id, (!alias.is_empty()).then_some(alias), expiry)
        .await?;
    come_back(&token, &id, || Done::Taken(s.clone()));
    Ok(s)
}

/// Restores a snapshot; with `safety` (a checked checkbox sends `on`) the current state is
/// snapshotted first, so the restore can be undone.
#[server(prefix = "/rpc", endpoint = "restore_snapshot")]
pub async fn restore_snapshot(
    id: String,
    name: String,
    #[server(default)] safety: Option<String>,
) -> Result<RestoreOutcome, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let req = types::RestoreSnapshot {
        safety_snapshot: Some(safety.is_some_and(|s| !s.is_empty())),
        ..Default::default()
    };
    let o = backend.restore_snapshot(&token, &id, &name, req).await?;
    come_back(&token, &id, || Done::Restored(Box::new(o.clone())));
    Ok(o)
}

/// Restores one file or folder of a snapshot from the server-rendered confirmation page (a
/// plain form POST; `path` percent-encoded, [`types::raw::encode`], so names that are not
/// UTF-8 get through), then goes back to that page showing what was done: `restored=1`, and
/// `safety=` the safety snapshot that "Undo" restores the path from; `back` (the page the
/// confirmation was opened from) is kept. An error goes back to the page with the error in
/// the address (see [`crate::components::UrlError`]).
#[server(prefix = "/rpc", endpoint = "restore_path")]
pub async fn restore_path(
    id: String,
    name: String,
    path: String,
    #[server(default)] safety: Option<String>,
    #[server(default)] restart: Option<String>,
    #[server(default)] back: Option<String>,
) -> Result<(), AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let checked = |v: &Option<String>| v.as_ref().is_some_and(|s| !s.is_empty());
    // The form carries the path percent-encoded (names need not be UTF-8): text when it is
    // UTF-8, so a server that predates `raw_paths` understands it, else as bytes.
    let bytes = types::raw::decode(&path);
    let (paths, raw_paths) = match String::from_utf8(bytes.clone()) {
        Ok(text) => (Some(vec![text]), None),
        Err(_) => (None, Some(vec![types::raw::encode(&bytes)])),
    };
    let req = types::RestoreSnapshot {
        safety_snapshot: Some(checked(&safety)),
        restart: Some(checked(&restart)),
        paths,
        raw_paths,
    };
    let o = backend.restore_snapshot(&token, &id, &name, req).await?;
    let page =
        crate::model::restore_page_bytes(&id, &o.restored.name, &bytes, &back.unwrap_or_default());
    leptos_axum::redirect(&format!(
        "{page}&restored=1&safety={}",
        crate::model::query_escape(&o.safety.map(|s| s.name).unwrap_or_default())
    ));
    Ok(())
}

/// Deletes a snapshot. `alias` (the card sends it) names it in the answer, which is the
/// snapshot as messages name it ([`crate::model::snapshot_label`]).
#[server(prefix = "/rpc", endpoint = "delete_snapshot")]
pub async fn delete_snapshot(
    id: String,
    name: String,
    #[server(default)] alias: String,
) -> Result<String, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.delete_snapshot(&token, &id, &name).await?;
    let label =
        crate::model::snapshot_label(Some(alias.as_str()).filter(|a| a.len() <= 400), &name);
    come_back(&token, &id, || Done::Deleted(label.clone()));
    Ok(label)
}

/// Copies a snapshot into a new container named `new_name`, in any visible project. With
/// `count` N (the form's "How many", 1 to 50), forks it into `new_name-1` … `new_name-N`: the
/// same rule as the REST API's `count`, so one typed 1 makes `new_name-1`. With `server` (a
/// node id; empty is the container's node) the copy is built on that node, from the store.
#[server(prefix = "/rpc", endpoint = "copy_snapshot")]
pub async fn copy_snapshot(
    id: String,
    name: String,
    project: String,
    new_name: String,
    #[server(default)] count: Option<String>,
    #[server(default)] server: Option<String>,
) -> Result<crate::model::Copied, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let count = match count.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => match n.parse::<u32>() {
            Ok(n @ 1..=50) => Some(n),
            _ => {
                return Err(AppError::BadRequest(format!(
                    "How many must be a whole number from 1 to 50 (got {n:?})."
                )));
            }
        },
    };
    // The server picker: empty means the container's own node.
    let server = server.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let copied = match count {
        None => backend
            .copy_snapshot(&token, &id, &name, &project, new_name.trim(), server)
            .await
            .map(|c| crate::model::Copied::one(&c))?,
        Some(n) => backend
            .fork_snapshot(&token, &id, &name, &project, new_name.trim(), n, server)
            .await
            .map(crate::model::Copied::from)?,
    };
    come_back(&token, &id, || Done::Copied(copied.clone()));
    Ok(copied)
}

/// Publishes a snapshot as an image that new containers can start from.
#[server(prefix = "/rpc", endpoint = "publish_image")]
pub async fn publish_image(
    id: String,
    name: String,
    image: String,
) -> Result<types::Image, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let image = backend
        .publish_image(&token, &id, &name, image.trim())
        .await?;
    come_back(&token, &id, || Done::Published(image.clone()));
    Ok(image)
}

/// Parses the edit form's expiry: `keep` leaves it, `never` pins the snapshot, a number of
/// days expires it that long from now.
pub fn parse_expiry_change(expiry: &str) -> Result<Option<Option<i64>>, AppError> {
    match expiry {
        "" | "keep" => Ok(None),
        other => parse_expiry(other).map(Some),
    }
}

/// Edits a snapshot's alias (empty for none) and expiry (`keep`, `7`, `30`, `90`, `never`).
#[server(prefix = "/rpc", endpoint = "update_snapshot")]
pub async fn update_snapshot(
    id: String,
    name: String,
    alias: String,
    expiry: String,
) -> Result<Snapshot, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let alias = form_alias(&alias)?;
    let change = SnapshotChange {
        alias: Some((!alias.is_empty()).then_some(alias)),
        expiry: parse_expiry_change(&expiry)?,
    };
    let s = backend.update_snapshot(&token, &id, &name, change).await?;
    come_back(&token, &id, || Done::Saved(s.clone()));
    Ok(s)
}

/// What changed from snapshot `from` to `against` (another snapshot's name, or `live`).
#[server(prefix = "/rpc", endpoint = "diff")]
pub async fn diff_snapshot(
    id: String,
    from: String,
    against: String,
) -> Result<SnapshotDiff, AppError> {
    page_container(&id)?;
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    if from.is_empty() {
        return Err(AppError::BadRequest("Choose a snapshot to compare.".into()));
    }
    let against = if against.is_empty() {
        "live".to_string()
    } else {
        against
    };
    backend.diff_snapshot(&token, &id, &from, &against).await
}

/// A directory of a snapshot, and how the page names the snapshot
/// ([`crate::model::snapshot_label`]). `path` is absolute inside it and percent-encoded
/// ([`types::raw::encode`]), so names that are not UTF-8 get through; empty means `/`.
#[server(prefix = "/rpc", endpoint = "browse")]
pub async fn browse_snapshot(
    id: String,
    name: String,
    path: String,
) -> Result<(SnapshotFiles, String), AppError> {
    page_container(&id)?;
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let path = crate::model::normalize_bytes(&types::raw::decode(&path));
    let files = backend.browse_snapshot(&token, &id, &name, &path).await?;
    // The heading names the snapshot as its card does: `name` may be a name or an alias.
    let label = backend
        .list_snapshots(&token, &id)
        .await?
        .into_iter()
        .find(|s| s.name == name || s.alias.as_deref() == Some(name.as_str()))
        .map(|s| crate::model::snapshot_label(s.alias.as_deref(), &s.name))
        .unwrap_or(name);
    Ok((files, label))
}

/// Verifies a snapshot; with `deep` (a checked checkbox sends `on`) all its data is re-read
/// and re-hashed.
#[server(prefix = "/rpc", endpoint = "verify")]
pub async fn verify_snapshot(
    id: String,
    name: String,
    #[server(default)] deep: Option<String>,
    #[server(default)] alias: String,
) -> Result<(String, SnapshotVerified), AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    let report = backend
        .verify_snapshot(&token, &id, &name, deep.is_some_and(|d| !d.is_empty()))
        .await?;
    let label =
        crate::model::snapshot_label(Some(alias.as_str()).filter(|a| a.len() <= 400), &name);
    come_back(&token, &id, || {
        Done::verified(label.clone(), report.clone())
    });
    Ok((label, report))
}
