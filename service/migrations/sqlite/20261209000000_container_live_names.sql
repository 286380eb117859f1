-- A live container's name is unique in its project: the rule the service checked before
-- inserting, now kept by the database itself, so two nodes creating the same name at once
-- (PostgreSQL's read committed lets both checks pass) cannot both succeed. Deleted
-- containers keep their rows and free their name.
CREATE UNIQUE INDEX containers_live_name ON containers (project_id, name) WHERE status <> 'deleted';
