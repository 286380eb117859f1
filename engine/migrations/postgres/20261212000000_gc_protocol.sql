-- Garbage collection that several nodes sharing an S3 store can run safely (engine::ops).
-- A condemned pack is deleted by a later collection, once no operation registered before its
-- condemnation remains; a pack found in use again is recovered (both columns back to NULL).
ALTER TABLE packs ADD COLUMN condemned_epoch BIGINT;
ALTER TABLE packs ADD COLUMN condemned_at TEXT;

-- Operations that may rely on stored objects, while they run. `owner` is the engine
-- instance (one per node process) that renews `lease_until` (RFC 3339, UTC); a row whose
-- lease lapsed is deleted by GC, which fences the operation's commit.
CREATE TABLE store_ops (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    started_epoch BIGINT NOT NULL,
    lease_until TEXT NOT NULL
);

-- The store's epoch: each condemnation bumps it, in the same transaction.
CREATE TABLE store_epoch (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO store_epoch (singleton, epoch) VALUES (1, 0);
