//! Reading a stream as exported records. Each [`ExportStream`] maps its rows onto the one [`SiemRecord`] envelope,
//! so sinks, framing and cursors do not depend on the stream. Session events become a second arm here (their id as
//! `seq`) once they are stored in the database; nothing else in the exporter changes.

use super::record::SiemRecord;
use latch_app::{App, AppError, ExportStream};

/// At most `limit` records of `stream` after position `after`, in order.
pub async fn read_after(
    app: &App,
    stream: ExportStream,
    after: i64,
    limit: usize,
) -> Result<Vec<SiemRecord>, AppError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    match stream {
        ExportStream::Audit => {
            Ok(app.audit_records_after(after, limit).await?.iter().map(SiemRecord::from_audit).collect())
        }
    }
}
