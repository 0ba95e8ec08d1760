//! Gateway sessions as auditors see them: listing, and terminating live ones.

use crate::live_sessions::SessionSelector;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::gateway_session::{GatewaySession, SessionEndReason};
use latch_domain::permission::Permission;
use latch_domain::{GatewaySessionId, UserId};
use latch_store::gateway_sessions::SessionFilter;

const MAX_PAGE: i64 = 500;

impl App {
    /// Lists gateway sessions, newest first. Users without `sessions:read` see only their own.
    pub async fn list_sessions(
        &self,
        principal: &Principal,
        live_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<GatewaySession>, AppError> {
        let user = if principal.has(Permission::SessionsRead) {
            None
        } else {
            principal.require(Permission::RequestsWrite)?;
            Some(principal.as_user()?.user().id)
        };
        let filter =
            SessionFilter { live_only, user, grant: None, limit: limit.clamp(1, MAX_PAGE), offset: offset.max(0) };
        let mut conn = self.store().read().await?;
        Ok(latch_store::gateway_sessions::list(&mut conn, &filter).await?)
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

    /// Closes the session rows this node left open when it last stopped (nothing of them survives a restart).
    /// Run once at start-up, once the vault is unsealed.
    pub async fn close_abandoned_sessions(&self) -> Result<usize, AppError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let closed = latch_store::gateway_sessions::end_abandoned(&mut tx, &self.config().node_name, now).await?;
        for session_id in &closed {
            let event = AccessEvent::SessionEnded {
                session_id: *session_id,
                reason: SessionEndReason::Abandoned.as_str().to_owned(),
            };
            self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, AuditEvent::Access(event)).await?;
        }
        tx.commit().await?;
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
