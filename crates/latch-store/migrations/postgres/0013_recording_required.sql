-- Strict recording per policy: 1 (every existing policy, and the default) refuses or ends a session whose
-- recording cannot be written or whose spool is below its free-space reserve; 0 lets it go on unrecorded, audited.

ALTER TABLE policies ADD COLUMN recording_required BIGINT NOT NULL DEFAULT 1;
