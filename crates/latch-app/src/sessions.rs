//! Gateway sessions as auditors see them: listing, watching and terminating live ones.

use crate::live_sessions::{LiveOutput, SessionSelector, TerminalSize};
use crate::session_reports::SessionQuery;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::gateway_session::{GatewaySession, SessionEndReason};
use latch_domain::permission::Permission;
use latch_domain::{GatewaySessionId, Timestamp, UserId};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio::time::Instant;

const MAX_PAGE: i64 = 500;
/// The terminal size a watch starts with when the session has not told one.
const DEFAULT_TERMINAL: TerminalSize = TerminalSize { cols: 80, rows: 24 };

/// An auditor's watch of a live session: the session as it was when watching began, the terminal size to start
/// with, and what the session's terminals do from then on. Times are counted from when watching began.
#[derive(Debug)]
pub struct SessionWatch {
    session: GatewaySession,
    size: TerminalSize,
    started_at: Timestamp,
    /// How long the session had been running when watching began.
    joined_after: Duration,
    joined: Instant,
    receiver: broadcast::Receiver<LiveOutput>,
}

/// What a watcher gets next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// Something a terminal of the session did, `at` after watching began.
    Output { at: Duration, output: LiveOutput },
    /// The watcher fell behind and lost `skipped` events; it goes on with the oldest one still kept.
    Lagged { at: Duration, skipped: u64 },
}

impl SessionWatch {
    /// The session as it was when watching began.
    pub fn session(&self) -> &GatewaySession {
        &self.session
    }

    /// The terminal's size when watching began: the last one the session told, else 80x24.
    pub fn terminal_size(&self) -> TerminalSize {
        self.size
    }

    /// When watching began: time zero of [`WatchEvent`] times.
    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    /// The next event; `None` once the session has ended.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        match self.receiver.recv().await {
            Ok(output) => Some(WatchEvent::Output { at: output.elapsed.saturating_sub(self.joined_after), output }),
            Err(broadcast::error::RecvError::Lagged(skipped)) => {
                Some(WatchEvent::Lagged { at: self.joined.elapsed(), skipped })
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

impl App {
    /// Lists gateway sessions, newest first. Users without `sessions:read` see only their own.
    pub async fn list_sessions(
        &self,
        principal: &Principal,
        live_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<GatewaySession>, AppError> {
        let query = SessionQuery { live_only, limit: limit.clamp(1, MAX_PAGE), offset, ..SessionQuery::default() };
        self.search_sessions(principal, &query).await
    }

    pub async fn get_session(&self, principal: &Principal, id: &str) -> Result<GatewaySession, AppError> {
        let id: GatewaySessionId = id.parse().map_err(|_| AppError::NotFound("session"))?;
        let mut conn = self.store().read().await?;
        let session = latch_store::gateway_sessions::find(&mut conn, id).await?.ok_or(AppError::NotFound("session"))?;
        let mine = principal.as_user().is_ok_and(|me| me.user().id == session.user_id);
        if !principal.has(Permission::SessionsRead) && !mine {
            return Err(AppError::NotFound("session"));
        }
        Ok(session)
    }

    /// Starts watching a live session's output. Needs `sessions:read`, and the session must run on this node. The
    /// watch is recorded in the audit log before anything of the session is shown (fail closed).
    pub async fn watch_session(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<SessionWatch, AppError> {
        principal.require(Permission::SessionsRead)?;
        let session = self.get_session(principal, id).await?;
        let node = &self.config().node_name;
        let subscribed = self.live_sessions().subscribe(session.id);
        let (receiver, terminal) = match subscribed {
            Some(subscribed) if session.ended_at.is_none() => subscribed,
            _ if session.ended_at.is_some() || session.node == *node => {
                return Err(AppError::StateConflict("the session has already ended".to_owned()));
            }
            _ => {
                return Err(AppError::StateConflict(format!(
                    "the session is not running on this node (it runs on {})",
                    session.node
                )));
            }
        };
        // Subscribed first, so that nothing published after the record is missed; handed out only once recorded.
        let mut tx = self.store().begin().await?;
        let event = AccessEvent::SessionWatched { session_id: session.id };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(SessionWatch {
            session,
            size: terminal.size.unwrap_or(DEFAULT_TERMINAL),
            started_at: self.now(),
            joined_after: terminal.elapsed,
            joined: Instant::now(),
            receiver,
        })
    }

    /// Ends a live session now.
    pub async fn terminate_session(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<GatewaySession, AppError> {
        principal.require(Permission::SessionsTerminate)?;
        let session = self.get_session(principal, id).await?;
        if session.ended_at.is_some() {
            return Err(AppError::StateConflict("the session has already ended".to_owned()));
        }
        let ended = self
            .terminate_sessions(
                SessionSelector::Session(session.id),
                SessionEndReason::Terminated,
                &principal.actor(),
                ctx,
            )
            .await?;
        if ended == 0 {
            return Err(AppError::StateConflict(format!(
                "the session is not running on this node (it runs on {})",
                session.node
            )));
        }
        self.get_session(principal, id).await
    }

    /// Closes the session rows this node left open when it last stopped (nothing of them survives a restart), and
    /// indexes what their event logs hold (through the installed [`crate::RecordedEvents`]) in the same
    /// transaction, stamped with each session's `session.ended` sequence number for the SIEM export. Run once at
    /// start-up, once the vault is unsealed.
    pub async fn close_abandoned_sessions(&self) -> Result<usize, AppError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let closed = latch_store::gateway_sessions::end_abandoned(&mut tx, &self.config().node_name, now).await?;
        let mut sessions = Vec::with_capacity(closed.len());
        for session_id in &closed {
            let event = AccessEvent::SessionEnded {
                session_id: *session_id,
                reason: SessionEndReason::Abandoned.as_str().to_owned(),
            };
            let seq = self
                .audit_returning_seq(
                    &mut tx,
                    &RequestContext::default(),
                    &AuditActor::System,
                    AuditEvent::Access(event),
                )
                .await?;
            let session = latch_store::gateway_sessions::find(&mut tx, *session_id).await?;
            let recording = session.as_ref().and_then(|session| session.recording.as_deref());
            if let (Some(reader), Some(recording)) = (self.recorded_events(), recording) {
                let events = reader.events_of(recording).await;
                latch_store::session_events::insert_all_exported(&mut tx, *session_id, seq, &events).await?;
            }
            sessions.extend(session);
        }
        tx.commit().await?;
        // Sealed once the end is committed, so the manifest says what the store says; a recording that cannot be
        // sealed stays in the spool, unsealed, and `recordings verify` reports it.
        if let Some(reader) = self.recorded_events() {
            for session in sessions.iter().filter(|session| session.recording.is_some()) {
                if let Err(error) = reader.seal_abandoned(session).await {
                    tracing::error!(session = %session.id, %error, "cannot seal the recording of an abandoned session");
                }
            }
        }
        Ok(closed.len())
    }

    /// Ends the live sessions of a user (when they are disabled).
    pub(crate) async fn terminate_user_sessions(
        &self,
        user: UserId,
        actor: &AuditActor,
        ctx: &RequestContext,
    ) -> Result<usize, AppError> {
        self.terminate_sessions(SessionSelector::User(user), SessionEndReason::UserDisabled, actor, ctx).await
    }

    /// Signals the matching live sessions to end, waits (bounded) for them to close, and records for each when the
    /// end was requested and when it was enforced.
    pub(crate) async fn terminate_sessions(
        &self,
        selector: SessionSelector,
        reason: SessionEndReason,
        actor: &AuditActor,
        ctx: &RequestContext,
    ) -> Result<usize, AppError> {
        let requested_at = self.now();
        let ended = self.live_sessions().terminate(selector, reason).await;
        if ended.is_empty() {
            return Ok(0);
        }
        let enforced_at = self.now();
        let mut tx = self.store().begin().await?;
        for key in &ended {
            let event = AccessEvent::SessionTerminated { session_id: key.session_id, requested_at, enforced_at };
            self.audit(&mut tx, ctx, actor, AuditEvent::Access(event)).await?;
        }
        tx.commit().await?;
        Ok(ended.len())
    }
}
