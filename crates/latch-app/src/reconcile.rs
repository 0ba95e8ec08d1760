//! Reconciliation: ends any live session that its user, account, grant or policy no longer allows.
//!
//! Revocation, expiry and disabling end sessions directly; this catches everything else that changes access
//! (a policy edited or deleted, a group membership removed, a user, target or account deleted, a standing policy's
//! schedule closing, a member leaving the break-glass group). Run every few seconds by the binary.

use crate::access::break_glass_allows;
use crate::live_sessions::{LiveSessionKey, SessionSelector};
use crate::{App, AppError, RequestContext};
use latch_domain::audit::AuditActor;
use latch_domain::gateway_session::SessionEndReason;
use latch_domain::policy::{Policy, Requester, standing_policy};
use latch_domain::{GroupId, Timestamp};
use latch_store::Db;

impl App {
    /// Ends the live sessions on this node that are no longer allowed; returns how many.
    pub async fn reconcile_live_sessions(&self) -> Result<usize, AppError> {
        let keys = self.live_sessions().keys();
        if keys.is_empty() {
            return Ok(0);
        }
        let now = self.now();
        let mut stale = Vec::new();
        {
            let mut conn = self.store().read().await?;
            let policies = latch_store::policies::list(&mut conn).await?;
            let break_glass_group = self.break_glass_group(&mut conn).await?;
            for key in keys {
                if !still_allowed(&mut conn, &policies, break_glass_group, &key, now).await? {
                    stale.push(key.session_id);
                }
            }
        }
        let mut ended = 0;
        for session in stale {
            ended += self
                .terminate_sessions(
                    SessionSelector::Session(session),
                    SessionEndReason::Reconciled,
                    &AuditActor::System,
                    &RequestContext::default(),
                )
                .await?;
        }
        Ok(ended)
    }
}

/// Whether the session's user may still use its account now, by the same rules as `authorize_connection`. A
/// break-glass grant needs its break-glass on and the user in the break-glass group (`break_glass_group`).
async fn still_allowed(
    db: &mut impl Db,
    policies: &[Policy],
    break_glass_group: Option<GroupId>,
    key: &LiveSessionKey,
    now: Timestamp,
) -> Result<bool, AppError> {
    let Some(user) = latch_store::users::find(db, key.user_id).await?.filter(|u| !u.disabled) else {
        return Ok(false);
    };
    let Some(account) = latch_store::accounts::find(db, key.account_id).await? else { return Ok(false) };
    let Some(target) = latch_store::targets::find(db, account.target_id).await? else { return Ok(false) };
    let groups: Vec<GroupId> = latch_store::groups::of_user(db, user.id).await?.iter().map(|g| g.id).collect();
    let who = Requester { user_id: user.id, groups: &groups };
    match key.grant_id {
        None => Ok(standing_policy(policies, who, &target, &account, now).is_some()),
        Some(grant_id) => {
            let Some(grant) = latch_store::grants::find(db, grant_id).await? else { return Ok(false) };
            if let Some(glass) = grant.break_glass_id {
                let allows = break_glass_allows(db, glass, break_glass_group, who, &target, now).await?;
                return Ok(grant.is_active(now) && allows);
            }
            let policy = grant.policy_id.and_then(|id| policies.iter().find(|p| p.id == id));
            Ok(grant.is_active(now) && policy.is_some_and(|p| p.covers(who, &target, &account)))
        }
    }
}
