-- SSH public keys registered to users; the SSH gateway looks a key up by its fingerprint.
-- A fingerprint is unique: one key belongs to one user.

CREATE TABLE user_ssh_keys (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    comment TEXT NOT NULL,
    name TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX user_ssh_keys_user ON user_ssh_keys (user_id);
