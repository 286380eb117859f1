-- Published images are named per project (issue 15): two projects may each publish a
-- "dev-template", and no refusal tells a project which names another one uses. Shared images
-- (built in or imported, project_id NULL) are seen by every project, so their names are
-- reserved everywhere: the service refuses to publish a shared image's name, and an import
-- of a name any project uses (an admin sees every project, so that refusal reveals nothing).
--
-- SQLite cannot drop a primary key in place: the table is rebuilt, rows kept as they are.
-- Nothing references images by foreign key (containers.image is a copy of the name, for
-- display).
CREATE TABLE images_by_project (
    name        TEXT NOT NULL,
    root_id     TEXT NOT NULL UNIQUE,       -- the engine root (never a container)
    snapshot    TEXT NOT NULL,              -- its snapshot's name
    source      TEXT NOT NULL,              -- 'builtin', 'import' or 'snapshot'
    command     TEXT NOT NULL,              -- JSON array: the default command
    size        INTEGER NOT NULL,
    file_count  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    project_id  TEXT                        -- NULL: shared (built in or imported)
);
INSERT INTO images_by_project
    (name, root_id, snapshot, source, command, size, file_count, created_at, project_id)
    SELECT name, root_id, snapshot, source, command, size, file_count, created_at, project_id
    FROM images;
DROP TABLE images;
ALTER TABLE images_by_project RENAME TO images;

-- One name per namespace: a project's own, or the shared one ('' stands for NULL, which a
-- plain unique index would let repeat).
CREATE UNIQUE INDEX images_name ON images (COALESCE(project_id, ''), name);
