//! API tokens: generation, hashing and the bootstrap admin token.
//!
//! Invariant: the database never holds a token, only its BLAKE3 hash. Tokens are 40 random
//! base62 characters (about 238 bits), so a fast hash is enough; no salt or slow hash is
//! needed against guessing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use engine::DbPool;
use rand::Rng;
use rand::distr::Alphanumeric;

/// Every token starts with this, as in the vendor documentation (`hdy_...`).
pub const TOKEN_PREFIX: &str = "hdy_";
/// Random characters after the prefix in a generated token.
const TOKEN_RANDOM_LEN: usize = 40;
/// Fewest characters after the prefix accepted from `SNAPLINE_ADMIN_TOKEN`.
const MIN_SUPPLIED_LEN: usize = 16;
/// File in the data directory that keeps the generated bootstrap token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// A fresh random token.
pub fn generate() -> String {
    let random: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(TOKEN_RANDOM_LEN)
        .map(char::from)
        .collect();
    format!("{TOKEN_PREFIX}{random}")
}

/// The stored form of a token.
pub fn hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

/// A new 24-hex-character row id.
pub fn new_id() -> String {
    engine::ContainerId::from_bytes(rand::rng().random()).to_string()
}

/// Checks a token supplied by an operator (`SNAPLINE_ADMIN_TOKEN`).
pub fn validate_supplied(token: &str) -> anyhow::Result<()> {
    let rest = token.strip_prefix(TOKEN_PREFIX).with_context(|| {
        format!("SNAPLINE_ADMIN_TOKEN must start with {TOKEN_PREFIX:?}, for example: {TOKEN_PREFIX}$(openssl rand -hex 24)")
    })?;
    if rest.len() < MIN_SUPPLIED_LEN {
        anyhow::bail!(
            "SNAPLINE_ADMIN_TOKEN is too short: use at least {MIN_SUPPLIED_LEN} random characters after {TOKEN_PREFIX:?}"
        );
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        anyhow::bail!(
            "SNAPLINE_ADMIN_TOKEN may only hold letters, digits, '_' and '-' after {TOKEN_PREFIX:?}"
        );
    }
    Ok(())
}

/// What happened to the bootstrap admin token at start.
#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// `SNAPLINE_ADMIN_TOKEN` is the admin token (any earlier one from the environment is
    /// revoked).
    FromEnv,
    /// A new token was generated: show it once. It was also written to `file`.
    Generated { token: String, file: PathBuf },
    /// An admin token already exists; nothing was created.
    Existing,
}

/// Ensures an admin token exists. Nodes sharing a database decide one at a time (the
/// cluster's startup lock), so a new cluster generates one token, on the first node: the
/// others find it (`Existing`).
pub async fn bootstrap(
    db: &DbPool,
    data_dir: &Path,
    from_env: Option<&str>,
) -> anyhow::Result<Bootstrap> {
    let startup = engine::db::cluster_lock(db, engine::db::ClusterLock::Startup).await?;
    let made = bootstrap_locked(db, data_dir, from_env).await;
    startup.release().await;
    made
}

async fn bootstrap_locked(
    db: &DbPool,
    data_dir: &Path,
    from_env: Option<&str>,
) -> anyhow::Result<Bootstrap> {
    let now = crate::now_rfc3339();
    if let Some(token) = from_env {
        validate_supplied(token)?;
        let hashed = hash(token);
        let mut tx = engine::db::begin_write(db).await?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE source = 'env' AND revoked_at IS NULL AND token_hash <> $2",
        )
        .bind(&now)
        .bind(&hashed)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO tokens (id, name, token_hash, is_admin, source, created_at) \
             VALUES ($1, 'admin (SNAPLINE_ADMIN_TOKEN)', $2, 1, 'env', $3) \
             ON CONFLICT (token_hash) DO UPDATE SET revoked_at = NULL, is_admin = 1",
        )
        .bind(new_id())
        .bind(&hashed)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        return Ok(Bootstrap::FromEnv);
    }

    let existing: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE is_admin = 1 AND revoked_at IS NULL")
            .fetch_one(db)
            .await?;
    if existing > 0 {
        return Ok(Bootstrap::Existing);
    }

    let token = generate();
    // Write the file first: a token in the database that nobody can read back would lock
    // the operator out.
    let file = data_dir.join(ADMIN_TOKEN_FILE);
    write_private(&file, &format!("{token}\n"))
        .with_context(|| format!("cannot save the admin token in {}", file.display()))?;
    sqlx::query(
        "INSERT INTO tokens (id, name, token_hash, is_admin, source, created_at) \
         VALUES ($1, 'admin (bootstrap)', $2, 1, 'bootstrap', $3)",
    )
    .bind(new_id())
    .bind(hash(&token))
    .bind(&now)
    .execute(db)
    .await?;
    Ok(Bootstrap::Generated { token, file })
}

/// Writes a file readable by its owner only, replacing any earlier one atomically.
pub(crate) fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_tokens_are_prefixed_random_and_valid() {
        let a = generate();
        let b = generate();
        assert!(a.starts_with("hdy_"));
        assert_eq!(a.len(), 4 + TOKEN_RANDOM_LEN);
        assert_ne!(a, b);
        validate_supplied(&a).unwrap();
    }

    #[test]
    fn supplied_tokens_are_checked() {
        assert!(validate_supplied("secret").is_err());
        assert!(validate_supplied("hdy_short").is_err());
        assert!(validate_supplied("hdy_has spaces in it 1234567").is_err());
        validate_supplied("hdy_0123456789abcdef0123").unwrap();
    }

    async fn fresh_db(dir: &Path) -> DbPool {
        crate::db::connect(&engine::db::scratch_url(dir, "snapline.db"))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn first_start_generates_once_and_saves_privately() {
        let tmp = tempfile::tempdir().unwrap();
        let db = fresh_db(tmp.path()).await;
        let Bootstrap::Generated { token, file } = bootstrap(&db, tmp.path(), None).await.unwrap()
        else {
            panic!("expected a generated token");
        };
        assert_eq!(fs::read_to_string(&file).unwrap().trim(), token);
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let stored: String = sqlx::query_scalar("SELECT token_hash FROM tokens")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(stored, hash(&token));
        assert_ne!(stored, token, "the token itself is never stored");
        assert_eq!(
            bootstrap(&db, tmp.path(), None).await.unwrap(),
            Bootstrap::Existing
        );
    }

    #[tokio::test]
    async fn env_token_replaces_the_previous_env_token() {
        let tmp = tempfile::tempdir().unwrap();
        let db = fresh_db(tmp.path()).await;
        let first = "hdy_first-token-0123456789";
        let second = "hdy_second-token-0123456789";
        assert_eq!(
            bootstrap(&db, tmp.path(), Some(first)).await.unwrap(),
            Bootstrap::FromEnv
        );
        assert_eq!(
            bootstrap(&db, tmp.path(), Some(first)).await.unwrap(),
            Bootstrap::FromEnv
        );
        bootstrap(&db, tmp.path(), Some(second)).await.unwrap();
        let active: Vec<String> =
            sqlx::query_scalar("SELECT token_hash FROM tokens WHERE revoked_at IS NULL")
                .fetch_all(&db)
                .await
                .unwrap();
        assert_eq!(active, vec![hash(second)]);
        assert!(!tmp.path().join(ADMIN_TOKEN_FILE).exists());
    }

    #[tokio::test]
    async fn a_bad_env_token_is_refused_before_anything_is_stored() {
        let tmp = tempfile::tempdir().unwrap();
        let db = fresh_db(tmp.path()).await;
        assert!(bootstrap(&db, tmp.path(), Some("password")).await.is_err());
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens")
            .fetch_one(&db)
            .await
            .unwrap();
        assert_eq!(n, 0);
    }
}
