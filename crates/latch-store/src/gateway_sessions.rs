//! Gateway sessions: one row per connection to a target, written when it starts and closed once when it ends; then
//! its recording's retention: due after its end plus the policy's days, held, deleted.

use crate::codec::{corrupt, get, get_opt_parsed, get_parsed};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::gateway_session::{GatewaySession, LegalHold, RETENTION_DAY, RecordingRetention, SessionEndReason};
use latch_domain::target::Protocol;
use latch_domain::{GatewaySessionId, GrantId, Timestamp, UserId};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, user_id, username, target_id, target_name, account_id, account_name, grant_id, policy_id, \
     protocol, source, started_at, ended_at, end_reason, bytes_to_target, bytes_from_target, recording, \
     consent_accepted_at, node, recording_retention_days, retain_until, legal_hold_reason, legal_hold_by, \
     legal_hold_at, recording_deleted_at";

pub async fn insert(tx: &mut Tx, session: &GatewaySession) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO gateway_sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
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
        .bind(session.retention.days.map(i64::from))
        .bind(session.retention.retain_until.map(|t| t.as_millis()))
        .bind(session.retention.legal_hold.as_ref().map(|h| h.reason.clone()))
        .bind(session.retention.legal_hold.as_ref().map(|h| h.placed_by.clone()))
        .bind(session.retention.legal_hold.as_ref().map(|h| h.placed_at.as_millis()))
        .bind(session.retention.deleted_at.map(|t| t.as_millis()))
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

/// Closes a live session and sets when its recording becomes due for deletion: its end plus its retention days
/// ([`RecordingRetention::due_at`]; NULL when kept forever); false when it was already closed.
pub async fn end(tx: &mut Tx, id: GatewaySessionId, end: &SessionEnd) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE gateway_sessions SET ended_at = $2, end_reason = $3, bytes_to_target = $4, bytes_from_target = $5, \
         retain_until = $2 + recording_retention_days * $6 WHERE id = $1 AND ended_at IS NULL",
    )
    .bind(id.to_string())
    .bind(end.at.as_millis())
    .bind(end.reason.as_str())
    .bind(end.bytes_to_target)
    .bind(end.bytes_from_target)
    .bind(RETENTION_DAY.as_millis())
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
        "UPDATE gateway_sessions SET ended_at = $2, end_reason = $3, retain_until = $2 + recording_retention_days * $4 \
         WHERE ended_at IS NULL AND node = $1 RETURNING id",
    )
    .bind(node.to_owned())
    .bind(at.as_millis())
    .bind(SessionEndReason::Abandoned.as_str())
    .bind(RETENTION_DAY.as_millis())
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
        // Correlated, so that the newest-first scan stops after a page instead of sorting every tagged session.
        filtered.text(
            "EXISTS (SELECT 1 FROM target_tags WHERE target_tags.target_id = gateway_sessions.target_id \
             AND target_tags.tag = {})",
            tag.clone(),
        );
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

/// A recording the retention sweep may delete: its session ended, its retention ran out, it is on no legal hold
/// and not deleted yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRecording {
    pub session_id: GatewaySessionId,
    /// The recording's path relative to the recordings directory.
    pub recording: String,
    pub retain_until: Timestamp,
}

/// Up to `limit` recordings of sessions run on `node` that are due at `now`, oldest due first, after `after` (the
/// last of the previous page) when given. Served by the partial index `gateway_sessions_recordings_due`.
pub async fn recordings_due(
    db: &mut impl Db,
    node: &str,
    now: Timestamp,
    after: Option<&DueRecording>,
    limit: i64,
) -> Result<Vec<DueRecording>, StoreError> {
    let (after_time, after_id) = match after {
        Some(last) => (last.retain_until.as_millis(), last.session_id.to_string()),
        None => (i64::MIN, String::new()),
    };
    let rows = sqlx::query(
        "SELECT id, recording, retain_until FROM gateway_sessions WHERE node = $1 AND retain_until <= $2 \
         AND recording_deleted_at IS NULL AND legal_hold_at IS NULL AND recording IS NOT NULL \
         AND (retain_until > $3 OR (retain_until = $3 AND id > $4)) ORDER BY retain_until, id LIMIT $5",
    )
    .bind(node.to_owned())
    .bind(now.as_millis())
    .bind(after_time)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db.conn())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(DueRecording {
                session_id: get_parsed(row, "id")?,
                recording: get(row, "recording")?,
                retain_until: Timestamp::from_millis(get(row, "retain_until")?),
            })
        })
        .collect()
}

/// Marks the recording of session `id` deleted at `at`, only if it is still due then, on no legal hold and not
/// marked before; false otherwise. The row stays locked until `tx` ends, so a legal hold placed meanwhile waits
/// for the deletion to commit (and is then refused) or roll back.
pub async fn mark_recording_deleted(tx: &mut Tx, id: GatewaySessionId, at: Timestamp) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE gateway_sessions SET recording_deleted_at = $2 WHERE id = $1 AND retain_until <= $2 \
         AND recording_deleted_at IS NULL AND legal_hold_at IS NULL",
    )
    .bind(id.to_string())
    .bind(at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Places `hold` on the recording of session `id`; false when the session is unknown, already held or its
/// recording was deleted.
pub async fn place_legal_hold(tx: &mut Tx, id: GatewaySessionId, hold: &LegalHold) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE gateway_sessions SET legal_hold_reason = $2, legal_hold_by = $3, legal_hold_at = $4 \
         WHERE id = $1 AND legal_hold_at IS NULL AND recording_deleted_at IS NULL",
    )
    .bind(id.to_string())
    .bind(hold.reason.clone())
    .bind(hold.placed_by.clone())
    .bind(hold.placed_at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Releases the legal hold on session `id` placed at `placed_at`; false when there is no such hold (none, or
/// another one since).
pub async fn release_legal_hold(tx: &mut Tx, id: GatewaySessionId, placed_at: Timestamp) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE gateway_sessions SET legal_hold_reason = NULL, legal_hold_by = NULL, legal_hold_at = NULL \
         WHERE id = $1 AND legal_hold_at = $2",
    )
    .bind(id.to_string())
    .bind(placed_at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
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
        retention: RecordingRetention {
            days: get::<Option<i64>>(row, "recording_retention_days")?
                .map(u32::try_from)
                .transpose()
                .map_err(|_| StoreError::Corrupt("recording retention out of range".to_owned()))?,
            retain_until: optional_time("retain_until")?,
            legal_hold: match optional_time("legal_hold_at")? {
                Some(placed_at) => Some(LegalHold {
                    reason: get::<Option<String>>(row, "legal_hold_reason")?.unwrap_or_default(),
                    placed_by: get::<Option<String>>(row, "legal_hold_by")?.unwrap_or_default(),
                    placed_at,
                }),
                None => None,
            },
            deleted_at: optional_time("recording_deleted_at")?,
        },
    })
}
