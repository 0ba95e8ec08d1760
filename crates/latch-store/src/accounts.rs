//! Accounts on targets and the reference to each one's sealed secret in the vault.
//!
//! `accounts.secret_id` references `vault_secrets`, so a vault record can only be deleted once
//! no account points at it: delete (or re-point) the account first, then the vault record.

use crate::codec::{bool_int, corrupt, get, get_bool, get_opt_parsed, get_parsed};
use crate::{Db, StoreError, Tx};
use latch_domain::account::{Account, AccountSpec, SecretKind};
use latch_domain::names::AccountName;
use latch_domain::{AccountId, SecretId, TargetId, Timestamp};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, target_id, username, secret_kind, secret_id, api_enabled, rotate_after_use, \
     checkout_exclusive, description, secret_updated_at, created_at, updated_at";

/// Inserts an account, with the vault record holding its secret if it has one yet.
///
/// `account.has_secret` is ignored: `secret_id` decides. `Conflict("account")` when the target
/// already has an account with this username; `MissingReference` when the target (or the
/// secret) does not exist.
pub async fn insert(tx: &mut Tx, account: &Account, secret_id: Option<SecretId>) -> Result<(), StoreError> {
    let spec = &account.spec;
    // A stored secret always has a time; without one there is nothing to date.
    let secret_updated_at = secret_id.map(|_| account.secret_updated_at.unwrap_or(account.created_at));
    sqlx::query(
        "INSERT INTO accounts (id, target_id, username, secret_kind, secret_id, api_enabled, rotate_after_use, \
         checkout_exclusive, description, secret_updated_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(account.id.to_string())
    .bind(account.target_id.to_string())
    .bind(spec.username.as_str().to_owned())
    .bind(spec.secret_kind.as_str())
    .bind(secret_id.map(|id| id.to_string()))
    .bind(bool_int(spec.api_enabled))
    .bind(bool_int(spec.rotate_after_use))
    .bind(bool_int(spec.exclusive_checkout))
    .bind(spec.description.clone())
    .bind(secret_updated_at.map(|at| at.as_millis()))
    .bind(account.created_at.as_millis())
    .bind(account.updated_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("account"))?;
    Ok(())
}

/// Saves the spec fields and `updated_at`; `Conflict("account")` when renaming onto a taken username.
pub async fn update(tx: &mut Tx, account: &Account) -> Result<(), StoreError> {
    let spec = &account.spec;
    let result = sqlx::query(
        "UPDATE accounts SET username = $2, secret_kind = $3, api_enabled = $4, rotate_after_use = $5, \
         checkout_exclusive = $6, description = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(account.id.to_string())
    .bind(spec.username.as_str().to_owned())
    .bind(spec.secret_kind.as_str())
    .bind(bool_int(spec.api_enabled))
    .bind(bool_int(spec.rotate_after_use))
    .bind(bool_int(spec.exclusive_checkout))
    .bind(spec.description.clone())
    .bind(account.updated_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("account"))?;
    expect_one(result.rows_affected())
}

/// Points the account at a (new) vault record and stamps `secret_updated_at`. The record it
/// pointed at before is not deleted here: read it first with [`secret_id`].
pub async fn set_secret(tx: &mut Tx, id: AccountId, secret_id: SecretId, at: Timestamp) -> Result<(), StoreError> {
    let result = sqlx::query("UPDATE accounts SET secret_id = $2, secret_updated_at = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(secret_id.to_string())
        .bind(at.as_millis())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("account secret"))?;
    expect_one(result.rows_affected())
}

pub async fn find(db: &mut impl Db, id: AccountId) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    row.as_ref().map(from_row).transpose()
}

/// The account named `username` on `target` (usernames are case sensitive).
pub async fn find_on_target(
    db: &mut impl Db,
    target: TargetId,
    username: &AccountName,
) -> Result<Option<Account>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE target_id = $1 AND username = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(target.to_string())
        .bind(username.as_str().to_owned())
        .fetch_optional(db.conn())
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The accounts of `target`, by username.
pub async fn list_for_target(db: &mut impl Db, target: TargetId) -> Result<Vec<Account>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE target_id = $1 ORDER BY username");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(target.to_string()).fetch_all(db.conn()).await?;
    rows.iter().map(from_row).collect()
}

/// Every account, by target name, then username (for export, in the order of `targets::list_all`).
pub async fn list_all(db: &mut impl Db) -> Result<Vec<Account>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.id AS id, a.target_id AS target_id, a.username AS username, a.secret_kind AS secret_kind, \
         a.secret_id AS secret_id, a.api_enabled AS api_enabled, a.rotate_after_use AS rotate_after_use, \
         a.checkout_exclusive AS checkout_exclusive, a.description AS description, \
         a.secret_updated_at AS secret_updated_at, a.created_at AS created_at, a.updated_at AS updated_at \
         FROM accounts a JOIN targets t ON t.id = a.target_id ORDER BY t.name, a.username",
    )
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The vault record holding the account's secret; `None` when it has none yet,
/// `NotFound("account")` when the account does not exist.
pub async fn secret_id(db: &mut impl Db, id: AccountId) -> Result<Option<SecretId>, StoreError> {
    let row = sqlx::query("SELECT secret_id FROM accounts WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db.conn())
        .await?
        .ok_or(StoreError::NotFound("account"))?;
    get_opt_parsed(&row, "secret_id")
}

/// The vault records of every account on `target`. Collect them before deleting the target
/// (its accounts go with it), then delete the records once the accounts are gone.
pub async fn secret_ids_for_target(db: &mut impl Db, target: TargetId) -> Result<Vec<SecretId>, StoreError> {
    let rows =
        sqlx::query("SELECT secret_id FROM accounts WHERE target_id = $1 AND secret_id IS NOT NULL ORDER BY username")
            .bind(target.to_string())
            .fetch_all(db.conn())
            .await?;
    rows.iter().map(|row| get_parsed(row, "secret_id")).collect()
}

/// Deletes an account and returns the vault record it referenced, for the caller to delete next.
pub async fn delete(tx: &mut Tx, id: AccountId) -> Result<Option<SecretId>, StoreError> {
    let row = sqlx::query("DELETE FROM accounts WHERE id = $1 RETURNING secret_id")
        .bind(id.to_string())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound("account"))?;
    get_opt_parsed(&row, "secret_id")
}

fn expect_one(rows: u64) -> Result<(), StoreError> {
    if rows == 1 { Ok(()) } else { Err(StoreError::NotFound("account")) }
}

fn from_row(row: &AnyRow) -> Result<Account, StoreError> {
    let secret_id: Option<String> = get(row, "secret_id")?;
    let secret_kind: String = get(row, "secret_kind")?;
    Ok(Account {
        id: get_parsed(row, "id")?,
        target_id: get_parsed(row, "target_id")?,
        spec: AccountSpec {
            username: AccountName::parse(&get::<String>(row, "username")?).map_err(corrupt("account username"))?,
            secret_kind: SecretKind::parse(&secret_kind).map_err(corrupt("secret kind"))?,
            api_enabled: get_bool(row, "api_enabled")?,
            rotate_after_use: get_bool(row, "rotate_after_use")?,
            exclusive_checkout: get_bool(row, "checkout_exclusive")?,
            description: get(row, "description")?,
        },
        has_secret: secret_id.is_some(),
        secret_updated_at: get::<Option<i64>>(row, "secret_updated_at")?.map(Timestamp::from_millis),
        created_at: Timestamp::from_millis(get(row, "created_at")?),
        updated_at: Timestamp::from_millis(get(row, "updated_at")?),
    })
}
