//! The one error type of this crate.

use std::io;
use std::path::PathBuf;

/// Why writing or reading a recording failed.
///
/// Every write error reaches the caller: a writer never retries or drops data silently, and after its first write
/// error it refuses all further work with [`RecordingError::WriterFailed`]. The gateway ends the session (fails
/// closed) on any of them.
#[derive(Debug, thiserror::Error)]
pub enum RecordingError {
    #[error("cannot create recording file {path}")]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write recording")]
    Write(#[source] io::Error),
    #[error("the recordings spool has {free} bytes free, below its reserve of {reserve} bytes")]
    SpoolFull { free: u64, reserve: u64 },
    #[error("cannot tell the free space of the recordings spool {path}")]
    SpoolSpace {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("recording writer stopped after an earlier write error")]
    WriterFailed,
    #[error("cannot encode recording line")]
    Encode(#[source] serde_json::Error),
    #[error("cannot read recording {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("recording {path} is over the size limit of {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("recording has no header line")]
    MissingHeader,
    #[error("invalid recording header: {reason}")]
    InvalidHeader { reason: String },
    #[error("unsupported asciicast version {version}, expected 2")]
    UnsupportedVersion { version: u64 },
    #[error("invalid recording line {line}: {reason}")]
    InvalidLine { line: usize, reason: String },
    #[error("invalid recording frame at byte {offset}: {reason}")]
    InvalidFrame { offset: u64, reason: String },
}
