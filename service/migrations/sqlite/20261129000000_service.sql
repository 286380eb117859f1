-- Service schema: projects, token scopes, images, containers and snapshot schedules.
-- Append-only. Portable SQL: TEXT ids and RFC 3339 timestamps, INTEGER booleans.

CREATE TABLE projects (
    id         TEXT PRIMARY KEY,            -- 24 lowercase hex characters
    name       TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- The projects a non-admin token may see. An admin token sees every project.
CREATE TABLE token_projects (
    token_id   TEXT NOT NULL REFERENCES tokens (id),
    project_id TEXT NOT NULL REFERENCES projects (id),
    PRIMARY KEY (token_id, project_id)
);

-- An image is an engine root holding one snapshot; containers are copies of that snapshot.
-- Its content is deduplicated with everything else in the store.
CREATE TABLE images (
    name        TEXT PRIMARY KEY,
    root_id     TEXT NOT NULL UNIQUE,       -- the engine root (never a container)
    snapshot    TEXT NOT NULL,              -- its snapshot's name
    source      TEXT NOT NULL,              -- 'builtin' or 'import'
    command     TEXT NOT NULL,              -- JSON array: the default command
    size        INTEGER NOT NULL,
    file_count  INTEGER NOT NULL,
    created_at  TEXT NOT NULL
);

CREATE TABLE containers (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    image       TEXT NOT NULL,
    command     TEXT NOT NULL,              -- JSON array
    status      TEXT NOT NULL,              -- creating, running, stopped, restoring, failed, deleted
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);
CREATE INDEX containers_project ON containers (project_id);

-- Automatic snapshots of one container (as Incus's snapshots.schedule).
CREATE TABLE schedules (
    container_id    TEXT PRIMARY KEY REFERENCES containers (id),
    cron            TEXT NOT NULL,          -- five-field cron, or @hourly / @daily / @weekly
    expiry_days     INTEGER,                -- expiry of the snapshots it takes; NULL = never
    alias_pattern   TEXT NOT NULL,          -- strftime pattern, e.g. auto-%Y%m%d-%H%M
    include_stopped INTEGER NOT NULL,
    next_run_at     TEXT NOT NULL,
    last_run_at     TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL
);

-- Node identity for GET /api/v1/servers.
CREATE TABLE server_info (
    id         TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
