-- SIEM export: how far each sink has acknowledged each exported stream ("audit" today; session events later, keyed
-- by their own increasing id). Advanced only after the sink acknowledged a batch, by a conditional update, so several
-- nodes sharing the database never move a cursor backwards.

CREATE TABLE siem_cursors (
    sink TEXT NOT NULL,
    stream TEXT NOT NULL,
    delivered_seq BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    PRIMARY KEY (sink, stream)
);
