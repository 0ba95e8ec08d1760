//! The queue of secret rotations that check-ins of "rotate after use" accounts leave behind.
//!
//! A rotation moves `pending` → `in_progress` → `done` or `failed`; each step is a conditional update on the state
//! it leaves, so two workers cannot both start (or both finish) one. A check-out queues at most one rotation
//! (`checkout_id` is unique).

use crate::codec::{corrupt, get, get_opt_parsed, get_parsed};
use crate::{Db, StoreError, Tx};
use latch_domain::checkout::{Rotation, RotationState};
use latch_domain::{RotationId, Timestamp};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, account_id, checkout_id, queued_at, state, attempts, last_error, updated_at";

/// Queues a rotation; `Conflict("rotation")` when its check-out already queued one, `MissingReference` when the
/// account or the check-out does not exist.
pub async fn enqueue(tx: &mut Tx, rotation: &Rotation) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO rotation_queue ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(rotation.id.to_string())
        .bind(rotation.account_id.to_string())
        .bind(rotation.checkout_id.map(|c| c.to_string()))
        .bind(rotation.queued_at.as_millis())
        .bind(rotation.state.as_str())
        .bind(rotation.attempts)
        .bind(rotation.last_error.clone())
        .bind(rotation.updated_at.as_millis())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("rotation"))?;
    Ok(())
}

pub async fn find(db: &mut impl Db, id: RotationId) -> Result<Option<Rotation>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM rotation_queue WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    row.as_ref().map(rotation_from_row).transpose()
}

/// Rotations (in `state`, when given), oldest first.
pub async fn list(
    db: &mut impl Db,
    state: Option<RotationState>,
    limit: i64,
    offset: i64,
) -> Result<Vec<Rotation>, StoreError> {
    let (filter_sql, next) = if state.is_some() { ("WHERE state = $1", 2) } else { ("", 1) };
    let sql = format!(
        "SELECT {COLUMNS} FROM rotation_queue {filter_sql} ORDER BY queued_at, id LIMIT ${next} OFFSET ${}",
        next + 1
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    if let Some(state) = state {
        query = query.bind(state.as_str());
    }
    let rows = query.bind(limit.max(0)).bind(offset.max(0)).fetch_all(db.conn()).await?;
    rows.iter().map(rotation_from_row).collect()
}

/// Moves a pending rotation to `in_progress` and counts the attempt; false when it was not pending.
pub async fn start(tx: &mut Tx, id: RotationId, at: Timestamp) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE rotation_queue SET state = 'in_progress', attempts = attempts + 1, updated_at = $2 \
         WHERE id = $1 AND state = 'pending'",
    )
    .bind(id.to_string())
    .bind(at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Ends a rotation in progress as `done` or `failed` (with the error); false when it was not in progress.
pub async fn finish(tx: &mut Tx, id: RotationId, outcome: Result<(), &str>, at: Timestamp) -> Result<bool, StoreError> {
    let (state, error) = match outcome {
        Ok(()) => (RotationState::Done, None),
        Err(error) => (RotationState::Failed, Some(error.to_owned())),
    };
    let result = sqlx::query(
        "UPDATE rotation_queue SET state = $2, last_error = $3, updated_at = $4 WHERE id = $1 AND state = 'in_progress'",
    )
    .bind(id.to_string())
    .bind(state.as_str())
    .bind(error)
    .bind(at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

fn rotation_from_row(row: &AnyRow) -> Result<Rotation, StoreError> {
    let state: String = get(row, "state")?;
    Ok(Rotation {
        id: get_parsed(row, "id")?,
        account_id: get_parsed(row, "account_id")?,
        checkout_id: get_opt_parsed(row, "checkout_id")?,
        queued_at: Timestamp::from_millis(get(row, "queued_at")?),
        state: RotationState::parse(&state).map_err(corrupt("rotation state"))?,
        attempts: get(row, "attempts")?,
        last_error: get(row, "last_error")?,
        updated_at: Timestamp::from_millis(get(row, "updated_at")?),
    })
}
