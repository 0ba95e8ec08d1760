//! Vault metadata, wrapped root keys and sealed secrets. Only ciphertext is stored here;
//! the vault crate does the cryptography.

use crate::codec::get;
use crate::{Db, StoreError, Tx};
use latch_domain::{SecretId, Timestamp};
use uuid::Uuid;

/// How the vault is unsealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsealMode {
    KeyFile,
    Passphrase,
    Shamir,
}

impl UnsealMode {
    pub const fn as_str(&self) -> &'static str {
        match self {
            UnsealMode::KeyFile => "key_file",
            UnsealMode::Passphrase => "passphrase",
            UnsealMode::Shamir => "shamir",
        }
    }
    fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "key_file" => Ok(UnsealMode::KeyFile),
            "passphrase" => Ok(UnsealMode::Passphrase),
            "shamir" => Ok(UnsealMode::Shamir),
            other => Err(StoreError::Corrupt(format!("unknown unseal mode {other:?}"))),
        }
    }
}

/// The vault's single metadata row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultMeta {
    pub mode: UnsealMode,
    /// Encoded KDF parameters for passphrase mode.
    pub kdf: Option<String>,
    pub shamir_threshold: Option<u8>,
    pub shamir_shares: Option<u8>,
    pub active_root_key_id: Uuid,
    pub audit_key_secret_id: SecretId,
    pub created_at: Timestamp,
}

/// A root key wrapped by the unseal key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedRootKey {
    pub id: Uuid,
    pub wrapped: Vec<u8>,
}

/// A secret sealed with its own data key, which is wrapped by a root key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedRecord {
    pub id: SecretId,
    pub kind: String,
    /// The record the secret belongs to; bound into the ciphertext, so it cannot be moved.
    pub owner_id: Uuid,
    pub root_key_id: Uuid,
    pub wrapped_data_key: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

pub async fn meta(db: &mut impl Db) -> Result<Option<VaultMeta>, StoreError> {
    let row = sqlx::query(
        "SELECT mode, kdf, shamir_threshold, shamir_shares, active_root_key_id, audit_key_secret_id, created_at \
         FROM vault_meta WHERE id = 1",
    )
    .fetch_optional(db.conn())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let small = |v: Option<i64>| v.and_then(|n| u8::try_from(n).ok());
    Ok(Some(VaultMeta {
        mode: UnsealMode::parse(&get::<String>(&row, "mode")?)?,
        kdf: get(&row, "kdf")?,
        shamir_threshold: small(get(&row, "shamir_threshold")?),
        shamir_shares: small(get(&row, "shamir_shares")?),
        active_root_key_id: parse_uuid(&get::<String>(&row, "active_root_key_id")?)?,
        audit_key_secret_id: crate::codec::get_parsed(&row, "audit_key_secret_id")?,
        created_at: Timestamp::from_millis(get(&row, "created_at")?),
    }))
}

/// Writes the metadata row; fails with `Conflict` when the vault is already initialized.
pub async fn insert_meta(tx: &mut Tx, meta: &VaultMeta) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO vault_meta (id, mode, kdf, shamir_threshold, shamir_shares, active_root_key_id, \
         audit_key_secret_id, created_at) VALUES (1, $1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(meta.mode.as_str())
    .bind(meta.kdf.clone())
    .bind(meta.shamir_threshold.map(i64::from))
    .bind(meta.shamir_shares.map(i64::from))
    .bind(meta.active_root_key_id.to_string())
    .bind(meta.audit_key_secret_id.to_string())
    .bind(meta.created_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("vault"))?;
    Ok(())
}

pub async fn set_active_root_key(tx: &mut Tx, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE vault_meta SET active_root_key_id = $1 WHERE id = 1")
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn root_keys(db: &mut impl Db) -> Result<Vec<WrappedRootKey>, StoreError> {
    let rows = sqlx::query("SELECT id, wrapped FROM vault_root_keys ORDER BY created_at").fetch_all(db.conn()).await?;
    rows.iter()
        .map(|row| Ok(WrappedRootKey { id: parse_uuid(&get::<String>(row, "id")?)?, wrapped: get(row, "wrapped")? }))
        .collect()
}

pub async fn insert_root_key(tx: &mut Tx, key: &WrappedRootKey, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO vault_root_keys (id, wrapped, created_at) VALUES ($1, $2, $3)")
        .bind(key.id.to_string())
        .bind(key.wrapped.clone())
        .bind(now.as_millis())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("root key"))?;
    Ok(())
}

/// Deletes a root key that no secret uses any more; `false` when one still does.
pub async fn delete_unused_root_key(tx: &mut Tx, id: Uuid) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "DELETE FROM vault_root_keys WHERE id = $1 \
         AND NOT EXISTS (SELECT 1 FROM vault_secrets WHERE root_key_id = $1) \
         AND NOT EXISTS (SELECT 1 FROM vault_meta WHERE active_root_key_id = $1)",
    )
    .bind(id.to_string())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn insert_secret(tx: &mut Tx, record: &SealedRecord, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO vault_secrets (id, kind, owner_id, root_key_id, wrapped_data_key, ciphertext, created_at, \
         updated_at) VALUES ($1, $2, $7, $3, $4, $5, $6, $6)",
    )
    .bind(record.id.to_string())
    .bind(record.kind.clone())
    .bind(record.root_key_id.to_string())
    .bind(record.wrapped_data_key.clone())
    .bind(record.ciphertext.clone())
    .bind(now.as_millis())
    .bind(record.owner_id.to_string())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("secret"))?;
    Ok(())
}

/// Replaces a secret's ciphertext (a new value under a fresh data key).
pub async fn replace_secret(tx: &mut Tx, record: &SealedRecord, now: Timestamp) -> Result<(), StoreError> {
    let result = sqlx::query(
        "UPDATE vault_secrets SET root_key_id = $2, wrapped_data_key = $3, ciphertext = $4, updated_at = $5 \
         WHERE id = $1 AND kind = $6",
    )
    .bind(record.id.to_string())
    .bind(record.root_key_id.to_string())
    .bind(record.wrapped_data_key.clone())
    .bind(record.ciphertext.clone())
    .bind(now.as_millis())
    .bind(record.kind.clone())
    .execute(tx.conn())
    .await?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("secret"));
    }
    Ok(())
}

pub async fn secret(db: &mut impl Db, id: SecretId) -> Result<SealedRecord, StoreError> {
    let row = sqlx::query(
        "SELECT id, kind, owner_id, root_key_id, wrapped_data_key, ciphertext FROM vault_secrets WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_optional(db.conn())
    .await?
    .ok_or(StoreError::NotFound("secret"))?;
    sealed_from_row(&row)
}

pub async fn delete_secret(tx: &mut Tx, id: SecretId) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM vault_secrets WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(())
}

/// Up to `limit` secrets whose data key is wrapped by `root_key_id`.
pub async fn secrets_wrapped_by(
    db: &mut impl Db,
    root_key_id: Uuid,
    limit: i64,
) -> Result<Vec<SealedRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, kind, owner_id, root_key_id, wrapped_data_key, ciphertext FROM vault_secrets \
         WHERE root_key_id = $1 ORDER BY id LIMIT $2",
    )
    .bind(root_key_id.to_string())
    .bind(limit)
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(sealed_from_row).collect()
}

pub async fn count_secrets_not_wrapped_by(db: &mut impl Db, root_key_id: Uuid) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM vault_secrets WHERE root_key_id <> $1")
        .bind(root_key_id.to_string())
        .fetch_one(db.conn())
        .await?;
    get(&row, "n")
}

/// Stores a re-wrapped data key, only if the secret is still wrapped by `from` (a concurrent
/// change wins otherwise). Returns whether it was updated.
pub async fn rewrap_secret(
    tx: &mut Tx,
    id: SecretId,
    from: Uuid,
    to: Uuid,
    wrapped_data_key: &[u8],
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE vault_secrets SET root_key_id = $3, wrapped_data_key = $4 WHERE id = $1 AND root_key_id = $2",
    )
    .bind(id.to_string())
    .bind(from.to_string())
    .bind(to.to_string())
    .bind(wrapped_data_key.to_vec())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

fn sealed_from_row(row: &sqlx::any::AnyRow) -> Result<SealedRecord, StoreError> {
    Ok(SealedRecord {
        id: crate::codec::get_parsed(row, "id")?,
        kind: get(row, "kind")?,
        owner_id: parse_uuid(&get::<String>(row, "owner_id")?)?,
        root_key_id: parse_uuid(&get::<String>(row, "root_key_id")?)?,
        wrapped_data_key: get(row, "wrapped_data_key")?,
        ciphertext: get(row, "ciphertext")?,
    })
}

fn parse_uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|_| StoreError::Corrupt("root key id is not a uuid".to_owned()))
}
