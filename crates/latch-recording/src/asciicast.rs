//! Writing asciicast v2 terminal recordings.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::fs::File;
use tokio::time::Instant;

use crate::RecordingError;
use crate::chain::FileDigest;
use crate::sink::{DurableSink, file_name};
use crate::utf8::Utf8StreamDecoder;

/// The first line of an asciicast v2 file, without the fixed `"version": 2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsciicastHeader {
    /// Terminal columns when the session started.
    pub width: u32,
    /// Terminal rows when the session started.
    pub height: u32,
    /// Session start, seconds since the Unix epoch (the caller's clock).
    pub timestamp: i64,
    /// The client's `TERM`, written as `"env": {"TERM": …}`.
    pub term: Option<String>,
    pub title: Option<String>,
}

/// The JSON shape of the header line.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HeaderLine {
    pub version: u64,
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<HeaderEnv>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct HeaderEnv {
    #[serde(rename = "TERM", default, skip_serializing_if = "Option::is_none")]
    pub term: Option<String>,
}

impl From<&AsciicastHeader> for HeaderLine {
    fn from(header: &AsciicastHeader) -> Self {
        Self {
            version: 2,
            width: header.width,
            height: header.height,
            timestamp: Some(header.timestamp),
            env: header.term.clone().map(|term| HeaderEnv { term: Some(term) }),
            title: header.title.clone(),
        }
    }
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// Raw bytes passed to [`AsciicastWriter::output`], before any UTF-8 repair.
    pub bytes_out: u64,
    /// Raw bytes passed to [`AsciicastWriter::input`].
    pub bytes_in: u64,
    /// Event lines written (the header is not an event).
    pub events: u64,
    /// Length of the file.
    pub file_bytes: u64,
    /// SHA-256 of the whole file as written, to store next to the session for tamper evidence.
    pub sha256_of_file: [u8; 32],
    /// The file's chunks and chain, for its manifest.
    pub digest: FileDigest,
}

/// Writes one terminal session as asciicast v2.
///
/// Times are the caller's elapsed time since the session started; a time earlier than the previous event's is
/// written as the previous time, so players always see a non-decreasing timeline. Output and input are decoded
/// as UTF-8 separately, each holding back a character split across chunks until the next chunk, and replacing
/// bytes that are not UTF-8 with U+FFFD (a recording is text; the raw byte counts are in the summary).
/// A chunk that decodes to nothing (only the start of a split character) writes no event.
///
/// Durability: lines are buffered and handed to the operating system when the buffer reaches 64 KiB or its
/// oldest line is one second old. That is checked on every call; a caller whose session may go quiet should also
/// call [`AsciicastWriter::flush_if_due`] when [`AsciicastWriter::flush_deadline`] passes. [`AsciicastWriter::finish`]
/// flushes and fsyncs. Dropping a writer without `finish` loses what is buffered.
#[derive(Debug)]
pub struct AsciicastWriter {
    sink: DurableSink,
    output_decoder: Utf8StreamDecoder,
    input_decoder: Utf8StreamDecoder,
    last_elapsed: Duration,
    bytes_out: u64,
    bytes_in: u64,
    events: u64,
}

impl AsciicastWriter {
    /// Creates (or truncates) the file at `path` and writes the header through to the operating system, so a
    /// recording that cannot be written is refused before the session starts.
    pub async fn create(path: &Path, header: &AsciicastHeader) -> Result<Self, RecordingError> {
        let file =
            File::create(path).await.map_err(|source| RecordingError::Create { path: path.to_path_buf(), source })?;
        Self::open(file, file_name(path), header).await
    }

    /// Like [`AsciicastWriter::create`] over an already open, empty file (or a device such as `/dev/full`).
    /// Such a file has no name: its chain is bound to the empty name.
    pub async fn from_file(file: File, header: &AsciicastHeader) -> Result<Self, RecordingError> {
        Self::open(file, String::new(), header).await
    }

    async fn open(file: File, name: String, header: &AsciicastHeader) -> Result<Self, RecordingError> {
        let mut sink = DurableSink::new(file, name);
        let line = HeaderLine::from(header);
        sink.append_line(|buffer| serde_json::to_writer(buffer, &line)).await?;
        sink.flush().await?;
        Ok(Self {
            sink,
            output_decoder: Utf8StreamDecoder::default(),
            input_decoder: Utf8StreamDecoder::default(),
            last_elapsed: Duration::ZERO,
            bytes_out: 0,
            bytes_in: 0,
            events: 0,
        })
    }

    /// Records what the target sent to the user's terminal (`"o"`).
    pub async fn output(&mut self, elapsed: Duration, bytes: &[u8]) -> Result<(), RecordingError> {
        self.bytes_out += bytes.len() as u64;
        let text = self.output_decoder.decode(bytes);
        self.write_text_event(elapsed, "o", &text).await
    }

    /// Records what the user typed (`"i"`).
    pub async fn input(&mut self, elapsed: Duration, bytes: &[u8]) -> Result<(), RecordingError> {
        self.bytes_in += bytes.len() as u64;
        let text = self.input_decoder.decode(bytes);
        self.write_text_event(elapsed, "i", &text).await
    }

    /// Records a terminal resize (`"r"`, data `"COLSxROWS"`).
    pub async fn resize(&mut self, elapsed: Duration, cols: u32, rows: u32) -> Result<(), RecordingError> {
        self.write_text_event(elapsed, "r", &format!("{cols}x{rows}")).await
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

    /// Writes any held-back partial character as U+FFFD, flushes and fsyncs the file.
    pub async fn finish(mut self) -> Result<RecordingSummary, RecordingError> {
        let elapsed = self.last_elapsed;
        let output_rest = self.output_decoder.finish();
        self.write_text_event(elapsed, "o", &output_rest).await?;
        let input_rest = self.input_decoder.finish();
        self.write_text_event(elapsed, "i", &input_rest).await?;
        let file = self.sink.finish().await?;
        Ok(RecordingSummary {
            bytes_out: self.bytes_out,
            bytes_in: self.bytes_in,
            events: self.events,
            file_bytes: file.file_bytes,
            sha256_of_file: file.sha256,
            digest: file.digest,
        })
    }

    async fn write_text_event(&mut self, elapsed: Duration, code: &str, text: &str) -> Result<(), RecordingError> {
        if text.is_empty() {
            return self.sink.flush_if_due(Instant::now()).await;
        }
        self.last_elapsed = self.last_elapsed.max(elapsed);
        let seconds = event_seconds(self.last_elapsed);
        self.sink.append_line(|buffer| serde_json::to_writer(buffer, &(seconds, code, text))).await?;
        self.events += 1;
        Ok(())
    }
}

/// Elapsed time in seconds, rounded to microseconds so lines stay short.
fn event_seconds(elapsed: Duration) -> f64 {
    elapsed.as_micros() as f64 / 1_000_000.0
}
