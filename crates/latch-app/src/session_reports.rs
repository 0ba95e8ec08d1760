//! Session reports: sessions found by who, where, how and when, and the indexed events of each session.

use crate::{App, AppError, Principal};
use latch_domain::Timestamp;
use latch_domain::gateway_session::{GatewaySession, IndexedSessionEvent, SessionEndReason, SessionEventEntry};
use latch_domain::permission::Permission;
use latch_domain::target::Protocol;
use latch_store::gateway_sessions::SessionFilter;
use latch_store::session_events::EventFilter;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// Reads the events a session's recording holds, to index a session the gateway could not index itself (the node
/// stopped while it ran). Reading recordings needs their format and store, which live in front ends; the binary
/// installs one, so this crate stays free of recording code.
pub trait RecordedEvents: Send + Sync + Debug {
    /// The entries of the event log of `recording` (the session's recording path); none when it cannot be read.
    fn events_of<'a>(&'a self, recording: &'a str)
    -> Pin<Box<dyn Future<Output = Vec<SessionEventEntry>> + Send + 'a>>;

    /// Seals the recording of `session`, closed as abandoned, so that it can be verified and uploaded like any
    /// finished one; an error says why it could not be.
    fn seal_abandoned<'a>(
        &'a self,
        session: &'a GatewaySession,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// The most rows one page holds.
pub const MAX_REPORT_PAGE: i64 = 1000;

/// Which sessions to find; every present field narrows the result. Times are inclusive from, exclusive to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionQuery {
    pub live_only: bool,
    pub username: Option<String>,
    pub target: Option<String>,
    /// The target's address (host name or IP).
    pub host: Option<String>,
    pub tag: Option<String>,
    pub protocol: Option<String>,
    pub end_reason: Option<String>,
    pub started_from: Option<Timestamp>,
    pub started_to: Option<Timestamp>,
    pub limit: i64,
    pub offset: i64,
}

impl App {
    /// Sessions matching `query`, newest first. Users without `sessions:read` see only their own; an unknown
    /// protocol or end reason is a validation error naming the value.
    pub async fn search_sessions(
        &self,
        principal: &Principal,
        query: &SessionQuery,
    ) -> Result<Vec<GatewaySession>, AppError> {
        let user = if principal.has(Permission::SessionsRead) {
            None
        } else {
            principal.require(Permission::RequestsWrite)?;
            Some(principal.as_user()?.user().id)
        };
        let protocol = query.protocol.as_deref().map(Protocol::parse).transpose()?;
        let end_reason = query.end_reason.as_deref().map(SessionEndReason::parse).transpose()?;
        let filter = SessionFilter {
            live_only: query.live_only,
            user,
            grant: None,
            username: query.username.clone(),
            target: query.target.clone(),
            host: query.host.clone(),
            tag: query.tag.clone(),
            protocol,
            end_reason,
            started_from: query.started_from,
            started_to: query.started_to,
            limit: query.limit.clamp(1, MAX_REPORT_PAGE),
            offset: query.offset.max(0),
        };
        let mut conn = self.store().read().await?;
        Ok(latch_store::gateway_sessions::list(&mut conn, &filter).await?)
    }

    /// The indexed events of session `id` in log order: those of a finished session (a live session's events are
    /// indexed when it ends). Visible to whoever may see the session.
    pub async fn session_events(
        &self,
        principal: &Principal,
        id: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<IndexedSessionEvent>, AppError> {
        let session = self.get_session(principal, id).await?;
        let filter = EventFilter {
            session: Some(session.id),
            limit: limit.clamp(1, MAX_REPORT_PAGE),
            offset: offset.max(0),
            ..EventFilter::default()
        };
        let mut conn = self.store().read().await?;
        Ok(latch_store::session_events::list(&mut conn, &filter).await?)
    }
}
