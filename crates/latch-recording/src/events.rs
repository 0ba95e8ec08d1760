//! The session event log: what happened in a session besides terminal bytes, as JSON Lines.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::fs::File;
use tokio::time::Instant;

use crate::RecordingError;
use crate::chain::FileDigest;
use crate::sink::{DurableSink, file_name};

/// One line of the event log: `{"at_ms":…,"kind":"exec","command":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEventRecord {
    /// When it happened, milliseconds since the Unix epoch (the caller's clock).
    pub at_ms: i64,
    #[serde(flatten)]
    pub event: SessionEvent,
}

/// Something a session did, named by the `kind` field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SessionEvent {
    /// A command run without a shell (`ssh host command`).
    Exec { command: String },
    /// A subsystem (such as `sftp`) was started on session channel `channel`.
    SubsystemStarted { channel: u32, name: String },
    /// A file's bytes moved through session channel `channel`: one event per opened file and direction, when the
    /// file is closed (or the channel ends with it still open). `bytes` counts what passed the gateway: data the
    /// person wrote for an upload, data the target returned for a download (not the file's size on disk).
    FileTransfer { channel: u32, protocol: FileProtocol, direction: TransferDirection, path: String, bytes: u64 },
    /// A change to the target's file system that moves no file data, done through session channel `channel`;
    /// `target` is the second name of a rename or link.
    FileOperation {
        channel: u32,
        protocol: FileProtocol,
        operation: FileOperationKind,
        path: String,
        target: Option<String>,
    },
    /// A port forward channel opened.
    ForwardOpened { channel: u32, direction: ForwardDirection, host: String, port: u32 },
    /// The target opened a channel to the person's forwarded agent (`ssh -A`), to list or use their keys.
    AgentChannelOpened { channel: u32 },
    /// A port forward or agent channel closed.
    ForwardClosed { channel: u32 },
    /// The terminal was resized.
    WindowChange { cols: u32, rows: u32 },
    /// The session ended; `reason` is a short machine-readable phrase (`client_closed`, `grant_revoked`, …).
    SessionEnded { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferDirection {
    /// From the user to the target.
    Upload,
    /// From the target to the user.
    Download,
}

/// The file protocol of a [`SessionEvent::FileTransfer`] or [`SessionEvent::FileOperation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileProtocol {
    /// The SFTP subsystem (also what OpenSSH's `scp` uses since 9.0).
    Sftp,
    /// The legacy SCP protocol (`scp -O`, over `exec scp -t|-f`).
    Scp,
}

/// What a [`SessionEvent::FileOperation`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOperationKind {
    /// A file was removed.
    Remove,
    /// `path` was renamed to `target`.
    Rename,
    /// A directory was created.
    Mkdir,
    /// A directory was removed.
    Rmdir,
    /// Attributes (permissions, owner, times, size) were changed.
    Setstat,
    /// A symbolic link `path` pointing to `target` was created.
    Symlink,
    /// A hard link `target` to the existing file `path` was created.
    Link,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForwardDirection {
    /// The user reaches a host through the target (`ssh -L`).
    Local,
    /// The target reaches the user's side (`ssh -R`).
    Remote,
}

/// What a finished event log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLogSummary {
    pub events: u64,
    pub file_bytes: u64,
    pub sha256_of_file: [u8; 32],
    /// The file's chunks and chain, for its manifest.
    pub digest: FileDigest,
}

/// Writes a session's event log, with the same buffering, durability and fail-closed rules as
/// [`crate::AsciicastWriter`]: lines reach the operating system within a second or 64 KiB, `finish` fsyncs, and
/// every write error is returned.
#[derive(Debug)]
pub struct EventLogWriter {
    sink: DurableSink,
    events: u64,
}

impl EventLogWriter {
    /// Creates (or truncates) the file at `path`.
    pub async fn create(path: &Path) -> Result<Self, RecordingError> {
        let file =
            File::create(path).await.map_err(|source| RecordingError::Create { path: path.to_path_buf(), source })?;
        Ok(Self { sink: DurableSink::new(file, file_name(path)), events: 0 })
    }

    /// Writes to an already open, empty file. Such a file has no name: its chain is bound to the empty name.
    pub fn from_file(file: File) -> Self {
        Self { sink: DurableSink::new(file, String::new()), events: 0 }
    }

    pub async fn record(&mut self, record: &SessionEventRecord) -> Result<(), RecordingError> {
        self.sink.append_line(|buffer| serde_json::to_writer(buffer, record)).await?;
        self.events += 1;
        Ok(())
    }

    /// When buffered lines must reach the operating system, or `None` when nothing is buffered.
    pub fn flush_deadline(&self) -> Option<Instant> {
        self.sink.flush_deadline()
    }

    /// Flushes if the oldest buffered line is at least one second old at `now`.
    pub async fn flush_if_due(&mut self, now: Instant) -> Result<(), RecordingError> {
        self.sink.flush_if_due(now).await
    }

    /// Hands every buffered line to the operating system now (no fsync).
    pub async fn flush(&mut self) -> Result<(), RecordingError> {
        self.sink.flush().await
    }

    /// Flushes and fsyncs the file.
    pub async fn finish(self) -> Result<EventLogSummary, RecordingError> {
        let file = self.sink.finish().await?;
        Ok(EventLogSummary {
            events: self.events,
            file_bytes: file.file_bytes,
            sha256_of_file: file.sha256,
            digest: file.digest,
        })
    }
}
