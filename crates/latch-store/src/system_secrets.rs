//! Secrets of the installation itself, by name (the recording storage credential). A row only names a vault record;
//! replacing it returns the record it pointed at, for the caller to delete in the same transaction.

use crate::codec::get_parsed;
use crate::{Db, StoreError, Tx};
use latch_domain::{SecretId, Timestamp};

/// The vault record named `name`, if one is set.
pub async fn find(db: &mut impl Db, name: &str) -> Result<Option<SecretId>, StoreError> {
    let row = sqlx::query("SELECT secret_id FROM system_secrets WHERE name = $1")
        .bind(name.to_owned())
        .fetch_optional(db.conn())
        .await?;
    row.as_ref().map(|row| get_parsed(row, "secret_id")).transpose()
}

/// Names `secret_id` as `name`; returns the record the name pointed at before, if any.
pub async fn set(tx: &mut Tx, name: &str, secret_id: SecretId, at: Timestamp) -> Result<Option<SecretId>, StoreError> {
    let previous = find(tx, name).await?;
    sqlx::query(
        "INSERT INTO system_secrets (name, secret_id, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO UPDATE SET secret_id = excluded.secret_id, updated_at = excluded.updated_at",
    )
    .bind(name.to_owned())
    .bind(secret_id.to_string())
    .bind(at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("system secret"))?;
    Ok(previous)
}
