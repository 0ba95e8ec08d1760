//! SIEM export cursors: for each (sink, stream), the position up to which the sink acknowledged delivery.
//!
//! A stream is named by the caller (`"audit"` today; session events later, keyed by their own increasing id) and its
//! positions increase. A cursor only moves forward, and only over what its caller delivered: [`advance`] is a
//! conditional update, so several nodes exporting to the same sink from one database never move it backwards and
//! never past a record nobody delivered.

use crate::codec::get;
use crate::{Db, StoreError, Tx};
use latch_domain::Timestamp;
use sqlx::any::AnyRow;

/// Where one sink is in one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiemCursor {
    pub sink: String,
    pub stream: String,
    /// Everything up to and including this position was acknowledged by the sink (0: nothing yet).
    pub delivered_seq: i64,
    /// When the cursor last moved; `None` before the first delivery.
    pub delivered_at: Option<Timestamp>,
}

/// The cursor of `sink` in `stream`, created at 0 the first time it is asked for.
pub async fn get_or_create(tx: &mut Tx, sink: &str, stream: &str) -> Result<SiemCursor, StoreError> {
    sqlx::query(
        "INSERT INTO siem_cursors (sink, stream, delivered_seq) VALUES ($1, $2, 0) \
         ON CONFLICT (sink, stream) DO NOTHING",
    )
    .bind(sink.to_owned())
    .bind(stream.to_owned())
    .execute(tx.conn())
    .await?;
    find(tx, sink, stream).await?.ok_or(StoreError::NotFound("siem cursor"))
}

pub async fn find(db: &mut impl Db, sink: &str, stream: &str) -> Result<Option<SiemCursor>, StoreError> {
    let row = sqlx::query(
        "SELECT sink, stream, delivered_seq, delivered_at FROM siem_cursors WHERE sink = $1 AND stream = $2",
    )
    .bind(sink.to_owned())
    .bind(stream.to_owned())
    .fetch_optional(db.conn())
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Every cursor, by sink and stream.
pub async fn list(db: &mut impl Db) -> Result<Vec<SiemCursor>, StoreError> {
    let rows = sqlx::query("SELECT sink, stream, delivered_seq, delivered_at FROM siem_cursors ORDER BY sink, stream")
        .fetch_all(db.conn())
        .await?;
    rows.iter().map(from_row).collect()
}

/// Moves the cursor to `to` after the sink acknowledged the positions after `from` up to `to`; false when it did not
/// move.
///
/// It moves only when the stored position is at least `from` (so everything up to `to` is delivered: up to the
/// stored position by whoever moved it there, the rest by this caller) and below `to` (so it never goes backwards).
/// A caller that gets false lost a race with another node: it reads the cursor again and goes on from there.
pub async fn advance(
    tx: &mut Tx,
    sink: &str,
    stream: &str,
    from: i64,
    to: i64,
    at: Timestamp,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE siem_cursors SET delivered_seq = $4, delivered_at = $5 \
         WHERE sink = $1 AND stream = $2 AND delivered_seq >= $3 AND delivered_seq < $4",
    )
    .bind(sink.to_owned())
    .bind(stream.to_owned())
    .bind(from)
    .bind(to)
    .bind(at.as_millis())
    .execute(tx.conn())
    .await?;
    Ok(result.rows_affected() == 1)
}

fn from_row(row: &AnyRow) -> Result<SiemCursor, StoreError> {
    Ok(SiemCursor {
        sink: get(row, "sink")?,
        stream: get(row, "stream")?,
        delivered_seq: get(row, "delivered_seq")?,
        delivered_at: get::<Option<i64>>(row, "delivered_at")?.map(Timestamp::from_millis),
    })
}
