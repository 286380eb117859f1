-- An image published from a snapshot holds that project's files: it belongs to the project
-- (only tokens that see it list or use the image). NULL: built in or imported, seen by all.
ALTER TABLE images ADD COLUMN project_id TEXT;
