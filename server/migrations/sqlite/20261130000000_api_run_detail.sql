-- What a run needs to be shown again and replayed into its widget: the docs operation and
-- the widget's parameters, the answer's headers, and (for a user's newest few runs only)
-- the whole answer up to the display limit. Older runs keep the truncated `response`.
ALTER TABLE api_runs ADD COLUMN operation TEXT NOT NULL DEFAULT '';
ALTER TABLE api_runs ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
ALTER TABLE api_runs ADD COLUMN headers TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_runs ADD COLUMN full_response TEXT;
