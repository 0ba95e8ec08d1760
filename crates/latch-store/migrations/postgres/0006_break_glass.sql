-- Break-glass: emergency access to named targets for the members of the configured break-glass group, switched on
-- with a reason and off by hand or at `ends_at`. It is on while `ended_at` is NULL and `ends_at` is in the future;
-- switching off is a conditional update (`… WHERE ended_at IS NULL`), so it happens once.
-- `activated_by` keeps the user id without a foreign key: deleting a user must not erase this history.
-- Grants made under a break-glass name it in `grants.break_glass_id` (and have no policy).

CREATE TABLE break_glass (
    id TEXT PRIMARY KEY,
    targets TEXT NOT NULL,
    reason TEXT NOT NULL,
    activated_by TEXT NOT NULL,
    activated_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    ended_at BIGINT,
    ended_by TEXT
);
CREATE INDEX break_glass_open ON break_glass (ended_at, ends_at);
CREATE INDEX break_glass_activated ON break_glass (activated_at);

ALTER TABLE grants ADD COLUMN break_glass_id TEXT;
CREATE INDEX grants_break_glass ON grants (break_glass_id);
