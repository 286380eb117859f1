-- What the API docs' "Run" widgets keep. It lives in the node that serves the dashboard (a
-- proxy node keeps its own). A user is the BLAKE3 hash of their token (`user_key`): the
-- token itself is never stored here.

-- Saved examples, shared by everyone who sees the project.
CREATE TABLE api_examples (
    id         TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    -- The operation, as "METHOD /api/v1/path/{template}".
    operation  TEXT NOT NULL,
    name       TEXT NOT NULL,
    -- Path and query parameters, a JSON object of strings.
    params     TEXT NOT NULL,
    body       TEXT NOT NULL,
    note       TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (project_id, operation, name)
);

-- Each user's runs, newest last; the answer's body is kept truncated.
CREATE TABLE api_runs (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key  TEXT NOT NULL,
    method    TEXT NOT NULL,
    path      TEXT NOT NULL,
    body      TEXT NOT NULL,
    status    INTEGER NOT NULL,
    micros    INTEGER NOT NULL,
    response  TEXT NOT NULL,
    ran_at    TEXT NOT NULL
);
CREATE INDEX api_runs_by_user ON api_runs (user_key, id);

-- The last parameters and body each user left in each widget.
CREATE TABLE api_drafts (
    user_key   TEXT NOT NULL,
    operation  TEXT NOT NULL,
    params     TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (user_key, operation)
);
