//! Reading a session's recording files, wherever they are kept (this node's spool, or the recording storage), to
//! replay them or keep a copy. Reading needs `recordings:read` and every file read is audited before its bytes
//! leave (fail closed). The files are reached through an installed [`RecordingFiles`], so this crate knows no
//! recording format or storage.

use crate::{App, AppError, Principal, RequestContext};
use latch_domain::GatewaySessionId;
use latch_domain::audit::{AccessEvent, AuditEvent};
use latch_domain::gateway_session::GatewaySession;
use latch_domain::permission::Permission;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// The largest recording file served in one piece.
pub const MAX_RECORDING_FILE_BYTES: u64 = 256 << 20;

/// One file of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFile {
    pub name: String,
    pub bytes: u64,
}

/// What went wrong reaching a recording's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingFilesError {
    NotFound,
    TooLarge,
    Unavailable(String),
}

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, RecordingFilesError>> + Send + 'a>>;

/// Where the binary finds recordings.
pub trait RecordingFiles: Send + Sync + Debug {
    /// The files of `recording` (the session's recording path), by name.
    fn list<'a>(&'a self, recording: &'a str) -> Boxed<'a, Vec<RecordingFile>>;
    /// One file of `recording`, refused above `limit` bytes.
    fn read<'a>(&'a self, recording: &'a str, file: &'a str, limit: u64) -> Boxed<'a, Vec<u8>>;
}

impl App {
    /// The files of session `id`'s recording. Needs `recordings:read`.
    pub async fn recording_files(&self, principal: &Principal, id: &str) -> Result<Vec<RecordingFile>, AppError> {
        let (_, recording, files) = self.recording_of(principal, id).await?;
        files.list(&recording).await.map_err(files_error)
    }

    /// One file of session `id`'s recording, audited (`recording.read`) before it is returned. Needs
    /// `recordings:read`.
    pub async fn read_recording_file(
        &self,
        principal: &Principal,
        id: &str,
        file: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<u8>, AppError> {
        let (session, recording, files) = self.recording_of(principal, id).await?;
        let bytes = files.read(&recording, file, MAX_RECORDING_FILE_BYTES).await.map_err(files_error)?;
        let mut tx = self.store().begin().await?;
        let event = AccessEvent::RecordingRead { session_id: session.id, file: file.to_owned() };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(bytes)
    }

    /// The session, its recording path and the installed reader; a session without a recording, or whose recording
    /// was deleted, has none.
    async fn recording_of(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<(GatewaySession, String, &std::sync::Arc<dyn RecordingFiles>), AppError> {
        principal.require(Permission::RecordingsRead)?;
        let id: GatewaySessionId = id.parse().map_err(|_| AppError::NotFound("session"))?;
        let mut conn = self.store().read().await?;
        let session = latch_store::gateway_sessions::find(&mut conn, id).await?.ok_or(AppError::NotFound("session"))?;
        let recording = match (&session.recording, session.retention.deleted_at) {
            (Some(recording), None) => recording.clone(),
            _ => return Err(AppError::NotFound("recording")),
        };
        let files = self.recording_files_reader().ok_or(AppError::Internal("no recording reader installed".into()))?;
        Ok((session, recording, files))
    }
}

fn files_error(error: RecordingFilesError) -> AppError {
    match error {
        RecordingFilesError::NotFound => AppError::NotFound("recording file"),
        RecordingFilesError::TooLarge => {
            AppError::BadRequest(format!("the file is over {MAX_RECORDING_FILE_BYTES} bytes; copy it from the storage"))
        }
        RecordingFilesError::Unavailable(reason) => AppError::Internal(reason),
    }
}
