//! Byte stream recordings through the public API: every byte replays exactly, crashes cost at most the last frame,
//! and every failure surfaces.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on any error")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use latch_recording::{
    ByteStreamHeader, ByteStreamWriter, MAX_FRAME_DATA, RecordingError, StreamKind, read_byte_stream,
};
use sha2::{Digest, Sha256};

const LIMIT: u64 = 64 << 20;

fn header() -> ByteStreamHeader {
    ByteStreamHeader { timestamp: 1_700_000_000, title: Some("pg_dump --format=custom app".into()) }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Every byte value, then some invalid UTF-8 and NULs: what asciicast could not keep.
fn binary() -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255).collect();
    bytes.extend_from_slice(b"\xff\xfe\x00\x00\xc3");
    bytes
}

async fn record(dir: &Path, writes: &[(StreamKind, &[u8])]) -> PathBuf {
    let path = dir.join("channel-0.stream");
    let mut writer = ByteStreamWriter::create(&path, &header()).await.unwrap();
    for (index, (kind, bytes)) in writes.iter().enumerate() {
        writer.write(*kind, ms(index as u64), bytes).await.unwrap();
    }
    writer.finish().await.unwrap();
    path
}

#[tokio::test]
async fn binary_output_error_output_and_input_replay_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = binary();
    let (first, second) = data.split_at(100);
    let writes: [(StreamKind, &[u8]); 5] = [
        (StreamKind::Output, first),
        (StreamKind::ErrorOutput, b"warning: \x1b[1mbold\x1b[0m\n"),
        (StreamKind::Input, b"\x00typed\xff"),
        (StreamKind::Output, b""),
        (StreamKind::Output, second),
    ];
    let path = record(dir.path(), &writes).await;
    let recording = read_byte_stream(&path, LIMIT).await.unwrap();
    assert_eq!(recording.header, header());
    assert!(!recording.truncated);
    assert_eq!(recording.bytes(StreamKind::Output), data);
    assert_eq!(recording.bytes(StreamKind::ErrorOutput), b"warning: \x1b[1mbold\x1b[0m\n");
    assert_eq!(recording.bytes(StreamKind::Input), b"\x00typed\xff");
    assert_eq!(recording.frames.len(), 4, "an empty write writes no frame");
    let times: Vec<Duration> = recording.frames.iter().map(|frame| frame.elapsed).collect();
    assert_eq!(times, vec![ms(0), ms(1), ms(2), ms(4)]);
}

#[tokio::test]
async fn a_recording_of_zeros_costs_little_more_than_the_zeros() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeros.stream");
    let mut writer = ByteStreamWriter::create(&path, &header()).await.unwrap();
    let chunk = vec![0_u8; 32 * 1024];
    for index in 0..256 {
        writer.write(StreamKind::Output, ms(index), &chunk).await.unwrap();
    }
    let summary = writer.finish().await.unwrap();
    let payload = 256 * chunk.len() as u64;
    assert_eq!(summary.bytes_out, payload);
    assert!(summary.file_bytes < payload + payload / 100, "{} bytes for {payload}", summary.file_bytes);
    let file = std::fs::read(&path).unwrap();
    assert_eq!(summary.sha256_of_file, <[u8; 32]>::from(Sha256::digest(&file)));
    assert_eq!(summary.file_bytes, file.len() as u64);
    assert_eq!(read_byte_stream(&path, LIMIT).await.unwrap().bytes(StreamKind::Output), vec![0; payload as usize]);
}

#[tokio::test]
async fn a_write_over_the_frame_limit_is_split_into_frames() {
    let dir = tempfile::tempdir().unwrap();
    let big: Vec<u8> = (0..MAX_FRAME_DATA * 2 + 10).map(|index| (index % 251) as u8).collect();
    let path = record(dir.path(), &[(StreamKind::Output, &big)]).await;
    let recording = read_byte_stream(&path, LIMIT).await.unwrap();
    let sizes: Vec<usize> = recording.frames.iter().map(|frame| frame.data.len()).collect();
    assert_eq!(sizes, vec![MAX_FRAME_DATA, MAX_FRAME_DATA, 10]);
    assert_eq!(recording.bytes(StreamKind::Output), big);
}

#[tokio::test]
async fn a_crash_mid_frame_loses_only_that_frame() {
    let dir = tempfile::tempdir().unwrap();
    let path = record(dir.path(), &[(StreamKind::Output, b"kept"), (StreamKind::Output, b"cut short")]).await;
    let whole = std::fs::read(&path).unwrap();
    let last_frame = 13 + "cut short".len();
    for cut in 1..last_frame {
        std::fs::write(&path, &whole[..whole.len() - cut]).unwrap();
        let recording = read_byte_stream(&path, LIMIT).await.unwrap();
        assert!(recording.truncated, "cut {cut}");
        assert_eq!(recording.bytes(StreamKind::Output), b"kept", "cut {cut}");
    }
    std::fs::write(&path, &whole[..whole.len() - last_frame]).unwrap();
    let recording = read_byte_stream(&path, LIMIT).await.unwrap();
    assert!(!recording.truncated);
    assert_eq!(recording.bytes(StreamKind::Output), b"kept");
}

#[tokio::test]
async fn a_damaged_frame_or_header_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = record(dir.path(), &[(StreamKind::Output, b"x")]).await;
    let whole = std::fs::read(&path).unwrap();
    let header_end = whole.iter().position(|&byte| byte == b'\n').unwrap() + 1;

    let mut unknown_kind = whole.clone();
    unknown_kind[header_end] = b'z';
    std::fs::write(&path, &unknown_kind).unwrap();
    let error = read_byte_stream(&path, LIMIT).await.unwrap_err();
    assert!(matches!(error, RecordingError::InvalidFrame { offset, .. } if offset == header_end as u64), "{error:?}");

    let mut oversized = whole.clone();
    oversized[header_end + 9..header_end + 13].copy_from_slice(&u32::MAX.to_be_bytes());
    std::fs::write(&path, &oversized).unwrap();
    assert!(matches!(read_byte_stream(&path, LIMIT).await, Err(RecordingError::InvalidFrame { .. })));

    std::fs::write(&path, b"{\"version\":2,\"width\":80,\"height\":24}\n").unwrap();
    assert!(matches!(read_byte_stream(&path, LIMIT).await, Err(RecordingError::InvalidHeader { .. })));
    std::fs::write(&path, b"{\"format\":\"latch-byte-stream\",\"version\":2,\"timestamp\":0}\n").unwrap();
    assert!(matches!(read_byte_stream(&path, LIMIT).await, Err(RecordingError::InvalidHeader { .. })));
    std::fs::write(&path, b"no header line").unwrap();
    assert!(matches!(read_byte_stream(&path, LIMIT).await, Err(RecordingError::MissingHeader)));
}

#[tokio::test]
async fn a_file_over_the_callers_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = record(dir.path(), &[(StreamKind::Output, b"some output")]).await;
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(read_byte_stream(&path, size).await.is_ok());
    assert!(matches!(read_byte_stream(&path, size - 1).await, Err(RecordingError::TooLarge { .. })));
}

#[tokio::test]
async fn frames_reach_the_file_within_a_second_before_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.stream");
    let mut writer = ByteStreamWriter::create(&path, &header()).await.unwrap();
    writer.write(StreamKind::Output, ms(0), b"first").await.unwrap();
    let deadline = writer.flush_deadline().unwrap();
    let on_disk = read_byte_stream(&path, LIMIT).await.unwrap();
    assert!(on_disk.frames.is_empty(), "a small frame is buffered at first");
    tokio::time::sleep_until(deadline).await;
    writer.flush_if_due(tokio::time::Instant::now()).await.unwrap();
    assert_eq!(read_byte_stream(&path, LIMIT).await.unwrap().bytes(StreamKind::Output), b"first");
    assert_eq!(writer.flush_deadline(), None);
}

#[tokio::test]
async fn a_full_disk_fails_the_recording_at_creation() {
    let file = tokio::fs::OpenOptions::new().write(true).open("/dev/full").await.unwrap();
    let error = ByteStreamWriter::from_file(file, &header()).await.unwrap_err();
    let RecordingError::Write(io_error) = &error else { panic!("expected a write error, got {error:?}") };
    assert_eq!(io_error.raw_os_error(), Some(28), "ENOSPC: {io_error}");
}
