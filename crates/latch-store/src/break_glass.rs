//! Break-glass: emergency access switched on for named targets. Switching off is a conditional update
//! (`… WHERE ended_at IS NULL`), so it happens once, whether by hand or at expiry.

use crate::codec::{corrupt, get, get_parsed, join, split};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::break_glass::BreakGlass;
use latch_domain::names::TargetName;
use latch_domain::{BreakGlassId, Timestamp, UserId};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, targets, reason, activated_by, activated_at, ends_at, ended_at, ended_by";

pub async fn insert(tx: &mut Tx, glass: &BreakGlass) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO break_glass ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(glass.id.to_string())
        .bind(join(&glass.targets))
        .bind(glass.reason.clone())
        .bind(glass.activated_by.to_string())
        .bind(glass.activated_at.as_millis())
        .bind(glass.ends_at.as_millis())
        .bind(glass.ended_at.map(|t| t.as_millis()))
        .bind(glass.ended_by.clone())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("break-glass"))?;
    Ok(())
}

pub async fn find(db: &mut impl Db, id: BreakGlassId) -> Result<Option<BreakGlass>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM break_glass WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    row.as_ref().map(break_glass_from_row).transpose()
}

/// Like [`find`], holding the row lock until `tx` ends (on PostgreSQL; SQLite's write transaction already
/// serializes writers), so grants made under it and its end cannot interleave.
pub async fn find_for_update(tx: &mut Tx, id: BreakGlassId) -> Result<Option<BreakGlass>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM break_glass WHERE id = $1{}", crate::db::for_update(tx.backend()));
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(tx.conn()).await?;
    row.as_ref().map(break_glass_from_row).transpose()
}

/// Which break-glass records to list; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct BreakGlassFilter {
    pub activated_by: Option<UserId>,
    /// Only those on at this time.
    pub active_at: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

/// Break-glass records matching `filter`, newest first.
pub async fn list(db: &mut impl Db, filter: &BreakGlassFilter) -> Result<Vec<BreakGlass>, StoreError> {
    let mut filtered = Filtered::default();
    if let Some(user) = filter.activated_by {
        filtered.text("activated_by = {}", user.to_string());
    }
    if let Some(now) = filter.active_at {
        filtered.int("ended_at IS NULL AND ends_at > {}", now.as_millis());
    }
    let select = format!("SELECT {COLUMNS} FROM break_glass");
    let rows = filtered.fetch_page(db, &select, "activated_at DESC, id", filter.limit, filter.offset).await?;
    rows.iter().map(break_glass_from_row).collect()
}

/// Every break-glass on at `now` (not switched off, end not reached), oldest first.
pub async fn active(db: &mut impl Db, now: Timestamp) -> Result<Vec<BreakGlass>, StoreError> {
    let sql =
        format!("SELECT {COLUMNS} FROM break_glass WHERE ended_at IS NULL AND ends_at > $1 ORDER BY activated_at, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.as_millis()).fetch_all(db.conn()).await?;
    rows.iter().map(break_glass_from_row).collect()
}

/// Switches the break-glass off at `at`; false when it was already switched off.
pub async fn end(tx: &mut Tx, id: BreakGlassId, at: Timestamp, by: &str) -> Result<bool, StoreError> {
    let result = sqlx::query("UPDATE break_glass SET ended_at = $2, ended_by = $3 WHERE id = $1 AND ended_at IS NULL")
        .bind(id.to_string())
        .bind(at.as_millis())
        .bind(by.to_owned())
        .execute(tx.conn())
        .await?;
    Ok(result.rows_affected() == 1)
}

/// Break-glass records whose time ran out by `now` but that are not yet switched off, oldest end first.
pub async fn due_to_end(db: &mut impl Db, now: Timestamp, limit: i64) -> Result<Vec<BreakGlass>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM break_glass WHERE ended_at IS NULL AND ends_at <= $1 ORDER BY ends_at, id LIMIT $2"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now.as_millis()).bind(limit).fetch_all(db.conn()).await?;
    rows.iter().map(break_glass_from_row).collect()
}

/// How many gateway sessions under the break-glass `id`'s grants (on any node) were running at `at`: started by
/// then and not ended before it.
pub async fn sessions_running_at(db: &mut impl Db, id: BreakGlassId, at: Timestamp) -> Result<i64, StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS running FROM gateway_sessions s JOIN grants g ON g.id = s.grant_id \
         WHERE g.break_glass_id = $1 AND s.started_at <= $2 AND (s.ended_at IS NULL OR s.ended_at >= $2)",
    )
    .bind(id.to_string())
    .bind(at.as_millis())
    .fetch_one(db.conn())
    .await?;
    get(&row, "running")
}

fn break_glass_from_row(row: &AnyRow) -> Result<BreakGlass, StoreError> {
    let targets: String = get(row, "targets")?;
    let targets = split(&targets)
        .map(|name| TargetName::parse(name).map_err(corrupt("break-glass targets")))
        .collect::<Result<Vec<_>, _>>()?;
    let optional_time = |column: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_millis))
    };
    Ok(BreakGlass {
        id: get_parsed(row, "id")?,
        targets,
        reason: get(row, "reason")?,
        activated_by: get_parsed(row, "activated_by")?,
        activated_at: Timestamp::from_millis(get(row, "activated_at")?),
        ends_at: Timestamp::from_millis(get(row, "ends_at")?),
        ended_at: optional_time("ended_at")?,
        ended_by: get(row, "ended_by")?,
    })
}
