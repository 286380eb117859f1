//! The tokens' own management calls (the nodes, `servers`, are in `nodes`).

use crate::error::ServiceError;
use crate::{Caller, Service};
use types::{CreateToken, TokenCreated, TokenInfo};

impl Service {
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
