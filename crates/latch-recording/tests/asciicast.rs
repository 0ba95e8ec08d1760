//! asciicast v2 recordings through the public API: what is written is what replays, and every failure surfaces.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on any error")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use latch_recording::{
    AsciicastEventData, AsciicastHeader, AsciicastWriter, RecordingError, read_asciicast, replay_output,
};
use sha2::{Digest, Sha256};

const LIMIT: u64 = 1 << 20;

fn header() -> AsciicastHeader {
    AsciicastHeader {
        width: 80,
        height: 24,
        timestamp: 1_700_000_000,
        term: Some("xterm-256color".into()),
        title: Some("alice@web-1".into()),
    }
}

fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// Writes `chunks` as output, finishes, and returns the file's path (inside `dir`).
async fn record_output(dir: &Path, chunks: &[&[u8]]) -> PathBuf {
    let path = dir.join("session.cast");
    let mut writer = AsciicastWriter::create(&path, &header()).await.unwrap();
    for (index, chunk) in chunks.iter().enumerate() {
        writer.output(ms(index as u64 * 10), chunk).await.unwrap();
    }
    writer.finish().await.unwrap();
    path
}

#[tokio::test]
async fn output_split_at_every_byte_boundary_replays_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let seen = "prompt$ ls\r\nné € 😀 中文 ü\x1b[0m\r\n".as_bytes();
    for split in 0..=seen.len() {
        let (first, second) = seen.split_at(split);
        let path = record_output(dir.path(), &[first, second]).await;
        assert_eq!(replay_output(&path, LIMIT).await.unwrap(), seen, "split at {split}");
    }
    let byte_by_byte: Vec<&[u8]> = seen.chunks(1).collect();
    let path = record_output(dir.path(), &byte_by_byte).await;
    assert_eq!(replay_output(&path, LIMIT).await.unwrap(), seen);
}

#[tokio::test]
async fn bytes_that_are_not_utf8_become_replacement_characters() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_output(dir.path(), &[b"a\xffb", b"\xc3(", b"end \xe2\x82"]).await;
    let replayed = replay_output(&path, LIMIT).await.unwrap();
    assert_eq!(String::from_utf8(replayed).unwrap(), "a\u{FFFD}b\u{FFFD}(end \u{FFFD}");
}

#[tokio::test]
async fn header_and_event_lines_have_the_asciicast_v2_shape() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shape.cast");
    let mut writer = AsciicastWriter::create(&path, &header()).await.unwrap();
    writer.output(ms(1500), b"hi \"there\"\n").await.unwrap();
    writer.input(ms(2250), b"q").await.unwrap();
    writer.resize(ms(3000), 120, 40).await.unwrap();
    writer.finish().await.unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            r#"{"version":2,"width":80,"height":24,"timestamp":1700000000,"env":{"TERM":"xterm-256color"},"title":"alice@web-1"}"#,
            r#"[1.5,"o","hi \"there\"\n"]"#,
            r#"[2.25,"i","q"]"#,
            r#"[3.0,"r","120x40"]"#,
        ]
    );
}

#[tokio::test]
async fn the_reader_returns_header_input_and_resize_events() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.cast");
    let mut writer = AsciicastWriter::create(&path, &header()).await.unwrap();
    writer.output(ms(100), b"$ ").await.unwrap();
    writer.input(ms(200), b"top\r").await.unwrap();
    writer.resize(ms(300), 132, 43).await.unwrap();
    // An earlier time than the previous event is written as the previous time.
    writer.output(ms(250), b"done").await.unwrap();
    let summary = writer.finish().await.unwrap();

    assert_eq!((summary.bytes_out, summary.bytes_in, summary.events), (6, 4, 4));
    let recording = read_asciicast(&path, LIMIT).await.unwrap();
    assert_eq!(recording.header, header());
    assert!(!recording.truncated);
    let events: Vec<(Duration, AsciicastEventData)> =
        recording.events.into_iter().map(|event| (event.elapsed, event.data)).collect();
    assert_eq!(
        events,
        [
            (ms(100), AsciicastEventData::Output("$ ".into())),
            (ms(200), AsciicastEventData::Input("top\r".into())),
            (ms(300), AsciicastEventData::Resize { cols: 132, rows: 43 }),
            (ms(300), AsciicastEventData::Output("done".into())),
        ]
    );
}

#[tokio::test]
async fn a_truncated_last_line_is_dropped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_output(dir.path(), &[b"first", "second é".as_bytes()]).await;
    let full = std::fs::read(&path).unwrap();
    // A complete last line without its newline is still an event.
    std::fs::write(&path, &full[..full.len() - 1]).unwrap();
    assert_eq!(replay_output(&path, LIMIT).await.unwrap(), "firstsecond é".as_bytes());
    // Cut inside the last line, including in the middle of the two-byte `é`.
    for cut in 2..=12 {
        std::fs::write(&path, &full[..full.len() - cut]).unwrap();
        let recording = read_asciicast(&path, LIMIT).await.unwrap();
        assert!(recording.truncated, "cut {cut}");
        assert_eq!(recording.events.len(), 1, "cut {cut}");
        assert_eq!(replay_output(&path, LIMIT).await.unwrap(), b"first", "cut {cut}");
    }
}

#[tokio::test]
async fn a_malformed_line_before_the_last_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.cast");
    let head = r#"{"version":2,"width":80,"height":24}"#;
    let cases = [
        ("[0.5,\"o\",\"ok\"]\nnot json\n[1.0,\"o\",\"x\"]\n", 3),
        ("[0.5,\"z\",\"unknown type\"]\n", 2),
        ("[0.5,\"r\",\"80by24\"]\n", 2),
        ("[-1.0,\"o\",\"negative time\"]\n", 2),
    ];
    for (body, line) in cases {
        std::fs::write(&path, format!("{head}\n{body}")).unwrap();
        let error = read_asciicast(&path, LIMIT).await.unwrap_err();
        assert!(matches!(error, RecordingError::InvalidLine { line: got, .. } if got == line), "{body}: {error:?}");
    }
}

#[tokio::test]
async fn header_problems_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("header.cast");
    std::fs::write(&path, "").unwrap();
    assert!(matches!(read_asciicast(&path, LIMIT).await, Err(RecordingError::MissingHeader)));
    std::fs::write(&path, "{\"version\":1,\"width\":80,\"height\":24}\n").unwrap();
    assert!(matches!(read_asciicast(&path, LIMIT).await, Err(RecordingError::UnsupportedVersion { version: 1 })));
    std::fs::write(&path, "[1,2]\n").unwrap();
    assert!(matches!(read_asciicast(&path, LIMIT).await, Err(RecordingError::InvalidHeader { .. })));
    let missing = dir.path().join("missing.cast");
    assert!(matches!(read_asciicast(&missing, LIMIT).await, Err(RecordingError::Read { .. })));
}

#[tokio::test]
async fn a_file_over_the_callers_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = record_output(dir.path(), &[b"some output"]).await;
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(read_asciicast(&path, size).await.is_ok());
    let error = read_asciicast(&path, size - 1).await.unwrap_err();
    assert!(matches!(error, RecordingError::TooLarge { limit, .. } if limit == size - 1), "{error:?}");
    assert_eq!(error.to_string(), format!("recording {} is over the size limit of {} bytes", path.display(), size - 1));
}

#[tokio::test]
async fn the_summary_hash_is_the_hash_of_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hash.cast");
    let mut writer = AsciicastWriter::create(&path, &header()).await.unwrap();
    writer.output(ms(1), &vec![b'y'; 200_000]).await.unwrap();
    writer.input(ms(2), b"\x03").await.unwrap();
    let summary = writer.finish().await.unwrap();
    let file = std::fs::read(&path).unwrap();
    assert_eq!(summary.sha256_of_file, <[u8; 32]>::from(Sha256::digest(&file)));
    assert_eq!(summary.file_bytes, file.len() as u64);
}

#[tokio::test]
async fn output_reaches_the_file_within_a_second_before_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.cast");
    let mut writer = AsciicastWriter::create(&path, &header()).await.unwrap();
    writer.output(ms(0), b"first").await.unwrap();
    assert!(!std::fs::read_to_string(&path).unwrap().contains("first"), "a small event is buffered at first");
    let deadline = writer.flush_deadline().unwrap();

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(tokio::time::Instant::now() >= deadline);
    writer.output(ms(1100), b"x").await.unwrap();
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(on_disk.contains(r#"[0.0,"o","first"]"#), "{on_disk}");
    assert_eq!(writer.flush_deadline(), None);
    drop(writer);
    assert_eq!(replay_output(&path, LIMIT).await.unwrap(), b"firstx");
}

#[tokio::test]
async fn an_idle_writer_flushes_when_its_deadline_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("idle.cast");
    let mut writer = AsciicastWriter::create(&path, &header()).await.unwrap();
    writer.output(ms(0), b"quiet").await.unwrap();
    let deadline = writer.flush_deadline().unwrap();
    tokio::time::sleep_until(deadline).await;
    writer.flush_if_due(tokio::time::Instant::now()).await.unwrap();
    assert!(std::fs::read_to_string(&path).unwrap().contains("quiet"));
}

#[tokio::test]
async fn a_full_disk_fails_the_recording_at_creation() {
    let file = tokio::fs::OpenOptions::new().write(true).open("/dev/full").await.unwrap();
    let error = AsciicastWriter::from_file(file, &header()).await.unwrap_err();
    let RecordingError::Write(io_error) = &error else { panic!("expected a write error, got {error:?}") };
    assert_eq!(io_error.raw_os_error(), Some(28), "ENOSPC: {io_error}");
}

#[tokio::test]
async fn a_location_that_cannot_be_written_fails_the_recording_at_creation() {
    let dir = tempfile::tempdir().unwrap();
    let missing_parent = dir.path().join("no-such-dir").join("session.cast");
    let error = AsciicastWriter::create(&missing_parent, &header()).await.unwrap_err();
    assert!(matches!(&error, RecordingError::Create { path, .. } if *path == missing_parent), "{error:?}");

    let read_only = dir.path().join("read-only");
    std::fs::create_dir(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o500)).unwrap();
    let permissions_enforced = std::fs::File::create(read_only.join("probe")).is_err();
    if permissions_enforced {
        let error = AsciicastWriter::create(&read_only.join("session.cast"), &header()).await.unwrap_err();
        assert!(matches!(error, RecordingError::Create { .. }), "{error:?}");
    }
    // Running as root ignores the mode: `a_full_disk_fails_the_recording_at_creation` covers that case.
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o700)).unwrap();
}
