//! The System page's server functions: the node's status and self-checks, every node
//! serving from the database, and deleting a project.

use leptos::prelude::*;

use crate::error::AppError;
#[cfg(feature = "ssr")]
use crate::model::Done;
use crate::model::{SystemCheck, SystemStatus};

#[cfg(feature = "ssr")]
use super::forms::plain_form;

/// Reads the node's status.
#[server(prefix = "/rpc", endpoint = "system_status")]
pub async fn load_system_status() -> Result<SystemStatus, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.identity(&token).await?;
    backend.system_status().await
}

/// Every node serving from the database, this one first.
#[server(prefix = "/rpc", endpoint = "servers")]
pub async fn load_servers() -> Result<Vec<types::Server>, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.servers(&token).await
}

/// Runs a self-check and records it.
#[server(prefix = "/rpc", endpoint = "run_system_check")]
pub async fn run_system_check() -> Result<SystemCheck, AppError> {
    let backend = crate::backend::backend()?;
    let token = crate::session::token().await?;
    backend.identity(&token).await?;
    backend.run_system_check().await
}

/// Deletes a project (admin only); `name` names it in the answer. Refused, naming what it
/// still holds, while it has containers, snapshots of deleted containers or published
/// images. A plain form comes back to the System page with the outcome (signed, see
/// [`Done`]).
#[server(prefix = "/rpc", endpoint = "delete_project")]
pub async fn delete_project(
    id: String,
    #[server(default)] name: String,
) -> Result<String, AppError> {
    let (backend, request) = (crate::backend::backend()?, crate::session::Request::take());
    let plain = plain_form();
    let token = request.token().await?;
    backend.delete_project(&token, &id).await?;
    let name = match name.trim() {
        n if n.is_empty() || n.len() > 200 => id.clone(),
        n => n.to_string(),
    };
    if plain {
        request.redirect(&format!(
            "/system?{}",
            Done::ProjectDeleted(name.clone()).to_query(&token)
        ));
    }
    Ok(name)
}
