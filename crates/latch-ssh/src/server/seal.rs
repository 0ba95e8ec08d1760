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

/// Seals the recording a stopped node left in `directory` (the session was closed as abandoned at restart): every
/// file there is hashed now, as it is on disk, since the writer that hashed it as written is gone; the manifest
/// says the session ended `abandoned`. A manifest left without its signature by a crash while sealing is replaced.
/// Nothing is done when the recording is already sealed.
pub async fn seal_abandoned(
    directory: &Path,
    session: ManifestSession,
    key: Arc<PrivateKey>,
    now_ms: i64,
) -> Result<(), RecordingError> {
    if tokio::fs::try_exists(directory.join(MANIFEST_SIGNATURE_FILE)).await.unwrap_or(false) {
        return Ok(());
    }
    match tokio::fs::remove_file(directory.join(MANIFEST_FILE)).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(RecordingError::Write(error)),
    }
    let read = |source| RecordingError::Read { path: directory.to_path_buf(), source };
    let mut entries = tokio::fs::read_dir(directory).await.map_err(read)?;
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(read)? {
        if entry.file_type().await.map_err(read)?.is_file()
            && let Ok(name) = entry.file_name().into_string()
        {
            names.push(name);
        }
    }
    names.sort();
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        files.push(hash_file(&directory.join(&name), &name).await?);
    }
    let end_reason = session.end_reason.clone();
    Seal { session, key: RecordingKey(key) }.write(directory, files, &end_reason, now_ms).await
}

/// A file's manifest entry, from its bytes on disk.
async fn hash_file(path: &Path, name: &str) -> Result<ManifestFile, RecordingError> {
    use tokio::io::AsyncReadExt;
    let read = |source| RecordingError::Read { path: path.to_path_buf(), source };
    let mut file = tokio::fs::File::open(path).await.map_err(read)?;
    let mut hasher = latch_recording::ChunkHasher::default();
    let mut block = vec![0; 1 << 20];
    loop {
        let count = file.read(&mut block).await.map_err(read)?;
        if count == 0 {
            break;
        }
        hasher.update(&block[..count]);
    }
    Ok(ManifestFile::new(name, &hasher.finish(name)))
}
