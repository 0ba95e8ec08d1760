//! The recordings a stopped node left in its spool: reading their events for the app to index the sessions, and
//! sealing them once the app closed those sessions as abandoned.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use latch_app::RecordedEvents;
use latch_app::domain::gateway_session::{GatewaySession, SessionEndReason, SessionEventEntry};
use latch_recording::ManifestSession;
use russh::keys::PrivateKey;

use crate::recording_path::session_directory;

/// Reads and seals recordings under the recordings directory, signing with the node's recording key.
#[derive(Debug)]
pub struct RecordingsOnDisk {
    pub dir: PathBuf,
    pub key: Arc<PrivateKey>,
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

    fn seal_abandoned<'a>(
        &'a self,
        session: &'a GatewaySession,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let recording = session.recording.as_deref().unwrap_or_default();
            let directory = session_directory(&self.dir, recording)
                .ok_or_else(|| format!("{recording:?} is not a directory name in the recordings directory"))?;
            if !tokio::fs::try_exists(&directory).await.unwrap_or(false) {
                return Err(format!("the recording directory {} is missing", directory.display()));
            }
            let ended_at = session.ended_at.unwrap_or(session.started_at).as_millis();
            let manifest = ManifestSession {
                id: session.id.to_string(),
                user: session.username.clone(),
                target: session.target_name.clone(),
                account: session.account_name.clone(),
                protocol: session.protocol.as_str().to_owned(),
                source: session.source.clone(),
                node: session.node.clone(),
                started_at_ms: session.started_at.as_millis(),
                ended_at_ms: ended_at,
                end_reason: session.end_reason.unwrap_or(SessionEndReason::Abandoned).as_str().to_owned(),
            };
            latch_ssh::server::seal_abandoned(&directory, manifest, self.key.clone(), ended_at)
                .await
                .map_err(|error| format!("{error:#}"))
        })
    }
}
