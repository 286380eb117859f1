-- A partial restore journals the paths it makes exact (a JSON array of absolute paths), so
-- recovery after a crash finishes that partial restore and never restores the whole tree.
-- NULL: the whole tree.
ALTER TABLE engine_restore_journal ADD COLUMN paths TEXT;
