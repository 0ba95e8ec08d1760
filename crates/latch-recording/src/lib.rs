//! Session recordings: what a user saw and did in a session, written while it happens and read back later.
//!
//! This crate knows no protocol. A front end (the SSH gateway) feeds it bytes and events with their times.
//!
//! - [`AsciicastWriter`] writes an [asciicast v2](https://docs.asciinema.org/manual/asciicast/v2/) file: a JSON
//!   header line (`{"version":2,"width":…,"height":…,"timestamp":…,"env":{"TERM":…},"title":…}`), then one
//!   `[elapsed_seconds, "o" | "i" | "r", data]` array per line. Terminal bytes are decoded as UTF-8 incrementally:
//!   a character split across reads is held back until the next read, and bytes that are not UTF-8 become U+FFFD.
//! - [`ByteStreamWriter`] writes a byte-exact recording of a channel without a terminal (a command's output may be
//!   binary): a JSON header line, then binary frames of output, error output or input with their times.
//! - [`EventLogWriter`] writes JSON Lines of [`SessionEventRecord`]s (exec, subsystem start, file transfers and
//!   file operations, forwards, window changes, session end).
//! - [`read_asciicast`], [`replay_output`], [`read_byte_stream`] and [`read_event_log`] read them back, refusing files over a size limit
//!   and tolerating a last line (or frame) cut short by a crash.
//!
//! Durability promise: a writer buffers at most about 64 KiB and hands its buffer to the operating system whenever
//! the oldest buffered line is one second old (checked on every write, and by `flush_if_due` for idle sessions),
//! so a crash of the gateway loses at most the last second. `finish` flushes and fsyncs.
//!
//! Tamper evidence: every writer hashes what it writes in 1 MiB chunks linked into a chain ([`ChunkHasher`]); a
//! finished session's [`RecordingManifest`] lists each file's chunks and chain head, and [`check_files`] names
//! any changed, reordered, missing or added chunk or file. Signing the manifest is the caller's part.
//!
//! Storage: [`RecordingStorage`] copies a sealed recording from the node's spool to a local directory, an
//! S3-compatible bucket or an Azure Blob container (`object_store`), and reads, lists and deletes stored ones.
//!
//! Spool reserve: [`SpoolReserve`] tells whether the spool's file system still has the room the node keeps free;
//! the gateway refuses or stops recording sessions below it.
//!
//! Fail-closed contract: every write error is returned to the caller, never swallowed or retried, and a writer
//! that failed once refuses all further work ([`RecordingError::WriterFailed`]). A session that cannot be recorded
//! must be ended by the caller.

mod asciicast;
mod byte_stream;
mod byte_stream_reader;
mod chain;
mod error;
mod event_summary;
mod events;
mod manifest;
mod reader;
mod sink;
mod spool;
mod storage;
mod utf8;

pub use asciicast::{AsciicastHeader, AsciicastWriter, RecordingSummary};
pub use byte_stream::{
    BYTE_STREAM_FORMAT, BYTE_STREAM_VERSION, ByteStreamHeader, ByteStreamSummary, ByteStreamWriter, MAX_FRAME_DATA,
    StreamKind,
};
pub use byte_stream_reader::{ByteStreamFrame, ByteStreamRecording, read_byte_stream};
pub use chain::{CHUNK_SIZE, ChunkHasher, FileDigest, chain_head};
pub use error::RecordingError;
pub use events::{
    EventLogSummary, EventLogWriter, FileOperationKind, FileProtocol, ForwardDirection, SessionEvent,
    SessionEventRecord, TransferDirection,
};
pub use manifest::{
    MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_NAMESPACE, MANIFEST_SIGNATURE_FILE, ManifestFile, ManifestSession,
    RecordingManifest, RecordingProblem, check_files,
};
pub use reader::{
    AsciicastEvent, AsciicastEventData, AsciicastRecording, EventLog, read_asciicast, read_event_log, replay_output,
};
pub use sink::{BUFFER_LIMIT, FLUSH_INTERVAL};
pub use spool::{SpoolReserve, free_bytes};
pub use storage::{
    AzureBackend, LocalBackend, MULTIPART_PART_SIZE, MULTIPART_THRESHOLD, RecordingStorage, S3Backend, StorageBackend,
    StorageError, StorageSecret, StoredFile, UploadSummary,
};
