-- Packs of a remote (S3) store. A pack is part of the store only through its row, written
-- after its upload succeeded: nothing relies on listing the bucket. Local stores list their
-- directory and have no rows here.
CREATE TABLE packs (
    id TEXT PRIMARY KEY,            -- BLAKE3 of the pack's bytes, hex
    kind TEXT NOT NULL,             -- 'data' or 'tree'
    size BIGINT NOT NULL,           -- bytes
    created_at TEXT NOT NULL
);

-- The one store of this database's cluster, and its id (written once, at the first start on
-- a remote store). The same id is in the bucket's marker object: a bucket belongs to one
-- cluster, and a database to one store.
CREATE TABLE store_identity (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    store_url TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    created_at TEXT NOT NULL
);
