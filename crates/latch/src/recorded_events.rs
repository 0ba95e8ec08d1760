//! Reading the events of recordings on this node's disk, for the app to index sessions a stop left open.

use std::future::Future;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;

use latch_app::RecordedEvents;
use latch_app::domain::gateway_session::SessionEventEntry;

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
            // A recording path from the store is a session id; anything that would leave the directory is refused.
            let relative = Path::new(recording);
            if !relative.components().all(|component| matches!(component, Component::Normal(_))) {
                tracing::warn!(recording, "not indexing a recording outside the recordings directory");
                return Vec::new();
            }
            latch_ssh::server::indexed_events(&self.dir.join(relative)).await
        })
    }
}
