//! The buffered, hashed, fail-closed file writer shared by both recording writers.

use std::time::Duration;

use crate::chain::{ChunkHasher, FileDigest};
use tokio::fs::File;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use crate::RecordingError;

/// Buffered bytes never wait longer than this before they are handed to the operating system.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// A buffer this large is written out at once, whatever its age.
pub const BUFFER_LIMIT: usize = 64 * 1024;

/// What a finished file looks like: its length, the SHA-256 of every byte written to it, and its chunk chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SinkSummary {
    pub file_bytes: u64,
    pub sha256: [u8; 32],
    pub digest: FileDigest,
}

/// The last component of `path`, which a file's chain is bound to.
pub(crate) fn file_name(path: &std::path::Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

#[derive(Debug)]
pub(crate) struct DurableSink {
    file: File,
    buffer: Vec<u8>,
    /// When the oldest byte still in `buffer` arrived; `None` while the buffer is empty.
    oldest_unflushed: Option<Instant>,
    /// The file's name, which its chain is bound to.
    name: String,
    hasher: ChunkHasher,
    file_bytes: u64,
    failed: bool,
}

impl DurableSink {
    pub fn new(file: File, name: String) -> Self {
        Self {
            file,
            buffer: Vec::new(),
            oldest_unflushed: None,
            name,
            hasher: ChunkHasher::default(),
            file_bytes: 0,
            failed: false,
        }
    }

    /// Appends one encoded line (the caller's closure writes it into the buffer) and flushes if the buffer is
    /// full or its oldest byte is due.
    pub async fn append_line(
        &mut self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), serde_json::Error>,
    ) -> Result<(), RecordingError> {
        self.ensure_healthy()?;
        let start = self.buffer.len();
        if let Err(error) = encode(&mut self.buffer) {
            self.buffer.truncate(start);
            return Err(RecordingError::Encode(error));
        }
        self.buffer.push(b'\n');
        self.appended().await
    }

    /// Appends one binary frame (its head, then its data) and flushes like [`DurableSink::append_line`].
    pub async fn append_frame(&mut self, head: &[u8], data: &[u8]) -> Result<(), RecordingError> {
        self.ensure_healthy()?;
        self.buffer.extend_from_slice(head);
        self.buffer.extend_from_slice(data);
        self.appended().await
    }

    async fn appended(&mut self) -> Result<(), RecordingError> {
        let now = Instant::now();
        self.oldest_unflushed.get_or_insert(now);
        if self.buffer.len() >= BUFFER_LIMIT {
            return self.flush().await;
        }
        self.flush_if_due(now).await
    }

    /// The moment the buffered bytes must be flushed, or `None` when nothing is buffered.
    pub fn flush_deadline(&self) -> Option<Instant> {
        self.oldest_unflushed.map(|oldest| oldest + FLUSH_INTERVAL)
    }

    pub async fn flush_if_due(&mut self, now: Instant) -> Result<(), RecordingError> {
        match self.flush_deadline() {
            Some(deadline) if now >= deadline => self.flush().await,
            _ => self.ensure_healthy(),
        }
    }

    /// Hands every buffered byte to the operating system (no fsync).
    pub async fn flush(&mut self) -> Result<(), RecordingError> {
        self.ensure_healthy()?;
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.hasher.update(&self.buffer);
        // tokio's `File` reports some write errors only on the next operation: `flush` waits for them.
        let written = match self.file.write_all(&self.buffer).await {
            Ok(()) => self.file.flush().await,
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            self.failed = true;
            return Err(RecordingError::Write(error));
        }
        self.file_bytes += self.buffer.len() as u64;
        self.buffer.clear();
        self.oldest_unflushed = None;
        Ok(())
    }

    /// Flushes, then fsyncs the file, so a finished recording survives a power loss.
    pub async fn finish(mut self) -> Result<SinkSummary, RecordingError> {
        self.flush().await?;
        if let Err(error) = self.file.sync_all().await {
            self.failed = true;
            return Err(RecordingError::Write(error));
        }
        let digest = self.hasher.finish(&self.name);
        Ok(SinkSummary { file_bytes: self.file_bytes, sha256: digest.sha256, digest })
    }

    fn ensure_healthy(&self) -> Result<(), RecordingError> {
        if self.failed { Err(RecordingError::WriterFailed) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn dev_full() -> DurableSink {
        let file = tokio::fs::OpenOptions::new().write(true).open("/dev/full").await.unwrap();
        DurableSink::new(file, "full".to_owned())
    }

    fn big_line(buffer: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        serde_json::to_writer(buffer, &"x".repeat(BUFFER_LIMIT))
    }

    #[tokio::test]
    async fn a_full_buffer_is_written_at_once_and_a_write_error_poisons_the_sink() {
        let mut sink = dev_full().await;
        let first = sink.append_line(big_line).await;
        assert!(matches!(first, Err(RecordingError::Write(_))), "{first:?}");
        let second = sink.append_line(|buffer| serde_json::to_writer(buffer, &1)).await;
        assert!(matches!(second, Err(RecordingError::WriterFailed)), "{second:?}");
        assert!(matches!(sink.finish().await, Err(RecordingError::WriterFailed)));
    }

    #[tokio::test]
    async fn a_small_line_waits_in_the_buffer_until_due() {
        let mut sink = dev_full().await;
        sink.append_line(|buffer| serde_json::to_writer(buffer, &1)).await.unwrap();
        let deadline = sink.flush_deadline().unwrap();
        sink.flush_if_due(deadline - Duration::from_millis(1)).await.unwrap();
        assert!(matches!(sink.flush_if_due(deadline).await, Err(RecordingError::Write(_))));
    }

    #[tokio::test]
    async fn a_failed_encoding_leaves_no_partial_line() {
        let mut sink = dev_full().await;
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1_u8], 1);
        let result = sink.append_line(|buffer| serde_json::to_writer(buffer, &map)).await;
        assert!(matches!(result, Err(RecordingError::Encode(_))), "{result:?}");
        assert!(sink.buffer.is_empty());
        assert_eq!(sink.flush_deadline(), None);
    }
}
