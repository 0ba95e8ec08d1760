//! Incident-bound access: the binding of a request to the incident ticket and task an integration validated, and
//! finding what a closed incident must end (pending requests, open grants) through that binding.
//!
//! The binding is its own table keyed by request rather than columns on `grants`: it is a fact about how the request
//! was checked (which integration, which task, when the task expires), and a grant reaches it through
//! `grants.request_id`. So a policy renamed or pointed at another integration later does not hide a grant from the
//! incident that justified it.

use crate::codec::get_parsed;
use crate::{Db, StoreError, Tx};
use latch_domain::{AccessRequestId, GrantId, Timestamp};

/// What an incident integration confirmed for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentBinding<'a> {
    pub request_id: AccessRequestId,
    pub integration: &'a str,
    pub ticket: &'a str,
    pub task: &'a str,
    pub task_expires_at: Timestamp,
    pub validated_at: Timestamp,
}

pub async fn bind(tx: &mut Tx, binding: &IncidentBinding<'_>) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO request_incidents (request_id, integration, ticket, task, task_expires_at, validated_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(binding.request_id.to_string())
    .bind(binding.integration.to_owned())
    .bind(binding.ticket.to_owned())
    .bind(binding.task.to_owned())
    .bind(binding.task_expires_at.as_millis())
    .bind(binding.validated_at.as_millis())
    .execute(tx.conn())
    .await
    .map_err(StoreError::on_write("incident binding"))?;
    Ok(())
}

/// The pending requests bound to `ticket` under `integration`.
pub async fn pending_requests(
    db: &mut impl Db,
    integration: &str,
    ticket: &str,
) -> Result<Vec<AccessRequestId>, StoreError> {
    let rows = sqlx::query(
        "SELECT r.id FROM access_requests r JOIN request_incidents i ON i.request_id = r.id \
         WHERE i.integration = $1 AND i.ticket = $2 AND r.status = 'pending' ORDER BY r.created_at, r.id",
    )
    .bind(integration.to_owned())
    .bind(ticket.to_owned())
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(|row| get_parsed(row, "id")).collect()
}

/// The grants given for requests bound to `ticket` under `integration` that are neither revoked nor over at `now`
/// (active or scheduled).
pub async fn open_grants(
    db: &mut impl Db,
    integration: &str,
    ticket: &str,
    now: Timestamp,
) -> Result<Vec<GrantId>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.id FROM grants g JOIN request_incidents i ON i.request_id = g.request_id \
         WHERE i.integration = $1 AND i.ticket = $2 AND g.revoked_at IS NULL AND g.ends_at > $3 \
         ORDER BY g.created_at, g.id",
    )
    .bind(integration.to_owned())
    .bind(ticket.to_owned())
    .bind(now.as_millis())
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(|row| get_parsed(row, "id")).collect()
}
