//! The audit log: appended in the caller's transaction, chained with a keyed MAC, verified in chunks.

use crate::codec::{get, hex, unhex32};
use crate::{Db, StoreError, Tx};
use latch_domain::Timestamp;
use latch_domain::audit::{AuditActor, AuditEvent, AuditValue, ChainMac, ChainedRecord, GENESIS_LINK};
use serde_json::{Map, Value};
use sqlx::any::AnyRow;

/// One event to append.
#[derive(Debug, Clone, Copy)]
pub struct NewAuditEntry<'a> {
    pub at: Timestamp,
    pub actor: &'a AuditActor,
    pub source: Option<&'a str>,
    pub event: &'a AuditEvent,
}

/// A stored audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: Timestamp,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub actor_name: String,
    pub source: Option<String>,
    pub kind: String,
    /// The event's details as a JSON object, exactly as chained.
    pub details: String,
    /// Hex of this record's chain link.
    pub link: String,
}

/// Which records to list. `kind` matches exactly or, ending in `.`, as a prefix (`user.`).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub actor: Option<String>,
    pub kind: Option<String>,
    pub after_seq: Option<i64>,
    pub limit: i64,
}

/// Something wrong found by verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// Records between `after` and `next` are missing.
    Gap { after: i64, next: i64 },
    /// The record's content or position does not match its link.
    Altered { seq: i64 },
    /// The head does not match the last record: records were removed from the end or the head was edited.
    HeadMismatch { head_seq: i64, last_seq: i64 },
    /// The starting record of a chunk is missing.
    MissingStart { seq: i64 },
}

/// The result of verifying records after `after_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VerifyChunk {
    pub checked: i64,
    pub last_seq: i64,
    pub problems: Vec<AuditProblem>,
    /// True when the chunk reached the end of the log, so the head was checked too.
    pub reached_end: bool,
}

const HEAD_DOMAIN: &[u8] = b"latch-audit-head-v1";

/// Appends `entry` to the chain; the caller's transaction commits it with the change it describes.
pub async fn append(tx: &mut Tx, mac: &dyn ChainMac, entry: NewAuditEntry<'_>) -> Result<i64, StoreError> {
    let sql = format!("SELECT seq, link FROM audit_head WHERE id = 1{}", crate::db::for_update(tx.backend()));
    let head = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(tx.conn()).await?;
    let prev_seq: i64 = get(&head, "seq")?;
    let prev_link = unhex32(&get::<String>(&head, "link")?)?;
    let seq = prev_seq + 1;
    let details = details_json(entry.event);
    let actor_id = entry.actor.id();
    let record = ChainedRecord {
        seq,
        at: entry.at,
        actor_kind: entry.actor.kind(),
        actor_id: actor_id.as_deref(),
        actor_name: entry.actor.name(),
        source: entry.source,
        kind: entry.event.kind(),
        details_json: &details,
    };
    let link = record.link(mac, &prev_link);
    sqlx::query(
        "INSERT INTO audit_events (seq, at, actor_kind, actor_id, actor_name, source, kind, details, link) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(entry.at.as_millis())
    .bind(record.actor_kind)
    .bind(actor_id.clone())
    .bind(record.actor_name.to_owned())
    .bind(entry.source.map(str::to_owned))
    .bind(record.kind)
    .bind(details.clone())
    .bind(hex(&link))
    .execute(tx.conn())
    .await?;
    sqlx::query("UPDATE audit_head SET seq = $1, link = $2, head_mac = $3 WHERE id = 1")
        .bind(seq)
        .bind(hex(&link))
        .bind(hex(&head_mac(mac, seq, &link)))
        .execute(tx.conn())
        .await?;
    Ok(seq)
}

pub async fn list(db: &mut impl Db, filter: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
    // Compared with substr, not LIKE: SQLite's LIKE folds ASCII case and `_` is a wildcard on both backends.
    let kind_prefix = filter.kind.as_ref().filter(|k| k.ends_with('.')).cloned();
    let kind_exact = filter.kind.as_ref().filter(|k| !k.ends_with('.')).cloned();
    let rows = sqlx::query(
        "SELECT seq, at, actor_kind, actor_id, actor_name, source, kind, details, link FROM audit_events \
         WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR at < $2) AND ($3 IS NULL OR actor_name = $3) \
         AND ($4 IS NULL OR kind = $4) AND ($5 IS NULL OR substr(kind, 1, length($5)) = $5) AND seq > $6 ORDER BY seq LIMIT $7",
    )
    .bind(filter.from.map(|t| t.as_millis()))
    .bind(filter.to.map(|t| t.as_millis()))
    .bind(filter.actor.clone())
    .bind(kind_exact)
    .bind(kind_prefix)
    .bind(filter.after_seq.unwrap_or(0))
    .bind(filter.limit.clamp(1, 10_000))
    .fetch_all(db.conn())
    .await?;
    rows.iter().map(from_row).collect()
}

/// The number of records and the current head sequence number.
pub async fn head_seq(db: &mut impl Db) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT seq FROM audit_head WHERE id = 1").fetch_one(db.conn()).await?;
    get(&row, "seq")
}

/// Verifies up to `limit` records after `after_seq` (0 = from the start) against their links,
/// and the head when the end is reached.
pub async fn verify_chunk(
    db: &mut impl Db,
    mac: &dyn ChainMac,
    after_seq: i64,
    limit: i64,
) -> Result<VerifyChunk, StoreError> {
    let mut chunk = VerifyChunk { last_seq: after_seq, ..VerifyChunk::default() };
    let mut prev_link = if after_seq <= 0 {
        GENESIS_LINK
    } else {
        let start = sqlx::query("SELECT link FROM audit_events WHERE seq = $1")
            .bind(after_seq)
            .fetch_optional(db.conn())
            .await?;
        match start {
            Some(row) => unhex32(&get::<String>(&row, "link")?)?,
            None => {
                chunk.problems.push(AuditProblem::MissingStart { seq: after_seq });
                return Ok(chunk);
            }
        }
    };
    let limit = limit.clamp(1, 50_000);
    let records = list(db, &AuditFilter { after_seq: Some(after_seq), limit, ..AuditFilter::default() }).await?;
    for record in &records {
        if record.seq != chunk.last_seq + 1 {
            chunk.problems.push(AuditProblem::Gap { after: chunk.last_seq, next: record.seq });
        }
        let stored_link = unhex32(&record.link).unwrap_or([0xff; 32]);
        if record_link(record, mac, &prev_link) != stored_link {
            chunk.problems.push(AuditProblem::Altered { seq: record.seq });
        }
        prev_link = stored_link;
        chunk.last_seq = record.seq;
        chunk.checked += 1;
    }
    if (records.len() as i64) < limit {
        chunk.reached_end = true;
        let head = sqlx::query("SELECT seq, link, head_mac FROM audit_head WHERE id = 1").fetch_one(db.conn()).await?;
        let head_seq: i64 = get(&head, "seq")?;
        let head_link = get::<String>(&head, "link")?;
        let head_mac_stored = get::<String>(&head, "head_mac")?;
        let expected_mac =
            if head_seq == 0 { String::new() } else { hex(&head_mac(mac, head_seq, &unhex32(&head_link)?)) };
        let head_ok = head_seq == chunk.last_seq && head_link == hex(&prev_link) && head_mac_stored == expected_mac;
        if !head_ok {
            chunk.problems.push(AuditProblem::HeadMismatch { head_seq, last_seq: chunk.last_seq });
        }
    }
    Ok(chunk)
}

fn record_link(record: &AuditRecord, mac: &dyn ChainMac, prev: &[u8; 32]) -> [u8; 32] {
    ChainedRecord {
        seq: record.seq,
        at: record.at,
        actor_kind: &record.actor_kind,
        actor_id: record.actor_id.as_deref(),
        actor_name: &record.actor_name,
        source: record.source.as_deref(),
        kind: &record.kind,
        details_json: &record.details,
    }
    .link(mac, prev)
}

fn head_mac(mac: &dyn ChainMac, seq: i64, link: &[u8; 32]) -> [u8; 32] {
    let mut bytes = HEAD_DOMAIN.to_vec();
    bytes.extend_from_slice(&seq.to_be_bytes());
    mac.link(link, &bytes)
}

/// The details of an event as a JSON object with sorted keys.
pub fn details_json(event: &AuditEvent) -> String {
    let mut map = Map::new();
    for (name, value) in event.fields() {
        let value = match value {
            AuditValue::Text(text) => Value::String(text),
            AuditValue::Int(n) => Value::from(n),
            AuditValue::Bool(b) => Value::Bool(b),
            AuditValue::List(items) => Value::Array(items.into_iter().map(Value::String).collect()),
        };
        map.insert(name.to_owned(), value);
    }
    Value::Object(map).to_string()
}

pub(crate) fn from_row(row: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: get(row, "seq")?,
        at: Timestamp::from_millis(get(row, "at")?),
        actor_kind: get(row, "actor_kind")?,
        actor_id: get(row, "actor_id")?,
        actor_name: get(row, "actor_name")?,
        source: get(row, "source")?,
        kind: get(row, "kind")?,
        details: get(row, "details")?,
        link: get(row, "link")?,
    })
}
