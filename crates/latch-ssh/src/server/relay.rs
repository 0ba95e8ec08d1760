//! Relaying one session channel (shell, exec, subsystem such as sftp) between the person and the target.
//!
//! Each direction is its own pump, polled concurrently, so one side waiting for flow-control window never stops
//! the other: a target process blocked on writing its output still gets the output read. Every hop is bounded:
//! russh queues at most `channel_buffer_messages` messages per channel, and writes wait for the receiver's SSH
//! window. Requests (pty-req, env, shell, exec, subsystem, window-change, signal) reach this relay in the order
//! the client sent them, interleaved with the data, and are passed on in that order; the handler has already
//! answered them (see `connection.rs`).
//!
//! A channel with a terminal is recorded as asciicast, one without as a byte-exact stream (its output may be
//! binary). What is recorded of a shell or command (output, input when the policy records it, window changes) is
//! also shown to auditors watching the session live, once recorded; publishing never waits for them.
//!
//! On an `sftp` subsystem channel an [`SftpObserver`], and on a legacy `scp -t|-f` command an [`ScpObserver`], reads
//! a copy of the bytes both ways; the file transfers and operations it reports are logged as events before the
//! bytes that completed them are passed on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use latch_app::LiveOutputKind;
use latch_recording::{AsciicastHeader, ByteStreamHeader, SessionEvent, StreamKind};
use russh::client::Msg as ClientMsg;
use russh::server::{ChannelOpenHandle, Msg as ServerMsg};
use russh::{Channel, ChannelMsg, ChannelOpenFailure, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::timeout;
use tracing::{debug, warn};

use super::recording::ChannelFormat;
use super::scp_observer::ScpObserver;
use super::session::ActiveSession;
use super::sftp_observer::{SftpObserver, Side};

/// How long the goodbye on a channel (message, EOF, close) may take when the session ends.
pub(crate) const FAREWELL_LIMIT: Duration = Duration::from_millis(300);

/// Why a relay stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The person closed the channel (or their connection went away).
    ClientClosed,
    /// The target closed the channel or the connection.
    TargetClosed,
    /// The target refused to start the shell, command or subsystem.
    TargetRefused,
    /// The recording stopped: nothing more may be relayed.
    RecordingStopped,
    /// The session is ending.
    SessionEnding,
}

/// The terminal the person asked for.
#[derive(Debug, Clone)]
struct Terminal {
    term: String,
    cols: u32,
    rows: u32,
}

/// Opens the matching session channel on the target, confirms the person's channel and relays until either side
/// closes or the session ends.
pub(crate) async fn relay_session_channel(
    session: Arc<ActiveSession>,
    client: Channel<ServerMsg>,
    reply: ChannelOpenHandle,
    _channel_slot: OwnedSemaphorePermit,
) {
    let target = match session.upstream.open_session().await {
        Ok(target) => target,
        Err(error) => {
            warn!(%error, "the target refused a session channel");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
    };
    reply.accept().await;
    let number = client.id().number();
    let (mut client_rx, client_tx) = client.split();
    let (mut target_rx, target_tx) = target.split();
    let recording = AtomicBool::new(false);
    let files = FileWatch::default();
    let mut requests =
        Requests { session: &session, number, terminal: None, started: false, recording: &recording, files: &files };
    let end = tokio::select! {
        end = requests.pump_to_target(&mut client_rx, &target_tx) => end,
        end = pump_to_client(&session, number, &recording, &files, &mut target_rx, &client_tx) => end,
        () = session.ending() => End::SessionEnding,
    };
    debug!(channel = number, ?end, "session channel relay ended");
    if end == End::RecordingStopped {
        session.end(latch_domain::gateway_session::SessionEndReason::RecordingFailed);
    }
    let farewell = if matches!(end, End::SessionEnding | End::RecordingStopped) { session.farewell() } else { None };
    if end == End::TargetRefused {
        tell(&client_tx, "the target refused to start this session").await;
    }
    close_both(&client_tx, &target_tx, farewell).await;
    if recording.load(Ordering::Acquire) {
        let _ = session.recorder.close_channel(number).await;
    }
    if end != End::RecordingStopped {
        for event in files.finish() {
            if session.recorder.event(event).await.is_err() {
                break;
            }
        }
    }
}

/// The file transfer observer of a channel that runs SFTP or legacy SCP, shared by both directions' pumps.
#[derive(Debug, Default)]
struct FileWatch(Mutex<Option<FileObserver>>);

#[derive(Debug)]
enum FileObserver {
    Sftp(SftpObserver),
    Scp(ScpObserver),
}

impl FileObserver {
    fn observe(&mut self, side: Side, bytes: &[u8]) -> Vec<SessionEvent> {
        match self {
            FileObserver::Sftp(observer) => observer.observe(side, bytes),
            FileObserver::Scp(observer) => observer.observe(side, bytes),
        }
    }

    /// Why it stopped observing, if it did.
    fn stopped(&self) -> Option<String> {
        match self {
            FileObserver::Sftp(observer) => observer.stopped().map(|reason| format!("sftp: {reason:?}")),
            FileObserver::Scp(observer) => observer.stopped().map(|reason| format!("scp: {reason:?}")),
        }
    }

    fn finish(&mut self) -> Vec<SessionEvent> {
        match self {
            FileObserver::Sftp(observer) => observer.finish(),
            FileObserver::Scp(observer) => observer.finish(),
        }
    }
}

impl FileWatch {
    fn start(&self, observer: FileObserver) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(observer);
    }

    /// The events completed by `bytes` from `side`; none when this channel is not observed.
    fn observe(&self, side: Side, bytes: &[u8]) -> Vec<SessionEvent> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(observer) = slot.as_mut() else { return Vec::new() };
        let events = observer.observe(side, bytes);
        if let Some(reason) = observer.stopped() {
            warn!(reason, "no longer observing file transfers on this channel (the channel goes on)");
            *slot = None;
        }
        events
    }

    /// Files still open when the channel ended.
    fn finish(&self) -> Vec<SessionEvent> {
        let mut observer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        observer.take().map(|mut observer| observer.finish()).unwrap_or_default()
    }
}

/// Sends the goodbye line (when there is one), EOF and close to the person, and close to the target, bounded.
async fn close_both(
    client: &ChannelWriteHalf<ServerMsg>,
    target: &ChannelWriteHalf<ClientMsg>,
    farewell: Option<&str>,
) {
    let goodbye = async {
        if let Some(message) = farewell {
            tell(client, message).await;
        }
        let _ = client.eof().await;
        let _ = client.close().await;
        let _ = target.close().await;
    };
    if timeout(FAREWELL_LIMIT, goodbye).await.is_err() {
        debug!("channel goodbye timed out");
    }
}

/// Writes `latch: <message>` on the person's stderr.
async fn tell(client: &ChannelWriteHalf<ServerMsg>, message: &str) {
    let line = format!("\r\nlatch: {message}\r\n");
    let _ = timeout(FAREWELL_LIMIT, client.extended_data_bytes(1, line.into_bytes())).await;
}

/// The person-to-target direction, which also carries the channel requests.
struct Requests<'a> {
    session: &'a ActiveSession,
    number: u32,
    terminal: Option<Terminal>,
    /// Whether the shell, command or subsystem was started (only the first start request counts).
    started: bool,
    /// Set once this channel's cast exists; the other direction records output from then on.
    recording: &'a AtomicBool,
    files: &'a FileWatch,
}

impl Requests<'_> {
    async fn pump_to_target(&mut self, client: &mut ChannelReadHalf, target: &ChannelWriteHalf<ClientMsg>) -> End {
        while let Some(message) = client.wait().await {
            if let Err(end) = self.forward(message, target).await {
                return end;
            }
        }
        End::ClientClosed
    }

    async fn forward(&mut self, message: ChannelMsg, target: &ChannelWriteHalf<ClientMsg>) -> Result<(), End> {
        let sent = match message {
            ChannelMsg::Data { data } => {
                if self.session.grant.record_input() && self.recording.load(Ordering::Acquire) {
                    let recorder = &self.session.recorder;
                    recorder.write(self.number, StreamKind::Input, &data).await.map_err(|_| End::RecordingStopped)?;
                    self.session.show_watchers(self.number, LiveOutputKind::Input, &data);
                }
                for event in self.files.observe(Side::Client, &data) {
                    self.record(event).await?;
                }
                self.session.count_to_target(data.len());
                target.data_bytes(data).await
            }
            ChannelMsg::Eof => target.eof().await,
            ChannelMsg::Close => return Err(End::ClientClosed),
            ChannelMsg::RequestPty { term, col_width, row_height, pix_width, pix_height, terminal_modes, .. } => {
                self.terminal = Some(Terminal { term: term.clone(), cols: col_width, rows: row_height });
                target.request_pty(false, &term, col_width, row_height, pix_width, pix_height, &terminal_modes).await
            }
            ChannelMsg::SetEnv { variable_name, variable_value, .. } => {
                target.set_env(false, variable_name, variable_value).await
            }
            ChannelMsg::RequestShell { .. } if !self.started => {
                self.started = true;
                self.open_recording("shell").await?;
                target.request_shell(true).await
            }
            ChannelMsg::Exec { command, .. } if !self.started => {
                self.started = true;
                let line = String::from_utf8_lossy(&command).into_owned();
                self.record(SessionEvent::Exec { command: line.clone() }).await?;
                if runs_sftp_server(&line) {
                    self.files.start(FileObserver::Sftp(SftpObserver::new(self.number)));
                } else if let Some(observer) = ScpObserver::for_command(self.number, &line) {
                    self.files.start(FileObserver::Scp(observer));
                }
                self.open_recording(&line).await?;
                target.exec(true, command).await
            }
            ChannelMsg::RequestSubsystem { name, .. } if !self.started => {
                self.started = true;
                self.record(SessionEvent::SubsystemStarted { channel: self.number, name: name.clone() }).await?;
                if name == "sftp" {
                    self.files.start(FileObserver::Sftp(SftpObserver::new(self.number)));
                }
                target.request_subsystem(true, name).await
            }
            ChannelMsg::WindowChange { col_width, row_height, pix_width, pix_height } => {
                if self.recording.load(Ordering::Acquire) {
                    let recorder = &self.session.recorder;
                    recorder.resize(self.number, col_width, row_height).await.map_err(|_| End::RecordingStopped)?;
                    let size = LiveOutputKind::Resize { cols: col_width, rows: row_height };
                    self.session.show_watchers(self.number, size, &[]);
                }
                target.window_change(col_width, row_height, pix_width, pix_height).await
            }
            ChannelMsg::Signal { signal } => target.signal(signal).await,
            // russh delivers the request before the handler refuses it: the same rule decides here.
            ChannelMsg::AgentForward { .. } if self.session.grant.forwarding().agent => {
                self.session.upstream.accept_agent_channels();
                target.agent_forward(false).await
            }
            // A second start request, X11, and agent forwarding without the policy were refused by the handler.
            _ => Ok(()),
        };
        sent.map_err(|_| End::TargetClosed)
    }

    /// Creates this channel's recording before anything is relayed on it: asciicast for a terminal, a byte-exact
    /// stream otherwise.
    async fn open_recording(&mut self, title: &str) -> Result<(), End> {
        let timestamp = self.session.app.now().as_unix_seconds();
        let title: String = title.chars().take(200).collect();
        let format = match self.terminal.clone() {
            Some(terminal) => {
                let size = LiveOutputKind::Resize { cols: terminal.cols, rows: terminal.rows };
                self.session.show_watchers(self.number, size, &[]);
                ChannelFormat::Terminal(AsciicastHeader {
                    width: terminal.cols,
                    height: terminal.rows,
                    timestamp,
                    term: (!terminal.term.is_empty()).then_some(terminal.term),
                    title: Some(title),
                })
            }
            None => ChannelFormat::Bytes(ByteStreamHeader { timestamp, title: Some(title) }),
        };
        self.session.recorder.open_channel(self.number, format).await.map_err(|_| End::RecordingStopped)?;
        self.recording.store(true, Ordering::Release);
        Ok(())
    }

    async fn record(&self, event: SessionEvent) -> Result<(), End> {
        self.session.recorder.event(event).await.map_err(|_| End::RecordingStopped)
    }
}

/// Whether an exec command line starts an SFTP server directly (`sftp -s /usr/lib/openssh/sftp-server`).
fn runs_sftp_server(command: &str) -> bool {
    command.split_whitespace().next().is_some_and(|program| program.rsplit('/').next() == Some("sftp-server"))
}

/// The target-to-person direction: output, stderr, exit status and signal, EOF and close, exactly as sent.
async fn pump_to_client(
    session: &ActiveSession,
    number: u32,
    recording: &AtomicBool,
    files: &FileWatch,
    target: &mut ChannelReadHalf,
    client: &ChannelWriteHalf<ServerMsg>,
) -> End {
    while let Some(message) = target.wait().await {
        let sent = match message {
            ChannelMsg::Data { data } => {
                if recording.load(Ordering::Acquire) {
                    if session.recorder.write(number, StreamKind::Output, &data).await.is_err() {
                        return End::RecordingStopped;
                    }
                    session.show_watchers(number, LiveOutputKind::Output, &data);
                }
                for event in files.observe(Side::Target, &data) {
                    if session.recorder.event(event).await.is_err() {
                        return End::RecordingStopped;
                    }
                }
                session.count_from_target(data.len());
                client.data_bytes(data).await
            }
            ChannelMsg::ExtendedData { data, ext } => {
                if recording.load(Ordering::Acquire) {
                    if session.recorder.write(number, StreamKind::ErrorOutput, &data).await.is_err() {
                        return End::RecordingStopped;
                    }
                    session.show_watchers(number, LiveOutputKind::Output, &data);
                }
                session.count_from_target(data.len());
                client.extended_data_bytes(ext, data).await
            }
            ChannelMsg::ExitStatus { exit_status } => client.exit_status(exit_status).await,
            ChannelMsg::ExitSignal { signal_name, core_dumped, error_message, lang_tag } => {
                let id = client.id();
                let sent = session.client.exit_signal_request(id, signal_name, core_dumped, error_message, lang_tag);
                sent.await.map_err(|()| russh::Error::SendError)
            }
            ChannelMsg::Eof => client.eof().await,
            ChannelMsg::Close => return End::TargetClosed,
            // Only the start request asks for a reply; pty-req and env do not.
            ChannelMsg::Failure => return End::TargetRefused,
            _ => Ok(()),
        };
        if sent.is_err() {
            return End::ClientClosed;
        }
    }
    End::TargetClosed
}

#[cfg(test)]
mod tests {
    use super::runs_sftp_server;

    #[test]
    fn an_sftp_server_command_is_recognised_by_its_program_name() {
        assert!(runs_sftp_server("/usr/lib/openssh/sftp-server"));
        assert!(runs_sftp_server("sftp-server -l INFO"));
        assert!(!runs_sftp_server("echo sftp-server"));
        assert!(!runs_sftp_server("/usr/lib/openssh/sftp-server-wrapper"));
        assert!(!runs_sftp_server(""));
    }
}
