//! Session events as rows: the index of each finished session's event log, for reports and exporters.
//!
//! The SIEM exporter follows them by `audit_seq`, the sequence number of the `session.ended` audit record written in
//! the transaction that indexed them: audit sequence numbers become visible in commit order (the audit head's row
//! lock orders their transactions), so a cursor over them never passes a row that commits later.

use crate::codec::{get, get_parsed};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::gateway_session::{IndexedSessionEvent, SessionEventEntry};
use latch_domain::{GatewaySessionId, Timestamp};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, session_id, seq, at, kind, channel, summary, bytes, data";

/// Indexes `entries` of session `session`. An entry already indexed (same session and `seq`) is left as it is, so
/// indexing a log again after a crash adds only what is missing. Returns how many rows were added. Rows added this
/// way carry no audit sequence number and are not exported; see [`insert_all_exported`].
pub async fn insert_all(
    tx: &mut Tx,
    session: GatewaySessionId,
    entries: &[SessionEventEntry],
) -> Result<u64, StoreError> {
    insert_rows(tx, session, None, entries).await
}

/// Like [`insert_all`], stamping each added row with `audit_seq`, the sequence number of the `session.ended` audit
/// record appended in this same transaction (which is what makes the rows exportable in commit order). Rows indexed
/// before keep their own number.
pub async fn insert_all_exported(
    tx: &mut Tx,
    session: GatewaySessionId,
    audit_seq: i64,
    entries: &[SessionEventEntry],
) -> Result<u64, StoreError> {
    insert_rows(tx, session, Some(audit_seq), entries).await
}

async fn insert_rows(
    tx: &mut Tx,
    session: GatewaySessionId,
    audit_seq: Option<i64>,
    entries: &[SessionEventEntry],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for entry in entries {
        let result = sqlx::query(
            "INSERT INTO session_events (session_id, seq, at, kind, channel, summary, bytes, data, audit_seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (session_id, seq) DO NOTHING",
        )
        .bind(session.to_string())
        .bind(entry.seq)
        .bind(entry.at.as_millis())
        .bind(entry.kind.clone())
        .bind(entry.channel)
        .bind(entry.summary.clone())
        .bind(entry.bytes)
        .bind(entry.data.clone())
        .bind(audit_seq)
        .execute(tx.conn())
        .await
        .map_err(StoreError::on_write("session event"))?;
        added += result.rows_affected();
    }
    Ok(added)
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub session: Option<GatewaySessionId>,
    pub kind: Option<String>,
    /// Events at or after this time.
    pub from: Option<Timestamp>,
    /// Events before this time.
    pub to: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

/// Events matching `filter`: one session's in log order, or, over all sessions, newest first.
pub async fn list(db: &mut impl Db, filter: &EventFilter) -> Result<Vec<IndexedSessionEvent>, StoreError> {
    let mut filtered = Filtered::default();
    if let Some(session) = filter.session {
        filtered.text("session_id = {}", session.to_string());
    }
    if let Some(kind) = &filter.kind {
        filtered.text("kind = {}", kind.clone());
    }
    if let Some(from) = filter.from {
        filtered.int("at >= {}", from.as_millis());
    }
    if let Some(to) = filter.to {
        filtered.int("at < {}", to.as_millis());
    }
    let order = if filter.session.is_some() { "seq" } else { "at DESC, id DESC" };
    let select = format!("SELECT {COLUMNS} FROM session_events");
    let rows = filtered.fetch_page(db, &select, order, filter.limit, filter.offset).await?;
    rows.iter().map(event_from_row).collect()
}

fn event_from_row(row: &AnyRow) -> Result<IndexedSessionEvent, StoreError> {
    Ok(IndexedSessionEvent {
        id: get(row, "id")?,
        session_id: get_parsed(row, "session_id")?,
        entry: SessionEventEntry {
            seq: get(row, "seq")?,
            at: Timestamp::from_millis(get(row, "at")?),
            kind: get(row, "kind")?,
            channel: get(row, "channel")?,
            summary: get(row, "summary")?,
            bytes: get(row, "bytes")?,
            data: get(row, "data")?,
        },
    })
}

/// A session event as the SIEM exporter sends it: the row with the session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedSessionEvent {
    /// The sequence number of the session's `session.ended` audit record: the event's export position.
    pub audit_seq: i64,
    pub session_id: String,
    /// The event's position in its session's event log, from 0.
    pub position: i64,
    pub at: Timestamp,
    pub kind: String,
    pub channel: Option<i64>,
    pub summary: String,
    pub bytes: Option<i64>,
    /// The whole event as JSON, as stored.
    pub data: String,
    pub user_id: String,
    pub username: String,
    pub target_id: String,
    pub target_name: String,
    pub account_id: String,
    pub account_name: String,
    pub protocol: String,
    pub node: String,
    pub source: Option<String>,
}

/// One read of the export stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportBatch {
    /// Every event of each audit sequence number it covers, in (audit_seq, session, position) order.
    pub events: Vec<ExportedSessionEvent>,
    /// Whether events after the last covered audit sequence number were left for the next read.
    pub more: bool,
}

/// The events with an audit sequence number after `after_seq`, whole sequence numbers only: the first number's
/// events all, then each next number's events while the batch stays within `max_events` (1 to 10,000). So the batch
/// exceeds `max_events` only when one session alone has more events, and its last `audit_seq` is a position every
/// event up to which is in it.
pub async fn exported_after(db: &mut impl Db, after_seq: i64, max_events: i64) -> Result<ExportBatch, StoreError> {
    let max_events = max_events.clamp(1, 10_000);
    // Every number has at least one event, so `max_events + 1` numbers are enough to fill the batch and see beyond.
    let counts = sqlx::query(
        "SELECT audit_seq, COUNT(*) AS events FROM session_events WHERE audit_seq > $1 \
         GROUP BY audit_seq ORDER BY audit_seq LIMIT $2",
    )
    .bind(after_seq)
    .bind(max_events + 1)
    .fetch_all(db.conn())
    .await?;
    let mut through = None;
    let mut taken = 0_i64;
    let mut more = false;
    for row in &counts {
        let seq: i64 = get(row, "audit_seq")?;
        let events: i64 = get(row, "events")?;
        if through.is_some() && taken + events > max_events {
            more = true;
            break;
        }
        through = Some(seq);
        taken += events;
    }
    let Some(through) = through else { return Ok(ExportBatch::default()) };
    let rows = sqlx::query(
        "SELECT e.audit_seq, e.session_id, e.seq, e.at, e.kind, e.channel, e.summary, e.bytes, e.data, \
         s.user_id, s.username, s.target_id, s.target_name, s.account_id, s.account_name, s.protocol, s.node, \
         s.source FROM session_events e JOIN gateway_sessions s ON s.id = e.session_id \
         WHERE e.audit_seq > $1 AND e.audit_seq <= $2 ORDER BY e.audit_seq, e.session_id, e.seq",
    )
    .bind(after_seq)
    .bind(through)
    .fetch_all(db.conn())
    .await?;
    let events = rows.iter().map(exported_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(ExportBatch { events, more })
}

/// The highest audit sequence number of an exportable event (0 when there is none).
pub async fn export_head(db: &mut impl Db) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT MAX(audit_seq) AS head FROM session_events").fetch_one(db.conn()).await?;
    Ok(get::<Option<i64>>(&row, "head")?.unwrap_or(0))
}

/// How many exportable events have an audit sequence number after `after_seq`.
pub async fn exportable_after(db: &mut impl Db, after_seq: i64) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT COUNT(*) AS events FROM session_events WHERE audit_seq > $1")
        .bind(after_seq)
        .fetch_one(db.conn())
        .await?;
    get(&row, "events")
}

fn exported_from_row(row: &AnyRow) -> Result<ExportedSessionEvent, StoreError> {
    Ok(ExportedSessionEvent {
        audit_seq: get(row, "audit_seq")?,
        session_id: get(row, "session_id")?,
        position: get(row, "seq")?,
        at: Timestamp::from_millis(get(row, "at")?),
        kind: get(row, "kind")?,
        channel: get(row, "channel")?,
        summary: get(row, "summary")?,
        bytes: get(row, "bytes")?,
        data: get(row, "data")?,
        user_id: get(row, "user_id")?,
        username: get(row, "username")?,
        target_id: get(row, "target_id")?,
        target_name: get(row, "target_name")?,
        account_id: get(row, "account_id")?,
        account_name: get(row, "account_name")?,
        protocol: get(row, "protocol")?,
        node: get(row, "node")?,
        source: get(row, "source")?,
    })
}
