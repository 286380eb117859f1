-- A read-only operation (an export) pins the snapshot tree it reads instead of holding back
-- garbage collection's deletions cluster-wide: GC marks from pinned trees as from the
-- catalog's, and only unpinned operations (which may reuse stored objects) hold back the
-- deletion of packs condemned after they started (engine::ops).
ALTER TABLE store_ops ADD COLUMN pinned_tree TEXT;
