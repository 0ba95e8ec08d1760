//! Reading a stream as exported records. Each [`ExportStream`] maps its rows onto the one [`SiemRecord`] envelope,
//! so sinks, framing and cursors do not depend on the stream.

use super::record::SiemRecord;
use latch_app::{App, AppError, ExportStream};

/// What one read of a stream gives the exporter.
#[derive(Debug, Default)]
pub struct Batch {
    /// The records after the cursor, in order; their last `seq` is the position the cursor moves to once the sink
    /// took them all (a read never ends in the middle of one position's records).
    pub records: Vec<SiemRecord>,
    /// Whether more records were waiting beyond this batch (read again at once).
    pub more: bool,
}

impl Batch {
    /// The position everything in the batch is up to.
    pub fn through(&self) -> Option<i64> {
        self.records.last().map(|record| record.seq)
    }
}

/// The records of `stream` after position `after`, in order: at most `limit` audit records; the session events of
/// whole `session.ended` positions, about `limit` (more only when one session alone has more events).
pub async fn read_after(app: &App, stream: ExportStream, after: i64, limit: usize) -> Result<Batch, AppError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    match stream {
        ExportStream::Audit => {
            let records: Vec<SiemRecord> =
                app.audit_records_after(after, limit).await?.iter().map(SiemRecord::from_audit).collect();
            let more = i64::try_from(records.len()).is_ok_and(|read| read >= limit);
            Ok(Batch { records, more })
        }
        ExportStream::SessionEvents => {
            let batch = app.session_events_after(after, limit).await?;
            let records = batch.events.iter().map(SiemRecord::from_session_event).collect();
            Ok(Batch { records, more: batch.more })
        }
    }
}
