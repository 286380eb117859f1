-- Why the last attempt at a journaled restore failed (an error while applying, or at
-- recovery), so the container can be shown as needing attention. NULL: it was interrupted
-- (a crash), or has not failed. The row itself stays until a restore covering it completes.
ALTER TABLE engine_restore_journal ADD COLUMN failed TEXT;
