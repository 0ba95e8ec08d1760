-- The outbox of webhook notifications: one row per (audit event, webhook), written in the same transaction as the
-- audit event, delivered by a background task with retries. The payload is the audit record itself.

CREATE TABLE notification_outbox (
    id TEXT PRIMARY KEY,
    webhook TEXT NOT NULL,
    audit_seq BIGINT NOT NULL REFERENCES audit_events (seq),
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    delivered_at BIGINT,
    abandoned_at BIGINT,
    last_error TEXT
);
CREATE INDEX notification_outbox_due ON notification_outbox (delivered_at, abandoned_at, next_attempt_at);
