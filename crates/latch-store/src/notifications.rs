//! The webhook notification outbox. Rows are written in the audit event's transaction, so a notification exists
//! exactly when its event does; delivery state changes are conditional, so two nodes never both deliver a row.

use crate::audit::AuditRecord;
use crate::codec::get;
use crate::{Db, StoreError, Tx};
use latch_domain::Timestamp;

/// A notification waiting for delivery, with the audit record it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingNotification {
    pub id: String,
    pub webhook: String,
    pub attempts: i64,
    pub record: AuditRecord,
}

pub async fn enqueue(tx: &mut Tx, id: &str, webhook: &str, audit_seq: i64, now: Timestamp) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO notification_outbox (id, webhook, audit_seq, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(id.to_owned())
    .bind(webhook.to_owned())
    .bind(audit_seq)
    .bind(now.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Undelivered, not abandoned notifications whose next attempt is due, oldest first.
pub async fn due(db: &mut impl Db, now: Timestamp, limit: i64) -> Result<Vec<PendingNotification>, StoreError> {
    let rows = sqlx::query(
        "SELECT n.id AS id, n.webhook AS webhook, n.attempts AS attempts, a.seq AS seq, a.at AS at, \
         a.actor_kind AS actor_kind, a.actor_id AS actor_id, a.actor_name AS actor_name, a.source AS source, \
         a.kind AS kind, a.details AS details, a.link AS link \
         FROM notification_outbox n JOIN audit_events a ON a.seq = n.audit_seq \
         WHERE n.delivered_at IS NULL AND n.abandoned_at IS NULL AND n.next_attempt_at <= $1 \
         ORDER BY n.audit_seq LIMIT $2",
    )
    .bind(now.as_millis())
    .bind(limit.clamp(1, 1000))
    .fetch_all(db.conn())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingNotification {
                id: get(row, "id")?,
                webhook: get(row, "webhook")?,
                attempts: get(row, "attempts")?,
                record: crate::audit::from_row(row)?,
            })
        })
        .collect()
}

/// Records a successful delivery; false when the row was already delivered or abandoned.
pub async fn mark_delivered(tx: &mut Tx, id: &str, at: Timestamp) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE notification_outbox SET delivered_at = $2, attempts = attempts + 1 \
         WHERE id = $1 AND delivered_at IS NULL AND abandoned_at IS NULL",
    )
    .bind(id.to_owned())
    .bind(at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy)]
pub enum AfterFailure {
    RetryAt(Timestamp),
    Abandon(Timestamp),
}

/// Records a failed attempt (the error text is the caller's, without secrets); false when already settled.
pub async fn mark_failed(tx: &mut Tx, id: &str, error: &str, after: AfterFailure) -> Result<bool, StoreError> {
    let (next, abandoned) = match after {
        AfterFailure::RetryAt(at) => (Some(at.as_millis()), None),
        AfterFailure::Abandon(at) => (None, Some(at.as_millis())),
    };
    let result = sqlx::query(
        "UPDATE notification_outbox SET attempts = attempts + 1, last_error = $2, \
         next_attempt_at = COALESCE($3, next_attempt_at), abandoned_at = $4 \
         WHERE id = $1 AND delivered_at IS NULL AND abandoned_at IS NULL",
    )
    .bind(id.to_owned())
    .bind(error.chars().take(500).collect::<String>())
    .bind(next)
    .bind(abandoned)
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}
