-- Where each node keeps its packs: 'local' (its data directory) or the cluster's S3 URL,
-- and the bytes of its local cache of S3 packs (0 for a local store).
ALTER TABLE nodes ADD COLUMN store_url TEXT NOT NULL DEFAULT 'local';
ALTER TABLE nodes ADD COLUMN cache_bytes BIGINT NOT NULL DEFAULT 0;
