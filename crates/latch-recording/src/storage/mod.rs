//! Where finished recordings are kept: a local directory (the default), an S3-compatible bucket or an Azure Blob
//! container, all through `object_store`.
//!
//! A recording is first written to the node's spool (the recordings directory, one directory per session) and
//! sealed there. [`RecordingStorage::upload`] then copies a sealed directory to `<prefix>/<session>/<file>`:
//! every recorded file first (multipart above [`MULTIPART_THRESHOLD`]), the manifest next and its signature last,
//! so the signature's presence marks a complete copy; each object's size is checked against the spool file before
//! the caller may delete the spool copy. Uploading again after a failure or a restart overwrites the same keys, so
//! it is safe to repeat.

mod backend;
mod error;
mod store;

pub use backend::{AzureBackend, LocalBackend, S3Backend, StorageBackend, StorageSecret};
pub use error::StorageError;
pub use store::{MULTIPART_PART_SIZE, MULTIPART_THRESHOLD, RecordingStorage, StoredFile, UploadSummary};
