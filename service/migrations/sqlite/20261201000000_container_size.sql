-- The logical size of each container's live tree (bytes of its regular files, counted as the
-- catalog counts a snapshot's `size`), recorded whenever the service knows it changed:
-- create, snapshot, restore, copy, exec, stop and exit. The overview and every container
-- answer read it from here and never walk a tree. NULL: not measured yet (rows written before
-- this column existed); the next start measures those once, in the background.
ALTER TABLE containers ADD COLUMN size INTEGER;
