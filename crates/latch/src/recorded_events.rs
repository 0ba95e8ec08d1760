//! Reading the events of recordings on this node's disk, for the app to index sessions a stop left open.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use latch_app::RecordedEvents;
use latch_app::domain::gateway_session::SessionEventEntry;

use crate::recording_path::session_directory;

/// Reads event logs under the recordings directory.
#[derive(Debug)]
pub struct RecordingsOnDisk {
    pub dir: PathBuf,
}

impl RecordedEvents for RecordingsOnDisk {
    fn events_of<'a>(
        &'a self,
        recording: &'a str,
    ) -> Pin<Box<dyn Future<Output = Vec<SessionEventEntry>> + Send + 'a>> {
        Box::pin(async move {
            let Some(directory) = session_directory(&self.dir, recording) else {
                tracing::warn!(recording, "not indexing a recording outside the recordings directory");
                return Vec::new();
            };
            latch_ssh::server::indexed_events(&directory).await
        })
    }
}
