//! Who is calling: bearer tokens, their scopes, and the per-token rate limit.
//!
//! Invariant: a resource of a project the caller cannot see is answered exactly like a
//! missing one (404), by every route. [`Caller::sees`] is the only visibility test.

use std::num::NonZeroU32;

use engine::DbPool;
use sqlx::Row;

use crate::error::ServiceError;
use crate::tokens;

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's row id.
    pub token_id: String,
    /// Admin tokens see every project and may create projects.
    pub admin: bool,
    /// The projects a non-admin token sees.
    pub projects: Vec<String>,
}

impl Caller {
    /// Whether the caller may see objects of `project`.
    pub fn sees(&self, project: &str) -> bool {
        self.admin || self.projects.iter().any(|p| p == project)
    }
}

/// Looks a token up. `None` for unknown, revoked or malformed tokens.
pub async fn authenticate(db: &DbPool, token: &str) -> Result<Option<Caller>, ServiceError> {
    if !token.starts_with(tokens::TOKEN_PREFIX) || token.len() > 200 {
        return Ok(None);
    }
    let hashed = tokens::hash(token);
    let row = sqlx::query(
        "SELECT id, token_hash, is_admin FROM tokens WHERE token_hash = $1 AND revoked_at IS NULL",
    )
    .bind(&hashed)
    .fetch_optional(db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    // The row was found by its hash; compare again in constant time so that no code path
    // depends on how much of a guess matched.
    let stored: String = row.try_get("token_hash")?;
    if !constant_time_eq::constant_time_eq(stored.as_bytes(), hashed.as_bytes()) {
        return Ok(None);
    }
    let token_id: String = row.try_get("id")?;
    let admin: i64 = row.try_get("is_admin")?;
    let projects: Vec<String> =
        sqlx::query_scalar("SELECT project_id FROM token_projects WHERE token_id = $1")
            .bind(&token_id)
            .fetch_all(db)
            .await?;
    Ok(Some(Caller {
        token_id,
        admin: admin != 0,
        projects,
    }))
}

impl crate::Service {
    /// The caller a token speaks for, counted against its rate limit. Unknown, revoked and
    /// malformed tokens are `Unauthorized`; a token over its limit is `TooManyRequests`.
    pub async fn caller(&self, token: &str) -> Result<Caller, ServiceError> {
        let caller = authenticate(self.db(), token).await?.ok_or_else(|| {
            ServiceError::unauthorized(
                "The token is unknown or revoked; check HOODY_TOKEN / SNAPLINE_TOKEN.",
            )
        })?;
        self.rate().check(&caller.token_id)?;
        Ok(caller)
    }
}

/// Per-token rate limit (GCRA, from `governor`): a sustained rate with a burst.
pub struct RateLimiter {
    limiter: governor::DefaultKeyedRateLimiter<String>,
    per_second: u32,
}

impl RateLimiter {
    /// `per_second` sustained, `burst` at once (both at least 1).
    pub fn new(per_second: u32, burst: u32) -> Self {
        let rate = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
        RateLimiter {
            limiter: governor::RateLimiter::keyed(
                governor::Quota::per_second(rate).allow_burst(burst),
            ),
            per_second: rate.get(),
        }
    }

    /// Counts one request of `token_id`; 429 when over the limit.
    pub fn check(&self, token_id: &str) -> Result<(), ServiceError> {
        self.limiter.check_key(&token_id.to_string()).map_err(|_| {
            ServiceError::too_many_requests(format!(
                "Too many requests with this token (the limit is {} per second); slow down and \
                 retry in a moment.",
                self.per_second
            ))
        })?;
        // Keep the table small: forget tokens that are back to a full burst.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        Ok(())
    }
}

pub use types::TokenInfo;

/// Creates a token scoped to `projects` (ids), or an admin token. Returns the token, shown
/// once, and its row.
pub async fn create_token(
    db: &DbPool,
    name: &str,
    admin: bool,
    projects: &[String],
) -> Result<(String, TokenInfo), ServiceError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::bad_request(
            "a token name is 1 to 100 characters without control characters",
        ));
    }
    if !admin && projects.is_empty() {
        return Err(ServiceError::bad_request(
            "a token needs at least one project (or --admin)",
        ));
    }
    let token = tokens::generate();
    let id = tokens::new_id();
    let now = super::fmt_time(super::now());
    let mut tx = engine::db::begin_write(db).await?;
    sqlx::query(
        "INSERT INTO tokens (id, name, token_hash, is_admin, source, created_at) \
         VALUES ($1, $2, $3, $4, 'cli', $5)",
    )
    .bind(&id)
    .bind(name)
    .bind(tokens::hash(&token))
    .bind(admin as i64)
    .bind(&now)
    .execute(&mut *tx)
    .await?;
    for p in projects {
        sqlx::query("INSERT INTO token_projects (token_id, project_id) VALUES ($1, $2)")
            .bind(&id)
            .bind(p)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((
        token,
        TokenInfo {
            id,
            name: name.to_string(),
            admin,
            projects: projects.to_vec(),
            created_at: now,
            revoked_at: None,
        },
    ))
}

/// Every token, newest first.
pub async fn list_tokens(db: &DbPool) -> Result<Vec<TokenInfo>, ServiceError> {
    let rows = sqlx::query(
        "SELECT id, name, is_admin, created_at, revoked_at FROM tokens ORDER BY created_at DESC",
    )
    .fetch_all(db)
    .await?;
    let mut out = Vec::new();
    for r in rows {
        let id: String = r.try_get("id")?;
        let projects = sqlx::query_scalar(
            "SELECT project_id FROM token_projects WHERE token_id = $1 ORDER BY project_id",
        )
        .bind(&id)
        .fetch_all(db)
        .await?;
        out.push(TokenInfo {
            id,
            name: r.try_get("name")?,
            admin: r.try_get::<i64, _>("is_admin")? != 0,
            projects,
            created_at: r.try_get("created_at")?,
            revoked_at: r.try_get("revoked_at")?,
        });
    }
    Ok(out)
}

/// Revokes a token by id. 404 when there is no such live token.
pub async fn revoke_token(db: &DbPool, id: &str) -> Result<(), ServiceError> {
    let r = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(super::fmt_time(super::now()))
        .bind(id)
        .execute(db)
        .await?;
    if r.rows_affected() == 0 {
        return Err(ServiceError::not_found(format!(
            "no live token has id {id:?}; `snapline token list` shows them"
        )));
    }
    Ok(())
}
