//! `RecordingStorage` against real storage servers: S3 (`s3s-fs`) and Azure Blob (Azurite), both started by
//! `latch-testkit` on loopback. A missing server skips its tests locally and fails them under CI
//! (`LATCH_REQUIRE_S3`, `LATCH_REQUIRE_AZURITE`).

#![expect(clippy::unwrap_used, reason = "tests fail by panicking")]
#![expect(clippy::panic, reason = "tests fail by panicking")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use latch_recording::{
    AzureBackend, MANIFEST_FILE, MANIFEST_SIGNATURE_FILE, MULTIPART_THRESHOLD, RecordingStorage, S3Backend,
    StorageBackend, StorageError, StorageSecret, StoredFile,
};
use latch_testkit::azurite::{self, AzuriteServer};
use latch_testkit::s3::{self, S3Server};
use sha2::{Digest, Sha256};

const PREFIX: &str = "node-a/recordings";
/// Every file of the spool recording, in name order.
const FILES: [&str; 5] = ["channel-0.cast", "channel-1.stream", "events.jsonl", MANIFEST_FILE, MANIFEST_SIGNATURE_FILE];
const READ_LIMIT: u64 = 64 << 20;
/// How long an upload to a server that is down may take to fail.
const OUTAGE_LIMIT: Duration = Duration::from_secs(60);

/// A sealed spool directory `spool/session` with a binary `channel-1.stream` above the multipart threshold.
fn sealed_recording(spool: &Path, session: &str) -> PathBuf {
    let directory = spool.join(session);
    std::fs::create_dir_all(&directory).unwrap();
    std::fs::write(
        directory.join("events.jsonl"),
        "{\"at_ms\":0,\"event\":\"exec\",\"command\":\"ls\"}\n{\"at_ms\":12,\"event\":\"end\"}\n",
    )
    .unwrap();
    std::fs::write(
        directory.join("channel-0.cast"),
        "{\"version\":2,\"width\":80,\"height\":24}\n[0.5,\"o\",\"hello \\u00e9\\r\\n\"]\n",
    )
    .unwrap();
    // 3 MiB and 17 bytes over the threshold: two full parts and a short last one. Pseudo-random (xorshift), so
    // every byte value appears and a misplaced part cannot go unnoticed.
    let size = usize::try_from(MULTIPART_THRESHOLD).unwrap() + (3 << 20) + 17;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15 ^ session.len() as u64;
    let stream: Vec<u8> = (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[3]
        })
        .collect();
    std::fs::write(directory.join("channel-1.stream"), stream).unwrap();
    std::fs::write(directory.join(MANIFEST_FILE), "{\"format\":\"latch-recording-manifest\",\"files\":[]}\n").unwrap();
    std::fs::write(directory.join(MANIFEST_SIGNATURE_FILE), "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n").unwrap();
    directory
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

fn spool_file(directory: &Path, name: &str) -> Vec<u8> {
    std::fs::read(directory.join(name)).unwrap()
}

fn s3_storage(server: &S3Server, secret: &str) -> RecordingStorage {
    let backend = StorageBackend::S3(S3Backend {
        bucket: server.bucket().to_owned(),
        region: server.region().to_owned(),
        endpoint: Some(server.endpoint()),
        access_key_id: server.access_key_id().to_owned(),
        allow_http: true,
    });
    RecordingStorage::open(&backend, PREFIX, Some(&StorageSecret::new(secret.to_owned()))).unwrap()
}

fn azure_storage(server: &AzuriteServer, key: &str) -> RecordingStorage {
    let backend = StorageBackend::Azure(AzureBackend {
        account: server.account().to_owned(),
        container: server.container().to_owned(),
        endpoint: Some(server.endpoint()),
        allow_http: true,
    });
    RecordingStorage::open(&backend, PREFIX, Some(&StorageSecret::new(key.to_owned()))).unwrap()
}

/// Where s3s-fs keeps the object `<prefix>/<session>/<file>`.
fn s3_object_file(server: &S3Server, session: &str, file: &str) -> PathBuf {
    server.data_dir().join(server.bucket()).join(PREFIX).join(session).join(file)
}

/// Every stored file has the spool file's bytes, read back through the storage.
async fn assert_stored_equal_spool(storage: &RecordingStorage, directory: &Path, session: &str) {
    let listed = storage.list(session).await.unwrap();
    let expected: Vec<StoredFile> = FILES
        .iter()
        .map(|name| StoredFile { name: (*name).to_owned(), bytes: spool_file(directory, name).len() as u64 })
        .collect();
    assert_eq!(listed, expected);
    for name in FILES {
        let stored = storage.read(session, name, READ_LIMIT).await.unwrap();
        assert_eq!(sha256(&stored), sha256(&spool_file(directory, name)), "{name}");
    }
    assert!(storage.is_complete(session).await.unwrap());
}

/// Upload, list, read, complete, delete: the whole life of a stored recording.
async fn round_trip(storage: &RecordingStorage, directory: &Path, session: &str) {
    assert!(storage.list(session).await.unwrap().is_empty());
    assert!(!storage.is_complete(session).await.unwrap());

    let summary = storage.upload(directory, session).await.unwrap();
    let spool_bytes: u64 = FILES.iter().map(|name| spool_file(directory, name).len() as u64).sum();
    assert_eq!((summary.files, summary.bytes), (FILES.len(), spool_bytes));
    assert_stored_equal_spool(storage, directory, session).await;
    // The size limit of `read` holds against a real server too.
    let too_large = storage.read(session, "channel-1.stream", 1024).await.unwrap_err();
    assert!(matches!(too_large, StorageError::TooLarge { .. }), "{too_large}");

    // Uploading again (a retry after a crash) overwrites the same objects.
    assert_eq!(storage.upload(directory, session).await.unwrap(), summary);
    assert_stored_equal_spool(storage, directory, session).await;
}

async fn delete_everything(storage: &RecordingStorage, session: &str) {
    assert_eq!(storage.delete(session).await.unwrap(), FILES.len());
    assert!(storage.list(session).await.unwrap().is_empty());
    assert!(!storage.is_complete(session).await.unwrap());
    let gone = storage.read(session, "events.jsonl", READ_LIMIT).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(storage.delete(session).await.unwrap(), 0);
}

/// Uploads to a stopped server: the upload must fail, and fail within `OUTAGE_LIMIT`.
async fn upload_during_outage(storage: &RecordingStorage, directory: &Path, session: &str) -> Duration {
    let started = Instant::now();
    let outcome = tokio::time::timeout(OUTAGE_LIMIT, storage.upload(directory, session)).await;
    let elapsed = started.elapsed();
    let Ok(outcome) = outcome else { panic!("an upload to a stopped server was still running after {OUTAGE_LIMIT:?}") };
    let error = outcome.unwrap_err();
    assert!(matches!(error, StorageError::Store { .. }), "{error}");
    eprintln!("upload to a stopped server failed after {elapsed:?}: {error}");
    elapsed
}

#[tokio::test]
async fn s3_stores_lists_reads_and_deletes_a_sealed_recording() {
    let Some(server) = s3::start_or_skip().unwrap() else { return };
    let spool = tempfile::tempdir().unwrap();
    let directory = sealed_recording(spool.path(), "sess-s3-1");
    let storage = s3_storage(&server, server.secret_access_key());
    assert_eq!(storage.kind(), "s3");

    round_trip(&storage, &directory, "sess-s3-1").await;
    // The objects really are in the server's data directory, byte for byte.
    for name in FILES {
        let on_server = std::fs::read(s3_object_file(&server, "sess-s3-1", name)).unwrap();
        assert_eq!(sha256(&on_server), sha256(&spool_file(&directory, name)), "{name}");
    }

    delete_everything(&storage, "sess-s3-1").await;
    for name in FILES {
        assert!(!s3_object_file(&server, "sess-s3-1", name).exists(), "{name}");
    }
}

#[tokio::test]
async fn s3_refuses_a_wrong_secret() {
    let Some(server) = s3::start_or_skip().unwrap() else { return };
    let spool = tempfile::tempdir().unwrap();
    let directory = sealed_recording(spool.path(), "sess-s3-2");
    let wrong_secret = format!("{}0", &server.secret_access_key()[1..]);
    let storage = s3_storage(&server, &wrong_secret);

    let error = storage.upload(&directory, "sess-s3-2").await.unwrap_err();
    assert_permission_denied(&error);
    let chain = format!("{error:?} {:?}", anyhow_chain(&error));
    assert!(!chain.contains(&wrong_secret) && !chain.contains(server.secret_access_key()), "{chain}");
    assert!(storage.list("sess-s3-2").await.is_err());
    // Nothing was stored, as the right key and the data directory both show.
    let right = s3_storage(&server, server.secret_access_key());
    assert!(right.list("sess-s3-2").await.unwrap().is_empty());
    assert!(!s3_object_file(&server, "sess-s3-2", "events.jsonl").exists());
}

#[tokio::test]
async fn s3_upload_fails_during_an_outage_and_succeeds_after_it() {
    let Some(mut server) = s3::start_or_skip().unwrap() else { return };
    let spool = tempfile::tempdir().unwrap();
    let directory = sealed_recording(spool.path(), "sess-s3-3");
    let storage = s3_storage(&server, server.secret_access_key());

    server.stop();
    let elapsed = upload_during_outage(&storage, &directory, "sess-s3-3").await;
    assert!(elapsed < OUTAGE_LIMIT, "{elapsed:?}");
    server.restart().unwrap();

    let summary = storage.upload(&directory, "sess-s3-3").await.unwrap();
    assert_eq!(summary.files, FILES.len());
    assert_stored_equal_spool(&storage, &directory, "sess-s3-3").await;
    for name in FILES {
        let on_server = std::fs::read(s3_object_file(&server, "sess-s3-3", name)).unwrap();
        assert_eq!(sha256(&on_server), sha256(&spool_file(&directory, name)), "{name}");
    }
}

#[tokio::test]
async fn azure_stores_lists_reads_and_deletes_a_sealed_recording() {
    let Some(server) = azurite::start_or_skip().unwrap() else { return };
    let spool = tempfile::tempdir().unwrap();
    let directory = sealed_recording(spool.path(), "sess-az-1");
    let storage = azure_storage(&server, server.account_key());
    assert_eq!(storage.kind(), "azure");

    round_trip(&storage, &directory, "sess-az-1").await;
    delete_everything(&storage, "sess-az-1").await;
}

#[tokio::test]
async fn azure_refuses_a_wrong_key() {
    let Some(server) = azurite::start_or_skip().unwrap() else { return };
    let spool = tempfile::tempdir().unwrap();
    let directory = sealed_recording(spool.path(), "sess-az-2");
    // A well-formed key of the right length that is not the account's.
    let wrong_key = server.account_key().replacen("Eby8", "Fby8", 1);
    assert_ne!(wrong_key, server.account_key());
    let storage = azure_storage(&server, &wrong_key);

    let error = storage.upload(&directory, "sess-az-2").await.unwrap_err();
    assert_permission_denied(&error);
    let chain = format!("{error:?} {:?}", anyhow_chain(&error));
    assert!(!chain.contains(&wrong_key), "{chain}");
    assert!(storage.list("sess-az-2").await.is_err());
    let right = azure_storage(&server, server.account_key());
    assert!(right.list("sess-az-2").await.unwrap().is_empty());
}

#[tokio::test]
async fn azure_upload_fails_during_an_outage_and_succeeds_after_it() {
    let Some(mut server) = azurite::start_or_skip().unwrap() else { return };
    let spool = tempfile::tempdir().unwrap();
    let directory = sealed_recording(spool.path(), "sess-az-3");
    let storage = azure_storage(&server, server.account_key());

    server.stop();
    let elapsed = upload_during_outage(&storage, &directory, "sess-az-3").await;
    assert!(elapsed < OUTAGE_LIMIT, "{elapsed:?}");
    server.restart().unwrap();

    let summary = storage.upload(&directory, "sess-az-3").await.unwrap();
    assert_eq!(summary.files, FILES.len());
    assert_stored_equal_spool(&storage, &directory, "sess-az-3").await;
}

/// The server refused the request (403), rather than the upload failing some other way.
fn assert_permission_denied(error: &StorageError) {
    assert!(
        matches!(error, StorageError::Store { source: object_store::Error::PermissionDenied { .. }, .. }),
        "{error:?}"
    );
}

/// The error and its sources, as text, to check that no credential appears anywhere in it.
fn anyhow_chain(error: &dyn std::error::Error) -> Vec<String> {
    let mut chain = vec![error.to_string()];
    let mut source = error.source();
    while let Some(next) = source {
        chain.push(format!("{next} / {next:?}"));
        source = next.source();
    }
    chain
}
