//! Recording one gateway session: a directory `<recordings_dir>/<session_id>/` with `events.jsonl` and, per shell
//! or exec channel, `channel-<n>.cast` (asciicast v2) when the channel has a terminal, or `channel-<n>.stream` (a
//! byte-exact latch byte stream, which keeps standard error apart) when it has none.
//!
//! One task per session owns every writer; relays send it commands over a bounded queue, so a slow disk slows the
//! session down instead of growing memory. The task hands buffered lines to the operating system at the latest
//! one second after they were written. It also keeps the spool's free-space reserve: below it (checked every
//! second and every MiB written) the recording stops as if a write had failed.
//!
//! The first write error stops the task, which then finishes and seals what it has (so the recording up to the
//! loss stays verifiable), and cancels [`Recorder::failed`]. What follows depends on the policy:
//! - the recording is required (strict, the default): the session is ended with `RecordingFailed` (fail closed),
//!   and every later command is refused;
//! - it is not: the supervisor audits the loss and the session goes on unrecorded; later commands are dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use latch_app::App;
use latch_domain::gateway_session::SessionEndReason;
use latch_recording::{
    AsciicastHeader, AsciicastWriter, ByteStreamHeader, ByteStreamWriter, EventLogWriter, ManifestFile, RecordingError,
    SessionEvent, SessionEventRecord, SpoolReserve, StreamKind,
};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior, interval, sleep_until};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tracing::{debug, error, warn};

use super::seal::Seal;

/// Commands waiting for the recording task before relays have to wait.
const COMMAND_BACKLOG: usize = 256;
/// The name of the event log in a session's directory.
pub(crate) const EVENT_LOG_FILE: &str = "events.jsonl";
/// How often the spool's free space is checked while nothing much is written.
const RESERVE_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How many recorded bytes between two checks of the spool's free space.
const RESERVE_CHECK_BYTES: usize = 1 << 20;
/// The end reason a recording sealed after its loss gives in its manifest.
const LOST_END_REASON: &str = "recording_failed";

/// What a session's recording must do, from its policy and the node's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordingTerms {
    /// The policy requires the recording: losing it ends the session.
    pub(crate) required: bool,
    /// The free space the spool keeps.
    pub(crate) reserve: SpoolReserve,
}

/// The recording of a session was stopped (a write failed, or the session is over); the caller must end the
/// session or refuse what it was about to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecordingStopped;

/// The handle relays use to record a session. Cheap to share behind the session.
#[derive(Debug)]
pub(crate) struct Recorder {
    commands: mpsc::Sender<Command>,
    failed: CancellationToken,
    /// Why the recording stopped, set before `failed` is cancelled.
    cause: Arc<OnceLock<String>>,
    directory: PathBuf,
    required: bool,
}

#[derive(Debug)]
enum Command {
    Event(SessionEvent),
    Open { channel: u32, format: ChannelFormat, opened: oneshot::Sender<bool> },
    Write { channel: u32, kind: StreamKind, bytes: Vec<u8> },
    Resize { channel: u32, cols: u32, rows: u32 },
    Close { channel: u32 },
    Finish { reason: SessionEndReason, finished: oneshot::Sender<bool> },
}

impl Recorder {
    /// Creates `directory` (which must not exist yet; only the gateway's user may enter it) and its event log, and
    /// starts the recording task. Refused when the spool is below its reserve. When the session is finished, `seal`
    /// signs the manifest of what was written.
    pub(crate) async fn start(
        app: App,
        directory: PathBuf,
        seal: Seal,
        terms: RecordingTerms,
    ) -> Result<Recorder, RecordingError> {
        if let Some(parent) = directory.parent() {
            private_directory(true).create(parent).await.map_err(|source| create_error(parent, source))?;
            terms.reserve.check(parent)?;
        }
        private_directory(false).create(&directory).await.map_err(|source| create_error(&directory, source))?;
        let events = EventLogWriter::create(&directory.join(EVENT_LOG_FILE)).await?;
        Ok(Recorder::spawn(app, directory, events, seal, terms))
    }

    /// The recorder of a session that goes on without a recording (its policy does not require one, and it could
    /// not be started for `cause`): already failed, every command dropped.
    pub(crate) fn unrecorded(directory: PathBuf, cause: String) -> Recorder {
        let (commands, _) = mpsc::channel(1);
        let failed = CancellationToken::new();
        failed.cancel();
        Recorder { commands, failed, cause: Arc::new(OnceLock::from(cause)), directory, required: false }
    }

    fn spawn(app: App, directory: PathBuf, events: EventLogWriter, seal: Seal, terms: RecordingTerms) -> Recorder {
        let (commands, receiver) = mpsc::channel(COMMAND_BACKLOG);
        let failed = CancellationToken::new();
        let cause = Arc::new(OnceLock::new());
        let task = RecordingTask {
            app,
            directory: directory.clone(),
            events: Some(events),
            channels: HashMap::new(),
            receiver,
            seal,
            finished: Vec::new(),
            reserve: terms.reserve,
            unchecked_bytes: 0,
        };
        tokio::spawn(task.run(failed.clone(), cause.clone()));
        Recorder { commands, failed, cause, directory, required: terms.required }
    }

    /// The session's recording directory.
    pub(crate) fn directory(&self) -> &Path {
        &self.directory
    }

    /// Resolves when the recording stopped (a write failed, or the spool fell below its reserve); when it is
    /// [`Recorder::required`], the session must end with `RecordingFailed`.
    pub(crate) fn failed(&self) -> WaitForCancellationFuture<'_> {
        self.failed.cancelled()
    }

    /// Whether losing the recording ends the session.
    pub(crate) fn required(&self) -> bool {
        self.required
    }

    /// Why the recording stopped, once it has.
    pub(crate) fn loss_cause(&self) -> &str {
        self.cause.get().map_or("the recording stopped", String::as_str)
    }

    pub(crate) async fn event(&self, event: SessionEvent) -> Result<(), RecordingStopped> {
        self.send(Command::Event(event)).await
    }

    /// Creates the channel's recording file; returns only once the file exists with its header, so that nothing
    /// is relayed on a channel whose recording could not be created.
    pub(crate) async fn open_channel(&self, channel: u32, format: ChannelFormat) -> Result<(), RecordingStopped> {
        let (opened, done) = oneshot::channel();
        self.send(Command::Open { channel, format, opened }).await?;
        match done.await {
            Ok(true) => Ok(()),
            _ => self.stopped(),
        }
    }

    /// Records what the target sent (`Output` or `ErrorOutput`) or what the person sent (`Input`).
    pub(crate) async fn write(&self, channel: u32, kind: StreamKind, bytes: &[u8]) -> Result<(), RecordingStopped> {
        self.send(Command::Write { channel, kind, bytes: bytes.to_vec() }).await
    }

    pub(crate) async fn resize(&self, channel: u32, cols: u32, rows: u32) -> Result<(), RecordingStopped> {
        self.send(Command::Resize { channel, cols, rows }).await
    }

    pub(crate) async fn close_channel(&self, channel: u32) -> Result<(), RecordingStopped> {
        self.send(Command::Close { channel }).await
    }

    /// Writes the end event, then finishes (flushes and fsyncs) every file.
    pub(crate) async fn finish(&self, reason: SessionEndReason) -> Result<(), RecordingStopped> {
        let (finished, done) = oneshot::channel();
        self.send(Command::Finish { reason, finished }).await?;
        match done.await {
            Ok(true) => Ok(()),
            _ => self.stopped(),
        }
    }

    async fn send(&self, command: Command) -> Result<(), RecordingStopped> {
        if self.failed.is_cancelled() {
            return self.stopped();
        }
        match self.commands.send(command).await {
            Ok(()) => Ok(()),
            Err(_) => self.stopped(),
        }
    }

    /// What a command gets once the recording stopped: refused when the recording is required, dropped otherwise.
    fn stopped(&self) -> Result<(), RecordingStopped> {
        if self.required { Err(RecordingStopped) } else { Ok(()) }
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

/// How a channel is recorded.
#[derive(Debug, Clone)]
pub(crate) enum ChannelFormat {
    /// A channel with a terminal: asciicast v2, which players replay.
    Terminal(AsciicastHeader),
    /// A channel without one: every byte as it passed, output and error output apart.
    Bytes(ByteStreamHeader),
}

/// A channel recording being written, with its file's name and the moment its channel started (the recording's
/// time zero).
#[derive(Debug)]
struct ChannelRecording {
    writer: ChannelWriter,
    name: String,
    started: Instant,
}

#[derive(Debug)]
enum ChannelWriter {
    Terminal(AsciicastWriter),
    Bytes(ByteStreamWriter),
}

impl ChannelRecording {
    async fn open(directory: &Path, channel: u32, format: ChannelFormat) -> Result<Self, RecordingError> {
        let (writer, name) = match format {
            ChannelFormat::Terminal(header) => {
                let name = format!("channel-{channel}.cast");
                (ChannelWriter::Terminal(AsciicastWriter::create(&directory.join(&name), &header).await?), name)
            }
            ChannelFormat::Bytes(header) => {
                let name = format!("channel-{channel}.stream");
                (ChannelWriter::Bytes(ByteStreamWriter::create(&directory.join(&name), &header).await?), name)
            }
        };
        Ok(Self { writer, name, started: Instant::now() })
    }

    /// A terminal shows output and error output as one screen.
    async fn write(&mut self, kind: StreamKind, bytes: &[u8]) -> Result<(), RecordingError> {
        let elapsed = self.started.elapsed();
        match (&mut self.writer, kind) {
            (ChannelWriter::Terminal(cast), StreamKind::Input) => cast.input(elapsed, bytes).await,
            (ChannelWriter::Terminal(cast), _) => cast.output(elapsed, bytes).await,
            (ChannelWriter::Bytes(stream), kind) => stream.write(kind, elapsed, bytes).await,
        }
    }

    /// Only a terminal has a size; the event log records every resize.
    async fn resize(&mut self, cols: u32, rows: u32) -> Result<(), RecordingError> {
        match &mut self.writer {
            ChannelWriter::Terminal(cast) => cast.resize(self.started.elapsed(), cols, rows).await,
            ChannelWriter::Bytes(_) => Ok(()),
        }
    }

    fn flush_deadline(&self) -> Option<Instant> {
        match &self.writer {
            ChannelWriter::Terminal(cast) => cast.flush_deadline(),
            ChannelWriter::Bytes(stream) => stream.flush_deadline(),
        }
    }

    async fn flush_if_due(&mut self, now: Instant) -> Result<(), RecordingError> {
        match &mut self.writer {
            ChannelWriter::Terminal(cast) => cast.flush_if_due(now).await,
            ChannelWriter::Bytes(stream) => stream.flush_if_due(now).await,
        }
    }

    /// Finishes the file; its entry for the manifest.
    async fn finish(self, channel: u32) -> Result<ManifestFile, RecordingError> {
        let digest = match self.writer {
            ChannelWriter::Terminal(cast) => {
                let summary = cast.finish().await?;
                debug!(channel, bytes_out = summary.bytes_out, events = summary.events, "cast done");
                summary.digest
            }
            ChannelWriter::Bytes(stream) => {
                let summary = stream.finish().await?;
                debug!(channel, bytes_out = summary.bytes_out, frames = summary.frames, "byte stream done");
                summary.digest
            }
        };
        Ok(ManifestFile::new(&self.name, &digest))
    }
}

#[derive(Debug)]
struct RecordingTask {
    app: App,
    directory: PathBuf,
    events: Option<EventLogWriter>,
    channels: HashMap<u32, ChannelRecording>,
    receiver: mpsc::Receiver<Command>,
    seal: Seal,
    /// The manifest entries of the files finished so far.
    finished: Vec<ManifestFile>,
    reserve: SpoolReserve,
    /// Bytes recorded since the spool's free space was last checked.
    unchecked_bytes: usize,
}

impl RecordingTask {
    async fn run(mut self, failed: CancellationToken, cause: Arc<OnceLock<String>>) {
        if let Err(error) = self.serve().await {
            error!(%error, directory = %self.directory.display(), "session recording failed");
            let _ = cause.set(error.to_string());
            failed.cancel();
            // Keep what was written before the loss: finish the files and seal them (the reserve leaves the room
            // for it), so that the recording up to here stays verifiable and is uploaded like any other.
            if self.events.is_some()
                && let Err(error) = self.finish_all(None, LOST_END_REASON).await
            {
                warn!(%error, "the recording could not be sealed after its loss");
            }
        }
    }

    async fn serve(&mut self) -> Result<(), RecordingError> {
        let mut reserve_check = interval(RESERVE_CHECK_INTERVAL);
        reserve_check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let deadline = self.flush_deadline();
            let command = tokio::select! {
                command = self.receiver.recv() => command,
                () = sleep_until(deadline.unwrap_or_else(far_future)), if deadline.is_some() => {
                    self.flush_due().await?;
                    continue;
                }
                _ = reserve_check.tick() => {
                    self.check_reserve()?;
                    continue;
                }
            };
            match command {
                // Every relay and the session are gone without finishing: keep what was written.
                None => return self.finish_all(None, "unknown").await,
                Some(Command::Finish { reason, finished }) => {
                    let outcome = self.finish_all(Some(reason), reason.as_str()).await;
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
            Command::Open { channel, format, opened } => {
                let created = ChannelRecording::open(&self.directory, channel, format).await;
                let _ = opened.send(created.is_ok());
                self.channels.insert(channel, created?);
                Ok(())
            }
            Command::Write { channel, kind, bytes } => {
                self.unchecked_bytes = self.unchecked_bytes.saturating_add(bytes.len());
                if self.unchecked_bytes >= RESERVE_CHECK_BYTES {
                    self.check_reserve()?;
                }
                match self.channels.get_mut(&channel) {
                    Some(recording) => recording.write(kind, &bytes).await,
                    None => Ok(()),
                }
            }
            Command::Resize { channel, cols, rows } => {
                if let Some(recording) = self.channels.get_mut(&channel) {
                    recording.resize(cols, rows).await?;
                }
                self.record_event(SessionEvent::WindowChange { cols, rows }).await
            }
            Command::Close { channel } => match self.channels.remove(&channel) {
                Some(recording) => {
                    self.finished.push(recording.finish(channel).await?);
                    Ok(())
                }
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

    fn check_reserve(&mut self) -> Result<(), RecordingError> {
        self.unchecked_bytes = 0;
        self.reserve.check(&self.directory)
    }

    fn flush_deadline(&self) -> Option<Instant> {
        let events = self.events.as_ref().and_then(EventLogWriter::flush_deadline);
        let channels = self.channels.values().filter_map(ChannelRecording::flush_deadline);
        events.into_iter().chain(channels).min()
    }

    async fn flush_due(&mut self) -> Result<(), RecordingError> {
        let now = Instant::now();
        if let Some(events) = self.events.as_mut() {
            events.flush_if_due(now).await?;
        }
        for recording in self.channels.values_mut() {
            recording.flush_if_due(now).await?;
        }
        Ok(())
    }

    /// Finishes every channel recording, writes the end event when there is a reason, finishes the event log, and
    /// seals the recording with a signed manifest of the files that finished, saying it ended for `end_reason`. Every file is finished and the
    /// manifest written even if an earlier step failed (a file missing from the manifest then shows when the
    /// recording is verified); the first error is returned.
    async fn finish_all(&mut self, reason: Option<SessionEndReason>, end_reason: &str) -> Result<(), RecordingError> {
        let mut outcome = Ok(());
        for (channel, recording) in std::mem::take(&mut self.channels) {
            match recording.finish(channel).await {
                Ok(file) => self.finished.push(file),
                Err(error) => outcome = outcome.and(Err(error)),
            }
        }
        if let Some(reason) = reason {
            let ended = SessionEvent::SessionEnded { reason: reason.as_str().to_owned() };
            if let Err(error) = self.record_event(ended).await {
                outcome = outcome.and(Err(error));
            }
        }
        if let Some(events) = self.events.take() {
            match events.finish().await {
                Ok(summary) => self.finished.push(ManifestFile::new(EVENT_LOG_FILE, &summary.digest)),
                Err(error) => outcome = outcome.and(Err(error)),
            }
        }
        let files = std::mem::take(&mut self.finished);
        let sealed = self.seal.write(&self.directory, files, end_reason, self.app.now().as_millis()).await;
        outcome.and(sealed)
    }
}

/// A deadline that never comes, for a disabled `select!` branch.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use latch_recording::{AsciicastEventData, read_asciicast, read_byte_stream, read_event_log};
    use latch_testkit::app::TestApp;

    fn test_seal() -> Seal {
        use russh::keys::ssh_key::private::Ed25519Keypair;
        let session = latch_recording::ManifestSession {
            id: "session-1".to_owned(),
            user: "alice".to_owned(),
            target: "db01".to_owned(),
            account: "root".to_owned(),
            protocol: "ssh".to_owned(),
            source: None,
            node: "node-a".to_owned(),
            started_at_ms: 0,
            ended_at_ms: 0,
            end_reason: String::new(),
        };
        let key = russh::keys::PrivateKey::from(Ed25519Keypair::from_seed(&[3; 32]));
        Seal { session, key: super::super::seal::RecordingKey(std::sync::Arc::new(key)) }
    }

    fn strict() -> RecordingTerms {
        RecordingTerms { required: true, reserve: SpoolReserve::bytes(0) }
    }

    fn header() -> AsciicastHeader {
        AsciicastHeader { width: 80, height: 24, timestamp: 0, term: Some("xterm".to_owned()), title: None }
    }

    #[tokio::test]
    async fn records_casts_and_events_and_finishes_them() {
        let test = TestApp::sqlite().await.unwrap();
        let store = tempfile::tempdir().unwrap();
        let directory = store.path().join("recordings").join("session-1");
        let recorder = Recorder::start(test.app.clone(), directory.clone(), test_seal(), strict()).await.unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&directory).unwrap().permissions().mode() & 0o777, 0o700);

        recorder.event(SessionEvent::Exec { command: "echo hi".to_owned() }).await.unwrap();
        recorder.open_channel(3, ChannelFormat::Terminal(header())).await.unwrap();
        recorder.write(3, StreamKind::Output, b"h").await.unwrap();
        recorder.write(3, StreamKind::ErrorOutput, b"i\r\n").await.unwrap();
        recorder.write(3, StreamKind::Input, b"typed").await.unwrap();
        recorder.resize(3, 100, 40).await.unwrap();
        recorder.write(9, StreamKind::Output, b"no recording for this channel").await.unwrap();
        recorder.close_channel(3).await.unwrap();
        let bytes = ByteStreamHeader { timestamp: 0, title: Some("tar c /etc".to_owned()) };
        recorder.open_channel(4, ChannelFormat::Bytes(bytes)).await.unwrap();
        recorder.write(4, StreamKind::Output, b"\x00\xff binary").await.unwrap();
        recorder.write(4, StreamKind::ErrorOutput, b"tar: removing leading /").await.unwrap();
        recorder.resize(4, 90, 30).await.unwrap();
        recorder.finish(SessionEndReason::ClientClosed).await.unwrap();

        let stream = read_byte_stream(&directory.join("channel-4.stream"), 1 << 20).await.unwrap();
        assert_eq!(stream.bytes(StreamKind::Output), b"\x00\xff binary", "finish finished the open channel");
        assert_eq!(stream.bytes(StreamKind::ErrorOutput), b"tar: removing leading /");

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
                SessionEvent::WindowChange { cols: 90, rows: 30 },
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
        let recorder = Recorder::start(test.app.clone(), directory.clone(), test_seal(), strict()).await.unwrap();
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
        assert!(
            Recorder::start(test.app.clone(), existing, test_seal(), strict()).await.is_err(),
            "a session never reuses a directory"
        );
        let file = store.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        assert!(Recorder::start(test.app.clone(), file.join("session"), test_seal(), strict()).await.is_err());
    }

    #[tokio::test]
    async fn a_write_error_stops_the_recording_and_is_reported() {
        let test = TestApp::sqlite().await.unwrap();
        let full = tokio::fs::OpenOptions::new().write(true).open("/dev/full").await.unwrap();
        let recorder = Recorder::spawn(
            test.app.clone(),
            PathBuf::from("/dev/full"),
            EventLogWriter::from_file(full),
            test_seal(),
            strict(),
        );
        recorder.event(SessionEvent::Exec { command: "ls".to_owned() }).await.unwrap();
        tokio::time::timeout(Duration::from_secs(3), recorder.failed()).await.expect("the failure is reported");
        assert_eq!(recorder.event(SessionEvent::Exec { command: "ls".to_owned() }).await, Err(RecordingStopped));
        assert_eq!(recorder.finish(SessionEndReason::ClientClosed).await, Err(RecordingStopped));
    }

    #[tokio::test]
    async fn a_recording_that_is_not_required_drops_commands_once_stopped() {
        let test = TestApp::sqlite().await.unwrap();
        let full = tokio::fs::OpenOptions::new().write(true).open("/dev/full").await.unwrap();
        let lenient = RecordingTerms { required: false, reserve: SpoolReserve::bytes(0) };
        let recorder = Recorder::spawn(
            test.app.clone(),
            PathBuf::from("/dev/full"),
            EventLogWriter::from_file(full),
            test_seal(),
            lenient,
        );
        assert!(!recorder.required());
        recorder.event(SessionEvent::Exec { command: "ls".to_owned() }).await.unwrap();
        tokio::time::timeout(Duration::from_secs(3), recorder.failed()).await.expect("the failure is reported");
        assert!(recorder.loss_cause().contains("cannot write recording"), "{}", recorder.loss_cause());
        assert_eq!(recorder.event(SessionEvent::Exec { command: "ls".to_owned() }).await, Ok(()));
        let bytes = ByteStreamHeader { timestamp: 0, title: None };
        assert_eq!(recorder.open_channel(1, ChannelFormat::Bytes(bytes)).await, Ok(()), "the session goes on");
        assert_eq!(recorder.finish(SessionEndReason::ClientClosed).await, Ok(()));
    }

    #[tokio::test]
    async fn a_spool_below_its_reserve_refuses_the_recording() {
        let test = TestApp::sqlite().await.unwrap();
        let store = tempfile::tempdir().unwrap();
        let directory = store.path().join("recordings").join("session-3");
        let terms = RecordingTerms { required: true, reserve: SpoolReserve::bytes(u64::MAX) };
        match Recorder::start(test.app.clone(), directory.clone(), test_seal(), terms).await {
            Err(RecordingError::SpoolFull { reserve, .. }) => assert_eq!(reserve, u64::MAX),
            other => panic!("expected SpoolFull, got {other:?}"),
        }
        assert!(!directory.exists(), "nothing is created for a refused session");
        let unrecorded = Recorder::unrecorded(directory, "the spool is full".to_owned());
        assert_eq!(unrecorded.loss_cause(), "the spool is full");
        assert_eq!(unrecorded.write(1, StreamKind::Output, b"x").await, Ok(()));
        tokio::time::timeout(Duration::from_secs(1), unrecorded.failed()).await.expect("already stopped");
    }
}
