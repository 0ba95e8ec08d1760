-- Session reporting: each finished session's events (commands, file transfers, forwards, window changes, end) as
-- rows, copied from its event log, and the indexes that keep session and event queries fast at millions of rows.
-- The event log file stays the record; these rows are its index. `id` increases with every row, for exporters.

CREATE TABLE session_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES gateway_sessions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    channel INTEGER,
    summary TEXT NOT NULL,
    bytes INTEGER,
    data TEXT NOT NULL,
    UNIQUE (session_id, seq)
);
CREATE INDEX session_events_at ON session_events (at);
CREATE INDEX session_events_kind_at ON session_events (kind, at);

CREATE INDEX gateway_sessions_user_started ON gateway_sessions (user_id, started_at);
CREATE INDEX gateway_sessions_username_started ON gateway_sessions (username, started_at);
CREATE INDEX gateway_sessions_target_started ON gateway_sessions (target_id, started_at);
CREATE INDEX gateway_sessions_target_name_started ON gateway_sessions (target_name, started_at);
CREATE INDEX gateway_sessions_protocol_started ON gateway_sessions (protocol, started_at);
CREATE INDEX gateway_sessions_reason_started ON gateway_sessions (end_reason, started_at);
CREATE INDEX gateway_sessions_live_started ON gateway_sessions (started_at) WHERE ended_at IS NULL;
