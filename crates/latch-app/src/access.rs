//! Finding the access a person has to an account now: standing access under a policy, or a valid grant whose
//! policy still exists, is enabled and covers them. The gateway and credential check-outs both decide with it.
//!
//! Break-glass comes last and only for the gateway ([`App::break_glass_access`]): when nothing else allows a
//! person in the break-glass group to use an account on a target an active break-glass names, their break-glass
//! grant is made (or reused) and returned with the break-glass's built-in terms. [`access_to`] never returns
//! break-glass access, so a check-out can never be made under it.

use crate::auth::user_actor;
use crate::{App, AppError, RequestContext};
use latch_domain::Timestamp;
use latch_domain::account::Account;
use latch_domain::audit::{AccessEvent, AuditEvent, Window};
use latch_domain::break_glass::BreakGlass;
use latch_domain::grant::{Grant, GrantOrigin};
use latch_domain::policy::{Policy, Requester, standing_policy};
use latch_domain::target::Target;
use latch_domain::user::User;
use latch_domain::{BreakGlassId, GrantId, GroupId};
use latch_store::{Conn, Db};
use uuid::Uuid;

/// Standing access or a valid grant (whose policy still exists, is enabled and covers the user) for `account`.
/// Break-glass grants have no policy and are never returned here.
pub(crate) async fn access_to(
    db: &mut impl Db,
    policies: &[Policy],
    who: Requester<'_>,
    target: &Target,
    account: &Account,
    now: Timestamp,
) -> Result<Option<(Policy, Option<Grant>)>, AppError> {
    if let Some(policy) = standing_policy(policies, who, target, account, now) {
        return Ok(Some((policy.clone(), None)));
    }
    for grant in latch_store::grants::valid_for(db, who.user_id, account.id, now).await? {
        if grant.break_glass_id.is_some() {
            continue;
        }
        let policy = grant.policy_id.and_then(|id| policies.iter().find(|p| p.id == id));
        if let Some(policy) = policy.filter(|p| p.covers(who, target, account)) {
            return Ok(Some((policy.clone(), Some(grant))));
        }
    }
    Ok(None)
}

/// Whether the break-glass `id` still allows `who` on `target`: it is on and names the target, and they are in the
/// break-glass group (`group`, `None` when break-glass is not configured).
pub(crate) async fn break_glass_allows(
    db: &mut impl Db,
    id: BreakGlassId,
    group: Option<GroupId>,
    who: Requester<'_>,
    target: &Target,
    now: Timestamp,
) -> Result<bool, AppError> {
    if !group.is_some_and(|g| who.groups.contains(&g)) {
        return Ok(false);
    }
    let glass = latch_store::break_glass::find(db, id).await?;
    Ok(glass.is_some_and(|g| g.covers(&target.spec.name, now)))
}

impl App {
    /// Gateway access under break-glass to one of `candidates` (the accounts asked for on `target`), for when
    /// nothing else allows `user` any of them: `user` is in the break-glass group (whose ids `groups` hold) and an
    /// active break-glass names `target`. Only accounts with a secret count; several are refused as ambiguous, so a
    /// grant is made only for the account actually used. Takes the caller's read connection and returns it to the
    /// pool before the grant's transaction, so concurrent connections cannot exhaust the pool waiting on each other.
    pub(crate) async fn break_glass_access(
        &self,
        mut conn: Conn,
        user: &User,
        groups: &[GroupId],
        target: &Target,
        candidates: Vec<Account>,
        ctx: &RequestContext,
    ) -> Result<Option<(Account, (Policy, Option<Grant>))>, AppError> {
        let covering = self.break_glass_covering(&mut conn, groups, target).await?;
        drop(conn);
        if covering.is_empty() {
            return Ok(None);
        }
        let mut usable: Vec<Account> = candidates.into_iter().filter(|a| a.has_secret).collect();
        let account = match usable.len() {
            0 => return Ok(None),
            1 => usable.remove(0),
            _ => {
                let names: Vec<String> = usable.iter().map(|a| a.spec.username.to_string()).collect();
                return Err(AppError::BadRequest(format!(
                    "you may use several accounts there ({}); name one as user@account@target",
                    names.join(", ")
                )));
            }
        };
        let Some((glass, grant)) = self.break_glass_grant(&covering, user, &account, ctx).await? else {
            return Ok(None);
        };
        Ok(Some((account, (glass.connection_policy()?, Some(grant)))))
    }

    /// Whether an active break-glass names `target` for a person in the groups `groups` (ids); for telling people
    /// why break-glass does not let them check a credential out.
    pub(crate) async fn break_glass_covers(
        &self,
        db: &mut impl Db,
        groups: &[GroupId],
        target: &Target,
    ) -> Result<bool, AppError> {
        Ok(!self.break_glass_covering(db, groups, target).await?.is_empty())
    }

    /// The active break-glass records naming `target`, when the person is in the break-glass group.
    async fn break_glass_covering(
        &self,
        db: &mut impl Db,
        groups: &[GroupId],
        target: &Target,
    ) -> Result<Vec<BreakGlass>, AppError> {
        let Some(group) = self.break_glass_group(db).await? else { return Ok(Vec::new()) };
        if !groups.contains(&group) {
            return Ok(Vec::new());
        }
        let now = self.now();
        let active = latch_store::break_glass::active(db, now).await?;
        Ok(active.into_iter().filter(|g| g.covers(&target.spec.name, now)).collect())
    }

    /// The person's valid grant for `account` under one of `covering`, or a new one (audited) under the one that
    /// ends last, valid until it ends. The break-glass row is locked first, so concurrent connections make one
    /// grant and a concurrent switch-off either sees the grant (and revokes it) or wins (and no grant is made).
    async fn break_glass_grant(
        &self,
        covering: &[BreakGlass],
        user: &User,
        account: &Account,
        ctx: &RequestContext,
    ) -> Result<Option<(BreakGlass, Grant)>, AppError> {
        let Some(latest) = covering.iter().max_by_key(|g| g.ends_at) else { return Ok(None) };
        let mut tx = self.store().begin().await?;
        let now = self.now();
        let Some(glass) = latch_store::break_glass::find_for_update(&mut tx, latest.id).await? else {
            return Ok(None);
        };
        let valid = latch_store::grants::valid_for(&mut tx, user.id, account.id, now).await?;
        let reusable = valid.into_iter().find_map(|grant| {
            let under = covering.iter().find(|g| grant.break_glass_id == Some(g.id))?;
            Some((under.clone(), grant))
        });
        if let Some(found) = reusable {
            return Ok(Some(found));
        }
        if !glass.is_active(now) {
            return Ok(None);
        }
        let grant = Grant {
            id: GrantId::from_uuid(Uuid::new_v4()),
            user_id: user.id,
            target_id: account.target_id,
            account_id: account.id,
            policy_id: None,
            request_id: None,
            origin: GrantOrigin::BreakGlass,
            break_glass_id: Some(glass.id),
            starts_at: now,
            ends_at: glass.ends_at,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            enforced_at: None,
            created_at: now,
        };
        latch_store::grants::insert(&mut tx, &grant).await?;
        let created = AccessEvent::GrantCreated {
            grant_id: grant.id,
            user_id: grant.user_id,
            account_id: grant.account_id,
            origin: grant.origin.as_str().to_owned(),
            window: Window { starts_at: grant.starts_at, ends_at: grant.ends_at },
        };
        self.audit(&mut tx, ctx, &user_actor(user), AuditEvent::Access(created)).await?;
        tx.commit().await?;
        Ok(Some((glass, grant)))
    }
}
