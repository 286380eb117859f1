-- The nodes that serve from this database, and which node owns each container's live root.
-- A node writes its row at start and beats every few seconds; readers call it offline when
-- the beat is older than a fixed delay (service::nodes). Times are RFC 3339, UTC, by the
-- node's clock. Containers made before nodes existed get the first node to start.
CREATE TABLE nodes (
    id                 TEXT PRIMARY KEY,          -- 24 lowercase hex characters
    name               TEXT NOT NULL,             -- the host's name
    version            TEXT NOT NULL,
    started_at         TEXT NOT NULL,
    heartbeat_at       TEXT NOT NULL,
    store_bytes        BIGINT NOT NULL DEFAULT 0,
    disk_total_bytes   BIGINT NOT NULL DEFAULT 0,
    disk_free_bytes    BIGINT NOT NULL DEFAULT 0,
    can_run_containers BIGINT NOT NULL DEFAULT 0
);
ALTER TABLE containers ADD COLUMN node_id TEXT;
CREATE INDEX containers_node ON containers (node_id);
