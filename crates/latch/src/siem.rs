//! SIEM export: the audit stream forwarded as JSON lines to a file, as RFC 5424 syslog over TCP or UDP, or in
//! batches to an HTTP endpoint, with at-least-once delivery from a cursor persisted per (sink, stream).
//!
//! `record` is the exported JSON envelope, `syslog` the RFC 5424 message and its framing, `sinks` the transports,
//! `stream` the reading of a stream as records, and `exporter` the task per sink that `latch serve` runs. Only the
//! audit log is exported today; session events join as a second `latch_app::ExportStream`, keyed by their own
//! increasing id, once they are stored in the database.

pub mod exporter;
pub mod record;
pub mod sinks;
pub mod stream;
pub mod syslog;

pub use exporter::SiemExport;
