//! Session event logs through the public API.

use std::time::Duration;

use latch_recording::{
    EventLogWriter, FileOperationKind, FileProtocol, ForwardDirection, RecordingError, SessionEvent,
    SessionEventRecord, TransferDirection, read_event_log,
};
use sha2::{Digest, Sha256};

const LIMIT: u64 = 1 << 20;

fn every_kind() -> Vec<SessionEventRecord> {
    let events = [
        SessionEvent::Exec { command: "uname -a".into() },
        SessionEvent::FileTransfer {
            channel: 0,
            protocol: FileProtocol::Sftp,
            direction: TransferDirection::Download,
            path: "/etc/motd".into(),
            bytes: 1234,
        },
        SessionEvent::SubsystemStarted { channel: 1, name: "sftp".into() },
        SessionEvent::FileTransfer {
            channel: 1,
            protocol: FileProtocol::Scp,
            direction: TransferDirection::Upload,
            path: "upload.bin".into(),
            bytes: 0,
        },
        SessionEvent::FileOperation {
            channel: 1,
            protocol: FileProtocol::Sftp,
            operation: FileOperationKind::Rename,
            path: "a.txt".into(),
            target: Some("b.txt".into()),
        },
        SessionEvent::FileOperation {
            channel: 1,
            protocol: FileProtocol::Sftp,
            operation: FileOperationKind::Remove,
            path: "b.txt".into(),
            target: None,
        },
        SessionEvent::ForwardOpened {
            channel: 7,
            direction: ForwardDirection::Local,
            host: "db.internal".into(),
            port: 5432,
        },
        SessionEvent::ForwardClosed { channel: 7 },
        SessionEvent::WindowChange { cols: 100, rows: 30 },
        SessionEvent::SessionEnded { reason: "client_closed".into() },
    ];
    events.into_iter().zip(1_700_000_000_000_i64..).map(|(event, at_ms)| SessionEventRecord { at_ms, event }).collect()
}

#[tokio::test]
async fn every_event_kind_round_trips_and_the_hash_matches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("session.events.jsonl");
    let mut writer = EventLogWriter::create(&path).await.unwrap();
    for record in every_kind() {
        writer.record(&record).await.unwrap();
    }
    let summary = writer.finish().await.unwrap();

    let log = read_event_log(&path, LIMIT).await.unwrap();
    assert_eq!(log.records, every_kind());
    assert!(!log.truncated);
    let file = std::fs::read(&path).unwrap();
    assert_eq!(summary.events, 10);
    assert_eq!(summary.sha256_of_file, <[u8; 32]>::from(Sha256::digest(&file)));
}

#[tokio::test]
async fn lines_are_flat_json_objects_named_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shape.jsonl");
    let mut writer = EventLogWriter::create(&path).await.unwrap();
    for record in every_kind().into_iter().take(5) {
        writer.record(&record).await.unwrap();
    }
    writer.finish().await.unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            r#"{"at_ms":1700000000000,"kind":"exec","command":"uname -a"}"#,
            concat!(
                r#"{"at_ms":1700000000001,"kind":"file_transfer","channel":0,"protocol":"sftp","#,
                r#""direction":"download","path":"/etc/motd","bytes":1234}"#
            ),
            r#"{"at_ms":1700000000002,"kind":"subsystem_started","channel":1,"name":"sftp"}"#,
            concat!(
                r#"{"at_ms":1700000000003,"kind":"file_transfer","channel":1,"protocol":"scp","#,
                r#""direction":"upload","path":"upload.bin","bytes":0}"#
            ),
            concat!(
                r#"{"at_ms":1700000000004,"kind":"file_operation","channel":1,"protocol":"sftp","#,
                r#""operation":"rename","path":"a.txt","target":"b.txt"}"#
            ),
        ]
    );
}

#[tokio::test]
async fn a_truncated_last_line_is_dropped_and_a_bad_middle_line_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.jsonl");
    let mut writer = EventLogWriter::create(&path).await.unwrap();
    for record in every_kind() {
        writer.record(&record).await.unwrap();
    }
    writer.finish().await.unwrap();
    let full = std::fs::read(&path).unwrap();
    std::fs::write(&path, &full[..full.len() - 4]).unwrap();
    let log = read_event_log(&path, LIMIT).await.unwrap();
    assert!(log.truncated);
    assert_eq!(log.records, every_kind()[..9]);

    std::fs::write(
        &path,
        "{\"at_ms\":1,\"kind\":\"teleport\"}\n{\"at_ms\":2,\"kind\":\"forward_closed\",\"channel\":1}\n",
    )
    .unwrap();
    let error = read_event_log(&path, LIMIT).await.unwrap_err();
    assert!(matches!(error, RecordingError::InvalidLine { line: 1, .. }), "{error:?}");
}

#[tokio::test]
async fn fields_a_reader_does_not_know_are_ignored_but_missing_ones_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.jsonl");
    std::fs::write(
        &path,
        concat!(
            r#"{"at_ms":5,"kind":"file_operation","channel":2,"protocol":"sftp","operation":"mkdir","path":"d","#,
            r#""target":null,"mode":"0755"}"#,
            "\n",
            r#"{"at_ms":6,"kind":"subsystem_started","channel":2,"name":"sftp","pid":9}"#,
            "\n",
        ),
    )
    .unwrap();
    let log = read_event_log(&path, LIMIT).await.unwrap();
    assert_eq!(
        log.records,
        [
            SessionEventRecord {
                at_ms: 5,
                event: SessionEvent::FileOperation {
                    channel: 2,
                    protocol: FileProtocol::Sftp,
                    operation: FileOperationKind::Mkdir,
                    path: "d".into(),
                    target: None,
                },
            },
            SessionEventRecord { at_ms: 6, event: SessionEvent::SubsystemStarted { channel: 2, name: "sftp".into() } },
        ]
    );

    // The shape before file transfers named their channel and protocol.
    let old = r#"{"at_ms":1,"kind":"file_transfer","path":"x","size":5,"direction":"upload"}"#;
    std::fs::write(&path, format!("{old}\n")).unwrap();
    let error = read_event_log(&path, LIMIT).await.unwrap_err();
    assert!(matches!(error, RecordingError::InvalidLine { line: 1, .. }), "{error:?}");
}

#[tokio::test]
async fn events_reach_the_file_within_a_second_before_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.jsonl");
    let mut writer = EventLogWriter::create(&path).await.unwrap();
    let records = every_kind();
    writer.record(&records[0]).await.unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    writer.record(&records[1]).await.unwrap();
    let log = read_event_log(&path, LIMIT).await.unwrap();
    assert_eq!(log.records, records[..2]);
}

#[tokio::test]
async fn a_full_disk_surfaces_on_flush_and_stops_the_writer() {
    let file = tokio::fs::OpenOptions::new().write(true).open("/dev/full").await.unwrap();
    let mut writer = EventLogWriter::from_file(file);
    writer.record(&every_kind()[0]).await.unwrap();
    assert!(matches!(writer.flush().await, Err(RecordingError::Write(_))));
    assert!(matches!(writer.record(&every_kind()[1]).await, Err(RecordingError::WriterFailed)));
    assert!(matches!(writer.finish().await, Err(RecordingError::WriterFailed)));
}
