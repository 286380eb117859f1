//! Packs in an S3-compatible object store (`--store s3://bucket/prefix`), through the
//! `object_store` crate, with a local [`PackCache`].
//!
//! Rules, from `docs/SCALE-OUT.md`:
//! - **A pack exists only through its row.** [`PackStorage::put`](crate::storage::PackStorage::put) uploads, then writes the
//!   pack's row in the `packs` table; [`PackStorage::list`](crate::storage::PackStorage::list) reads the table, never the
//!   bucket. A crash between the two leaves an object no one reads (GC's orphan sweep may
//!   list the bucket to reclaim it; correctness never depends on a LIST).
//! - **Nothing relies on create-only PUT** (`If-None-Match: *`): Garage ignores it. Packs
//!   are named by the hash of their bytes, so two writers of one name write the same bytes.
//! - **A bucket belongs to one cluster, and a database to one store.** The bucket's marker
//!   object `<prefix>snapline-store.json` and the database's `store_identity` row hold the
//!   same cluster id, checked at every start.
//! - Object keys: `<prefix>packs/{data,tree}/<first two hex digits>/<id>`. Tree packs are
//!   apart from data packs so marking and browsing read only small packs.
//!
//! [`PackStorage`](crate::storage::PackStorage) is synchronous (the engine calls it from worker threads); each call runs
//! its requests with `Handle::block_on` on the runtime the storage was opened in, so it
//! must never be called from an async task (the engine calls it only from blocking
//! threads).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::path::Path as Key;
use object_store::{ClientConfigKey, ObjectStoreExt, PutPayload, RetryConfig};

use crate::db::{ClusterLock, DbPool};
use crate::error::EngineError;
use crate::ids::ObjectId;
use crate::pack_cache::PackCache;
use crate::storage::PackKind;

/// The marker object's name, under the prefix.
pub const MARKER: &str = "snapline-store.json";

/// Where packs go and how to reach them. Unset connection fields come from the standard
/// variables `object_store` and the AWS tools read: `AWS_ENDPOINT_URL`, `AWS_REGION`,
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP`.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// The S3 endpoint, e.g. `http://127.0.0.1:3900` (default: AWS itself).
    pub endpoint: Option<String>,
    /// The region the server expects in signatures (Garage's default is `garage`).
    pub region: Option<String>,
    /// The access key id.
    pub access_key_id: Option<String>,
    /// The secret access key.
    pub secret_access_key: Option<String>,
    /// Allows plain `http://` endpoints (a test server on loopback).
    pub allow_http: Option<bool>,
    /// The node's cache directory (`<data-dir>/cache`).
    pub cache_dir: PathBuf,
    /// Bytes of data packs the cache may keep (tree packs and tails come on top).
    pub cache_bytes: u64,
}

/// Splits `s3://bucket[/prefix]` into the bucket and the key prefix (empty, or ending in
/// `/`). Bucket names follow S3's rules (3 to 63 characters: lowercase letters, digits,
/// dots and hyphens); the prefix may hold letters, digits and `-_./`, without empty or
/// `.`/`..` segments.
pub fn parse_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        format!("{url:?} is not an S3 store: write s3://BUCKET or s3://BUCKET/PREFIX")
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !bucket.starts_with(['.', '-'])
        && !bucket.ends_with(['.', '-']);
    if !bucket_ok {
        return Err(format!(
            "{bucket:?} is not a valid bucket name in {url:?}: use 3 to 63 lowercase letters, \
             digits, dots and hyphens, starting and ending with a letter or digit"
        ));
    }
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        return Ok((bucket.to_string(), String::new()));
    }
    let prefix_ok = prefix.len() <= 200
        && prefix.split('/').all(|seg| {
            !seg.is_empty()
                && seg != "."
                && seg != ".."
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        });
    if !prefix_ok {
        return Err(format!(
            "{prefix:?} is not a valid prefix in {url:?}: use at most 200 letters, digits and \
             -_. in segments separated by single slashes"
        ));
    }
    Ok((bucket.to_string(), format!("{prefix}/")))
}

/// Requests and bytes an [`S3PackStorage`] has sent, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct S3Stats {
    /// PUT requests.
    pub puts: u64,
    /// GET requests (whole or ranged).
    pub gets: u64,
    /// DELETE requests.
    pub deletes: u64,
    /// Bytes uploaded.
    pub bytes_up: u64,
    /// Bytes downloaded.
    pub bytes_down: u64,
}

#[derive(Default)]
struct Counters {
    puts: AtomicU64,
    gets: AtomicU64,
    deletes: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

/// An S3 request that failed for a reason other than a missing object: the server is down
/// or refused us. Carried inside `io::Error` so the service can answer 503 (retry later)
/// rather than 500.
#[derive(Debug)]
pub struct RemoteStoreError(pub String);

impl std::fmt::Display for RemoteStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RemoteStoreError {}

/// Packs in an S3 bucket, listed by the `packs` table, read through a local cache.
pub struct S3PackStorage {
    s3: AmazonS3,
    url: String,
    endpoint: String,
    prefix: String,
    rt: tokio::runtime::Handle,
    db: DbPool,
    /// Kind and size of the packs seen in the table: reads need the key, which holds the
    /// kind. A pack another node wrote since is looked up in the table.
    known: Mutex<HashMap<ObjectId, (PackKind, u64)>>,
    cache: PackCache,
    /// One download per pack at a time: the second reader waits and reads the cache.
    inflight: Mutex<HashMap<ObjectId, Arc<Mutex<()>>>>,
    counters: Counters,
    /// The store version (`store_epoch.version`) of the last listing, moved on by this
    /// node's own stores and deletes when nobody else changed anything in between.
    listed_version: std::sync::atomic::AtomicI64,
    /// How long after its upload began a pack may still be recorded (milliseconds); see
    /// [`S3PackStorage::sweep_orphans`].
    record_within_ms: AtomicU64,
}

mod pack_storage;
mod sweep;

pub use sweep::{DEFAULT_RECORD_WITHIN, OrphanSweep};

impl S3PackStorage {
    /// Connects to the bucket, checks (or, on a new database and bucket, writes) the
    /// cluster's marker, and opens the cache. Runs under the cluster's startup lock, so
    /// nodes starting together agree on one cluster id.
    ///
    /// Errors, each naming the store and what to do: a malformed URL or option; a bucket
    /// that is unreachable or refuses the credentials; a bucket that belongs to another
    /// cluster; a database whose packs are elsewhere; a bucket that lost its marker while
    /// the database lists packs in it.
    pub async fn connect(opts: &S3Options, db: DbPool) -> Result<S3PackStorage, EngineError> {
        // object_store's rustls needs a process-wide crypto provider; ring needs no C
        // toolchain. A second install (another storage) is refused, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (bucket, prefix) = parse_url(&opts.url).map_err(EngineError::Invalid)?;
        let mut b = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        if let Some(v) = &opts.endpoint {
            b = b.with_endpoint(v);
        }
        if let Some(v) = &opts.region {
            b = b.with_region(v);
        }
        if let Some(v) = &opts.access_key_id {
            b = b.with_access_key_id(v);
        }
        if let Some(v) = &opts.secret_access_key {
            b = b.with_secret_access_key(v);
        }
        if let Some(v) = opts.allow_http {
            b = b.with_allow_http(v);
        }
        let endpoint = b
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .unwrap_or_else(|| "AWS S3".into());
        // Fail fast: a stopped server answers 503 in seconds, not after object_store's
        // default of ten retries over three minutes.
        let retry = RetryConfig {
            max_retries: 3,
            retry_timeout: Duration::from_secs(15),
            ..RetryConfig::default()
        };
        // Timeouts as configuration keys: `with_client_options` would replace the client
        // options `from_env` filled in (AWS_ALLOW_HTTP among them).
        let s3 = b
            .with_retry(retry)
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "5s",
            )
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "120s")
            .build()
            .map_err(|e| {
                EngineError::Invalid(format!(
                    "cannot use the S3 store {}: {e}. Set AWS_ENDPOINT_URL, AWS_REGION, \
                     AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the --s3-* flags)",
                    opts.url
                ))
            })?;
        let cache = PackCache::open(&opts.cache_dir, opts.cache_bytes).map_err(EngineError::io(
            format!("cannot open the pack cache in {}", opts.cache_dir.display()),
        ))?;
        let storage = S3PackStorage {
            s3,
            url: opts.url.trim_end_matches('/').to_string(),
            endpoint,
            prefix,
            rt: tokio::runtime::Handle::current(),
            db: db.clone(),
            known: Mutex::new(HashMap::new()),
            cache,
            inflight: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            listed_version: std::sync::atomic::AtomicI64::new(i64::MIN),
            record_within_ms: AtomicU64::new(DEFAULT_RECORD_WITHIN.as_millis() as u64),
        };
        let lock = crate::db::cluster_lock(&db, ClusterLock::Startup).await?;
        let checked = storage.check_identity().await;
        lock.release().await;
        checked?;
        Ok(storage)
    }

    /// The store's URL, as configured (`s3://bucket/prefix`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Requests and bytes so far.
    pub fn stats(&self) -> S3Stats {
        let c = &self.counters;
        S3Stats {
            puts: c.puts.load(Ordering::Relaxed),
            gets: c.gets.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            bytes_up: c.bytes_up.load(Ordering::Relaxed),
            bytes_down: c.bytes_down.load(Ordering::Relaxed),
        }
    }

    /// The local cache.
    pub fn cache(&self) -> &PackCache {
        &self.cache
    }

    fn pack_key(&self, id: &ObjectId, kind: PackKind) -> Key {
        let hex = id.to_hex();
        Key::from(format!(
            "{}packs/{}/{}/{hex}",
            self.prefix,
            kind.as_str(),
            &hex[..2]
        ))
    }

    fn remote_error(&self, what: &str, e: object_store::Error) -> io::Error {
        if let object_store::Error::NotFound { .. } = e {
            return io::Error::new(io::ErrorKind::NotFound, format!("{what}: not found"));
        }
        io::Error::other(RemoteStoreError(format!(
            "the S3 store {} at {} failed ({what}): {e}",
            self.url, self.endpoint
        )))
    }

    /// Checks the database's store identity and the bucket's marker against each other,
    /// writing both on the first start. Runs under the startup lock.
    async fn check_identity(&self) -> Result<(), EngineError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT store_url, cluster_id FROM store_identity WHERE singleton = 1")
                .fetch_optional(&self.db)
                .await?;
        let (cluster_id, known) = match row {
            Some((url, _)) if url != self.url => {
                return Err(EngineError::Invalid(format!(
                    "this database keeps its packs in {url}, not in {}: start every node of \
                     this cluster with --store {url}",
                    self.url
                )));
            }
            Some((_, id)) => (id, true),
            None => {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM engine_snapshots")
                    .fetch_one(&self.db)
                    .await?;
                if n > 0 {
                    return Err(EngineError::Invalid(format!(
                        "this database has {n} snapshots whose packs are in a local store \
                         (the data directory's store/); a database keeps one store, so start \
                         without --store, or give {} a new database",
                        self.url
                    )));
                }
                (new_cluster_id()?, false)
            }
        };
        let marker = Key::from(format!("{}{MARKER}", self.prefix));
        let found = self.read_marker(&marker).await?;
        match found {
            Some(other) if other != cluster_id => {
                return Err(EngineError::Invalid(format!(
                    "the bucket {} belongs to another Snapline cluster (id {other}); this \
                     database's cluster is {cluster_id}. Give each cluster its own bucket or \
                     prefix",
                    self.url
                )));
            }
            Some(_) => {}
            None => {
                let packs: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM packs WHERE deleted_at IS NULL")
                        .fetch_one(&self.db)
                        .await?;
                if known && packs > 0 {
                    return Err(EngineError::Invalid(format!(
                        "the S3 store {} at {} has no marker object ({MARKER}), yet this \
                         database lists {packs} packs in it: the bucket was emptied, or the \
                         endpoint is another server. Check AWS_ENDPOINT_URL and the bucket",
                        self.url, self.endpoint
                    )));
                }
                let body = serde_json::json!({
                    "format": "snapline-store-1",
                    "cluster_id": cluster_id,
                    "created_at": crate::catalog::fmt_time(chrono::Utc::now()),
                });
                self.counters.puts.fetch_add(1, Ordering::Relaxed);
                self.s3
                    .put(&marker, PutPayload::from(body.to_string().into_bytes()))
                    .await
                    .map_err(|e| self.start_error(e))?;
                // No create-only PUT to lean on: read it back, so of two clusters writing
                // at once, the one that lost finds the other's id and stops.
                if let Some(other) = self.read_marker(&marker).await?
                    && other != cluster_id
                {
                    return Err(EngineError::Invalid(format!(
                        "the bucket {} was claimed by another Snapline cluster (id {other}) \
                         while this one started; give each cluster its own bucket or prefix",
                        self.url
                    )));
                }
            }
        }
        if !known {
            sqlx::query(
                "INSERT INTO store_identity (singleton, store_url, cluster_id, created_at) \
                 VALUES (1, $1, $2, $3) ON CONFLICT (singleton) DO NOTHING",
            )
            .bind(&self.url)
            .bind(&cluster_id)
            .bind(crate::catalog::fmt_time(chrono::Utc::now()))
            .execute(&self.db)
            .await?;
        }
        Ok(())
    }

    /// The cluster id in the marker, `None` when there is no marker.
    async fn read_marker(&self, marker: &Key) -> Result<Option<String>, EngineError> {
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        let bytes = match self.s3.get(marker).await {
            Ok(r) => r.bytes().await.map_err(|e| self.start_error(e))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.start_error(e)),
        };
        let parsed: Option<String> = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("cluster_id")?.as_str().map(str::to_string));
        parsed.map(Some).ok_or_else(|| {
            EngineError::Invalid(format!(
                "{}{MARKER} in {} is not a Snapline store marker; use an empty bucket or \
                 another prefix",
                self.prefix, self.url
            ))
        })
    }

    fn start_error(&self, e: object_store::Error) -> EngineError {
        EngineError::Invalid(format!(
            "cannot reach the S3 store {} at {}: {e}. Check that the server runs, that the \
             bucket exists, and AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY (AWS_ALLOW_HTTP=true for an http:// endpoint)",
            self.url, self.endpoint
        ))
    }

    fn db_error(&self, e: sqlx::Error) -> io::Error {
        io::Error::other(RemoteStoreError(format!(
            "the metadata database failed while listing packs: {e}"
        )))
    }

    /// Kind and size of a pack, from memory or its row.
    fn lookup(&self, id: &ObjectId) -> io::Result<(PackKind, u64)> {
        if let Some(k) = self.lock_known().get(id) {
            return Ok(*k);
        }
        let row: Option<(String, i64)> = self
            .rt
            .block_on(
                sqlx::query_as("SELECT kind, size FROM packs WHERE id = $1 AND deleted_at IS NULL")
                    .bind(id.to_hex())
                    .fetch_optional(&self.db),
            )
            .map_err(|e| self.db_error(e))?;
        let (kind, size) = row
            .and_then(|(k, s)| Some((PackKind::parse(&k)?, u64::try_from(s).ok()?)))
            .ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("pack {id} is not stored"))
            })?;
        self.lock_known().insert(*id, (kind, size));
        Ok((kind, size))
    }

    /// The store's version now.
    fn version(&self) -> io::Result<i64> {
        self.rt
            .block_on(
                sqlx::query_scalar("SELECT version FROM store_epoch WHERE singleton = 1")
                    .fetch_one(&self.db),
            )
            .map_err(|e| self.db_error(e))
    }

    /// Moves the store's version on after this node stored or retired a pack; when nobody
    /// else changed the store since the last listing, this node's view stays current.
    fn bump_version(&self) -> io::Result<()> {
        let v: i64 = self
            .rt
            .block_on(
                sqlx::query_scalar(
                    "UPDATE store_epoch SET version = version + 1 WHERE singleton = 1 \
                     RETURNING version",
                )
                .fetch_one(&self.db),
            )
            .map_err(|e| self.db_error(e))?;
        let _ = self
            .listed_version
            .compare_exchange(v - 1, v, Ordering::AcqRel, Ordering::Acquire);
        Ok(())
    }

    fn lock_known(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, (PackKind, u64)>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// GETs a range (or the whole pack when `range` is `None`).
    fn get(
        &self,
        id: &ObjectId,
        kind: PackKind,
        range: Option<std::ops::Range<u64>>,
    ) -> io::Result<Vec<u8>> {
        let key = self.pack_key(id, kind);
        self.counters.gets.fetch_add(1, Ordering::Relaxed);
        let bytes = self
            .rt
            .block_on(async {
                match range {
                    Some(r) => self.s3.get_range(&key, r).await,
                    None => self.s3.get(&key).await?.bytes().await,
                }
            })
            .map_err(|e| self.remote_error(&format!("reading pack {id}"), e))?;
        self.counters
            .bytes_down
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Ok(bytes.to_vec())
    }

    /// Downloads a whole pack into the cache, once however many threads ask; returns its
    /// bytes when this thread downloaded it.
    fn fetch(&self, id: &ObjectId) -> io::Result<Option<Vec<u8>>> {
        let (kind, _) = self.lookup(id)?;
        let gate = self
            .inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(*id)
            .or_default()
            .clone();
        let _one = gate.lock().unwrap_or_else(|p| p.into_inner());
        if self.cache.has(id) {
            return Ok(None);
        }
        let bytes = self.get(id, kind, None);
        // Only bytes that hash to the pack's name are cached; damaged ones are still
        // returned, so each object's own hash check reports exactly what is damaged. The
        // gate goes only after the cache has the pack, so nobody downloads it twice.
        if let Ok(bytes) = &bytes
            && ObjectId::of(bytes) == *id
            && let Err(e) = self.cache.insert(id, kind, bytes)
        {
            tracing::warn!(pack = %id, error = %e, "cannot cache a pack; reading it from S3");
        }
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        Ok(Some(bytes?))
    }
}

/// The variable naming the S3 bucket tests may use (`s3://bucket`), with the endpoint and
/// credentials in the standard `AWS_*` variables; `.ci/garage.sh` sets them all.
pub const TEST_S3_ENV: &str = "SNAPLINE_TEST_S3";

/// Options for a test's own store: a new, unique prefix in the test bucket, with its cache
/// in `cache_dir`. `None` when [`TEST_S3_ENV`] is unset, so a developer without Garage can
/// run the other tests; the test runner sets `SNAPLINE_REQUIRE_S3=1`, and then a missing
/// bucket is a failure, never a silent skip.
pub fn scratch_options(cache_dir: &std::path::Path) -> Option<S3Options> {
    let Ok(bucket) = std::env::var(TEST_S3_ENV) else {
        assert!(
            std::env::var_os("SNAPLINE_REQUIRE_S3").is_none(),
            "SNAPLINE_REQUIRE_S3 is set but {TEST_S3_ENV} is not: start Garage (.ci/garage.sh)"
        );
        eprintln!("{TEST_S3_ENV} is unset: this S3 test does not run");
        return None;
    };
    Some(S3Options {
        url: format!(
            "{}/t-{}",
            bucket.trim_end_matches('/'),
            new_cluster_id().ok()?.get(..16)?
        ),
        endpoint: None,
        region: None,
        access_key_id: None,
        secret_access_key: None,
        allow_http: None,
        cache_dir: cache_dir.to_path_buf(),
        cache_bytes: 256 << 20,
    })
}

fn new_cluster_id() -> Result<String, EngineError> {
    use std::io::Read;
    let mut seed = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(EngineError::io("cannot read /dev/urandom"))?;
    Ok(ObjectId::of(&seed).to_hex()[..32].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls_are_parsed_and_bad_ones_explained() {
        assert_eq!(parse_url("s3://snap").unwrap(), ("snap".into(), "".into()));
        assert_eq!(
            parse_url("s3://snap-1.x/team/a/").unwrap(),
            ("snap-1.x".into(), "team/a/".into())
        );
        for (bad, says) in [
            ("http://snap", "not an S3 store"),
            ("s3://", "not a valid bucket"),
            ("s3://ab", "not a valid bucket"),
            ("s3://Snap", "not a valid bucket"),
            ("s3://-snap", "not a valid bucket"),
            ("s3://snap/../x", "not a valid prefix"),
            ("s3://snap/a//b", "not a valid prefix"),
            ("s3://snap/a b", "not a valid prefix"),
            ("s3://snap/a\u{0}b", "not a valid prefix"),
        ] {
            let e = parse_url(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
