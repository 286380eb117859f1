//! This node as the API describes it (`servers`), and the tokens' own management calls.

use crate::error::{Hint, ServiceError};
use crate::{Caller, Service};
use types::{CreateToken, Server, TokenCreated, TokenInfo};

/// Bytes of the regular files under `dir` (what the store's packs take).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .filter_map(|e| Some((e.path(), e.file_type().ok()?, e.metadata().ok()?)))
        .map(|(path, ty, md)| {
            if ty.is_dir() {
                dir_bytes(&path)
            } else if ty.is_file() {
                md.len()
            } else {
                0
            }
        })
        .sum()
}

impl Service {
    /// The nodes: this one (several nodes share a list once they share a database).
    pub async fn list_servers(&self, _caller: &Caller) -> Result<Vec<Server>, ServiceError> {
        Ok(vec![self.this_server().await])
    }

    /// One node by id; `NotFound` for any other id.
    pub async fn get_server(&self, _caller: &Caller, id: &str) -> Result<Server, ServiceError> {
        if id != self.server_id() {
            return Err(ServiceError::not_found(format!("no server with id {id}"))
                .with_hint(Hint::ListServers));
        }
        Ok(self.this_server().await)
    }

    async fn this_server(&self) -> Server {
        let data = self.data_dir().to_path_buf();
        let store = data.join("store");
        let store_bytes = tokio::task::spawn_blocking(move || dir_bytes(&store))
            .await
            .unwrap_or(0);
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "localhost".into());
        Server {
            id: self.server_id().to_string(),
            name,
            status: "active".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            store_bytes,
            disk_total_bytes: fs4::total_space(&data).unwrap_or(0),
            disk_free_bytes: fs4::available_space(&data).unwrap_or(0),
            can_run_containers: self.can_run_containers(),
        }
    }

    /// The tokens the caller may see: all of them for an admin, its own otherwise.
    pub async fn list_tokens(&self, caller: &Caller) -> Result<Vec<TokenInfo>, ServiceError> {
        Ok(crate::auth::list_tokens(self.db())
            .await?
            .into_iter()
            .filter(|t| caller.admin || t.id == caller.token_id)
            .collect())
    }

    /// Creates a token (admin callers only); its projects are ids or names the caller sees.
    pub async fn create_token(
        &self,
        caller: &Caller,
        req: &CreateToken,
    ) -> Result<TokenCreated, ServiceError> {
        if !caller.admin {
            return Err(ServiceError::forbidden(
                "only an admin token can create tokens",
            ));
        }
        let mut projects = Vec::new();
        for p in &req.project_ids {
            projects.push(self.project(caller, p).await?.id);
        }
        let (token, info) =
            crate::auth::create_token(self.db(), &req.name, req.admin, &projects).await?;
        Ok(TokenCreated { token, info })
    }

    /// Revokes a token: any token for an admin, only itself otherwise (another's is
    /// answered like a missing one).
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<(), ServiceError> {
        if !caller.admin && id != caller.token_id {
            return Err(ServiceError::not_found(format!(
                "no live token has id {id:?}"
            )));
        }
        crate::auth::revoke_token(self.db(), id).await
    }

    /// The live events `caller` may see, from now on: those of its projects and the global
    /// ones (image imports). `None` in the stream means the reader fell behind and missed
    /// some (the REST stream says `lagged`).
    pub fn events_for(
        &self,
        caller: Caller,
    ) -> impl futures_core::Stream<Item = Option<types::Event>> + Send + 'static + use<> {
        use tokio_stream::StreamExt;
        tokio_stream::wrappers::BroadcastStream::new(self.events().subscribe()).filter_map(
            move |e| match e {
                Ok(e) if e.project_id.is_empty() || caller.sees(&e.project_id) => Some(Some(e)),
                Ok(_) => None,
                Err(_) => Some(None),
            },
        )
    }
}
