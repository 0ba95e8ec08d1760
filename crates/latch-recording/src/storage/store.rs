//! [`RecordingStorage`]: a session's recording files as objects `<prefix>/<session>/<file>`.

use std::path::Path;
use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::backend::{StorageBackend, StorageSecret};
use super::error::StorageError;
use crate::{MANIFEST_FILE, MANIFEST_SIGNATURE_FILE};

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 << 20;
/// The size of one part of a multipart upload (S3 wants at least 5 MiB for all but the last).
pub const MULTIPART_PART_SIZE: usize = 8 << 20;
/// Parts in flight at once for one file.
const PARTS_IN_FLIGHT: usize = 2;
/// How much of a spool file is read at a time.
const READ_BLOCK: usize = 1 << 20;
/// The longest name of a recording, a file or a prefix segment.
const MAX_NAME: usize = 200;

/// A storage backend opened for recordings.
#[derive(Debug, Clone)]
pub struct RecordingStorage {
    store: Arc<dyn ObjectStore>,
    prefix: Vec<String>,
    kind: &'static str,
}

/// What one upload copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadSummary {
    pub files: usize,
    pub bytes: u64,
}

/// One stored file of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub bytes: u64,
}

impl RecordingStorage {
    /// Opens `backend`; objects are kept under `prefix` (`""` for the top, or segments separated by `/`).
    pub fn open(backend: &StorageBackend, prefix: &str, secret: Option<&StorageSecret>) -> Result<Self, StorageError> {
        let prefix = prefix
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| plain_name(segment).map(str::to_owned))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { store: backend.open(secret)?, prefix, kind: backend.kind() })
    }

    /// `local`, `s3` or `azure`.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Copies the sealed recording in `directory` to `<prefix>/<recording>/`: recorded files, then the manifest,
    /// then its signature; then checks every object's size. The spool copy may be deleted only after this returns
    /// `Ok`.
    pub async fn upload(&self, directory: &Path, recording: &str) -> Result<UploadSummary, StorageError> {
        if !tokio::fs::try_exists(directory.join(MANIFEST_SIGNATURE_FILE)).await.unwrap_or(false) {
            return Err(StorageError::NotSealed(directory.to_path_buf()));
        }
        let mut names = spool_files(directory).await?;
        names.sort_by_key(|name| (upload_rank(name), name.clone()));
        let mut sizes = Vec::with_capacity(names.len());
        for name in &names {
            let key = self.key(recording, name)?;
            let bytes = self.upload_file(&directory.join(name), &key).await?;
            sizes.push((key, bytes));
        }
        let mut total = 0;
        for (key, expected) in &sizes {
            let meta = self.store.head(key).await.map_err(|source| store_error("check", key, source))?;
            if meta.size != *expected {
                return Err(StorageError::SizeMismatch { key: key.to_string(), expected: *expected, found: meta.size });
            }
            total += expected;
        }
        Ok(UploadSummary { files: sizes.len(), bytes: total })
    }

    async fn upload_file(&self, path: &Path, key: &ObjectPath) -> Result<u64, StorageError> {
        let spool = |source| StorageError::Spool { path: path.to_path_buf(), source };
        let mut file = tokio::fs::File::open(path).await.map_err(spool)?;
        let size = file.metadata().await.map_err(spool)?.len();
        if size <= MULTIPART_THRESHOLD {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            file.read_to_end(&mut bytes).await.map_err(spool)?;
            let length = bytes.len() as u64;
            self.store.put(key, PutPayload::from(bytes)).await.map_err(|source| store_error("upload", key, source))?;
            return Ok(length);
        }
        let upload =
            self.store.put_multipart(key).await.map_err(|source| store_error("start uploading", key, source))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, MULTIPART_PART_SIZE);
        let mut block = vec![0; READ_BLOCK];
        let mut length = 0;
        loop {
            let read = match file.read(&mut block).await {
                Ok(read) => read,
                Err(source) => {
                    let _ = writer.abort().await;
                    return Err(spool(source));
                }
            };
            if read == 0 {
                break;
            }
            if let Err(source) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await;
                return Err(store_error("upload a part of", key, source));
            }
            writer.write(&block[..read]);
            length += read as u64;
        }
        writer.finish().await.map_err(|source| store_error("finish uploading", key, source))?;
        Ok(length)
    }

    /// The files stored for `recording`, by name; empty when there is none.
    pub async fn list(&self, recording: &str) -> Result<Vec<StoredFile>, StorageError> {
        let directory = self.directory(recording)?;
        let objects: Vec<_> = self
            .store
            .list(Some(&directory))
            .try_collect()
            .await
            .map_err(|source| store_error("list", &directory, source))?;
        let mut files: Vec<StoredFile> = objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?.to_owned();
                (meta.location.prefix_matches(&directory)
                    && meta.location.parts().count() == directory.parts().count() + 1)
                    .then_some(StoredFile { name, bytes: meta.size })
            })
            .collect();
        files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(files)
    }

    /// Whether the recording's copy is complete (its manifest signature, uploaded last, is there).
    pub async fn is_complete(&self, recording: &str) -> Result<bool, StorageError> {
        let key = self.key(recording, MANIFEST_SIGNATURE_FILE)?;
        match self.store.head(&key).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(store_error("check", &key, source)),
        }
    }

    /// One stored file, refused when it is over `limit` bytes.
    pub async fn read(&self, recording: &str, file: &str, limit: u64) -> Result<Vec<u8>, StorageError> {
        let key = self.key(recording, file)?;
        let meta = self.store.head(&key).await.map_err(|source| store_error("read", &key, source))?;
        if meta.size > limit {
            return Err(StorageError::TooLarge { key: key.to_string(), limit });
        }
        let result = self.store.get(&key).await.map_err(|source| store_error("read", &key, source))?;
        let bytes = result.bytes().await.map_err(|source| store_error("read", &key, source))?;
        // The object may have been replaced between the two requests.
        if bytes.len() as u64 > limit {
            return Err(StorageError::TooLarge { key: key.to_string(), limit });
        }
        Ok(bytes.to_vec())
    }

    /// Deletes every stored file of `recording`; the number deleted (0 when there was nothing).
    pub async fn delete(&self, recording: &str) -> Result<usize, StorageError> {
        let files = self.list(recording).await?;
        for file in &files {
            let key = self.key(recording, &file.name)?;
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(source) => return Err(store_error("delete", &key, source)),
            }
        }
        Ok(files.len())
    }

    fn directory(&self, recording: &str) -> Result<ObjectPath, StorageError> {
        let mut parts: Vec<&str> = self.prefix.iter().map(String::as_str).collect();
        parts.push(plain_name(recording)?);
        Ok(ObjectPath::from_iter(parts))
    }

    fn key(&self, recording: &str, file: &str) -> Result<ObjectPath, StorageError> {
        Ok(self.directory(recording)?.join(plain_name(file)?))
    }
}

/// The recorded files first, then the manifest, then its signature.
fn upload_rank(name: &str) -> u8 {
    match name {
        MANIFEST_SIGNATURE_FILE => 2,
        MANIFEST_FILE => 1,
        _ => 0,
    }
}

/// The regular files directly in `directory`.
async fn spool_files(directory: &Path) -> Result<Vec<String>, StorageError> {
    let spool = |source| StorageError::Spool { path: directory.to_path_buf(), source };
    let mut entries = tokio::fs::read_dir(directory).await.map_err(spool)?;
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(spool)? {
        if entry.file_type().await.map_err(spool)?.is_file() {
            let name =
                entry.file_name().into_string().map_err(|name| StorageError::InvalidName(format!("{name:?}")))?;
            names.push(name);
        }
    }
    Ok(names)
}

/// A name that is one plain path segment: not empty, not `.` or `..`, printable ASCII without `/` or `\`.
fn plain_name(name: &str) -> Result<&str, StorageError> {
    let plain = !name.is_empty()
        && name.len() <= MAX_NAME
        && name != "."
        && name != ".."
        && name.bytes().all(|byte| byte.is_ascii_graphic() && byte != b'/' && byte != b'\\');
    if plain { Ok(name) } else { Err(StorageError::InvalidName(name.to_owned())) }
}

fn store_error(operation: &'static str, key: &ObjectPath, source: object_store::Error) -> StorageError {
    StorageError::Store { operation, key: key.to_string(), source }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalBackend;

    fn local(dir: &Path) -> RecordingStorage {
        RecordingStorage::open(&StorageBackend::Local(LocalBackend { dir: dir.to_path_buf() }), "node-a/", None)
            .unwrap()
    }

    fn spool_recording(spool: &Path, name: &str, big: usize) -> std::path::PathBuf {
        let directory = spool.join(name);
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("events.jsonl"), b"{\"at_ms\":1}\n").unwrap();
        let payload: Vec<u8> = (0..big).map(|i| (i % 251) as u8).collect();
        std::fs::write(directory.join("channel-0.stream"), &payload).unwrap();
        std::fs::write(directory.join(MANIFEST_FILE), b"{}").unwrap();
        directory
    }

    #[tokio::test]
    async fn an_unsealed_recording_is_not_uploaded() {
        let spool = tempfile::tempdir().unwrap();
        let stored = tempfile::tempdir().unwrap();
        let directory = spool_recording(spool.path(), "s1", 10);
        let error = local(stored.path()).upload(&directory, "s1").await.unwrap_err();
        assert!(matches!(error, StorageError::NotSealed(_)), "{error}");
    }

    #[tokio::test]
    async fn uploads_small_and_multipart_files_lists_reads_and_deletes_them() {
        let spool = tempfile::tempdir().unwrap();
        let stored = tempfile::tempdir().unwrap();
        let big = usize::try_from(MULTIPART_THRESHOLD).unwrap() + 3 * 1024 * 1024 + 17;
        let directory = spool_recording(spool.path(), "s2", big);
        std::fs::write(directory.join(MANIFEST_SIGNATURE_FILE), b"sig").unwrap();
        let storage = local(stored.path());
        assert!(!storage.is_complete("s2").await.unwrap());

        let summary = storage.upload(&directory, "s2").await.unwrap();
        assert_eq!(summary.files, 4);
        assert!(storage.is_complete("s2").await.unwrap());
        let on_disk = std::fs::read(stored.path().join("node-a/s2/channel-0.stream")).unwrap();
        assert_eq!(on_disk, std::fs::read(directory.join("channel-0.stream")).unwrap());
        let names: Vec<String> = storage.list("s2").await.unwrap().into_iter().map(|file| file.name).collect();
        assert_eq!(names, ["channel-0.stream", "events.jsonl", MANIFEST_FILE, MANIFEST_SIGNATURE_FILE]);
        assert_eq!(storage.read("s2", "events.jsonl", 1024).await.unwrap(), b"{\"at_ms\":1}\n");
        assert!(matches!(storage.read("s2", "channel-0.stream", 1024).await, Err(StorageError::TooLarge { .. })));

        // Uploading again (after a crash between upload and spool deletion) overwrites the same objects.
        assert_eq!(storage.upload(&directory, "s2").await.unwrap(), summary);
        assert_eq!(storage.delete("s2").await.unwrap(), 4);
        assert!(storage.list("s2").await.unwrap().is_empty());
        assert!(storage.read("s2", "events.jsonl", 1024).await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn names_that_leave_a_recording_are_refused() {
        let stored = tempfile::tempdir().unwrap();
        let storage = local(stored.path());
        for name in ["", ".", "..", "a/b", "a\\b", "with space"] {
            assert!(matches!(storage.read("s", name, 10).await, Err(StorageError::InvalidName(_))), "{name:?}");
            assert!(matches!(storage.list(name).await, Err(StorageError::InvalidName(_))), "{name:?}");
        }
    }
}
