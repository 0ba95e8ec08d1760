//! API accounts, their secret hashes and lockout counter, and the access tokens issued to them.
//!
//! Scopes are stored as comma-joined scope names, allowed sources as comma-joined CIDR ranges,
//! the token lifetime in milliseconds. Tokens are found by the hash of their text only.

use crate::codec::{bool_int, corrupt, get, get_bool, get_parsed, join, split};
use crate::{Db, StoreError, Tx};
use latch_domain::api_account::{ApiAccount, ApiToken, SourceRanges};
use latch_domain::lockout::LockoutState;
use latch_domain::names::ApiAccountName;
use latch_domain::permission::{Permission, ScopeSet};
use latch_domain::{ApiAccountId, TimeSpan, Timestamp};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, name, description, scopes, allowed_sources, token_ttl_ms, revoked, failed_logins, \
     locked_until, created_at, secret_rotated_at";

/// Inserts an API account with the hash of its client secret; `Conflict("api account")` when the name is taken.
pub async fn insert(tx: &mut Tx, account: &ApiAccount, secret_hash: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_accounts (id, name, description, scopes, allowed_sources, token_ttl_ms, secret_hash, revoked, \
         failed_logins, locked_until, created_at, secret_rotated_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11)",
    )
    .bind(account.id.to_string())
    .bind(account.name.as_str().to_owned())
    .bind(account.description.clone())
    .bind(join(account.scopes.iter()))
    .bind(join(account.allowed_sources.iter()))
    .bind(account.token_ttl.as_millis())
    .bind(secret_hash.to_owned())
    .bind(bool_int(account.revoked))
    .bind(i64::from(account.lockout.failed_count))
    .bind(account.lockout.locked_until.map(|t| t.as_millis()))
    .bind(account.created_at.as_millis())
    .bind(account.secret_rotated_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("api account"))?;
    Ok(())
}

pub async fn find(db: &mut impl Db, id: ApiAccountId) -> Result<Option<ApiAccount>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_accounts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn find_by_name(db: &mut impl Db, name: &ApiAccountName) -> Result<Option<ApiAccount>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_accounts WHERE name = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(name.as_str().to_owned()).fetch_optional(db.conn()).await?;
    row.as_ref().map(from_row).transpose()
}

/// Every API account, by name.
pub async fn list(db: &mut impl Db) -> Result<Vec<ApiAccount>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM api_accounts ORDER BY name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(db.conn()).await?;
    rows.iter().map(from_row).collect()
}

/// Saves description, scopes, allowed sources, token lifetime and the revoked flag.
pub async fn update(tx: &mut Tx, account: &ApiAccount, now: Timestamp) -> Result<(), StoreError> {
    let result = sqlx::query(
        "UPDATE api_accounts SET description = $2, scopes = $3, allowed_sources = $4, token_ttl_ms = $5, revoked = $6, \
         updated_at = $7 WHERE id = $1",
    )
    .bind(account.id.to_string())
    .bind(account.description.clone())
    .bind(join(account.scopes.iter()))
    .bind(join(account.allowed_sources.iter()))
    .bind(account.token_ttl.as_millis())
    .bind(bool_int(account.revoked))
    .bind(now.as_millis())
    .execute(tx.conn())
    .await?;
    expect_one(result.rows_affected())
}

/// Replaces the client secret's hash and stamps `secret_rotated_at`.
pub async fn set_secret_hash(tx: &mut Tx, id: ApiAccountId, hash: &str, now: Timestamp) -> Result<(), StoreError> {
    let result =
        sqlx::query("UPDATE api_accounts SET secret_hash = $2, secret_rotated_at = $3, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(hash.to_owned())
            .bind(now.as_millis())
            .execute(tx.conn())
            .await?;
    expect_one(result.rows_affected())
}

/// The hash a presented client secret is checked against.
pub async fn secret_hash(db: &mut impl Db, id: ApiAccountId) -> Result<String, StoreError> {
    let row = sqlx::query("SELECT secret_hash FROM api_accounts WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db.conn())
        .await?
        .ok_or(StoreError::NotFound("api account"))?;
    get(&row, "secret_hash")
}

pub async fn set_lockout(tx: &mut Tx, id: ApiAccountId, state: LockoutState) -> Result<(), StoreError> {
    let result = sqlx::query("UPDATE api_accounts SET failed_logins = $2, locked_until = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(i64::from(state.failed_count))
        .bind(state.locked_until.map(|t| t.as_millis()))
        .execute(tx.conn())
        .await?;
    expect_one(result.rows_affected())
}

/// Clears the failed-login counter and any lock after a successful authentication.
pub async fn record_success(tx: &mut Tx, id: ApiAccountId) -> Result<(), StoreError> {
    let result = sqlx::query("UPDATE api_accounts SET failed_logins = 0, locked_until = NULL WHERE id = $1")
        .bind(id.to_string())
        .execute(tx.conn())
        .await?;
    expect_one(result.rows_affected())
}

/// Deletes an API account and, with it, every token issued to it.
pub async fn delete(tx: &mut Tx, id: ApiAccountId) -> Result<(), StoreError> {
    let result = sqlx::query("DELETE FROM api_accounts WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    expect_one(result.rows_affected())
}

/// Stores an issued token by the hash of its text; `MissingReference` when the account is gone.
pub async fn insert_token(tx: &mut Tx, token: &ApiToken, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, api_account_id, scopes, source, issued_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(token.id.to_string())
    .bind(token_hash.to_owned())
    .bind(token.api_account_id.to_string())
    .bind(join(token.scopes.iter()))
    .bind(token.source.clone())
    .bind(token.issued_at.as_millis())
    .bind(token.expires_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("api token"))?;
    Ok(())
}

/// The token with this hash, expired or not: the caller compares `expires_at` with its clock.
pub async fn find_token_by_hash(db: &mut impl Db, token_hash: &str) -> Result<Option<ApiToken>, StoreError> {
    let row = sqlx::query(
        "SELECT id, api_account_id, scopes, source, issued_at, expires_at FROM api_tokens WHERE token_hash = $1",
    )
    .bind(token_hash.to_owned())
    .fetch_optional(db.conn())
    .await?;
    row.as_ref().map(token_from_row).transpose()
}

/// Deletes every token of an API account; returns how many there were.
pub async fn delete_tokens_for_account(tx: &mut Tx, id: ApiAccountId) -> Result<i64, StoreError> {
    let result =
        sqlx::query("DELETE FROM api_tokens WHERE api_account_id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(i64::try_from(result.rows_affected()).unwrap_or(i64::MAX))
}

/// Deletes tokens that are no longer valid at `now` (`expires_at <= now`).
pub async fn delete_expired_tokens(tx: &mut Tx, now: Timestamp) -> Result<u64, StoreError> {
    let result =
        sqlx::query("DELETE FROM api_tokens WHERE expires_at <= $1").bind(now.as_millis()).execute(tx.conn()).await?;
    Ok(result.rows_affected())
}

fn expect_one(rows: u64) -> Result<(), StoreError> {
    if rows == 1 { Ok(()) } else { Err(StoreError::NotFound("api account")) }
}

/// Stored scopes; unlike `ScopeSet::parse_list` an empty list is accepted as stored.
fn scopes_from(text: &str) -> Result<ScopeSet, StoreError> {
    let scopes = split(text).map(|s| Permission::parse(s).map_err(corrupt("scopes"))).collect::<Result<_, _>>()?;
    Ok(ScopeSet::new(scopes))
}

fn from_row(row: &AnyRow) -> Result<ApiAccount, StoreError> {
    let failed: i64 = get(row, "failed_logins")?;
    Ok(ApiAccount {
        id: get_parsed(row, "id")?,
        name: ApiAccountName::parse(&get::<String>(row, "name")?).map_err(corrupt("api account name"))?,
        description: get(row, "description")?,
        scopes: scopes_from(&get::<String>(row, "scopes")?)?,
        allowed_sources: SourceRanges::parse_list(split(&get::<String>(row, "allowed_sources")?))
            .map_err(corrupt("allowed sources"))?,
        token_ttl: TimeSpan::from_millis(get(row, "token_ttl_ms")?),
        revoked: get_bool(row, "revoked")?,
        lockout: LockoutState {
            failed_count: u32::try_from(failed).unwrap_or(u32::MAX),
            locked_until: get::<Option<i64>>(row, "locked_until")?.map(Timestamp::from_millis),
        },
        created_at: Timestamp::from_millis(get(row, "created_at")?),
        secret_rotated_at: Timestamp::from_millis(get(row, "secret_rotated_at")?),
    })
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    Ok(ApiToken {
        id: get_parsed(row, "id")?,
        api_account_id: get_parsed(row, "api_account_id")?,
        scopes: scopes_from(&get::<String>(row, "scopes")?)?,
        source: get(row, "source")?,
        issued_at: Timestamp::from_millis(get(row, "issued_at")?),
        expires_at: Timestamp::from_millis(get(row, "expires_at")?),
    })
}
