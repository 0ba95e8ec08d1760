//! SIEM export: the audit stream and session events forwarded as JSON lines to a file, as RFC 5424 syslog over TCP
//! or UDP, or in batches to an HTTP endpoint, with at-least-once delivery from a cursor persisted per (sink, stream).
//!
//! `record` is the exported JSON envelope, `syslog` the RFC 5424 message and its framing, `sinks` the transports,
//! `stream` the reading of a stream as records, and `exporter` the task per sink and stream that `latch serve` runs.
//! The streams are the audit log and, for sinks whose `streams` name it, session events (positioned by their
//! session's `session.ended` audit sequence number).

pub mod exporter;
pub mod record;
pub mod sinks;
pub mod stream;
pub mod syslog;

pub use exporter::SiemExport;
