//! Logged-in sessions, found by the hash of their token.

use crate::codec::{get, get_parsed};
use crate::{Db, StoreError, Tx};
use latch_domain::auth_session::{AuthSession, AuthSessionKind, AuthSessionStage};
use latch_domain::{AuthSessionId, Timestamp, UserId};
use sqlx::any::AnyRow;

pub async fn insert(tx: &mut Tx, session: &AuthSession, token_hash: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO auth_sessions (id, token_hash, user_id, kind, stage, source, created_at, last_seen_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(session.id.to_string())
    .bind(token_hash.to_owned())
    .bind(session.user_id.to_string())
    .bind(session.kind.as_str())
    .bind(session.stage.as_str())
    .bind(session.source.clone())
    .bind(session.created_at.as_millis())
    .bind(session.last_seen_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("session"))?;
    Ok(())
}

pub async fn find_by_token_hash(db: &mut impl Db, token_hash: &str) -> Result<Option<AuthSession>, StoreError> {
    let row = sqlx::query(
        "SELECT id, user_id, kind, stage, source, created_at, last_seen_at FROM auth_sessions WHERE token_hash = $1",
    )
    .bind(token_hash.to_owned())
    .fetch_optional(db.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Moves `last_seen_at` forward.
pub async fn touch(tx: &mut Tx, id: AuthSessionId, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query("UPDATE auth_sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2")
        .bind(id.to_string())
        .bind(now.as_millis())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_stage(tx: &mut Tx, id: AuthSessionId, stage: AuthSessionStage) -> Result<(), StoreError> {
    sqlx::query("UPDATE auth_sessions SET stage = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(stage.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id: AuthSessionId) -> Result<bool, StoreError> {
    let result = sqlx::query("DELETE FROM auth_sessions WHERE id = $1").bind(id.to_string()).execute(tx.conn()).await?;
    Ok(result.rows_affected() == 1)
}

/// Ends every session of `user`; returns how many there were.
pub async fn delete_for_user(tx: &mut Tx, user: UserId) -> Result<i64, StoreError> {
    let result =
        sqlx::query("DELETE FROM auth_sessions WHERE user_id = $1").bind(user.to_string()).execute(tx.conn()).await?;
    Ok(i64::try_from(result.rows_affected()).unwrap_or(i64::MAX))
}

/// Removes sessions idle since before `idle_before` or created before `created_before`.
pub async fn delete_expired(tx: &mut Tx, idle_before: Timestamp, created_before: Timestamp) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM auth_sessions WHERE last_seen_at < $1 OR created_at < $2")
        .bind(idle_before.as_millis())
        .bind(created_before.as_millis())
        .execute(tx.conn())
        .await?;
    Ok(result.rows_affected())
}

fn from_row(row: &AnyRow) -> Result<AuthSession, StoreError> {
    let kind: String = get(row, "kind")?;
    let stage: String = get(row, "stage")?;
    Ok(AuthSession {
        id: get_parsed(row, "id")?,
        user_id: get_parsed(row, "user_id")?,
        kind: AuthSessionKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("session kind {kind:?}")))?,
        stage: AuthSessionStage::parse(&stage)
            .ok_or_else(|| StoreError::Corrupt(format!("session stage {stage:?}")))?,
        source: get(row, "source")?,
        created_at: Timestamp::from_millis(get(row, "created_at")?),
        last_seen_at: Timestamp::from_millis(get(row, "last_seen_at")?),
    })
}
