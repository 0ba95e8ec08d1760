//! Sealing a finished session recording: its manifest (every file's chunks and chain, and the session's record),
//! signed with the node's recording key as an SSH signature, so that anyone with the public key can check the
//! recording offline (`latch recordings verify`, or `ssh-keygen -Y verify`).

use std::path::Path;
use std::sync::Arc;

use latch_recording::{
    MANIFEST_FILE, MANIFEST_NAMESPACE, MANIFEST_SIGNATURE_FILE, ManifestFile, ManifestSession, RecordingError,
    RecordingManifest,
};
use russh::keys::PrivateKey;
use russh::keys::ssh_key::{HashAlg, LineEnding};
use tokio::io::AsyncWriteExt;

/// The node's recording key; `Debug` shows only its fingerprint.
#[derive(Clone)]
pub(crate) struct RecordingKey(pub(crate) Arc<PrivateKey>);

impl std::fmt::Debug for RecordingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordingKey({})", self.0.public_key().fingerprint(HashAlg::Sha256))
    }
}

/// What a session's manifest says of it, and the key that signs it.
#[derive(Debug, Clone)]
pub(crate) struct Seal {
    /// The session's record; the end time and reason are filled in when it is sealed.
    pub(crate) session: ManifestSession,
    pub(crate) key: RecordingKey,
}

impl Seal {
    /// Writes `manifest.json` listing `files`, and its signature, into `directory`, both synced to disk.
    pub(crate) async fn write(
        &self,
        directory: &Path,
        files: Vec<ManifestFile>,
        end_reason: &str,
        now_ms: i64,
    ) -> Result<(), RecordingError> {
        let session =
            ManifestSession { ended_at_ms: now_ms, end_reason: end_reason.to_owned(), ..self.session.clone() };
        let manifest = RecordingManifest::new(session, files, now_ms);
        let bytes = manifest.to_bytes();
        let signature = self
            .key
            .0
            .sign(MANIFEST_NAMESPACE, HashAlg::Sha512, &bytes)
            .and_then(|signature| signature.to_pem(LineEnding::LF))
            .map_err(|error| {
                RecordingError::Write(std::io::Error::other(format!("cannot sign the manifest: {error}")))
            })?;
        write_synced(&directory.join(MANIFEST_FILE), &bytes).await?;
        write_synced(&directory.join(MANIFEST_SIGNATURE_FILE), signature.as_bytes()).await
    }
}

/// Creates `path` (it must not exist), writes `bytes` and syncs it.
async fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RecordingError> {
    let create = |source| RecordingError::Create { path: path.to_path_buf(), source };
    let mut file = tokio::fs::OpenOptions::new().write(true).create_new(true).open(path).await.map_err(create)?;
    file.write_all(bytes).await.map_err(RecordingError::Write)?;
    file.sync_all().await.map_err(RecordingError::Write)
}
