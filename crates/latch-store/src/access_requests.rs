//! Access requests and their approvals.
//!
//! Every change of status is conditional on the request still being pending (`… WHERE status = 'pending'`), and
//! deciders lock the row first ([`find_for_update`]), so concurrent approve, deny and cancel have exactly one winner
//! and N-of-M approvals are counted under the lock.

use crate::codec::{corrupt, get, get_opt_parsed, get_parsed};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::access_request::{AccessRequest, Approval, RequestDetails, RequestStatus};
use latch_domain::{AccessRequestId, GrantId, Timestamp, UserId};
use sqlx::any::AnyRow;
use std::collections::HashMap;

const COLUMNS: &str = "id, requester_id, target_id, account_id, policy_id, starts_at, ends_at, reason, ticket, task, \
     status, approvals_required, approver_group_id, decided_by, decision_comment, decided_at, decide_by, grant_id, \
     created_at";

pub async fn insert(tx: &mut Tx, request: &AccessRequest) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO access_requests ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(request.id.to_string())
        .bind(request.requester.to_string())
        .bind(request.target_id.to_string())
        .bind(request.account_id.to_string())
        .bind(request.policy_id.to_string())
        .bind(request.starts_at.as_millis())
        .bind(request.ends_at.as_millis())
        .bind(request.details.reason.clone())
        .bind(request.details.ticket.clone())
        .bind(request.details.task.clone())
        .bind(request.status.as_str())
        .bind(i64::from(request.approvals_required))
        .bind(request.approver_group.map(|g| g.to_string()))
        .bind(request.decided_by.map(|u| u.to_string()))
        .bind(request.decision_comment.clone())
        .bind(request.decided_at.map(|t| t.as_millis()))
        .bind(request.decide_by.as_millis())
        .bind(request.grant_id.map(|g| g.to_string()))
        .bind(request.created_at.as_millis())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("access request"))?;
    Ok(())
}

pub async fn find(db: &mut impl Db, id: AccessRequestId) -> Result<Option<AccessRequest>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM access_requests WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    let Some(row) = row else { return Ok(None) };
    let mut approvals = approvals_of(db, &[id.to_string()]).await?;
    request_from_row(&row, &mut approvals).map(Some)
}

/// Like [`find`], holding the row lock until `tx` ends (on PostgreSQL; SQLite's write transaction already
/// serializes writers).
pub async fn find_for_update(tx: &mut Tx, id: AccessRequestId) -> Result<Option<AccessRequest>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM access_requests WHERE id = $1{}", crate::db::for_update(tx.backend()));
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(tx.conn()).await?;
    let Some(row) = row else { return Ok(None) };
    let mut approvals = approvals_of(tx, &[id.to_string()]).await?;
    request_from_row(&row, &mut approvals).map(Some)
}

/// Which requests to list; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub requester: Option<UserId>,
    pub status: Option<RequestStatus>,
    pub limit: i64,
    pub offset: i64,
}

/// Requests matching `filter`, newest first.
pub async fn list(db: &mut impl Db, filter: &RequestFilter) -> Result<Vec<AccessRequest>, StoreError> {
    let mut filtered = Filtered::default();
    if let Some(requester) = filter.requester {
        filtered.text("requester_id = {}", requester.to_string());
    }
    if let Some(status) = filter.status {
        filtered.text("status = {}", status.as_str().to_owned());
    }
    let select = format!("SELECT {COLUMNS} FROM access_requests");
    let rows = filtered.fetch_page(db, &select, "created_at DESC, id", filter.limit, filter.offset).await?;
    let ids: Vec<String> = rows.iter().map(|row| get(row, "id")).collect::<Result<_, _>>()?;
    let mut approvals = approvals_of(db, &ids).await?;
    rows.iter().map(|row| request_from_row(row, &mut approvals)).collect()
}

/// Records one approval; `Conflict("approval")` when this approver already approved.
pub async fn add_approval(tx: &mut Tx, id: AccessRequestId, approval: &Approval) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO request_approvals (request_id, approver_id, comment, at) VALUES ($1, $2, $3, $4)")
        .bind(id.to_string())
        .bind(approval.approver.to_string())
        .bind(approval.comment.clone())
        .bind(approval.at.as_millis())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("approval"))?;
    Ok(())
}

/// The final decision on a pending request.
#[derive(Debug, Clone)]
pub struct Resolution<'a> {
    pub status: RequestStatus,
    pub decided_by: Option<UserId>,
    pub comment: Option<&'a str>,
    pub at: Timestamp,
    pub grant_id: Option<GrantId>,
}

/// Moves a pending request to `resolution.status`; false when it was no longer pending (someone else won).
pub async fn resolve_pending(
    tx: &mut Tx,
    id: AccessRequestId,
    resolution: &Resolution<'_>,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE access_requests SET status = $2, decided_by = $3, decision_comment = $4, decided_at = $5, \
         grant_id = $6 WHERE id = $1 AND status = 'pending'",
    )
    .bind(id.to_string())
    .bind(resolution.status.as_str())
    .bind(resolution.decided_by.map(|u| u.to_string()))
    .bind(resolution.comment.map(str::to_owned))
    .bind(resolution.at.as_millis())
    .bind(resolution.grant_id.map(|g| g.to_string()))
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Pending requests whose decision deadline has passed.
pub async fn overdue(db: &mut impl Db, now: Timestamp, limit: i64) -> Result<Vec<AccessRequestId>, StoreError> {
    let rows = sqlx::query(
        "SELECT id FROM access_requests WHERE status = 'pending' AND decide_by <= $1 ORDER BY decide_by LIMIT $2",
    )
    .bind(now.as_millis())
    .bind(limit)
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(|row| get_parsed(row, "id")).collect()
}

async fn approvals_of(db: &mut impl Db, ids: &[String]) -> Result<HashMap<String, Vec<Approval>>, StoreError> {
    let mut by_request: HashMap<String, Vec<Approval>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_request);
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT request_id, approver_id, comment, at FROM request_approvals WHERE request_id IN ({}) ORDER BY at",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(id.clone());
    }
    for row in query.fetch_all(db.conn()).await? {
        let approval = Approval {
            approver: get_parsed(&row, "approver_id")?,
            comment: get(&row, "comment")?,
            at: Timestamp::from_millis(get(&row, "at")?),
        };
        by_request.entry(get(&row, "request_id")?).or_default().push(approval);
    }
    Ok(by_request)
}

fn request_from_row(row: &AnyRow, approvals: &mut HashMap<String, Vec<Approval>>) -> Result<AccessRequest, StoreError> {
    let id: String = get(row, "id")?;
    let status: String = get(row, "status")?;
    let approvals_required: i64 = get(row, "approvals_required")?;
    let reason: String = get(row, "reason")?;
    let ticket: Option<String> = get(row, "ticket")?;
    let task: Option<String> = get(row, "task")?;
    let decided_at: Option<i64> = get(row, "decided_at")?;
    Ok(AccessRequest {
        approvals: approvals.remove(&id).unwrap_or_default(),
        id: id.parse().map_err(corrupt("request id"))?,
        requester: get_parsed(row, "requester_id")?,
        target_id: get_parsed(row, "target_id")?,
        account_id: get_parsed(row, "account_id")?,
        policy_id: get_parsed(row, "policy_id")?,
        starts_at: Timestamp::from_millis(get(row, "starts_at")?),
        ends_at: Timestamp::from_millis(get(row, "ends_at")?),
        details: RequestDetails::new(&reason, ticket.as_deref(), task.as_deref()).map_err(corrupt("request"))?,
        status: RequestStatus::parse(&status).map_err(corrupt("request status"))?,
        approvals_required: u8::try_from(approvals_required)
            .map_err(|_| StoreError::Corrupt("approvals required out of range".to_owned()))?,
        approver_group: get_opt_parsed(row, "approver_group_id")?,
        decided_by: get_opt_parsed(row, "decided_by")?,
        decision_comment: get(row, "decision_comment")?,
        decided_at: decided_at.map(Timestamp::from_millis),
        decide_by: Timestamp::from_millis(get(row, "decide_by")?),
        grant_id: get_opt_parsed(row, "grant_id")?,
        created_at: Timestamp::from_millis(get(row, "created_at")?),
    })
}
