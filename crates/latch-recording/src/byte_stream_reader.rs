//! Reading latch byte stream recordings back (the format is described in [`crate::ByteStreamWriter`]'s module).

use std::path::Path;
use std::time::Duration;

use crate::RecordingError;
use crate::byte_stream::{
    BYTE_STREAM_FORMAT, BYTE_STREAM_VERSION, ByteStreamHeader, ByteStreamHeaderLine, FRAME_HEAD, MAX_FRAME_DATA,
    StreamKind,
};
use crate::reader::read_limited;

/// One frame: bytes of one stream, with the time since the channel started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteStreamFrame {
    pub elapsed: Duration,
    pub kind: StreamKind,
    pub data: Vec<u8>,
}

/// A parsed byte stream recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteStreamRecording {
    pub header: ByteStreamHeader,
    pub frames: Vec<ByteStreamFrame>,
    /// The last frame was cut short (a crash while writing) and was left out.
    pub truncated: bool,
}

impl ByteStreamRecording {
    /// Every byte of stream `kind`, in order: for [`StreamKind::Output`], exactly what the person received on
    /// standard output.
    pub fn bytes(&self, kind: StreamKind) -> Vec<u8> {
        let frames = self.frames.iter().filter(|frame| frame.kind == kind);
        frames.flat_map(|frame| frame.data.iter().copied()).collect()
    }
}

/// Reads a byte stream recording of at most `max_bytes`.
///
/// A frame cut short at the end of the file is what a crash mid-write leaves: it is dropped and `truncated` is
/// set. An unknown frame kind or an oversized length is an error naming the frame's offset.
pub async fn read_byte_stream(path: &Path, max_bytes: u64) -> Result<ByteStreamRecording, RecordingError> {
    let bytes = read_limited(path, max_bytes).await?;
    parse_byte_stream(&bytes)
}

pub(crate) fn parse_byte_stream(bytes: &[u8]) -> Result<ByteStreamRecording, RecordingError> {
    let Some(end) = bytes.iter().position(|&byte| byte == b'\n') else {
        return Err(RecordingError::MissingHeader);
    };
    let header = parse_header(&bytes[..end])?;
    let mut frames = Vec::new();
    let mut offset = end + 1;
    let mut truncated = false;
    while offset < bytes.len() {
        let Some(head) = bytes.get(offset..offset + FRAME_HEAD) else {
            truncated = true;
            break;
        };
        let invalid = |reason: String| RecordingError::InvalidFrame { offset: offset as u64, reason };
        let kind = StreamKind::from_code(head[0]).ok_or_else(|| invalid(format!("unknown kind byte {}", head[0])))?;
        let micros = u64::from_be_bytes(head[1..9].try_into().unwrap_or_default());
        let length = u32::from_be_bytes(head[9..13].try_into().unwrap_or_default()) as usize;
        if length > MAX_FRAME_DATA {
            return Err(invalid(format!("frame of {length} bytes is over the limit of {MAX_FRAME_DATA}")));
        }
        let start = offset + FRAME_HEAD;
        let Some(data) = bytes.get(start..start + length) else {
            truncated = true;
            break;
        };
        frames.push(ByteStreamFrame { elapsed: Duration::from_micros(micros), kind, data: data.to_vec() });
        offset = start + length;
    }
    Ok(ByteStreamRecording { header, frames, truncated })
}

fn parse_header(line: &[u8]) -> Result<ByteStreamHeader, RecordingError> {
    let header: ByteStreamHeaderLine =
        serde_json::from_slice(line).map_err(|error| RecordingError::InvalidHeader { reason: error.to_string() })?;
    if header.format != BYTE_STREAM_FORMAT {
        let reason = format!("format {:?} is not {BYTE_STREAM_FORMAT:?}", header.format);
        return Err(RecordingError::InvalidHeader { reason });
    }
    if header.version != BYTE_STREAM_VERSION {
        let reason = format!("byte stream version {} is not {BYTE_STREAM_VERSION}", header.version);
        return Err(RecordingError::InvalidHeader { reason });
    }
    Ok(ByteStreamHeader { timestamp: header.timestamp, title: header.title })
}
