-- A deleted pack of a shared store keeps its row for a day as a tombstone (deleted_at set,
-- still condemned): every node's writers keep treating it as condemned until their index
-- has forgotten it, so none reuses an object from a pack that is gone.
ALTER TABLE packs ADD COLUMN deleted_at TEXT;
-- Bumped by every pack stored or deleted: a node reloads its index when the version moved.
ALTER TABLE store_epoch ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
