-- Retention policies (issue 15). Append-only, like every migration.

-- A schedule's keep policy, restic's `forget --keep-*` counts as JSON
-- ({"last": 5, "daily": 7, ...}, zero counts left out). NULL: no policy, the schedule's
-- snapshots live until their expiry.
ALTER TABLE schedules ADD COLUMN keep_policy TEXT;

-- The snapshots a schedule took: the only ones a keep policy may delete. The engine's
-- catalog does not say who took a snapshot, so the service records it here, under the
-- container lock, right after the snapshot is recorded. A crash in between leaves a
-- scheduled snapshot unmarked, which is the safe way round: it is treated as taken by hand
-- and never deleted by a policy. Snapshots taken by schedules before this migration have no
-- row either, for the same reason.
--
-- No foreign key to engine_snapshots (a rebuild of that table would cascade here, and the
-- service's schema is migrated before the engine's): the service removes a row whenever it
-- deletes or expires the snapshot, and the retention job drops rows whose snapshot is gone.
CREATE TABLE scheduled_snapshots (
    container_id TEXT NOT NULL,
    name         TEXT NOT NULL,               -- the snapshot's name (snap-YYYYMMDD-HHMMSS)
    pinned       INTEGER NOT NULL DEFAULT 0,  -- 1 once someone set its expiry to never
    created_at   TEXT NOT NULL,               -- when the schedule took it (RFC 3339, UTC)
    PRIMARY KEY (container_id, name)
);
