//! The rows a finished session's event log becomes in the store, for reports: read back from the file the
//! recording task wrote, so the index holds exactly what the record holds.

use std::path::Path;

use latch_domain::Timestamp;
use latch_domain::gateway_session::SessionEventEntry;
use latch_recording::read_event_log;
use tracing::warn;

use super::recording::EVENT_LOG_FILE;

/// The largest event log indexed (about 100 000 events); a larger one stays only in the file, with a warning.
const MAX_INDEXED_LOG: u64 = 32 << 20;
/// The longest summary kept in a row; the whole event is in its data.
const MAX_SUMMARY_CHARS: usize = 1000;

/// The entries of the event log in `directory`. A log cut short by a crash gives what it holds; an unreadable or
/// oversized one gives none (the file itself is kept either way).
pub async fn indexed_events(directory: &Path) -> Vec<SessionEventEntry> {
    let path = directory.join(EVENT_LOG_FILE);
    let log = match read_event_log(&path, MAX_INDEXED_LOG).await {
        Ok(log) => log,
        Err(error) => {
            warn!(%error, path = %path.display(), "the session's events are not indexed; the event log is kept");
            return Vec::new();
        }
    };
    let seqs = 0_i64..;
    seqs.zip(log.records)
        .map(|(seq, record)| {
            let event = &record.event;
            SessionEventEntry {
                seq,
                at: Timestamp::from_millis(record.at_ms),
                kind: event.kind().to_owned(),
                channel: event.channel().map(i64::from),
                summary: event.summary().chars().take(MAX_SUMMARY_CHARS).collect(),
                bytes: event.bytes().map(|bytes| i64::try_from(bytes).unwrap_or(i64::MAX)),
                data: event.to_json(),
            }
        })
        .collect()
}
