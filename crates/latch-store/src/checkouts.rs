//! Credential check-outs.
//!
//! Every new check-out first locks its account's row ([`open_for_account_locked`]), so the application decides
//! exclusivity on a list no concurrent check-out can change before this transaction ends. Reveal and check-in are
//! conditional updates (`… WHERE revealed_at IS NULL`, `… WHERE checked_in_at IS NULL`), so each happens once.

use crate::codec::{bool_int, corrupt, get, get_bool, get_opt_parsed, get_parsed};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::checkout::{CheckInReason, Checkout, CheckoutHolder};
use latch_domain::{AccountId, ApiAccountId, CheckoutId, GrantId, Timestamp, UserId};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, target_id, account_id, user_id, api_account_id, grant_id, policy_id, exclusive, reason, \
     checked_out_at, release_until, revealed_at, checked_in_at, check_in_reason";

pub async fn insert(tx: &mut Tx, checkout: &Checkout) -> Result<(), StoreError> {
    let (user, api_account) = match checkout.holder {
        CheckoutHolder::User(id) => (Some(id.to_string()), None),
        CheckoutHolder::ApiAccount(id) => (None, Some(id.to_string())),
    };
    let sql = format!(
        "INSERT INTO checkouts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(checkout.id.to_string())
        .bind(checkout.target_id.to_string())
        .bind(checkout.account_id.to_string())
        .bind(user)
        .bind(api_account)
        .bind(checkout.grant_id.map(|g| g.to_string()))
        .bind(checkout.policy_id.map(|p| p.to_string()))
        .bind(bool_int(checkout.exclusive))
        .bind(checkout.reason.clone())
        .bind(checkout.checked_out_at.as_millis())
        .bind(checkout.release_until.as_millis())
        .bind(checkout.revealed_at.map(|t| t.as_millis()))
        .bind(checkout.checked_in_at.map(|t| t.as_millis()))
        .bind(checkout.check_in_reason.map(|r| r.as_str()))
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("checkout"))?;
    Ok(())
}

/// Locks the account's row until `tx` ends and returns its check-outs that are open at `now` (not checked in, release
/// period not over); `NotFound("account")` when there is no such account. (On PostgreSQL the row lock; SQLite's
/// write transaction already serializes writers.)
pub async fn open_for_account_locked(
    tx: &mut Tx,
    account: AccountId,
    now: Timestamp,
) -> Result<Vec<Checkout>, StoreError> {
    let lock = format!("SELECT id FROM accounts WHERE id = $1{}", crate::db::for_update(tx.backend()));
    sqlx::query(sqlx::AssertSqlSafe(lock))
        .bind(account.to_string())
        .fetch_optional(tx.conn())
        .await?
        .ok_or(StoreError::NotFound("account"))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM checkouts WHERE account_id = $1 AND checked_in_at IS NULL AND release_until > $2 \
         ORDER BY checked_out_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(account.to_string())
        .bind(now.as_millis())
        .fetch_all(tx.conn())
        .await?;
    rows.iter().map(checkout_from_row).collect()
}

pub async fn find(db: &mut impl Db, id: CheckoutId) -> Result<Option<Checkout>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM checkouts WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    row.as_ref().map(checkout_from_row).transpose()
}

/// Like [`find`], holding the row lock until `tx` ends (on PostgreSQL).
pub async fn find_for_update(tx: &mut Tx, id: CheckoutId) -> Result<Option<Checkout>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM checkouts WHERE id = $1{}", crate::db::for_update(tx.backend()));
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(tx.conn()).await?;
    row.as_ref().map(checkout_from_row).transpose()
}

/// Which check-outs to list; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct CheckoutFilter {
    pub holder: Option<CheckoutHolder>,
    /// Only check-outs open at this time.
    pub open_at: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

/// Check-outs matching `filter`, newest first.
pub async fn list(db: &mut impl Db, filter: &CheckoutFilter) -> Result<Vec<Checkout>, StoreError> {
    let mut filtered = Filtered::default();
    match filter.holder {
        Some(CheckoutHolder::User(id)) => filtered.text("user_id = {}", id.to_string()),
        Some(CheckoutHolder::ApiAccount(id)) => filtered.text("api_account_id = {}", id.to_string()),
        None => {}
    }
    if let Some(now) = filter.open_at {
        filtered.int("checked_in_at IS NULL AND release_until > {}", now.as_millis());
    }
    let select = format!("SELECT {COLUMNS} FROM checkouts");
    let rows = filtered.fetch_page(db, &select, "checked_out_at DESC, id", filter.limit, filter.offset).await?;
    rows.iter().map(checkout_from_row).collect()
}

/// Marks the secret revealed at `at`; false when it was revealed before, the check-out is checked in, or its release
/// period is over (so it is shown at most once, and only while held).
pub async fn mark_revealed(tx: &mut Tx, id: CheckoutId, at: Timestamp) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE checkouts SET revealed_at = $2 \
         WHERE id = $1 AND revealed_at IS NULL AND checked_in_at IS NULL AND release_until > $2",
    )
    .bind(id.to_string())
    .bind(at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Checks a check-out in; false when it already was.
pub async fn check_in(tx: &mut Tx, id: CheckoutId, at: Timestamp, reason: CheckInReason) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE checkouts SET checked_in_at = $2, check_in_reason = $3 WHERE id = $1 AND checked_in_at IS NULL",
    )
    .bind(id.to_string())
    .bind(at.as_millis())
    .bind(reason.as_str())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Check-outs not checked in whose release period ended by `now`, the earliest first.
pub async fn due_for_check_in(db: &mut impl Db, now: Timestamp, limit: i64) -> Result<Vec<Checkout>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkouts WHERE checked_in_at IS NULL AND release_until <= $1 \
         ORDER BY release_until, id LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.as_millis()).bind(limit).fetch_all(db.conn()).await?;
    rows.iter().map(checkout_from_row).collect()
}

/// Check-outs made under `grant` that are not checked in.
pub async fn not_checked_in_for_grant(db: &mut impl Db, grant: GrantId) -> Result<Vec<Checkout>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM checkouts WHERE grant_id = $1 AND checked_in_at IS NULL ORDER BY checked_out_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(grant.to_string()).fetch_all(db.conn()).await?;
    rows.iter().map(checkout_from_row).collect()
}

fn checkout_from_row(row: &AnyRow) -> Result<Checkout, StoreError> {
    let user: Option<UserId> = get_opt_parsed(row, "user_id")?;
    let api_account: Option<ApiAccountId> = get_opt_parsed(row, "api_account_id")?;
    let holder = match (user, api_account) {
        (Some(user), None) => CheckoutHolder::User(user),
        (None, Some(api)) => CheckoutHolder::ApiAccount(api),
        _ => return Err(StoreError::Corrupt("a check-out needs exactly one holder".to_owned())),
    };
    let optional_time = |column: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_millis))
    };
    let reason: Option<String> = get(row, "check_in_reason")?;
    Ok(Checkout {
        id: get_parsed(row, "id")?,
        target_id: get_parsed(row, "target_id")?,
        account_id: get_parsed(row, "account_id")?,
        holder,
        grant_id: get_opt_parsed(row, "grant_id")?,
        policy_id: get_opt_parsed(row, "policy_id")?,
        exclusive: get_bool(row, "exclusive")?,
        reason: get(row, "reason")?,
        checked_out_at: Timestamp::from_millis(get(row, "checked_out_at")?),
        release_until: Timestamp::from_millis(get(row, "release_until")?),
        revealed_at: optional_time("revealed_at")?,
        checked_in_at: optional_time("checked_in_at")?,
        check_in_reason: reason.as_deref().map(CheckInReason::parse).transpose().map_err(corrupt("check-in reason"))?,
    })
}
