//! `StoredRecordings`, the installed reader of recording files: a recording still in this node's spool is read
//! there, an uploaded one from the recording storage. Every name is checked to be one plain path component.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use latch_app::{RecordingFile, RecordingFiles, RecordingFilesError};
use latch_recording::StorageError;

use crate::recording_path::session_directory;
use crate::recording_upload::SharedStorage;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, RecordingFilesError>> + Send + 'a>>;

/// Reads recordings from the spool, then from the storage when one is configured.
#[derive(Debug)]
pub struct StoredRecordings {
    pub dir: PathBuf,
    pub storage: Option<SharedStorage>,
}

impl RecordingFiles for StoredRecordings {
    fn list<'a>(&'a self, recording: &'a str) -> Boxed<'a, Vec<RecordingFile>> {
        Box::pin(async move {
            let directory = session_directory(&self.dir, recording).ok_or(RecordingFilesError::NotFound)?;
            if tokio::fs::try_exists(&directory).await.unwrap_or(false) {
                return spool_files(&directory).await;
            }
            let files = self.storage()?.list(recording).await.map_err(storage_error)?;
            if files.is_empty() {
                return Err(RecordingFilesError::NotFound);
            }
            Ok(files.into_iter().map(|file| RecordingFile { name: file.name, bytes: file.bytes }).collect())
        })
    }

    fn read<'a>(&'a self, recording: &'a str, file: &'a str, limit: u64) -> Boxed<'a, Vec<u8>> {
        Box::pin(async move {
            let directory = session_directory(&self.dir, recording).ok_or(RecordingFilesError::NotFound)?;
            let path = session_directory(&directory, file).ok_or(RecordingFilesError::NotFound)?;
            if tokio::fs::try_exists(&directory).await.unwrap_or(false) {
                return read_spool_file(&path, limit).await;
            }
            self.storage()?.read(recording, file, limit).await.map_err(storage_error)
        })
    }
}

impl StoredRecordings {
    fn storage(&self) -> Result<latch_recording::RecordingStorage, RecordingFilesError> {
        match &self.storage {
            None => Err(RecordingFilesError::NotFound),
            Some(shared) => shared
                .get()
                .ok_or_else(|| RecordingFilesError::Unavailable("the recording storage is not open yet".to_owned())),
        }
    }
}

async fn spool_files(directory: &Path) -> Result<Vec<RecordingFile>, RecordingFilesError> {
    let unavailable =
        |error: std::io::Error| RecordingFilesError::Unavailable(format!("{}: {error}", directory.display()));
    let mut entries = tokio::fs::read_dir(directory).await.map_err(unavailable)?;
    let mut files = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(unavailable)? {
        let metadata = entry.metadata().await.map_err(unavailable)?;
        if let (true, Ok(name)) = (metadata.is_file(), entry.file_name().into_string()) {
            files.push(RecordingFile { name, bytes: metadata.len() });
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

async fn read_spool_file(path: &Path, limit: u64) -> Result<Vec<u8>, RecordingFilesError> {
    let metadata = match tokio::fs::symlink_metadata(path).await {
        Ok(metadata) if metadata.is_file() => metadata,
        Ok(_) => return Err(RecordingFilesError::NotFound),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(RecordingFilesError::NotFound),
        Err(error) => return Err(RecordingFilesError::Unavailable(format!("{}: {error}", path.display()))),
    };
    if metadata.len() > limit {
        return Err(RecordingFilesError::TooLarge);
    }
    tokio::fs::read(path)
        .await
        .map_err(|error| RecordingFilesError::Unavailable(format!("{}: {error}", path.display())))
}

fn storage_error(error: StorageError) -> RecordingFilesError {
    match error {
        error if error.is_not_found() => RecordingFilesError::NotFound,
        StorageError::InvalidName(_) => RecordingFilesError::NotFound,
        StorageError::TooLarge { .. } => RecordingFilesError::TooLarge,
        error => RecordingFilesError::Unavailable(error.to_string()),
    }
}
