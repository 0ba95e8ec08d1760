-- Latch foundation schema (SQLite). Ids are UUID text, times are Unix milliseconds,
-- booleans are 0/1 integers: the same value types as the PostgreSQL schema.

CREATE TABLE vault_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    mode TEXT NOT NULL CHECK (mode IN ('key_file', 'passphrase', 'shamir')),
    kdf TEXT,
    shamir_threshold INTEGER,
    shamir_shares INTEGER,
    active_root_key_id TEXT NOT NULL,
    audit_key_secret_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE vault_root_keys (
    id TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE vault_secrets (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    owner_id TEXT NOT NULL,
    root_key_id TEXT NOT NULL REFERENCES vault_root_keys (id),
    wrapped_data_key BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX vault_secrets_root_key ON vault_secrets (root_key_id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT,
    roles TEXT NOT NULL,
    password_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    totp_required INTEGER NOT NULL DEFAULT 0,
    totp_secret_id TEXT REFERENCES vault_secrets (id),
    totp_pending_secret_id TEXT REFERENCES vault_secrets (id),
    totp_last_step INTEGER,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    last_login_at INTEGER
);

CREATE TABLE user_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    roles TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members (user_id);

CREATE TABLE auth_sessions (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    stage TEXT NOT NULL,
    source TEXT,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

CREATE TABLE api_accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    scopes TEXT NOT NULL,
    allowed_sources TEXT NOT NULL,
    token_ttl_ms INTEGER NOT NULL,
    secret_hash TEXT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until INTEGER,
    created_at INTEGER NOT NULL,
    secret_rotated_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    api_account_id TEXT NOT NULL REFERENCES api_accounts (id) ON DELETE CASCADE,
    scopes TEXT NOT NULL,
    source TEXT,
    issued_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX api_tokens_account ON api_tokens (api_account_id);
CREATE INDEX api_tokens_expiry ON api_tokens (expires_at);

CREATE TABLE targets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    address TEXT NOT NULL,
    port INTEGER NOT NULL,
    protocols TEXT NOT NULL,
    description TEXT NOT NULL,
    -- description lowercased by the application (Unicode rules, as TargetQuery::matches does):
    -- LOWER() only folds ASCII in SQLite and in C-locale PostgreSQL, so search uses this column.
    description_lower TEXT NOT NULL,
    host_key_pin TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX targets_address ON targets (address);

CREATE TABLE target_tags (
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (target_id, tag)
);
CREATE INDEX target_tags_tag ON target_tags (tag);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    username TEXT NOT NULL,
    secret_kind TEXT NOT NULL,
    secret_id TEXT REFERENCES vault_secrets (id),
    api_enabled INTEGER NOT NULL DEFAULT 0,
    rotate_after_use INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL,
    secret_updated_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (target_id, username)
);

CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT NOT NULL,
    source TEXT,
    kind TEXT NOT NULL,
    details TEXT NOT NULL,
    link TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_kind_at ON audit_events (kind, at);
CREATE INDEX audit_events_actor_at ON audit_events (actor_name, at);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    link TEXT NOT NULL,
    head_mac TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, link, head_mac)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', '');
