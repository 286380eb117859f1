//! [`PackStorage`] over the bucket: uploads recorded by rows, reads through the cache.

use std::io;
use std::sync::atomic::Ordering;

use object_store::{ObjectStoreExt, PutPayload};

use super::{RemoteStoreError, S3PackStorage};
use crate::ids::ObjectId;
use crate::storage::{PackKind, PackStorage};

fn slice(bytes: &[u8], offset: u64, len: usize) -> io::Result<Vec<u8>> {
    usize::try_from(offset)
        .ok()
        .and_then(|start| bytes.get(start..start.checked_add(len)?))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "pack too short"))
}

impl PackStorage for S3PackStorage {
    fn put(&self, id: &ObjectId, kind: PackKind, bytes: &[u8]) -> io::Result<()> {
        if self.lock_known().contains_key(id) {
            // Content-addressed: a stored pack with this name has these bytes.
            return Ok(());
        }
        let key = self.pack_key(id, kind);
        // The row must be written before this deadline (by the database's clock), or not
        // at all: the orphan sweep deletes unrecorded objects only well after it.
        let deadline = crate::catalog::fmt_time(chrono::Utc::now() + self.record_within());
        self.counters.puts.fetch_add(1, Ordering::Relaxed);
        self.rt
            .block_on(
                self.s3
                    .put(&key, PutPayload::from(bytes::Bytes::copy_from_slice(bytes))),
            )
            .map_err(|e| self.remote_error(&format!("storing pack {id}"), e))?;
        self.counters
            .bytes_up
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        fail::fail_point!("s3::after_upload", |_| Err(io::Error::other(
            "fail point s3::after_upload"
        )));
        fail::fail_point!("s3::before_record");
        // Only now is the pack part of the store.
        let now_sql = match crate::db::Dialect::of(&self.db) {
            crate::db::Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            crate::db::Dialect::Postgres => {
                "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            }
        };
        let recorded = self
            .rt
            .block_on(
                sqlx::query(&format!(
                    "INSERT INTO packs (id, kind, size, created_at) \
                     SELECT $1, $2, $3, $4 WHERE {now_sql} < $5 \
                     ON CONFLICT (id) DO NOTHING"
                ))
                .bind(id.to_hex())
                .bind(kind.as_str())
                .bind(bytes.len() as i64)
                .bind(crate::catalog::fmt_time(chrono::Utc::now()))
                .bind(&deadline)
                .execute(&self.db),
            )
            .map_err(|e| self.db_error(e))?
            .rows_affected();
        if recorded == 0 {
            // Either another writer recorded the same pack (content-addressed: the same
            // bytes), or the deadline passed and this object is left to the sweep.
            let exists: Option<i64> = self
                .rt
                .block_on(
                    sqlx::query_scalar("SELECT 1 FROM packs WHERE id = $1")
                        .bind(id.to_hex())
                        .fetch_optional(&self.db),
                )
                .map_err(|e| self.db_error(e))?;
            if exists.is_none() {
                return Err(io::Error::other(RemoteStoreError(format!(
                    "pack {id} was uploaded to {} but could not be recorded within {} s of \
                     its upload (this node was paused or the database slow); nothing was \
                     stored, retry",
                    self.url,
                    self.record_within().as_secs()
                ))));
            }
        }
        self.bump_version()?;
        self.lock_known().insert(*id, (kind, bytes.len() as u64));
        if let Err(e) = self.cache.insert(id, kind, bytes) {
            tracing::warn!(pack = %id, error = %e, "cannot cache a pack this node wrote");
        }
        Ok(())
    }

    fn read_at(&self, id: &ObjectId, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        if let Some(read) = self.cache.read_at(id, offset, len) {
            return read;
        }
        match self.fetch(id)? {
            Some(bytes) => slice(&bytes, offset, len),
            // Another thread downloaded it; it may be evicted again already.
            None => match self.cache.read_at(id, offset, len) {
                Some(read) => read,
                None => {
                    let (kind, _) = self.lookup(id)?;
                    self.get(id, kind, Some(offset..offset + len as u64))
                }
            },
        }
    }

    fn read_tail(&self, id: &ObjectId, total: u64, len: usize) -> io::Result<Vec<u8>> {
        if let Some(tail) = self.cache.tail(id, len) {
            return Ok(tail);
        }
        let start = total
            .checked_sub(len as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "pack too short"))?;
        let tail = match self.cache.read_at(id, start, len) {
            Some(read) => read?,
            None => {
                let (kind, _) = self.lookup(id)?;
                self.get(id, kind, Some(start..total))?
            }
        };
        if tail.len() != len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("pack {id} is shorter than its row says"),
            ));
        }
        if let Err(e) = self.cache.put_tail(id, &tail) {
            tracing::warn!(pack = %id, error = %e, "cannot cache a pack's footer");
        }
        Ok(tail)
    }

    fn read_all(&self, id: &ObjectId) -> io::Result<Vec<u8>> {
        let (kind, size) = self.lookup(id)?;
        if let Some(read) = self.cache.read_at(id, 0, size as usize) {
            return read;
        }
        // Whole reads are verification: they do not push the working set out of the cache.
        self.get(id, kind, None)
    }

    fn len(&self, id: &ObjectId) -> io::Result<u64> {
        self.lookup(id).map(|(_, size)| size)
    }

    fn list(&self) -> io::Result<Vec<ObjectId>> {
        // The version first: the rows are at least as new as it.
        let version = self.version()?;
        let rows: Vec<(String, String, i64)> = self
            .rt
            .block_on(
                sqlx::query_as("SELECT id, kind, size FROM packs WHERE deleted_at IS NULL")
                    .fetch_all(&self.db),
            )
            .map_err(|e| self.db_error(e))?;
        self.listed_version.store(version, Ordering::Release);
        let mut known = self.lock_known();
        let mut out = Vec::with_capacity(rows.len());
        for (id, kind, size) in rows {
            if let (Ok(id), Some(kind), Ok(size)) = (
                ObjectId::from_hex(&id),
                PackKind::parse(&kind),
                u64::try_from(size),
            ) {
                known.insert(id, (kind, size));
                out.push(id);
            }
        }
        out.sort();
        Ok(out)
    }

    fn delete(&self, id: &ObjectId) -> io::Result<()> {
        let kind = match self.lookup(id) {
            Ok((kind, _)) => kind,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        // The row is retired first: from then on no node lists the pack, whatever happens to
        // the object (a failed delete leaves an orphan, never a row without its object). It
        // stays a day as a tombstone, still condemned, so that no node's writer reuses an
        // object its index still places there.
        self.rt
            .block_on(
                sqlx::query("UPDATE packs SET deleted_at = $1 WHERE id = $2")
                    .bind(crate::catalog::fmt_time(chrono::Utc::now()))
                    .bind(id.to_hex())
                    .execute(&self.db),
            )
            .map_err(|e| self.db_error(e))?;
        self.bump_version()?;
        self.lock_known().remove(id);
        self.cache.forget(id);
        self.counters.deletes.fetch_add(1, Ordering::Relaxed);
        match self.rt.block_on(self.s3.delete(&self.pack_key(id, kind))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.remote_error(&format!("deleting pack {id}"), e)),
        }
    }

    fn changed(&self) -> io::Result<bool> {
        Ok(self.version()? != self.listed_version.load(Ordering::Acquire))
    }

    fn forget_cached(&self, id: &ObjectId) {
        self.cache.forget(id);
    }
}
