//! Grants. Revocation and enforcement are conditional updates, so each happens once.

use crate::codec::{corrupt, get, get_opt_parsed, get_parsed};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::grant::{Grant, GrantOrigin};
use latch_domain::{AccountId, BreakGlassId, GrantId, Timestamp, UserId};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, user_id, target_id, account_id, policy_id, request_id, origin, starts_at, ends_at, \
     revoked_at, revoked_by, revoke_reason, enforced_at, created_at, break_glass_id";

pub async fn insert(tx: &mut Tx, grant: &Grant) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO grants ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(grant.id.to_string())
        .bind(grant.user_id.to_string())
        .bind(grant.target_id.to_string())
        .bind(grant.account_id.to_string())
        .bind(grant.policy_id.map(|p| p.to_string()))
        .bind(grant.request_id.map(|r| r.to_string()))
        .bind(grant.origin.as_str())
        .bind(grant.starts_at.as_millis())
        .bind(grant.ends_at.as_millis())
        .bind(grant.revoked_at.map(|t| t.as_millis()))
        .bind(grant.revoked_by.clone())
        .bind(grant.revoke_reason.clone())
        .bind(grant.enforced_at.map(|t| t.as_millis()))
        .bind(grant.created_at.as_millis())
        .bind(grant.break_glass_id.map(|b| b.to_string()))
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("grant"))?;
    Ok(())
}

pub async fn find(db: &mut impl Db, id: GrantId) -> Result<Option<Grant>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM grants WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    row.as_ref().map(grant_from_row).transpose()
}

/// The grants of `user` for `account` that are valid at `now` (started, not ended, not revoked).
pub async fn valid_for(
    db: &mut impl Db,
    user: UserId,
    account: AccountId,
    now: Timestamp,
) -> Result<Vec<Grant>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM grants WHERE user_id = $1 AND account_id = $2 AND starts_at <= $3 AND ends_at > $3 \
         AND (revoked_at IS NULL OR revoked_at > $3) ORDER BY ends_at DESC"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(user.to_string())
        .bind(account.to_string())
        .bind(now.as_millis())
        .fetch_all(db.conn())
        .await?;
    rows.iter().map(grant_from_row).collect()
}

/// Which grants to list.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub user: Option<UserId>,
    /// Only grants not yet ended or revoked at this time.
    pub current_at: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

/// Grants matching `filter`, newest first.
pub async fn list(db: &mut impl Db, filter: &GrantFilter) -> Result<Vec<Grant>, StoreError> {
    let mut filtered = Filtered::default();
    if let Some(user) = filter.user {
        filtered.text("user_id = {}", user.to_string());
    }
    if let Some(now) = filter.current_at {
        filtered.int("ends_at > {} AND (revoked_at IS NULL OR revoked_at > {})", now.as_millis());
    }
    let select = format!("SELECT {COLUMNS} FROM grants");
    let rows = filtered.fetch_page(db, &select, "created_at DESC, id", filter.limit, filter.offset).await?;
    rows.iter().map(grant_from_row).collect()
}

/// Revokes a grant that is not yet over; false when it already ended or was revoked.
pub async fn revoke(tx: &mut Tx, id: GrantId, at: Timestamp, by: &str, reason: &str) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE grants SET revoked_at = $2, revoked_by = $3, revoke_reason = $4 \
         WHERE id = $1 AND revoked_at IS NULL AND ends_at > $2",
    )
    .bind(id.to_string())
    .bind(at.as_millis())
    .bind(by.to_owned())
    .bind(reason.to_owned())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Revokes every grant made under the break-glass `id` that is not yet over; returns how many.
pub async fn revoke_for_break_glass(
    tx: &mut Tx,
    id: BreakGlassId,
    at: Timestamp,
    by: &str,
    reason: &str,
) -> Result<u64, StoreError> {
    let result = sqlx::query(
        "UPDATE grants SET revoked_at = $2, revoked_by = $3, revoke_reason = $4 \
         WHERE break_glass_id = $1 AND revoked_at IS NULL AND ends_at > $2",
    )
    .bind(id.to_string())
    .bind(at.as_millis())
    .bind(by.to_owned())
    .bind(reason.to_owned())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected())
}

/// Grants that have ended (expired or revoked) by `now` but whose end Latch has not yet enforced.
pub async fn awaiting_enforcement(db: &mut impl Db, now: Timestamp, limit: i64) -> Result<Vec<Grant>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM grants WHERE enforced_at IS NULL AND (ends_at <= $1 OR revoked_at <= $1) \
         ORDER BY ends_at LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.as_millis()).bind(limit).fetch_all(db.conn()).await?;
    rows.iter().map(grant_from_row).collect()
}

/// Records that the grant's end was enforced; false when another node already did.
pub async fn mark_enforced(tx: &mut Tx, id: GrantId, at: Timestamp) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE grants SET enforced_at = $2 WHERE id = $1 AND enforced_at IS NULL")
        .bind(id.to_string())
        .bind(at.as_millis())
        .execute(tx.conn())
        .await?;
    Ok(result.rows_affected() == 1)
}

fn grant_from_row(row: &AnyRow) -> Result<Grant, StoreError> {
    let origin: String = get(row, "origin")?;
    let optional_time = |column: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_millis))
    };
    Ok(Grant {
        id: get_parsed(row, "id")?,
        user_id: get_parsed(row, "user_id")?,
        target_id: get_parsed(row, "target_id")?,
        account_id: get_parsed(row, "account_id")?,
        policy_id: get_opt_parsed(row, "policy_id")?,
        request_id: get_opt_parsed(row, "request_id")?,
        origin: GrantOrigin::parse(&origin).map_err(corrupt("grant origin"))?,
        break_glass_id: get_opt_parsed(row, "break_glass_id")?,
        starts_at: Timestamp::from_millis(get(row, "starts_at")?),
        ends_at: Timestamp::from_millis(get(row, "ends_at")?),
        revoked_at: optional_time("revoked_at")?,
        revoked_by: get(row, "revoked_by")?,
        revoke_reason: get(row, "revoke_reason")?,
        enforced_at: optional_time("enforced_at")?,
        created_at: Timestamp::from_millis(get(row, "created_at")?),
    })
}
