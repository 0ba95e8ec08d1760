-- Credential check-outs and the queue of rotations they leave behind.
-- A check-out is open while `checked_in_at` is NULL and `release_until` is in the future. Exclusivity is decided
-- by the application under the lock of the account row (SQLite: the write transaction), so two check-outs of one
-- account cannot both see it free. Reveal and check-in are conditional updates, so each happens once.

ALTER TABLE accounts ADD COLUMN checkout_exclusive INTEGER NOT NULL DEFAULT 1;

CREATE TABLE checkouts (
    id TEXT PRIMARY KEY,
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    api_account_id TEXT REFERENCES api_accounts (id) ON DELETE CASCADE,
    grant_id TEXT,
    policy_id TEXT,
    exclusive INTEGER NOT NULL,
    reason TEXT NOT NULL,
    checked_out_at INTEGER NOT NULL,
    release_until INTEGER NOT NULL,
    revealed_at INTEGER,
    checked_in_at INTEGER,
    check_in_reason TEXT,
    CHECK ((user_id IS NULL) <> (api_account_id IS NULL))
);
CREATE INDEX checkouts_open ON checkouts (account_id, checked_in_at);
CREATE INDEX checkouts_due ON checkouts (checked_in_at, release_until);
CREATE INDEX checkouts_grant ON checkouts (grant_id);
CREATE INDEX checkouts_user ON checkouts (user_id, checked_out_at);
CREATE INDEX checkouts_api_account ON checkouts (api_account_id, checked_out_at);

CREATE TABLE rotation_queue (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    checkout_id TEXT UNIQUE REFERENCES checkouts (id) ON DELETE SET NULL,
    queued_at INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_progress', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at INTEGER NOT NULL
);
CREATE INDEX rotation_queue_state ON rotation_queue (state, queued_at);
