//! Reading recordings back: asciicast v2 files and session event logs.

use std::path::Path;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::io::AsyncReadExt;

use crate::RecordingError;
use crate::asciicast::{AsciicastHeader, HeaderLine};
use crate::events::SessionEventRecord;

/// One event line of an asciicast v2 file.
#[derive(Debug, Clone, PartialEq)]
pub struct AsciicastEvent {
    /// Time since the session started.
    pub elapsed: Duration,
    pub data: AsciicastEventData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsciicastEventData {
    /// `"o"`: what the terminal showed.
    Output(String),
    /// `"i"`: what the user typed.
    Input(String),
    /// `"r"`: the terminal was resized.
    Resize { cols: u32, rows: u32 },
    /// `"m"`: a marker (written by other tools; Latch does not write them).
    Marker(String),
}

/// A parsed asciicast v2 file.
#[derive(Debug, Clone, PartialEq)]
pub struct AsciicastRecording {
    pub header: AsciicastHeader,
    pub events: Vec<AsciicastEvent>,
    /// The last line was cut short (a crash while writing) and was left out.
    pub truncated: bool,
}

/// Reads an asciicast v2 file of at most `max_bytes`.
///
/// An unterminated last line that does not parse is what a crash mid-write leaves behind: it is dropped and
/// `truncated` is set. Any other malformed line is an error naming its line number.
pub async fn read_asciicast(path: &Path, max_bytes: u64) -> Result<AsciicastRecording, RecordingError> {
    let bytes = read_limited(path, max_bytes).await?;
    let mut lines = Lines::new(&bytes);
    let Some((_, header_line)) = lines.next() else {
        return Err(RecordingError::MissingHeader);
    };
    let header = parse_header(header_line.bytes)?;
    let mut events = Vec::new();
    let mut truncated = false;
    for (number, line) in lines {
        match parse_event(line.bytes) {
            Ok(event) => events.push(event),
            Err(_) if !line.terminated => truncated = true,
            Err(reason) => return Err(RecordingError::InvalidLine { line: number, reason }),
        }
    }
    Ok(AsciicastRecording { header, events, truncated })
}

/// Every `"o"` event's text of the recording at `path`, concatenated: what the user saw.
pub async fn replay_output(path: &Path, max_bytes: u64) -> Result<Vec<u8>, RecordingError> {
    let recording = read_asciicast(path, max_bytes).await?;
    let mut output = Vec::new();
    for event in &recording.events {
        if let AsciicastEventData::Output(text) = &event.data {
            output.extend_from_slice(text.as_bytes());
        }
    }
    Ok(output)
}

/// A parsed session event log.
#[derive(Debug, Clone, PartialEq)]
pub struct EventLog {
    pub records: Vec<SessionEventRecord>,
    /// The last line was cut short (a crash while writing) and was left out.
    pub truncated: bool,
}

/// Reads a JSON Lines session event log of at most `max_bytes`, tolerating a cut-short last line like
/// [`read_asciicast`]. Fields this version does not know are ignored (a newer gateway may add some); an unknown
/// `kind` or a missing field is an error naming its line.
pub async fn read_event_log(path: &Path, max_bytes: u64) -> Result<EventLog, RecordingError> {
    let bytes = read_limited(path, max_bytes).await?;
    let mut records = Vec::new();
    let mut truncated = false;
    for (number, line) in Lines::new(&bytes) {
        match parse_json::<SessionEventRecord>(line.bytes) {
            Ok(record) => records.push(record),
            Err(_) if !line.terminated => truncated = true,
            Err(reason) => return Err(RecordingError::InvalidLine { line: number, reason }),
        }
    }
    Ok(EventLog { records, truncated })
}

pub(crate) async fn read_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>, RecordingError> {
    let read_error = |source| RecordingError::Read { path: path.to_path_buf(), source };
    let file = tokio::fs::File::open(path).await.map_err(read_error)?;
    let size = file.metadata().await.map_err(read_error)?.len();
    if size > max_bytes {
        return Err(RecordingError::TooLarge { path: path.to_path_buf(), limit: max_bytes });
    }
    // The file may still be growing (a live session): never read past the limit.
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes).await.map_err(read_error)?;
    if bytes.len() as u64 > max_bytes {
        return Err(RecordingError::TooLarge { path: path.to_path_buf(), limit: max_bytes });
    }
    Ok(bytes)
}

fn parse_header(bytes: &[u8]) -> Result<AsciicastHeader, RecordingError> {
    let line: HeaderLine =
        serde_json::from_slice(bytes).map_err(|error| RecordingError::InvalidHeader { reason: error.to_string() })?;
    if line.version != 2 {
        return Err(RecordingError::UnsupportedVersion { version: line.version });
    }
    Ok(AsciicastHeader {
        width: line.width,
        height: line.height,
        timestamp: line.timestamp.unwrap_or_default(),
        term: line.env.and_then(|env| env.term),
        title: line.title,
    })
}

fn parse_event(bytes: &[u8]) -> Result<AsciicastEvent, String> {
    let (seconds, code, text) = parse_json::<(f64, String, String)>(bytes)?;
    let elapsed = Duration::try_from_secs_f64(seconds).map_err(|error| format!("invalid time {seconds}: {error}"))?;
    let data = match code.as_str() {
        "o" => AsciicastEventData::Output(text),
        "i" => AsciicastEventData::Input(text),
        "m" => AsciicastEventData::Marker(text),
        "r" => parse_resize(&text)?,
        other => return Err(format!("unknown event type {other:?}")),
    };
    Ok(AsciicastEvent { elapsed, data })
}

fn parse_resize(text: &str) -> Result<AsciicastEventData, String> {
    let invalid = || format!("resize data {text:?} is not COLSxROWS");
    let (cols, rows) = text.split_once('x').ok_or_else(invalid)?;
    Ok(AsciicastEventData::Resize {
        cols: cols.parse().map_err(|_| invalid())?,
        rows: rows.parse().map_err(|_| invalid())?,
    })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|error| error.to_string())
}

struct Line<'a> {
    bytes: &'a [u8],
    /// Ends with `\n`; only the last line of a file can be unterminated.
    terminated: bool,
}

/// Non-empty lines with their 1-based numbers.
struct Lines<'a> {
    rest: &'a [u8],
    number: usize,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes, number: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, Line<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            self.number += 1;
            let line = match self.rest.iter().position(|&byte| byte == b'\n') {
                Some(end) => {
                    let (line, after) = self.rest.split_at(end);
                    self.rest = after.get(1..).unwrap_or_default();
                    Line { bytes: line, terminated: true }
                }
                None => Line { bytes: std::mem::take(&mut self.rest), terminated: false },
            };
            if !line.bytes.iter().all(u8::is_ascii_whitespace) {
                return Some((self.number, line));
            }
        }
    }
}
