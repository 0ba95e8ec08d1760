//! Gateway sessions: one row per connection to a target, written when it starts and closed once when it ends.

use crate::codec::{corrupt, get, get_opt_parsed, get_parsed};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::gateway_session::{GatewaySession, SessionEndReason};
use latch_domain::target::Protocol;
use latch_domain::{GatewaySessionId, GrantId, Timestamp, UserId};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, user_id, username, target_id, target_name, account_id, account_name, grant_id, policy_id, \
     protocol, source, started_at, ended_at, end_reason, bytes_to_target, bytes_from_target, recording, \
     consent_accepted_at, node";

pub async fn insert(tx: &mut Tx, session: &GatewaySession) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO gateway_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(session.id.to_string())
        .bind(session.user_id.to_string())
        .bind(session.username.clone())
        .bind(session.target_id.to_string())
        .bind(session.target_name.clone())
        .bind(session.account_id.to_string())
        .bind(session.account_name.clone())
        .bind(session.grant_id.map(|g| g.to_string()))
        .bind(session.policy_id.to_string())
        .bind(session.protocol.as_str())
        .bind(session.source.clone())
        .bind(session.started_at.as_millis())
        .bind(session.ended_at.map(|t| t.as_millis()))
        .bind(session.end_reason.map(|r| r.as_str()))
        .bind(session.bytes_to_target)
        .bind(session.bytes_from_target)
        .bind(session.recording.clone())
        .bind(session.consent_accepted_at.map(|t| t.as_millis()))
        .bind(session.node.clone())
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("gateway session"))?;
    Ok(())
}

/// How a session ended.
#[derive(Debug, Clone, Copy)]
pub struct SessionEnd {
    pub at: Timestamp,
    pub reason: SessionEndReason,
    pub bytes_to_target: i64,
    pub bytes_from_target: i64,
}

/// Closes a live session; false when it was already closed.
pub async fn end(tx: &mut Tx, id: GatewaySessionId, end: &SessionEnd) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE gateway_sessions SET ended_at = $2, end_reason = $3, bytes_to_target = $4, bytes_from_target = $5 \
         WHERE id = $1 AND ended_at IS NULL",
    )
    .bind(id.to_string())
    .bind(end.at.as_millis())
    .bind(end.reason.as_str())
    .bind(end.bytes_to_target)
    .bind(end.bytes_from_target)
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Closes every session still open on `node` (after a restart nothing of them survives); returns their ids.
///
/// One conditional `UPDATE … RETURNING`, so the ids are exactly the sessions this call closed: a session another
/// transaction ends meanwhile (or starts on the node) cannot be reported as abandoned without being closed here, or
/// closed without being reported.
pub async fn end_abandoned(tx: &mut Tx, node: &str, at: Timestamp) -> Result<Vec<GatewaySessionId>, StoreError> {
    let rows = sqlx::query(
        "UPDATE gateway_sessions SET ended_at = $2, end_reason = $3 WHERE ended_at IS NULL AND node = $1 RETURNING id",
    )
    .bind(node.to_owned())
    .bind(at.as_millis())
    .bind(SessionEndReason::Abandoned.as_str())
    .fetch_all(tx.conn())
    .await?;
    rows.iter().map(|row| get_parsed(row, "id")).collect()
}

pub async fn find(db: &mut impl Db, id: GatewaySessionId) -> Result<Option<GatewaySession>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM gateway_sessions WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(db.conn()).await?;
    row.as_ref().map(session_from_row).transpose()
}

/// Which sessions to list. Every present field narrows the list; the indexes of migration 0009 serve each of them
/// together with the time range.
#[derive(Debug, Clone, Default)]
pub struct SessionFilter {
    pub live_only: bool,
    pub user: Option<UserId>,
    pub grant: Option<GrantId>,
    /// The Latch user's name, as it was when the session started.
    pub username: Option<String>,
    /// The target's name, as it was when the session started.
    pub target: Option<String>,
    /// The target's address (host name or IP) as it is now.
    pub host: Option<String>,
    /// A tag the target carries now.
    pub tag: Option<String>,
    pub protocol: Option<Protocol>,
    pub end_reason: Option<SessionEndReason>,
    /// Sessions started at or after this time.
    pub started_from: Option<Timestamp>,
    /// Sessions started before this time.
    pub started_to: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

/// Sessions matching `filter`, newest first.
pub async fn list(db: &mut impl Db, filter: &SessionFilter) -> Result<Vec<GatewaySession>, StoreError> {
    let mut filtered = Filtered::default();
    if filter.live_only {
        filtered.always("ended_at IS NULL");
    }
    if let Some(user) = filter.user {
        filtered.text("user_id = {}", user.to_string());
    }
    if let Some(grant) = filter.grant {
        filtered.text("grant_id = {}", grant.to_string());
    }
    if let Some(username) = &filter.username {
        filtered.text("username = {}", username.clone());
    }
    if let Some(target) = &filter.target {
        filtered.text("target_name = {}", target.clone());
    }
    if let Some(host) = &filter.host {
        filtered.text("target_id IN (SELECT id FROM targets WHERE address = {})", host.clone());
    }
    if let Some(tag) = &filter.tag {
        filtered.text("target_id IN (SELECT target_id FROM target_tags WHERE tag = {})", tag.clone());
    }
    if let Some(protocol) = filter.protocol {
        filtered.text("protocol = {}", protocol.as_str().to_owned());
    }
    if let Some(reason) = filter.end_reason {
        filtered.text("end_reason = {}", reason.as_str().to_owned());
    }
    if let Some(from) = filter.started_from {
        filtered.int("started_at >= {}", from.as_millis());
    }
    if let Some(to) = filter.started_to {
        filtered.int("started_at < {}", to.as_millis());
    }
    let select = format!("SELECT {COLUMNS} FROM gateway_sessions");
    let rows = filtered.fetch_page(db, &select, "started_at DESC, id", filter.limit, filter.offset).await?;
    rows.iter().map(session_from_row).collect()
}

fn session_from_row(row: &AnyRow) -> Result<GatewaySession, StoreError> {
    let protocol: String = get(row, "protocol")?;
    let end_reason: Option<String> = get(row, "end_reason")?;
    let optional_time = |column: &str| -> Result<Option<Timestamp>, StoreError> {
        Ok(get::<Option<i64>>(row, column)?.map(Timestamp::from_millis))
    };
    Ok(GatewaySession {
        id: get_parsed(row, "id")?,
        user_id: get_parsed(row, "user_id")?,
        username: get(row, "username")?,
        target_id: get_parsed(row, "target_id")?,
        target_name: get(row, "target_name")?,
        account_id: get_parsed(row, "account_id")?,
        account_name: get(row, "account_name")?,
        grant_id: get_opt_parsed(row, "grant_id")?,
        policy_id: get_parsed(row, "policy_id")?,
        protocol: Protocol::parse(&protocol).map_err(corrupt("protocol"))?,
        source: get(row, "source")?,
        started_at: Timestamp::from_millis(get(row, "started_at")?),
        ended_at: optional_time("ended_at")?,
        end_reason: end_reason.map(|r| SessionEndReason::parse(&r)).transpose().map_err(corrupt("end reason"))?,
        bytes_to_target: get(row, "bytes_to_target")?,
        bytes_from_target: get(row, "bytes_from_target")?,
        recording: get(row, "recording")?,
        consent_accepted_at: optional_time("consent_accepted_at")?,
        node: get(row, "node")?,
    })
}
