//! Manifests: a recording checks clean as written, and every change to it is named by file and chunk.

#![expect(clippy::unwrap_used, reason = "test helpers fail the test on any error")]

use std::path::Path;
use std::time::Duration;

use latch_recording::{
    ByteStreamHeader, ByteStreamWriter, CHUNK_SIZE, EventLogWriter, ManifestFile, ManifestSession, RecordingManifest,
    RecordingProblem, SessionEvent, SessionEventRecord, StreamKind, check_files,
};

const STREAM: &str = "channel-0.stream";
const EVENTS: &str = "events.jsonl";

fn session() -> ManifestSession {
    ManifestSession {
        id: "8d1f0c3e-0000-4000-8000-000000000001".to_owned(),
        user: "alice".to_owned(),
        target: "db01".to_owned(),
        account: "root".to_owned(),
        protocol: "ssh".to_owned(),
        source: Some("198.51.100.7:52000".to_owned()),
        node: "node-a".to_owned(),
        started_at_ms: 1_700_000_000_000,
        ended_at_ms: 1_700_000_060_000,
        end_reason: "client_closed".to_owned(),
    }
}

/// A recording of three and a half chunks of output (each chunk different) and an event log, with its manifest.
async fn recording(dir: &Path) -> RecordingManifest {
    let header = ByteStreamHeader { timestamp: 1_700_000_000, title: Some("tar c /srv".to_owned()) };
    let mut stream = ByteStreamWriter::create(&dir.join(STREAM), &header).await.unwrap();
    for part in 0..7_u64 {
        let bytes: Vec<u8> = (0..CHUNK_SIZE / 2).map(|index| ((index * 7 + part * 13) % 251) as u8).collect();
        stream.write(StreamKind::Output, Duration::from_millis(part), &bytes).await.unwrap();
    }
    let stream = stream.finish().await.unwrap();
    let mut events = EventLogWriter::create(&dir.join(EVENTS)).await.unwrap();
    let record = SessionEventRecord { at_ms: 1, event: SessionEvent::Exec { command: "tar c /srv".to_owned() } };
    events.record(&record).await.unwrap();
    let events = events.finish().await.unwrap();
    let files = vec![ManifestFile::new(STREAM, &stream.digest), ManifestFile::new(EVENTS, &events.digest)];
    RecordingManifest::new(session(), files, 1_700_000_061_000)
}

fn chunk_range(index: u64) -> std::ops::Range<usize> {
    (index * CHUNK_SIZE) as usize..((index + 1) * CHUNK_SIZE) as usize
}

#[tokio::test]
async fn a_recording_checks_clean_and_its_manifest_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = recording(dir.path()).await;
    assert_eq!(manifest.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), [STREAM, EVENTS]);
    assert_eq!(manifest.files[0].chunks.len(), 4, "3.5 MiB and a header");
    assert_eq!(check_files(dir.path(), &manifest).await, []);
    assert_eq!(RecordingManifest::parse(&manifest.to_bytes()), Some(manifest.clone()));
    assert_eq!(RecordingManifest::parse(b"{\"format\":\"other\"}"), None);
}

#[tokio::test]
async fn one_flipped_byte_is_named_by_file_and_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = recording(dir.path()).await;
    let path = dir.path().join(STREAM);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[2 * CHUNK_SIZE as usize + 12_345] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let problems = check_files(dir.path(), &manifest).await;
    assert_eq!(problems, [RecordingProblem::ChangedChunk { file: STREAM.to_owned(), index: 2 }]);
    assert_eq!(problems[0].to_string(), "channel-0.stream: chunk 2 changed");
}

#[tokio::test]
async fn reordered_missing_and_extra_chunks_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = recording(dir.path()).await;
    let path = dir.path().join(STREAM);
    let original = std::fs::read(&path).unwrap();

    let mut swapped = original.clone();
    swapped[chunk_range(0)].copy_from_slice(&original[chunk_range(1)]);
    swapped[chunk_range(1)].copy_from_slice(&original[chunk_range(0)]);
    std::fs::write(&path, &swapped).unwrap();
    let file = STREAM.to_owned();
    assert_eq!(
        check_files(dir.path(), &manifest).await,
        [
            RecordingProblem::ReorderedChunk { file: file.clone(), index: 0, written_as: 1 },
            RecordingProblem::ReorderedChunk { file: file.clone(), index: 1, written_as: 0 },
        ]
    );

    std::fs::write(&path, &original[..2 * CHUNK_SIZE as usize]).unwrap();
    assert_eq!(
        check_files(dir.path(), &manifest).await,
        [RecordingProblem::MissingChunks { file: file.clone(), index: 2 }]
    );

    let mut longer = original.clone();
    longer.extend_from_slice(&original[chunk_range(0)]);
    std::fs::write(&path, &longer).unwrap();
    let problems = check_files(dir.path(), &manifest).await;
    assert_eq!(
        problems,
        [
            RecordingProblem::ChangedChunk { file: file.clone(), index: 3 },
            RecordingProblem::ExtraChunks { file: file.clone(), index: 4 },
        ],
        "the short last chunk now differs, and data follows"
    );
}

#[tokio::test]
async fn missing_added_and_edited_entries_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = recording(dir.path()).await;
    std::fs::remove_file(dir.path().join(EVENTS)).unwrap();
    std::fs::write(dir.path().join("channel-9.cast"), b"planted").unwrap();
    std::fs::write(dir.path().join("manifest.json"), manifest.to_bytes()).unwrap();
    assert_eq!(
        check_files(dir.path(), &manifest).await,
        [
            RecordingProblem::MissingFile { file: EVENTS.to_owned() },
            RecordingProblem::UnlistedFile { file: "channel-9.cast".to_owned() },
        ],
        "the manifest itself is not a recording file"
    );

    // Editing the manifest's hash of a chunk to match a changed file breaks the entry's own chain.
    std::fs::remove_file(dir.path().join("channel-9.cast")).unwrap();
    let path = dir.path().join(STREAM);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    use sha2::Digest;
    let forged: String = sha2::Sha256::digest(&bytes[chunk_range(0)]).iter().map(|b| format!("{b:02x}")).collect();
    manifest.files[0].chunks[0] = forged;
    manifest.files.retain(|file| file.name == STREAM);
    assert_eq!(
        check_files(dir.path(), &manifest).await,
        [RecordingProblem::InconsistentEntry { file: STREAM.to_owned() }]
    );
}
