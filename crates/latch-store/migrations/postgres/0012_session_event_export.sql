-- Session events exported to SIEM sinks in commit order: each row carries the sequence number of the
-- `session.ended` audit record written in the same transaction. Audit sequence numbers are allocated under the
-- audit head's row lock, so they become visible in commit order, which an id from a database sequence does not.
-- Rows indexed before this migration have none and are not exported.

ALTER TABLE session_events ADD COLUMN audit_seq BIGINT;
CREATE INDEX session_events_audit_seq ON session_events (audit_seq, session_id, seq);
