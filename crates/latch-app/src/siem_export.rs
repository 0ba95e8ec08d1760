//! What the binary's SIEM exporter asks of the store: the records of a stream after a position, the stream's head,
//! and each sink's persisted cursor. The binary does the formatting and the transports.
//!
//! These are the server's own background reads (like the webhook outbox), so they take no [`crate::Principal`]: no
//! person or script can reach them.

use crate::{App, AppError};
use latch_store::audit::{AuditFilter, AuditRecord};
use latch_store::session_events::ExportBatch;

/// A stream of records the exporter forwards, each at an increasing position.
///
/// Cursors are kept per (sink, stream). A stream's positions must become visible in order (never a position
/// committed after a higher one is readable), or the exporter could pass one before it appears: audit `seq` is
/// allocated under the audit head's row lock, which orders the commits; an id from a database sequence does not
/// have that property by itself. So session events are positioned by the `seq` of the `session.ended` audit record
/// committed with them: all events of one session share it, and a read returns whole positions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStream {
    Audit,
    SessionEvents,
}

impl ExportStream {
    pub const ALL: [ExportStream; 2] = [ExportStream::Audit, ExportStream::SessionEvents];

    /// The stream's name in the cursor table, in the configuration and in exported records.
    pub const fn as_str(self) -> &'static str {
        match self {
            ExportStream::Audit => "audit",
            ExportStream::SessionEvents => "session_events",
        }
    }

    /// The stream named `name`, if there is one.
    pub fn parse(name: &str) -> Option<ExportStream> {
        ExportStream::ALL.into_iter().find(|stream| stream.as_str() == name)
    }
}

impl App {
    /// Audit records after `after_seq`, oldest first, at most `limit` (1 to 10,000).
    pub async fn audit_records_after(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, AppError> {
        let filter =
            AuditFilter { after_seq: Some(after_seq), limit: limit.clamp(1, 10_000), ..AuditFilter::default() };
        let mut conn = self.store().read().await?;
        Ok(latch_store::audit::list(&mut conn, &filter).await?)
    }

    /// Session events whose `session.ended` audit record is after `after_seq`, in (audit seq, session, position)
    /// order, whole audit seqs only, about `max_events` (1 to 10,000; more only when one session alone has more).
    pub async fn session_events_after(&self, after_seq: i64, max_events: i64) -> Result<ExportBatch, AppError> {
        let mut conn = self.store().read().await?;
        Ok(latch_store::session_events::exported_after(&mut conn, after_seq, max_events).await?)
    }

    /// The last position of `stream` (0 when it is empty).
    pub async fn export_head(&self, stream: ExportStream) -> Result<i64, AppError> {
        let mut conn = self.store().read().await?;
        match stream {
            ExportStream::Audit => Ok(latch_store::audit::head_seq(&mut conn).await?),
            ExportStream::SessionEvents => Ok(latch_store::session_events::export_head(&mut conn).await?),
        }
    }

    /// How many records of `stream` wait after position `after`.
    pub async fn export_backlog(&self, stream: ExportStream, after: i64) -> Result<i64, AppError> {
        let mut conn = self.store().read().await?;
        match stream {
            ExportStream::Audit => Ok(latch_store::audit::head_seq(&mut conn).await? - after),
            ExportStream::SessionEvents => Ok(latch_store::session_events::exportable_after(&mut conn, after).await?),
        }
    }

    /// The position up to which `sink` acknowledged `stream` (0 at first, when the cursor is created).
    pub async fn export_cursor(&self, sink: &str, stream: ExportStream) -> Result<i64, AppError> {
        let mut tx = self.store().begin().await?;
        let cursor = latch_store::siem_cursors::get_or_create(&mut tx, sink, stream.as_str()).await?;
        tx.commit().await?;
        Ok(cursor.delivered_seq)
    }

    /// Records that `sink` acknowledged `stream` after `from` up to `to`. False when another node moved the cursor
    /// in between so that this one does not move it (see `latch_store::siem_cursors::advance`): read it again.
    pub async fn advance_export_cursor(
        &self,
        sink: &str,
        stream: ExportStream,
        from: i64,
        to: i64,
    ) -> Result<bool, AppError> {
        let mut tx = self.store().begin().await?;
        let moved = latch_store::siem_cursors::advance(&mut tx, sink, stream.as_str(), from, to, self.now()).await?;
        tx.commit().await?;
        Ok(moved)
    }
}
