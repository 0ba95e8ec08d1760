//! SSH public keys registered to users, looked up by fingerprint when someone logs in to the gateway.

use crate::codec::{corrupt, get, get_parsed};
use crate::{Db, StoreError, Tx};
use latch_domain::ssh_key::{SshPublicKey, UserSshKey};
use latch_domain::{Timestamp, UserId, UserSshKeyId};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, user_id, public_key, comment, name, created_at, last_used_at";

/// Stores a key; `Conflict("ssh key")` when a key with the same fingerprint is registered (to anyone).
pub async fn insert(tx: &mut Tx, key: &UserSshKey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO user_ssh_keys \
         (id, user_id, algorithm, public_key, comment, name, fingerprint, created_at, last_used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(key.id.to_string())
    .bind(key.user_id.to_string())
    .bind(key.key.algorithm().to_owned())
    .bind(key.key.to_openssh())
    .bind(key.key.comment().to_owned())
    .bind(key.name.clone())
    .bind(key.key.fingerprint())
    .bind(key.created_at.as_millis())
    .bind(key.last_used_at.map(|at| at.as_millis()))
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("ssh key"))?;
    Ok(())
}

/// A user's keys, oldest first.
pub async fn list_for_user(db: &mut impl Db, user: UserId) -> Result<Vec<UserSshKey>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM user_ssh_keys WHERE user_id = $1 ORDER BY created_at, id"
    )))
    .bind(user.to_string())
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The key with this fingerprint (`SHA256:…`) and, in it, the user it belongs to.
pub async fn find_by_fingerprint(db: &mut impl Db, fingerprint: &str) -> Result<Option<UserSshKey>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM user_ssh_keys WHERE fingerprint = $1")))
        .bind(fingerprint.to_owned())
        .fetch_optional(db.conn())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Deletes `user`'s key `id` and returns it; `NotFound` when there is no such key of that user.
pub async fn delete(tx: &mut Tx, id: UserSshKeyId, user: UserId) -> Result<UserSshKey, StoreError> {
    let row =
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM user_ssh_keys WHERE id = $1 AND user_id = $2")))
            .bind(id.to_string())
            .bind(user.to_string())
            .fetch_optional(tx.conn())
            .await?;
    let key = row.as_ref().map(from_row).transpose()?.ok_or(StoreError::NotFound("ssh key"))?;
    let result = sqlx::query("DELETE FROM user_ssh_keys WHERE id = $1 AND user_id = $2")
        .bind(id.to_string())
        .bind(user.to_string())
        .execute(tx.conn())
        .await?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("ssh key"));
    }
    Ok(key)
}

/// Records that the key was just used to log in.
pub async fn touch_last_used(tx: &mut Tx, id: UserSshKeyId, at: Timestamp) -> Result<(), StoreError> {
    let result = sqlx::query("UPDATE user_ssh_keys SET last_used_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(at.as_millis())
        .execute(tx.conn())
        .await?;
    if result.rows_affected() != 1 {
        return Err(StoreError::NotFound("ssh key"));
    }
    Ok(())
}

fn from_row(row: &AnyRow) -> Result<UserSshKey, StoreError> {
    let public_key: String = get(row, "public_key")?;
    let comment: String = get(row, "comment")?;
    Ok(UserSshKey {
        id: get_parsed(row, "id")?,
        user_id: get_parsed(row, "user_id")?,
        key: SshPublicKey::parse(&public_key).map_err(corrupt("ssh key"))?.with_comment(&comment),
        name: get(row, "name")?,
        created_at: Timestamp::from_millis(get(row, "created_at")?),
        last_used_at: get::<Option<i64>>(row, "last_used_at")?.map(Timestamp::from_millis),
    })
}
