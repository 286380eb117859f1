-- A node's self-check history (`selfcheck` in the service crate writes it). A full node has
-- had this table since the foundation migration, whose text is frozen (sqlx checks it), so
-- this one is a no-op there; a proxy node, which runs only the dashboard's schema, gets the
-- table from here. Same columns as the foundation's.
CREATE TABLE IF NOT EXISTS system_checks (
    id          INTEGER PRIMARY KEY,
    checked_at  TEXT NOT NULL,
    database_ms REAL NOT NULL,
    free_bytes  INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    summary     TEXT NOT NULL
);
