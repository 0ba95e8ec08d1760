//! Recording one gateway session: a directory `<recordings_dir>/<session_id>/` with `events.jsonl` and one
//! `channel-<n>.cast` (asciicast v2) per shell or exec channel.
//!
//! One task per session owns every writer; relays send it commands over a bounded queue, so a slow disk slows the
//! session down instead of growing memory. The task hands buffered lines to the operating system at the latest
//! one second after they were written. The first write error stops the task and cancels [`Recorder::failed`]: the
//! session is then ended with `RecordingFailed` (fail closed), and every later command is refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use latch_app::App;
use latch_domain::gateway_session::SessionEndReason;
use latch_recording::{
    AsciicastHeader, AsciicastWriter, EventLogWriter, RecordingError, SessionEvent, SessionEventRecord,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tracing::{debug, error};

/// Commands waiting for the recording task before relays have to wait.
const COMMAND_BACKLOG: usize = 256;
/// The name of the event log in a session's directory.
pub(crate) const EVENT_LOG_FILE: &str = "events.jsonl";

/// The recording of a session was stopped (a write failed, or the session is over); the caller must end the
/// session or refuse what it was about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordingStopped;

/// The handle relays use to record a session. Cheap to share behind the session.
#[derive(Debug)]
pub(crate) struct Recorder {
    commands: mpsc::Sender<Command>,
    failed: CancellationToken,
}

#[derive(Debug)]
enum Command {
    Event(SessionEvent),
    OpenCast { channel: u32, header: AsciicastHeader, opened: oneshot::Sender<bool> },
    Output { channel: u32, bytes: Vec<u8> },
    Input { channel: u32, bytes: Vec<u8> },
    Resize { channel: u32, cols: u32, rows: u32 },
    CloseCast { channel: u32 },
    Finish { reason: SessionEndReason, finished: oneshot::Sender<bool> },
}

impl Recorder {
    /// Creates `directory` (which must not exist yet; only the gateway's user may enter it) and its event log, and
    /// starts the recording task.
    pub(crate) async fn start(app: App, directory: PathBuf) -> Result<Recorder, RecordingError> {
        if let Some(parent) = directory.parent() {
            private_directory(true).create(parent).await.map_err(|source| create_error(parent, source))?;
        }
        private_directory(false).create(&directory).await.map_err(|source| create_error(&directory, source))?;
        let events = EventLogWriter::create(&directory.join(EVENT_LOG_FILE)).await?;
        Ok(Recorder::spawn(app, directory, events))
    }

    fn spawn(app: App, directory: PathBuf, events: EventLogWriter) -> Recorder {
        let (commands, receiver) = mpsc::channel(COMMAND_BACKLOG);
        let failed = CancellationToken::new();
        let task = RecordingTask { app, directory, events: Some(events), casts: HashMap::new(), receiver };
        tokio::spawn(task.run(failed.clone()));
        Recorder { commands, failed }
    }

    /// Resolves when a write failed; the session must end with `RecordingFailed`.
    pub(crate) fn failed(&self) -> WaitForCancellationFuture<'_> {
        self.failed.cancelled()
    }

    pub(crate) async fn event(&self, event: SessionEvent) -> Result<(), RecordingStopped> {
        self.send(Command::Event(event)).await
    }

    /// Creates `channel-<channel>.cast`; returns only once the file exists with its header, so that nothing is
    /// relayed on a channel whose recording could not be created.
    pub(crate) async fn open_cast(&self, channel: u32, header: AsciicastHeader) -> Result<(), RecordingStopped> {
        let (opened, done) = oneshot::channel();
        self.send(Command::OpenCast { channel, header, opened }).await?;
        match done.await {
            Ok(true) => Ok(()),
            _ => Err(RecordingStopped),
        }
    }

    pub(crate) async fn output(&self, channel: u32, bytes: &[u8]) -> Result<(), RecordingStopped> {
        self.send(Command::Output { channel, bytes: bytes.to_vec() }).await
    }

    pub(crate) async fn input(&self, channel: u32, bytes: &[u8]) -> Result<(), RecordingStopped> {
        self.send(Command::Input { channel, bytes: bytes.to_vec() }).await
    }

    pub(crate) async fn resize(&self, channel: u32, cols: u32, rows: u32) -> Result<(), RecordingStopped> {
        self.send(Command::Resize { channel, cols, rows }).await
    }

    pub(crate) async fn close_cast(&self, channel: u32) -> Result<(), RecordingStopped> {
        self.send(Command::CloseCast { channel }).await
    }

    /// Writes the end event, then finishes (flushes and fsyncs) every file.
    pub(crate) async fn finish(&self, reason: SessionEndReason) -> Result<(), RecordingStopped> {
        let (finished, done) = oneshot::channel();
        self.send(Command::Finish { reason, finished }).await?;
        match done.await {
            Ok(true) => Ok(()),
            _ => Err(RecordingStopped),
        }
    }

    async fn send(&self, command: Command) -> Result<(), RecordingStopped> {
        if self.failed.is_cancelled() {
            return Err(RecordingStopped);
        }
        self.commands.send(command).await.map_err(|_| RecordingStopped)
    }
}

fn private_directory(recursive: bool) -> tokio::fs::DirBuilder {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(recursive).mode(0o700);
    builder
}

fn create_error(path: &Path, source: std::io::Error) -> RecordingError {
    RecordingError::Create { path: path.to_path_buf(), source }
}

/// A cast being written, with the moment its channel started (the cast's time zero).
#[derive(Debug)]
struct Cast {
    writer: AsciicastWriter,
    started: Instant,
}

#[derive(Debug)]
struct RecordingTask {
    app: App,
    directory: PathBuf,
    events: Option<EventLogWriter>,
    casts: HashMap<u32, Cast>,
    receiver: mpsc::Receiver<Command>,
}

impl RecordingTask {
    async fn run(mut self, failed: CancellationToken) {
        if let Err(error) = self.serve().await {
            error!(%error, directory = %self.directory.display(), "session recording failed");
            failed.cancel();
        }
    }

    async fn serve(&mut self) -> Result<(), RecordingError> {
        loop {
            let deadline = self.flush_deadline();
            let command = tokio::select! {
                command = self.receiver.recv() => command,
                () = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    self.flush_due().await?;
                    continue;
                }
            };
            match command {
                // Every relay and the session are gone without finishing: keep what was written.
                None => return self.finish_all(None).await,
                Some(Command::Finish { reason, finished }) => {
                    let outcome = self.finish_all(Some(reason)).await;
                    let _ = finished.send(outcome.is_ok());
                    return outcome;
                }
                Some(command) => self.apply(command).await?,
            }
        }
    }

    async fn apply(&mut self, command: Command) -> Result<(), RecordingError> {
        match command {
            Command::Event(event) => self.record_event(event).await,
            Command::OpenCast { channel, header, opened } => {
                let path = self.directory.join(format!("channel-{channel}.cast"));
                let created = AsciicastWriter::create(&path, &header).await;
                let _ = opened.send(created.is_ok());
                self.casts.insert(channel, Cast { writer: created?, started: Instant::now() });
                Ok(())
            }
            Command::Output { channel, bytes } => match self.casts.get_mut(&channel) {
                Some(cast) => cast.writer.output(cast.started.elapsed(), &bytes).await,
                None => Ok(()),
            },
            Command::Input { channel, bytes } => match self.casts.get_mut(&channel) {
                Some(cast) => cast.writer.input(cast.started.elapsed(), &bytes).await,
                None => Ok(()),
            },
            Command::Resize { channel, cols, rows } => {
                if let Some(cast) = self.casts.get_mut(&channel) {
                    cast.writer.resize(cast.started.elapsed(), cols, rows).await?;
                }
                self.record_event(SessionEvent::WindowChange { cols, rows }).await
            }
            Command::CloseCast { channel } => match self.casts.remove(&channel) {
                Some(cast) => cast.writer.finish().await.map(|summary| debug!(channel, ?summary, "cast finished")),
                None => Ok(()),
            },
            // Handled by `serve`, which stops after it.
            Command::Finish { finished, .. } => {
                let _ = finished.send(false);
                Ok(())
            }
        }
    }

    async fn record_event(&mut self, event: SessionEvent) -> Result<(), RecordingError> {
        let record = SessionEventRecord { at_ms: self.app.now().as_millis(), event };
        match self.events.as_mut() {
            Some(events) => events.record(&record).await,
            None => Err(RecordingError::WriterFailed),
        }
    }

    fn flush_deadline(&self) -> Option<Instant> {
        let events = self.events.as_ref().and_then(EventLogWriter::flush_deadline);
        let casts = self.casts.values().filter_map(|cast| cast.writer.flush_deadline());
        events.into_iter().chain(casts).min()
    }

    async fn flush_due(&mut self) -> Result<(), RecordingError> {
        let now = Instant::now();
        if let Some(events) = self.events.as_mut() {
            events.flush_if_due(now).await?;
        }
        for cast in self.casts.values_mut() {
            cast.writer.flush_if_due(now).await?;
        }
        Ok(())
    }

    /// Finishes every cast, writes the end event when there is a reason, and finishes the event log. Every file
    /// is finished even if an earlier one failed; the first error is returned.
    async fn finish_all(&mut self, reason: Option<SessionEndReason>) -> Result<(), RecordingError> {
        let mut outcome = Ok(());
        for (_, cast) in self.casts.drain() {
            if let Err(error) = cast.writer.finish().await {
                outcome = outcome.and(Err(error));
            }
        }
        if let Some(reason) = reason {
            let ended = SessionEvent::SessionEnded { reason: reason.as_str().to_owned() };
            if let Err(error) = self.record_event(ended).await {
                outcome = outcome.and(Err(error));
            }
        }
        if let Some(events) = self.events.take()
            && let Err(error) = events.finish().await
        {
            outcome = outcome.and(Err(error));
        }
        outcome
    }
}

/// A deadline that never comes, for a disabled `select!` branch.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_recording::{AsciicastEventData, read_asciicast, read_event_log};
    use latch_testkit::app::TestApp;

    fn header() -> AsciicastHeader {
        AsciicastHeader { width: 80, height: 24, timestamp: 0, term: Some("xterm".to_owned()), title: None }
    }

    #[tokio::test]
    async fn records_casts_and_events_and_finishes_them() {
        let test = TestApp::sqlite().await.unwrap();
        let store = tempfile::tempdir().unwrap();
        let directory = store.path().join("recordings").join("session-1");
        let recorder = Recorder::start(test.app.clone(), directory.clone()).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&directory).unwrap().permissions().mode() & 0o777, 0o700);

        recorder.event(SessionEvent::Exec { command: "echo hi".to_owned() }).await.unwrap();
        recorder.open_cast(3, header()).await.unwrap();
        recorder.output(3, b"h").await.unwrap();
        recorder.output(3, b"i\r\n").await.unwrap();
        recorder.input(3, b"typed").await.unwrap();
        recorder.resize(3, 100, 40).await.unwrap();
        recorder.output(9, b"no cast for this channel").await.unwrap();
        recorder.close_cast(3).await.unwrap();
        recorder.finish(SessionEndReason::ClientClosed).await.unwrap();

        let cast = read_asciicast(&directory.join("channel-3.cast"), 1 << 20).await.unwrap();
        let data: Vec<AsciicastEventData> = cast.events.into_iter().map(|event| event.data).collect();
        assert!(data.contains(&AsciicastEventData::Input("typed".to_owned())), "{data:?}");
        assert!(data.contains(&AsciicastEventData::Resize { cols: 100, rows: 40 }), "{data:?}");
        let output: String = data
            .iter()
            .filter_map(|data| match data {
                AsciicastEventData::Output(text) => Some(text.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(output, "hi\r\n");
        let events: Vec<SessionEvent> = read_event_log(&directory.join(EVENT_LOG_FILE), 1 << 20)
            .await
            .unwrap()
            .records
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(
            events,
            vec![
                SessionEvent::Exec { command: "echo hi".to_owned() },
                SessionEvent::WindowChange { cols: 100, rows: 40 },
                SessionEvent::SessionEnded { reason: "client_closed".to_owned() },
            ]
        );
        assert_eq!(recorder.event(SessionEvent::ForwardClosed { channel: 1 }).await, Err(RecordingStopped));
    }

    #[tokio::test]
    async fn lines_reach_the_file_within_about_a_second() {
        let test = TestApp::sqlite().await.unwrap();
        let store = tempfile::tempdir().unwrap();
        let directory = store.path().join("session-2");
        let recorder = Recorder::start(test.app.clone(), directory.clone()).await.unwrap();
        recorder.event(SessionEvent::Exec { command: "uptime".to_owned() }).await.unwrap();
        let deadline = Instant::now() + Duration::from_millis(1500);
        loop {
            let text = tokio::fs::read_to_string(directory.join(EVENT_LOG_FILE)).await.unwrap();
            if text.contains("uptime") {
                break;
            }
            assert!(Instant::now() < deadline, "the event was not flushed within a second");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        drop(recorder);
    }

    #[tokio::test]
    async fn an_existing_or_uncreatable_directory_is_refused() {
        let test = TestApp::sqlite().await.unwrap();
        let store = tempfile::tempdir().unwrap();
        let existing = store.path().join("taken");
        std::fs::create_dir(&existing).unwrap();
        assert!(Recorder::start(test.app.clone(), existing).await.is_err(), "a session never reuses a directory");
        let file = store.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        assert!(Recorder::start(test.app.clone(), file.join("session")).await.is_err());
    }

    #[tokio::test]
    async fn a_write_error_stops_the_recording_and_is_reported() {
        let test = TestApp::sqlite().await.unwrap();
        let full = tokio::fs::OpenOptions::new().write(true).open("/dev/full").await.unwrap();
        let recorder = Recorder::spawn(test.app.clone(), PathBuf::from("/dev/full"), EventLogWriter::from_file(full));
        recorder.event(SessionEvent::Exec { command: "ls".to_owned() }).await.unwrap();
        tokio::time::timeout(Duration::from_secs(3), recorder.failed()).await.expect("the failure is reported");
        assert_eq!(recorder.event(SessionEvent::Exec { command: "ls".to_owned() }).await, Err(RecordingStopped));
        assert_eq!(recorder.finish(SessionEndReason::ClientClosed).await, Err(RecordingStopped));
    }
}
