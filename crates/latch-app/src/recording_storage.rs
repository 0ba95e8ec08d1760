//! The recording storage's side of the application: its credential, kept in the vault, and the audit records of
//! the uploader (each recording stored; uploads that keep failing, which is the alert to subscribe to).
//!
//! The uploader itself is a task of the binary; it asks here for the credential at the moment it opens the
//! storage, and reports here what it did.

use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::permission::Permission;
use latch_vault::{SecretBytes, SecretString};
use uuid::Uuid;

/// The name of the credential in `system_secrets`.
const CREDENTIAL_NAME: &str = "recording-storage";
/// The vault kind of the credential, bound into its ciphertext.
const CREDENTIAL_KIND: &str = "recording-storage-credential";
/// The owner bound into the credential's ciphertext: one fixed id, as there is one recording storage.
const CREDENTIAL_OWNER: Uuid = Uuid::from_u128(0x7265_636f_7264_696e_6773_746f_7261_6765);
/// The longest credential accepted (an Azure account key is 88 characters, an S3 secret key 40).
const MAX_CREDENTIAL_CHARS: usize = 4096;

/// What one upload of a recording copied, for its audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecording {
    pub recording: String,
    /// `local`, `s3` or `azure`.
    pub storage: String,
    pub files: u64,
    pub bytes: u64,
    /// Attempts it took, this one included.
    pub attempts: u32,
}

impl App {
    /// Stores the recording storage's credential (an S3 secret access key, an Azure account key) in the vault,
    /// replacing the previous one. Needs `admin`, and a storage that takes a credential. The credential is never returned by any call or recorded.
    pub async fn set_recording_storage_credential(
        &self,
        principal: &Principal,
        credential: &SecretString,
        ctx: &RequestContext,
    ) -> Result<(), AppError> {
        principal.require(Permission::Admin)?;
        let storage = match self.recording_storage() {
            None => {
                return Err(AppError::BadRequest("no recording storage is configured ([recordings.storage])".into()));
            }
            Some("local") => return Err(AppError::BadRequest("a local recording storage needs no credential".into())),
            Some(storage) => storage,
        };
        let text = credential.expose().trim();
        if text.is_empty() || text.chars().count() > MAX_CREDENTIAL_CHARS || text.chars().any(char::is_control) {
            return Err(AppError::BadRequest(format!(
                "the storage credential must be 1 to {MAX_CREDENTIAL_CHARS} characters without control characters"
            )));
        }
        let mut tx = self.store().begin().await?;
        let id = self.seal_new_secret(&mut tx, CREDENTIAL_KIND, CREDENTIAL_OWNER, text.as_bytes()).await?;
        if let Some(previous) = latch_store::system_secrets::set(&mut tx, CREDENTIAL_NAME, id, self.now()).await? {
            latch_store::vault::delete_secret(&mut tx, previous).await?;
        }
        let event = AccessEvent::RecordingStorageCredentialSet { storage: storage.to_owned() };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The recording storage's credential, decrypted for the uploader at the moment it opens the storage; `None`
    /// when none was set. Fails while the vault is sealed.
    pub async fn recording_storage_credential(&self) -> Result<Option<SecretBytes>, AppError> {
        let mut conn = self.store().read().await?;
        let Some(id) = latch_store::system_secrets::find(&mut conn, CREDENTIAL_NAME).await? else {
            return Ok(None);
        };
        self.open_secret(&mut conn, id, CREDENTIAL_KIND, CREDENTIAL_OWNER).await.map(Some)
    }

    /// Records that a recording reached the storage (the chain of custody of the recording).
    pub async fn record_recording_stored(&self, stored: StoredRecording) -> Result<(), AppError> {
        let StoredRecording { recording, storage, files, bytes, attempts } = stored;
        let event = AccessEvent::RecordingStored { recording, storage, files, bytes, attempts };
        self.audit_system(AuditEvent::Access(event)).await
    }

    /// Records that uploading `recording` failed `attempts` times, more than the configured retries: the alert.
    pub async fn record_recording_upload_failing(
        &self,
        recording: &str,
        storage: &str,
        attempts: u32,
        error: &str,
    ) -> Result<(), AppError> {
        let event = AccessEvent::RecordingUploadFailing {
            recording: recording.to_owned(),
            storage: storage.to_owned(),
            attempts,
            error: error.to_owned(),
        };
        self.audit_system(AuditEvent::Access(event)).await
    }

    async fn audit_system(&self, event: AuditEvent) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, event).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The uploader's backlog on this node: the recordings sealed in its spool and not yet in the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadBacklog {
    /// `local`, `s3` or `azure`.
    pub storage: String,
    pub recordings: u64,
    pub bytes: u64,
    /// Recordings whose last attempt failed.
    pub failing: u64,
    /// Recordings that failed more often than the configured retries (each was alerted).
    pub alerted: u64,
    pub last_error: Option<String>,
    pub last_upload_at: Option<latch_domain::Timestamp>,
    pub updated_at: latch_domain::Timestamp,
}

impl App {
    /// The uploader reports its backlog after every pass.
    pub fn report_upload_backlog(&self, backlog: UploadBacklog) {
        if let Ok(mut slot) = self.upload_backlog_slot().lock() {
            *slot = Some(backlog);
        }
    }

    /// This node's upload backlog; `None` when recordings are not copied anywhere (no storage is configured).
    /// Needs `recordings:read`.
    pub fn upload_backlog(&self, principal: &Principal) -> Result<Option<UploadBacklog>, AppError> {
        principal.require(Permission::RecordingsRead)?;
        Ok(self.upload_backlog_slot().lock().map_err(|_| AppError::Internal("backlog lock".to_owned()))?.clone())
    }
}
