-- Engine schema. Append-only: never edit a migration that has shipped.
-- Timestamps are UTC RFC 3339 text with milliseconds, so they sort as text (portable to
-- PostgreSQL as they are).

-- A container root the engine manages. Rows stay after deletion (deleted_at set) so that
-- snapshots outlive their container.
CREATE TABLE engine_roots (
    container_id TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    deleted_at   TEXT
);

-- One snapshot: a name in its container and the id of its top tree in the object store.
CREATE TABLE engine_snapshots (
    container_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    alias        TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    top_tree     TEXT NOT NULL,
    size         INTEGER NOT NULL,
    file_count   INTEGER NOT NULL,
    added_bytes  INTEGER NOT NULL,
    PRIMARY KEY (container_id, name)
);
CREATE INDEX engine_snapshots_expiry ON engine_snapshots (expires_at);

-- A restore in progress: written before the live tree is touched, removed after. A row found
-- at start means the restore was interrupted and must be finished before the container runs.
CREATE TABLE engine_restore_journal (
    container_id  TEXT PRIMARY KEY,
    snapshot_name TEXT NOT NULL,
    top_tree      TEXT NOT NULL,
    started_at    TEXT NOT NULL
);
