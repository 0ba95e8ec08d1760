//! Recording storage: its credential and this node's upload backlog.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The credential of the configured recording storage: an S3 secret access key or an Azure account key. Kept in
/// the vault; never returned.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageCredentialRequest {
    pub credential: String,
}

crate::redact::redacted_debug!(StorageCredentialRequest {  } hides { credential });

/// The uploader's backlog on the node that answers: recordings sealed in its spool and not yet in the storage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadBacklogView {
    /// `false` when no `[recordings.storage]` is configured: recordings stay where they were written.
    pub configured: bool,
    /// `local`, `s3` or `azure`.
    pub storage: Option<String>,
    pub recordings: u64,
    pub bytes: u64,
    /// Recordings whose last upload attempt failed.
    pub failing: u64,
    /// Recordings that failed more often than the configured retries (each raised `recording.upload_failing`).
    pub alerted: u64,
    pub last_error: Option<String>,
    /// RFC 3339.
    pub last_upload_at: Option<String>,
    /// When the uploader last looked (RFC 3339).
    pub updated_at: Option<String>,
}

/// One file of a session's recording.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RecordingFileView {
    pub name: String,
    pub bytes: u64,
}

/// The files of a session's recording, wherever they are kept (the node's spool or the recording storage).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordingFilesView {
    pub session: String,
    pub files: Vec<RecordingFileView>,
}
