-- Secrets of the installation itself (today: the recording storage credential), by name. The secret is a vault
-- ciphertext in vault_secrets; this row only names it.

CREATE TABLE system_secrets (
    name TEXT PRIMARY KEY,
    secret_id TEXT NOT NULL REFERENCES vault_secrets (id),
    updated_at INTEGER NOT NULL
);
