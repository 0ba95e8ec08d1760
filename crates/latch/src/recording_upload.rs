//! `RecordingUpload`: copies the sealed recordings in this node's spool (the recordings directory) to the
//! recording storage, then deletes the spool copy.
//!
//! The spool is the queue: a recording directory holding `manifest.json.sig` is finished and waits for upload, so
//! nothing is lost when the storage is down or Latch stops (a `kill -9` included): the next pass, or the next
//! start, picks it up again. A recording is deleted from the spool only after the storage holds every file at its
//! size and its `recording.stored` audit record committed. A failed attempt is retried after the configured
//! interval, `upload_retries` times; the next failure appends `recording.upload_failing` (the alert, for webhooks
//! and the SIEM) and from then on the interval doubles up to its cap, for as long as it takes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use latch_app::{App, StoredRecording, UploadBacklog};
use latch_recording::{MANIFEST_SIGNATURE_FILE, RecordingStorage, StorageSecret};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::StorageConfig;
use crate::tasks::Task;

/// How often the spool is looked at.
const SCAN_INTERVAL: Duration = Duration::from_secs(2);
/// The longest error text kept for the backlog and the alert.
const MAX_ERROR_CHARS: usize = 500;

/// The uploader of one node.
#[derive(Debug)]
pub struct RecordingUpload {
    pub app: App,
    pub spool: PathBuf,
    pub storage: StorageConfig,
    /// Where the uploader publishes the storage it opened, for the retention deleter.
    pub shared: SharedStorage,
}

/// The recording storage as the uploader last opened it (with the vault's current credential); empty until then.
#[derive(Debug, Clone, Default)]
pub struct SharedStorage(Arc<RwLock<Option<RecordingStorage>>>);

impl SharedStorage {
    pub fn get(&self) -> Option<RecordingStorage> {
        self.0.read().ok().and_then(|storage| storage.clone())
    }
    fn set(&self, storage: RecordingStorage) {
        if let Ok(mut slot) = self.0.write() {
            *slot = Some(storage);
        }
    }
}

/// A recording whose last attempt failed.
#[derive(Debug)]
struct Failing {
    failures: u32,
    retry_at: Instant,
}

/// The storage, opened with the credential it was opened with (a changed credential reopens it).
struct Opened {
    storage: RecordingStorage,
    credential: Option<[u8; 32]>,
}

/// What the uploader remembers between passes.
#[derive(Default)]
struct State {
    opened: Option<Opened>,
    failing: HashMap<String, Failing>,
    last_error: Option<String>,
    last_upload_at: Option<latch_app::domain::Timestamp>,
}

impl Task for RecordingUpload {
    const NAME: &'static str = "recording-upload";

    async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(storage = self.storage.backend.kind(), spool = %self.spool.display(), "uploading recordings");
        let mut state = State::default();
        loop {
            self.pass(&mut state, &shutdown).await;
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(SCAN_INTERVAL) => {}
            }
        }
    }
}

impl RecordingUpload {
    /// Uploads every sealed recording that is not waiting for a retry, then reports the backlog.
    async fn pass(&self, state: &mut State, shutdown: &CancellationToken) {
        let sealed = match sealed_recordings(&self.spool).await {
            Ok(sealed) => sealed,
            Err(error) => {
                tracing::error!(spool = %self.spool.display(), %error, "cannot read the recording spool");
                return;
            }
        };
        state.failing.retain(|name, _| sealed.iter().any(|(sealed, _)| sealed == name));
        // Opened on every pass, also with nothing to upload, so that the retention deleter can reach the storage.
        if let Err(error) = self.open(state).await {
            tracing::debug!(%error, "the recording storage cannot be opened yet");
        }
        for (name, _) in &sealed {
            if shutdown.is_cancelled() {
                break;
            }
            if state.failing.get(name).is_some_and(|failing| failing.retry_at > Instant::now()) {
                continue;
            }
            let directory = self.spool.join(name);
            match self.upload(state, &directory, name).await {
                Ok(()) => {
                    state.failing.remove(name);
                    state.last_upload_at = Some(self.app.now());
                }
                Err(error) => self.failed(state, name, error).await,
            }
        }
        self.report(state).await;
    }

    async fn upload(&self, state: &mut State, directory: &Path, name: &str) -> Result<(), String> {
        let storage = self.open(state).await?;
        let summary = storage.upload(directory, name).await.map_err(|error| error_text(&error))?;
        let attempts = state.failing.get(name).map_or(1, |failing| failing.failures + 1);
        let stored = StoredRecording {
            recording: name.to_owned(),
            storage: storage.kind().to_owned(),
            files: summary.files as u64,
            bytes: summary.bytes,
            attempts,
        };
        // The chain of custody is recorded before the spool copy goes; without it the copy stays and is sent again.
        self.app.record_recording_stored(stored).await.map_err(|error| format!("cannot audit the upload: {error}"))?;
        tokio::fs::remove_dir_all(directory)
            .await
            .map_err(|error| format!("uploaded, but cannot remove the spool copy {}: {error}", directory.display()))?;
        tracing::info!(recording = name, files = summary.files, bytes = summary.bytes, attempts, "recording stored");
        Ok(())
    }

    async fn failed(&self, state: &mut State, name: &str, error: String) {
        let retry = self.storage.retry;
        let failures = state.failing.get(name).map_or(1, |failing| failing.failures + 1);
        let delay = retry.delay_after(failures);
        state.failing.insert(name.to_owned(), Failing { failures, retry_at: Instant::now() + delay });
        tracing::warn!(recording = name, failures, retry_in_ms = delay.as_millis() as u64, %error, "recording upload failed");
        if retry.is_alert(failures) {
            tracing::error!(recording = name, failures, %error, "recording upload keeps failing");
            let kind = self.storage.backend.kind();
            if let Err(audit) = self.app.record_recording_upload_failing(name, kind, failures, &error).await {
                tracing::error!(recording = name, error = %audit, "cannot audit the failing upload");
            }
        }
        state.last_error = Some(error);
    }

    /// The storage, opened (again) with the vault's current credential.
    async fn open(&self, state: &mut State) -> Result<RecordingStorage, String> {
        let secret = if self.storage.backend.needs_secret() {
            let credential = self
                .app
                .recording_storage_credential()
                .await
                .map_err(|error| format!("cannot read the storage credential: {error}"))?
                .ok_or("the storage credential is not set (latch recordings storage-credential)")?;
            let text = String::from_utf8(credential.expose().clone())
                .map_err(|_| "the storage credential is not text".to_owned())?;
            Some(StorageSecret::new(text))
        } else {
            None
        };
        let fingerprint = secret.as_ref().map(StorageSecret::fingerprint);
        let current = state.opened.as_ref().is_some_and(|opened| opened.credential == fingerprint);
        if !current {
            let storage = RecordingStorage::open(&self.storage.backend, &self.storage.prefix, secret.as_ref())
                .map_err(|error| error_text(&error))?;
            self.shared.set(storage.clone());
            state.opened = Some(Opened { storage, credential: fingerprint });
        }
        state.opened.as_ref().map(|opened| opened.storage.clone()).ok_or_else(|| "the storage is not open".to_owned())
    }

    async fn report(&self, state: &State) {
        let sealed = sealed_recordings(&self.spool).await.unwrap_or_default();
        let retries = self.storage.retry.retries;
        let backlog = UploadBacklog {
            storage: self.storage.backend.kind().to_owned(),
            recordings: sealed.len() as u64,
            bytes: sealed.iter().map(|(_, bytes)| bytes).sum(),
            failing: state.failing.len() as u64,
            alerted: state.failing.values().filter(|failing| failing.failures > retries).count() as u64,
            last_error: if state.failing.is_empty() { None } else { state.last_error.clone() },
            last_upload_at: state.last_upload_at,
            updated_at: self.app.now(),
        };
        self.app.report_upload_backlog(backlog);
    }
}

/// The error and its causes, on one line, bounded.
fn error_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}

/// The sealed recordings in the spool with their sizes, oldest name first.
async fn sealed_recordings(spool: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut entries = match tokio::fs::read_dir(spool).await {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut sealed = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        if !entry.file_type().await?.is_dir() {
            continue;
        }
        let Ok(name) = entry.file_name().into_string() else { continue };
        let directory = entry.path();
        if tokio::fs::try_exists(directory.join(MANIFEST_SIGNATURE_FILE)).await.unwrap_or(false) {
            sealed.push((name, directory_bytes(&directory).await));
        }
    }
    sealed.sort();
    Ok(sealed)
}

async fn directory_bytes(directory: &Path) -> u64 {
    let mut total = 0;
    if let Ok(mut entries) = tokio::fs::read_dir(directory).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            if let Ok(meta) = entry.metadata().await {
                total += meta.len();
            }
        }
    }
    total
}
