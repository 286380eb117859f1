-- Foundation schema. Migrations are append-only: never edit a migration that has shipped.
-- The SQL stays portable to PostgreSQL where SQLite allows it (TEXT timestamps in RFC 3339).

-- API tokens. Only a hash of each token is stored; the token itself is shown once.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,          -- 24 lowercase hex characters
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,      -- BLAKE3 of the token, hex
    is_admin     INTEGER NOT NULL DEFAULT 0,
    source       TEXT NOT NULL,             -- 'bootstrap', 'env' or 'cli'
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);

-- Self-checks run from the dashboard: a database write and read-back, and free space.
CREATE TABLE system_checks (
    id          INTEGER PRIMARY KEY,
    checked_at  TEXT NOT NULL,
    database_ms REAL NOT NULL,
    free_bytes  INTEGER NOT NULL,
    ok          INTEGER NOT NULL,
    summary     TEXT NOT NULL
);
