//! The export task: one per (sink, stream). It reads a batch after the sink's persisted cursor, hands it to the
//! sink, and moves the cursor over it only once the sink took it (at-least-once: a crash or an outage may send a
//! batch again, never skip one). While the sink fails it retries the same position with exponential backoff up to
//! the configured cap. Each sink has its own task, reads through short-lived read connections and never holds one
//! while it waits for the sink, so a failing sink slows neither other sinks, nor requests, nor audit writes.

use super::record::SiemRecord;
use super::sinks::Sink;
use super::stream;
use crate::config::SiemSinkConfig;
use crate::tasks::Task;
use latch_app::{App, ExportStream};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// How often a sink that is caught up looks for new records.
const POLL: Duration = Duration::from_secs(1);
/// A backlog of more than this many batches is logged, at most once per [`BEHIND_LOG_INTERVAL`].
const BEHIND_BATCHES: i64 = 10;
const BEHIND_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Exports `stream` to one sink until shutdown.
#[derive(Debug)]
pub struct SiemExport {
    pub app: App,
    pub sink: SiemSinkConfig,
    pub stream: ExportStream,
}

/// What the task remembers between steps.
#[derive(Debug, Default)]
struct Progress {
    /// The persisted cursor as last read or moved; `None` when it must be read again.
    cursor: Option<i64>,
    /// Failed attempts in a row.
    failures: u32,
    /// When a growing backlog was last logged.
    behind_logged: Option<Instant>,
}

impl Task for SiemExport {
    const NAME: &'static str = "siem-export";

    async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let span = tracing::info_span!("siem", sink = %self.sink.name, stream = self.stream.as_str());
        self.export(shutdown).instrument(span).await
    }
}

impl SiemExport {
    async fn export(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let mut sink = Sink::new(&self.sink)?;
        let mut progress = Progress::default();
        tracing::info!(batch_size = self.sink.batch_size, "exporting to the SIEM sink");
        loop {
            // Stopping between the sink's acknowledgement and the cursor update only means sending that batch again.
            let wait = tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                wait = self.step(&mut sink, &mut progress) => wait,
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Delivers at most one batch; returns how long to wait before the next step.
    async fn step(&self, sink: &mut Sink, progress: &mut Progress) -> Duration {
        let cursor = match progress.cursor {
            Some(cursor) => cursor,
            None => match self.app.export_cursor(&self.sink.name, self.stream).await {
                Ok(cursor) => *progress.cursor.insert(cursor),
                Err(err) => return self.failed(progress, None, &format!("cannot read the cursor: {err}")).await,
            },
        };
        let batch = match stream::read_after(&self.app, self.stream, cursor, self.sink.batch_size).await {
            Ok(batch) => batch,
            Err(err) => return self.failed(progress, Some(cursor), &format!("cannot read the stream: {err}")).await,
        };
        let Some(last) = batch.through() else { return POLL };
        // A read of session events holds whole sessions, so it may exceed the batch size: the sink still gets at
        // most `batch_size` records at a time, and the cursor moves only once it took them all.
        for records in batch.records.chunks(self.sink.batch_size.max(1)) {
            if let Err(reason) = self.deliver(sink, records).await {
                return self.failed(progress, Some(cursor), &reason).await;
            }
        }
        match self.app.advance_export_cursor(&self.sink.name, self.stream, cursor, last).await {
            Ok(true) => progress.cursor = Some(last),
            Ok(false) => {
                tracing::debug!(cursor, last, "another node moved the cursor; reading it again");
                progress.cursor = None;
            }
            Err(err) => {
                progress.cursor = None;
                return self
                    .failed(progress, Some(cursor), &format!("delivered but cannot move the cursor: {err}"))
                    .await;
            }
        }
        if progress.failures > 0 {
            tracing::info!(failed_attempts = progress.failures, delivered_to = last, "the SIEM sink recovered");
            progress.failures = 0;
        }
        if !batch.more {
            return POLL;
        }
        self.log_backlog(progress, last).await;
        Duration::ZERO
    }

    async fn deliver(&self, sink: &mut Sink, records: &[SiemRecord]) -> Result<(), String> {
        match tokio::time::timeout(self.sink.timeout, sink.deliver(records)).await {
            Ok(result) => result.map_err(|err| err.0),
            Err(_) => {
                sink.reset();
                Err(format!("no answer within {} s", self.sink.timeout.as_secs()))
            }
        }
    }

    /// Logs a failed attempt with the backlog it leaves, and returns the backoff before the next one.
    async fn failed(&self, progress: &mut Progress, cursor: Option<i64>, reason: &str) -> Duration {
        progress.failures = progress.failures.saturating_add(1);
        let retry_in = self.sink.retry.delay(progress.failures);
        let backlog = match cursor {
            Some(cursor) => self.app.export_backlog(self.stream, cursor).await.ok(),
            None => None,
        };
        tracing::warn!(
            reason,
            attempt = progress.failures,
            retry_in_ms = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
            backlog,
            "SIEM export failed; will retry"
        );
        retry_in
    }

    /// After a full batch: logs the records still waiting when they are many, at most once a minute.
    async fn log_backlog(&self, progress: &mut Progress, delivered_to: i64) {
        let due = progress.behind_logged.is_none_or(|at| at.elapsed() >= BEHIND_LOG_INTERVAL);
        if !due {
            return;
        }
        let Ok(backlog) = self.app.export_backlog(self.stream, delivered_to).await else { return };
        let batch = i64::try_from(self.sink.batch_size).unwrap_or(i64::MAX);
        if backlog > batch.saturating_mul(BEHIND_BATCHES) {
            let head = self.app.export_head(self.stream).await.ok();
            tracing::warn!(backlog, delivered_to, head, "the SIEM sink is behind the stream");
            progress.behind_logged = Some(Instant::now());
        }
    }
}
