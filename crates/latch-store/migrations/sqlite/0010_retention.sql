-- Recording retention: a policy keeps its sessions' recordings for N days (NULL: forever); a session keeps the
-- retention it started under and becomes due `retain_until` = its end + N days (set when it ends). A legal hold
-- (reason, who, when) blocks deletion; the retention sweep deletes a due recording, sets `recording_deleted_at` and
-- keeps the session row and its indexed events. The partial index serves the sweep's query of one node's due,
-- unheld, undeleted recordings in `retain_until` order.

ALTER TABLE policies ADD COLUMN recording_retention_days INTEGER;

ALTER TABLE gateway_sessions ADD COLUMN recording_retention_days INTEGER;
ALTER TABLE gateway_sessions ADD COLUMN retain_until INTEGER;
ALTER TABLE gateway_sessions ADD COLUMN legal_hold_reason TEXT;
ALTER TABLE gateway_sessions ADD COLUMN legal_hold_by TEXT;
ALTER TABLE gateway_sessions ADD COLUMN legal_hold_at INTEGER;
ALTER TABLE gateway_sessions ADD COLUMN recording_deleted_at INTEGER;

CREATE INDEX gateway_sessions_recordings_due ON gateway_sessions (node, retain_until, id)
    WHERE recording_deleted_at IS NULL AND legal_hold_at IS NULL AND recording IS NOT NULL;
