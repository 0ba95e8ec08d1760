//! Grants: listing, revocation, and enforcing their end.
//!
//! A grant's end (expiry or revocation) is enforced once: its live sessions on this node are ended, and an audit
//! receipt records when the end was due, when it was enforced and how many sessions it ended. Gateway sessions
//! also end themselves at their grant's end, so enforcement does not depend on the sweep's period.

use crate::access_requests::require_access_read;
use crate::live_sessions::SessionSelector;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::GrantId;
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::gateway_session::SessionEndReason;
use latch_domain::grant::{Grant, GrantState};
use latch_domain::permission::Permission;
use latch_store::grants::GrantFilter;

/// Which grants to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantScope {
    Mine,
    All,
}

const MAX_PAGE: i64 = 500;

fn may_read_all_grants(principal: &Principal) -> bool {
    [Permission::RequestsApprove, Permission::SessionsRead, Permission::AuditRead].into_iter().any(|p| principal.has(p))
}
const MAX_REASON_CHARS: usize = 500;

impl App {
    /// Lists grants, newest first; `current_only` hides ended and revoked ones.
    pub async fn list_grants(
        &self,
        principal: &Principal,
        scope: GrantScope,
        current_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Grant>, AppError> {
        require_access_read(principal)?;
        let user = match scope {
            GrantScope::Mine => {
                principal.require(Permission::RequestsWrite)?;
                Some(principal.as_user()?.user().id)
            }
            GrantScope::All => {
                if !may_read_all_grants(principal) {
                    return Err(AppError::Forbidden);
                }
                None
            }
        };
        let filter = GrantFilter {
            user,
            current_at: current_only.then(|| self.now()),
            limit: limit.clamp(1, MAX_PAGE),
            offset: offset.max(0),
        };
        let mut conn = self.store().read().await?;
        Ok(latch_store::grants::list(&mut conn, &filter).await?)
    }

    pub async fn get_grant(&self, principal: &Principal, id: &str) -> Result<Grant, AppError> {
        require_access_read(principal)?;
        let id: GrantId = id.parse().map_err(|_| AppError::NotFound("grant"))?;
        let mut conn = self.store().read().await?;
        let grant = latch_store::grants::find(&mut conn, id).await?.ok_or(AppError::NotFound("grant"))?;
        let mine = principal.as_user().is_ok_and(|me| me.user().id == grant.user_id);
        if !mine && !may_read_all_grants(principal) {
            return Err(AppError::NotFound("grant"));
        }
        Ok(grant)
    }

    /// Revokes a grant now and ends its live sessions. Approvers and admins may revoke any grant; a user may give
    /// up their own.
    pub async fn revoke_grant(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<Grant, AppError> {
        let grant = self.get_grant(principal, id).await?;
        let mine = principal.as_user().is_ok_and(|me| me.user().id == grant.user_id);
        if !mine {
            principal.require(Permission::RequestsApprove)?;
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(AppError::BadRequest("give a reason of at most 500 characters".to_owned()));
        }
        let now = self.now();
        let actor = principal.actor();
        let mut tx = self.store().begin().await?;
        if !latch_store::grants::revoke(&mut tx, grant.id, now, actor.name(), reason).await? {
            // Read again: a concurrent revocation (possibly stamped a moment after `now`) may have won.
            let current = latch_store::grants::find(&mut tx, grant.id).await?.unwrap_or(grant);
            let state = if current.revoked_at.is_some() { GrantState::Revoked } else { current.state(now) };
            return Err(AppError::StateConflict(format!("the grant is already {}", state.as_str())));
        }
        let event = AccessEvent::GrantRevoked { grant_id: grant.id, reason: reason.to_owned() };
        self.audit(&mut tx, ctx, &actor, AuditEvent::Access(event)).await?;
        tx.commit().await?;
        let revoked = Grant {
            revoked_at: Some(now),
            revoked_by: Some(actor.name().to_owned()),
            revoke_reason: Some(reason.to_owned()),
            ..grant
        };
        self.enforce_grant_end(&revoked).await?;
        Ok(revoked)
    }

    /// Enforces the end of every grant that expired or was revoked and is not yet enforced. Run every few hundred
    /// milliseconds by the binary, and once at start-up (so grants that ended while Latch was down are closed).
    pub async fn enforce_grant_ends(&self) -> Result<u64, AppError> {
        let due = {
            let mut conn = self.store().read().await?;
            latch_store::grants::awaiting_enforcement(&mut conn, self.now(), MAX_PAGE).await?
        };
        let mut enforced = 0;
        for grant in due {
            if self.enforce_grant_end(&grant).await? {
                enforced += 1;
            }
        }
        Ok(enforced)
    }

    /// Ends the grant's live sessions on this node and writes the receipt; false when another call already did.
    async fn enforce_grant_end(&self, grant: &Grant) -> Result<bool, AppError> {
        let now = self.now();
        let (reason, session_reason) = match grant.state(now) {
            GrantState::Revoked => ("revoked", SessionEndReason::GrantRevoked),
            GrantState::Expired => ("expired", SessionEndReason::GrantExpired),
            GrantState::Scheduled | GrantState::Active => return Ok(false),
        };
        let ended = self.live_sessions().terminate(SessionSelector::Grant(grant.id), session_reason).await;
        self.check_in_for_grant(grant).await?;
        let enforced_at = self.now();
        let mut tx = self.store().begin().await?;
        if !latch_store::grants::mark_enforced(&mut tx, grant.id, enforced_at).await? {
            return Ok(false);
        }
        let event = AccessEvent::GrantEnded {
            grant_id: grant.id,
            reason: reason.to_owned(),
            due_at: grant.valid_until(),
            enforced_at,
            sessions_ended: i64::try_from(ended.len()).unwrap_or(i64::MAX),
        };
        self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(true)
    }
}
