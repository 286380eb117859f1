//! Dashboard sign-ins kept on the server (the `dashboard_sessions` table): the cookie holds a
//! random session id, the row holds the token sealed under that id.
//!
//! - Signing out deletes the row: a cookie copied before stops working at once.
//! - A session ends [`LIFETIME`] after sign-in, or after [`IDLE`] without a request.
//! - A revoked token's sessions end at their next use: every call checks the token (the
//!   embedded service or the upstream answers 401), and that answer deletes the session.
//! - The database alone gives no token: it is XORed with a key stream derived from the
//!   session id, which only the cookie holds; the row is found by the id's BLAKE3 hash.

use app::AppError;
use app::backend::Sessions;
use engine::DbPool;
use sqlx::Row;

/// How long a session lasts at most, in seconds (30 days; the cookie's `Max-Age` too).
pub const LIFETIME: i64 = 30 * 24 * 3600;
/// How long a session lasts unused, in seconds (7 days).
pub const IDLE: i64 = 7 * 24 * 3600;
/// `last_seen` is written at most this often, in seconds, so that reading pages does not
/// turn into a write per request.
const TOUCH_EVERY: i64 = 60;
/// Session ids are this prefix and 64 hex digits (32 random bytes).
const PREFIX: &str = "ses_";

/// The sessions of this node's database (a proxy node's own).
pub struct SqliteSessions {
    db: DbPool,
}

impl SqliteSessions {
    pub fn new(db: DbPool) -> Self {
        SqliteSessions { db }
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn hex_hash(v: &str) -> String {
    blake3::hash(v.as_bytes()).to_hex().to_string()
}

/// `data` XORed with the key stream of session `id` (sealing and opening are the same).
fn seal(id: &str, data: &[u8]) -> Vec<u8> {
    let key = blake3::derive_key("snapline dashboard session token seal v1", id.as_bytes());
    let mut stream = vec![0u8; data.len()];
    blake3::Hasher::new_keyed(&key)
        .finalize_xof()
        .fill(&mut stream);
    data.iter().zip(stream).map(|(a, b)| a ^ b).collect()
}

fn db_error(e: sqlx::Error) -> AppError {
    tracing::error!(error = %e, "dashboard sessions");
    AppError::Internal(
        "The sign-in could not be read or saved; the details are in the server's log.".into(),
    )
}

#[async_trait::async_trait]
impl Sessions for SqliteSessions {
    async fn create(&self, token: &str) -> Result<String, AppError> {
        // ThreadRng is a CSPRNG seeded from the OS (rand's documented guarantee).
        let mut raw = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut raw);
        let id = format!("{PREFIX}{}", hex(&raw));
        let t = now();
        sqlx::query(
            "INSERT INTO dashboard_sessions (id_hash, user_key, sealed, created_at, last_seen, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hex_hash(&id))
        .bind(hex_hash(token))
        .bind(seal(&id, token.as_bytes()))
        .bind(t)
        .bind(t)
        .bind(t + LIFETIME)
        .execute(&self.db)
        .await
        .map_err(db_error)?;
        // Ended sessions go now and then: at each sign-in, which is rare enough.
        let _ =
            sqlx::query("DELETE FROM dashboard_sessions WHERE expires_at <= $1 OR last_seen <= $2")
                .bind(t)
                .bind(t - IDLE)
                .execute(&self.db)
                .await;
        Ok(id)
    }

    async fn open(&self, id: &str) -> Result<Option<String>, AppError> {
        if !id.starts_with(PREFIX) || id.len() != PREFIX.len() + 64 {
            return Ok(None);
        }
        let key = hex_hash(id);
        let Some(row) = sqlx::query(
            "SELECT sealed, last_seen, expires_at FROM dashboard_sessions WHERE id_hash = $1",
        )
        .bind(&key)
        .fetch_optional(&self.db)
        .await
        .map_err(db_error)?
        else {
            return Ok(None);
        };
        let (sealed, last_seen, expires_at): (Vec<u8>, i64, i64) = (
            row.try_get("sealed").map_err(db_error)?,
            row.try_get("last_seen").map_err(db_error)?,
            row.try_get("expires_at").map_err(db_error)?,
        );
        let t = now();
        if t >= expires_at || t - last_seen >= IDLE {
            self.end(id).await?;
            return Ok(None);
        }
        if t - last_seen >= TOUCH_EVERY {
            sqlx::query("UPDATE dashboard_sessions SET last_seen = $1 WHERE id_hash = $2")
                .bind(t)
                .bind(&key)
                .execute(&self.db)
                .await
                .map_err(db_error)?;
        }
        Ok(String::from_utf8(seal(id, &sealed)).ok())
    }

    async fn end(&self, id: &str) -> Result<(), AppError> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE id_hash = $1")
            .bind(hex_hash(id))
            .execute(&self.db)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn end_all(&self, token: &str) -> Result<(), AppError> {
        sqlx::query("DELETE FROM dashboard_sessions WHERE user_key = $1")
            .bind(hex_hash(token))
            .execute(&self.db)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, SqliteSessions) {
        let tmp = tempfile::tempdir().unwrap();
        let db = service::db::open(&engine::db::scratch_url(tmp.path(), "snapline.db"))
            .await
            .unwrap();
        crate::dashboard::schema::migrate(&db).await.unwrap();
        (tmp, SqliteSessions::new(db))
    }

    #[tokio::test]
    async fn a_session_opens_to_its_token_until_it_ends() {
        let (_tmp, s) = store().await;
        let token = "hdy_0123456789abcdefghijklmnopqrstuvwxyz";
        let id = s.create(token).await.unwrap();
        assert!(!id.contains(token) && id.starts_with(PREFIX), "{id}");
        assert_eq!(s.open(&id).await.unwrap().as_deref(), Some(token));
        // The database holds neither the token nor the id.
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT id_hash, sealed FROM dashboard_sessions")
                .fetch_all(&s.db)
                .await
                .unwrap();
        assert_eq!(rows.len(), 1);
        assert_ne!(rows[0].0, id);
        assert_ne!(rows[0].1, token.as_bytes());
        // A guessed or altered id opens nothing.
        let mut other = id.clone();
        other.replace_range(10..11, if &id[10..11] == "0" { "1" } else { "0" });
        assert_eq!(s.open(&other).await.unwrap(), None);
        assert_eq!(s.open(token).await.unwrap(), None);
        s.end(&id).await.unwrap();
        assert_eq!(s.open(&id).await.unwrap(), None);
    }

    #[tokio::test]
    async fn idle_and_old_sessions_end_and_revoked_tokens_lose_theirs() {
        let (_tmp, s) = store().await;
        let (a, b, c) = (
            s.create("hdy_a").await.unwrap(),
            s.create("hdy_b").await.unwrap(),
            s.create("hdy_c").await.unwrap(),
        );
        let age = |id: &str, column: &str, secs: i64| {
            let (db, key) = (s.db.clone(), hex_hash(id));
            let sql = format!(
                "UPDATE dashboard_sessions SET {column} = {column} - $1 WHERE id_hash = $2"
            );
            async move {
                sqlx::query(&sql)
                    .bind(secs)
                    .bind(key)
                    .execute(&db)
                    .await
                    .unwrap();
            }
        };
        age(&a, "last_seen", IDLE).await;
        age(&b, "expires_at", LIFETIME).await;
        assert_eq!(s.open(&a).await.unwrap(), None, "idle");
        assert_eq!(s.open(&b).await.unwrap(), None, "expired");
        assert_eq!(s.open(&c).await.unwrap().as_deref(), Some("hdy_c"));
        let c2 = s.create("hdy_c").await.unwrap();
        s.end_all("hdy_c").await.unwrap();
        assert_eq!(s.open(&c).await.unwrap(), None);
        assert_eq!(s.open(&c2).await.unwrap(), None);
    }
}
