//! Session events as rows: the index of each finished session's event log, for reports and exporters.

use crate::codec::{get, get_parsed};
use crate::filtered::Filtered;
use crate::{Db, StoreError, Tx};
use latch_domain::gateway_session::{IndexedSessionEvent, SessionEventEntry};
use latch_domain::{GatewaySessionId, Timestamp};
use sqlx::any::AnyRow;

const COLUMNS: &str = "id, session_id, seq, at, kind, channel, summary, bytes, data";

/// Indexes `entries` of session `session`. An entry already indexed (same session and `seq`) is left as it is, so
/// indexing a log again after a crash adds only what is missing. Returns how many rows were added.
pub async fn insert_all(
    tx: &mut Tx,
    session: GatewaySessionId,
    entries: &[SessionEventEntry],
) -> Result<u64, StoreError> {
    let mut added = 0;
    for entry in entries {
        let result = sqlx::query(
            "INSERT INTO session_events (session_id, seq, at, kind, channel, summary, bytes, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (session_id, seq) DO NOTHING",
        )
        .bind(session.to_string())
        .bind(entry.seq)
        .bind(entry.at.as_millis())
        .bind(entry.kind.clone())
        .bind(entry.channel)
        .bind(entry.summary.clone())
        .bind(entry.bytes)
        .bind(entry.data.clone())
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
