//! Writing byte-exact recordings of channels without a terminal (`ssh host command`, a shell fed from a pipe).
//!
//! Such output is often not text (an archive, a database dump), and a recording of it must give back exactly the
//! bytes that passed, at the cost of a copy. asciicast cannot: it is JSON text, so bytes that are not UTF-8 are
//! lost and control bytes are escaped into up to six characters each. The format, "latch byte stream" version 1:
//!
//! - one header line of JSON: `{"format":"latch-byte-stream","version":1,"timestamp":…,"title":…}` and `\n`;
//! - then frames, each a 13-byte head and its data: the kind (`o` output, `e` error output, `i` input), the time
//!   since the channel started in microseconds (8 bytes, big-endian), the data length (4 bytes, big-endian, at most
//!   [`MAX_FRAME_DATA`]), and the data as it passed.
//!
//! Frames are appended in order and never rewritten, so a crash leaves at most one frame cut short at the end,
//! which readers drop. Buffering, durability and the fail-closed rules are those of every writer in this crate.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::fs::File;
use tokio::time::Instant;

use crate::RecordingError;
use crate::chain::FileDigest;
use crate::sink::{DurableSink, file_name};

/// The `format` field of the header line.
pub const BYTE_STREAM_FORMAT: &str = "latch-byte-stream";
/// The version this crate writes and reads.
pub const BYTE_STREAM_VERSION: u64 = 1;
/// The most data one frame holds; longer writes are split.
pub const MAX_FRAME_DATA: usize = 1 << 20;
/// Kind, time and length.
pub(crate) const FRAME_HEAD: usize = 13;

/// Which stream a frame's bytes belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// What the target sent on the channel's standard output.
    Output,
    /// What the target sent on the channel's standard error (SSH extended data).
    ErrorOutput,
    /// What the person sent.
    Input,
}

impl StreamKind {
    pub(crate) fn code(self) -> u8 {
        match self {
            StreamKind::Output => b'o',
            StreamKind::ErrorOutput => b'e',
            StreamKind::Input => b'i',
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<StreamKind> {
        match code {
            b'o' => Some(StreamKind::Output),
            b'e' => Some(StreamKind::ErrorOutput),
            b'i' => Some(StreamKind::Input),
            _ => None,
        }
    }
}

/// The first line of a byte stream recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteStreamHeader {
    /// When the channel started, seconds since the Unix epoch (the caller's clock).
    pub timestamp: i64,
    /// What ran, such as the command line.
    pub title: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ByteStreamHeaderLine {
    pub format: String,
    pub version: u64,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

/// What a finished byte stream recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteStreamSummary {
    pub bytes_out: u64,
    pub bytes_err: u64,
    pub bytes_in: u64,
    pub frames: u64,
    pub file_bytes: u64,
    pub sha256_of_file: [u8; 32],
    /// The file's chunks and chain, for its manifest.
    pub digest: FileDigest,
}

/// Writes one channel as a latch byte stream.
///
/// Times are the caller's elapsed time since the channel started; a time earlier than the previous frame's is
/// written as the previous time. Empty writes write nothing.
#[derive(Debug)]
pub struct ByteStreamWriter {
    sink: DurableSink,
    last_elapsed: Duration,
    bytes_out: u64,
    bytes_err: u64,
    bytes_in: u64,
    frames: u64,
}

impl ByteStreamWriter {
    /// Creates (or truncates) the file at `path` and writes the header through to the operating system, so a
    /// recording that cannot be written is refused before anything passes.
    pub async fn create(path: &Path, header: &ByteStreamHeader) -> Result<Self, RecordingError> {
        let file =
            File::create(path).await.map_err(|source| RecordingError::Create { path: path.to_path_buf(), source })?;
        Self::open(file, file_name(path), header).await
    }

    /// Like [`ByteStreamWriter::create`] over an already open, empty file (or a device such as `/dev/full`).
    /// Such a file has no name: its chain is bound to the empty name.
    pub async fn from_file(file: File, header: &ByteStreamHeader) -> Result<Self, RecordingError> {
        Self::open(file, String::new(), header).await
    }

    async fn open(file: File, name: String, header: &ByteStreamHeader) -> Result<Self, RecordingError> {
        let mut sink = DurableSink::new(file, name);
        let line = ByteStreamHeaderLine {
            format: BYTE_STREAM_FORMAT.to_owned(),
            version: BYTE_STREAM_VERSION,
            timestamp: header.timestamp,
            title: header.title.clone(),
        };
        sink.append_line(|buffer| serde_json::to_writer(buffer, &line)).await?;
        sink.flush().await?;
        Ok(Self { sink, last_elapsed: Duration::ZERO, bytes_out: 0, bytes_err: 0, bytes_in: 0, frames: 0 })
    }

    /// Records `bytes` of stream `kind`, `elapsed` after the channel started.
    pub async fn write(&mut self, kind: StreamKind, elapsed: Duration, bytes: &[u8]) -> Result<(), RecordingError> {
        if bytes.is_empty() {
            return self.sink.flush_if_due(Instant::now()).await;
        }
        self.last_elapsed = self.last_elapsed.max(elapsed);
        let micros = u64::try_from(self.last_elapsed.as_micros()).unwrap_or(u64::MAX);
        for data in bytes.chunks(MAX_FRAME_DATA) {
            let mut head = [0_u8; FRAME_HEAD];
            head[0] = kind.code();
            head[1..9].copy_from_slice(&micros.to_be_bytes());
            // A chunk is at most MAX_FRAME_DATA (1 MiB) long.
            head[9..13].copy_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
            self.sink.append_frame(&head, data).await?;
            self.frames += 1;
        }
        let counter = match kind {
            StreamKind::Output => &mut self.bytes_out,
            StreamKind::ErrorOutput => &mut self.bytes_err,
            StreamKind::Input => &mut self.bytes_in,
        };
        *counter += bytes.len() as u64;
        Ok(())
    }

    /// When buffered frames must reach the operating system, or `None` when nothing is buffered.
    pub fn flush_deadline(&self) -> Option<Instant> {
        self.sink.flush_deadline()
    }

    /// Flushes if the oldest buffered frame is at least one second old at `now`.
    pub async fn flush_if_due(&mut self, now: Instant) -> Result<(), RecordingError> {
        self.sink.flush_if_due(now).await
    }

    /// Hands every buffered frame to the operating system now (no fsync).
    pub async fn flush(&mut self) -> Result<(), RecordingError> {
        self.sink.flush().await
    }

    /// Flushes and fsyncs the file.
    pub async fn finish(self) -> Result<ByteStreamSummary, RecordingError> {
        let file = self.sink.finish().await?;
        Ok(ByteStreamSummary {
            bytes_out: self.bytes_out,
            bytes_err: self.bytes_err,
            bytes_in: self.bytes_in,
            frames: self.frames,
            file_bytes: file.file_bytes,
            sha256_of_file: file.sha256,
            digest: file.digest,
        })
    }
}
