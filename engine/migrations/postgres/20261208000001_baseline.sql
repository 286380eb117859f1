-- The engine's catalog on PostgreSQL: the SQLite set (../sqlite) as it stands after
-- 20261207000000, in PostgreSQL's types (BIGINT: sizes pass 2^31). Every later change is
-- added to both sets with the same version.

CREATE TABLE engine_roots (
    container_id TEXT PRIMARY KEY,
    created_at   TEXT NOT NULL,
    deleted_at   TEXT
);

CREATE TABLE engine_snapshots (
    container_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    alias        TEXT,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    top_tree     TEXT NOT NULL,
    size         BIGINT NOT NULL,
    file_count   BIGINT NOT NULL,
    added_bytes  BIGINT NOT NULL,
    PRIMARY KEY (container_id, name)
);
CREATE INDEX engine_snapshots_expiry ON engine_snapshots (expires_at);

CREATE TABLE engine_restore_journal (
    container_id  TEXT PRIMARY KEY,
    snapshot_name TEXT NOT NULL,
    top_tree      TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    paths         TEXT,
    failed        TEXT
);
