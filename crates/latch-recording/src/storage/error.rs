//! Why a storage operation failed. Messages name the object and the operation, never a credential.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid recording storage configuration: {0}")]
    Config(String),
    #[error("cannot {operation} {key} in recording storage")]
    Store {
        operation: &'static str,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot read spool file {path}")]
    Spool {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{key} in recording storage has {found} bytes, the spool file has {expected}")]
    SizeMismatch { key: String, expected: u64, found: u64 },
    #[error("the recording in {0} is not sealed yet (no manifest signature)")]
    NotSealed(PathBuf),
    #[error("{0:?} is not a recording or file name")]
    InvalidName(String),
    #[error("recording file {key} is over the size limit of {limit} bytes")]
    TooLarge { key: String, limit: u64 },
}

impl StorageError {
    /// The object or recording was not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StorageError::Store { source: object_store::Error::NotFound { .. }, .. })
    }
}
