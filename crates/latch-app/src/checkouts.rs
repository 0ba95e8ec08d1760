//! Credential check-outs: hold an account's secret for a release period, see it once, check it in.
//!
//! A person may check out an account they have standing access or a valid grant to, under a policy that allows
//! reveal; the release period is capped by the policy's longest window and the grant's end. An API account with the
//! `credentials:checkout` scope may check out API-enabled accounts, for at most an hour. Exclusivity is decided
//! under the account's row lock. The reveal is marked (once) and audited in one transaction that commits before the
//! secret is returned: no audit record, no secret. Every check-in of a "rotate after use" account queues a rotation
//! in the same transaction.

use crate::access::access_to;
use crate::gateway::secret_text;
use crate::{App, AppError, AuthenticatedUser, Principal, RequestContext};
use latch_domain::account::Account;
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::checkout::{
    CheckInReason, Checkout, CheckoutHolder, CheckoutRefusal, MAX_API_RELEASE, Rotation, RotationState,
    check_availability, release_until,
};
use latch_domain::grant::{Grant, GrantState};
use latch_domain::names::AccountName;
use latch_domain::permission::Permission;
use latch_domain::policy::{Policy, PolicyRefusal, Requester};
use latch_domain::target::Target;
use latch_domain::{CheckoutId, GroupId, PolicyId, RotationId, TargetId, TimeSpan, Timestamp};
use latch_store::Tx;
use latch_store::checkouts::CheckoutFilter;
use latch_vault::SecretString;
use uuid::Uuid;

/// A check-out as the caller asks for it.
#[derive(Debug, Clone)]
pub struct NewCheckout {
    /// Target name or id.
    pub target: String,
    /// The account's username on the target; may be left out when the caller may check out exactly one there.
    pub account: Option<String>,
    /// The release period asked for; capped by the policy (or an hour for API accounts) and the grant's end.
    pub duration: TimeSpan,
    pub reason: String,
}

/// Which check-outs to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutScope {
    /// The caller's own.
    Mine,
    /// Everyone's (approvers, session readers and auditors).
    All,
}

/// What a check-out is allowed under: found before the transaction, re-checked inside it.
struct CheckoutTerms {
    target_id: TargetId,
    account: Account,
    policy_id: Option<PolicyId>,
    grant: Option<Grant>,
    max: TimeSpan,
}

const MAX_PAGE: i64 = 500;
const MAX_REASON_CHARS: usize = 500;
const NO_ACCESS: &str = "no standing access or valid grant lets you check out this account";
const BREAK_GLASS_NO_CHECKOUT: &str =
    "break-glass gives gateway sessions only; it never lets you check out or reveal a credential";

impl App {
    /// Checks out an account's credential for the caller.
    pub async fn check_out(
        &self,
        principal: &Principal,
        new: NewCheckout,
        ctx: &RequestContext,
    ) -> Result<Checkout, AppError> {
        let holder = require_checkout(principal)?;
        let reason = check_reason(&new.reason)?;
        let now = self.now();
        let terms = match principal {
            Principal::User(me) => self.user_checkout_terms(me, &new, now).await?,
            Principal::ApiAccount(_) => self.api_checkout_terms(&new).await?,
        };
        let release_until = release_until(now, new.duration, terms.max, terms.grant.as_ref().map(Grant::valid_until))
            .map_err(refusal)?;
        let mut tx = self.store().begin().await?;
        let open = latch_store::checkouts::open_for_account_locked(&mut tx, terms.account.id, now).await?;
        // Read under the lock: the flags may have changed since the access was found.
        let account =
            latch_store::accounts::find(&mut tx, terms.account.id).await?.ok_or(AppError::NotFound("account"))?;
        if matches!(holder, CheckoutHolder::ApiAccount(_)) && !account.spec.api_enabled {
            return Err(AppError::Refused("this account is not enabled for check-out through the API".to_owned()));
        }
        if let Some(grant) = &terms.grant {
            let current = latch_store::grants::find(&mut tx, grant.id).await?;
            if !current.is_some_and(|g| g.is_active(now)) {
                return Err(AppError::Refused(NO_ACCESS.to_owned()));
            }
        }
        check_availability(account.spec.exclusive_checkout, &open, now).map_err(refusal)?;
        let checkout = Checkout {
            id: CheckoutId::from_uuid(Uuid::new_v4()),
            target_id: terms.target_id,
            account_id: account.id,
            holder,
            grant_id: terms.grant.as_ref().map(|g| g.id),
            policy_id: terms.policy_id,
            exclusive: account.spec.exclusive_checkout,
            reason,
            checked_out_at: now,
            release_until,
            revealed_at: None,
            checked_in_at: None,
            check_in_reason: None,
        };
        latch_store::checkouts::insert(&mut tx, &checkout).await?;
        let event = AccessEvent::CredentialCheckedOut {
            checkout_id: checkout.id,
            account_id: checkout.account_id,
            grant_id: checkout.grant_id,
            exclusive: checkout.exclusive,
            reason: checkout.reason.clone(),
            release_until,
        };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(checkout)
    }

    /// Reveals the secret of the caller's open check-out, once. The reveal is recorded and audited, and the
    /// transaction committed, before the secret is returned.
    pub async fn reveal_checkout(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<SecretString, AppError> {
        let holder = require_checkout(principal)?;
        let id: CheckoutId = id.parse().map_err(|_| AppError::NotFound("checkout"))?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let checkout = latch_store::checkouts::find_for_update(&mut tx, id)
            .await?
            .filter(|c| c.is_held_by(holder))
            .ok_or(AppError::NotFound("checkout"))?;
        checkout.check_reveal(now).map_err(refusal)?;
        let account =
            latch_store::accounts::find(&mut tx, checkout.account_id).await?.ok_or(AppError::NotFound("checkout"))?;
        check_still_allowed(&mut tx, &checkout, &account, now).await?;
        if !latch_store::checkouts::mark_revealed(&mut tx, id, now).await? {
            return Err(refusal(CheckoutRefusal::AlreadyRevealed));
        }
        let secret_id = latch_store::accounts::secret_id(&mut tx, account.id)
            .await?
            .ok_or_else(|| AppError::StateConflict("this account has no secret stored".to_owned()))?;
        let kind = account.spec.secret_kind;
        let bytes = self.open_secret(&mut tx, secret_id, kind.vault_kind(), account.id.as_uuid()).await?;
        let secret = secret_text(bytes)?;
        let event = AccessEvent::CredentialRevealed { checkout_id: id, account_id: account.id };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(secret)
    }

    /// Checks in a check-out early: the holder's own, or anyone's for approvers and admins.
    pub async fn check_in(&self, principal: &Principal, id: &str, ctx: &RequestContext) -> Result<Checkout, AppError> {
        let holder = require_checkout(principal)?;
        let id: CheckoutId = id.parse().map_err(|_| AppError::NotFound("checkout"))?;
        let mut tx = self.store().begin().await?;
        let checkout =
            latch_store::checkouts::find_for_update(&mut tx, id).await?.ok_or(AppError::NotFound("checkout"))?;
        let reason = if checkout.is_held_by(holder) {
            CheckInReason::Returned
        } else if principal.as_user().is_ok() && principal.has(Permission::RequestsApprove) {
            CheckInReason::Forced
        } else {
            return Err(AppError::NotFound("checkout"));
        };
        let checked_in = self.check_in_in(&mut tx, &checkout, reason, &principal.actor(), ctx).await?;
        let checked_in = checked_in.ok_or_else(|| refusal(CheckoutRefusal::CheckedIn))?;
        tx.commit().await?;
        Ok(checked_in)
    }

    pub async fn get_checkout(&self, principal: &Principal, id: &str) -> Result<Checkout, AppError> {
        let all = may_read_all_checkouts(principal);
        let holder = if all { holder_of(principal) } else { require_checkout(principal)? };
        let id: CheckoutId = id.parse().map_err(|_| AppError::NotFound("checkout"))?;
        let mut conn = self.store().read().await?;
        let checkout = latch_store::checkouts::find(&mut conn, id).await?.ok_or(AppError::NotFound("checkout"))?;
        if !all && !checkout.is_held_by(holder) {
            return Err(AppError::NotFound("checkout"));
        }
        Ok(checkout)
    }

    /// Lists check-outs, newest first; `open_only` hides those checked in or past their release period.
    pub async fn list_checkouts(
        &self,
        principal: &Principal,
        scope: CheckoutScope,
        open_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Checkout>, AppError> {
        let holder = match scope {
            CheckoutScope::Mine => Some(require_checkout(principal)?),
            CheckoutScope::All if may_read_all_checkouts(principal) => None,
            CheckoutScope::All => return Err(AppError::Forbidden),
        };
        let filter = CheckoutFilter {
            holder,
            open_at: open_only.then(|| self.now()),
            limit: limit.clamp(1, MAX_PAGE),
            offset: offset.max(0),
        };
        let mut conn = self.store().read().await?;
        Ok(latch_store::checkouts::list(&mut conn, &filter).await?)
    }

    /// The rotation queue (admins), oldest first.
    pub async fn list_rotation_queue(
        &self,
        principal: &Principal,
        state: Option<RotationState>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Rotation>, AppError> {
        principal.require(Permission::Admin)?;
        let mut conn = self.store().read().await?;
        Ok(latch_store::rotation_queue::list(&mut conn, state, limit.clamp(1, MAX_PAGE), offset.max(0)).await?)
    }

    /// Checks in every check-out whose release period is over. Run every few seconds by the binary.
    pub async fn check_in_expired(&self) -> Result<u64, AppError> {
        let due = {
            let mut conn = self.store().read().await?;
            latch_store::checkouts::due_for_check_in(&mut conn, self.now(), MAX_PAGE).await?
        };
        self.check_in_all(&due, CheckInReason::Expired).await
    }

    /// Checks in the check-outs made under a grant that expired or was revoked (part of enforcing its end).
    pub(crate) async fn check_in_for_grant(&self, grant: &Grant) -> Result<u64, AppError> {
        let reason = match grant.state(self.now()) {
            GrantState::Revoked => CheckInReason::GrantRevoked,
            GrantState::Expired => CheckInReason::GrantExpired,
            GrantState::Scheduled | GrantState::Active => return Ok(0),
        };
        let held = {
            let mut conn = self.store().read().await?;
            latch_store::checkouts::not_checked_in_for_grant(&mut conn, grant.id).await?
        };
        self.check_in_all(&held, reason).await
    }

    /// Checks each in (by the system) in its own transaction; counts those this call checked in.
    async fn check_in_all(&self, checkouts: &[Checkout], reason: CheckInReason) -> Result<u64, AppError> {
        let mut checked_in = 0;
        for checkout in checkouts {
            let mut tx = self.store().begin().await?;
            let ctx = RequestContext::default();
            if self.check_in_in(&mut tx, checkout, reason, &AuditActor::System, &ctx).await?.is_some() {
                checked_in += 1;
            }
            tx.commit().await?;
        }
        Ok(checked_in)
    }

    /// Checks `checkout` in within `tx`, audits it, and queues a rotation when its account rotates after use.
    /// `None` when it was already checked in.
    async fn check_in_in(
        &self,
        tx: &mut Tx,
        checkout: &Checkout,
        reason: CheckInReason,
        actor: &AuditActor,
        ctx: &RequestContext,
    ) -> Result<Option<Checkout>, AppError> {
        let now = self.now();
        if !latch_store::checkouts::check_in(tx, checkout.id, now, reason).await? {
            return Ok(None);
        }
        let event = AccessEvent::CredentialCheckedIn {
            checkout_id: checkout.id,
            account_id: checkout.account_id,
            reason: reason.as_str().to_owned(),
        };
        self.audit(tx, ctx, actor, AuditEvent::Access(event)).await?;
        let account = latch_store::accounts::find(tx, checkout.account_id).await?;
        if account.is_some_and(|a| a.spec.rotate_after_use) {
            let rotation = Rotation {
                id: RotationId::from_uuid(Uuid::new_v4()),
                account_id: checkout.account_id,
                checkout_id: Some(checkout.id),
                queued_at: now,
                state: RotationState::Pending,
                attempts: 0,
                last_error: None,
                updated_at: now,
            };
            latch_store::rotation_queue::enqueue(tx, &rotation).await?;
            let event = AccessEvent::RotationQueued {
                rotation_id: rotation.id,
                account_id: rotation.account_id,
                checkout_id: checkout.id,
            };
            self.audit(tx, ctx, actor, AuditEvent::Access(event)).await?;
        }
        Ok(Some(Checkout { checked_in_at: Some(now), check_in_reason: Some(reason), ..checkout.clone() }))
    }

    /// The account a person may check out on `new.target`, with the policy and grant allowing it.
    async fn user_checkout_terms(
        &self,
        me: &AuthenticatedUser,
        new: &NewCheckout,
        now: Timestamp,
    ) -> Result<CheckoutTerms, AppError> {
        let no_access = || AppError::Refused(NO_ACCESS.to_owned());
        let target = match self.find_target(&new.target).await {
            Err(AppError::NotFound(_)) => return Err(no_access()),
            found => found?,
        };
        let mut conn = self.store().read().await?;
        let groups: Vec<GroupId> =
            latch_store::groups::of_user(&mut conn, me.user().id).await?.iter().map(|g| g.id).collect();
        let policies = latch_store::policies::list(&mut conn).await?;
        let revealing: Vec<Policy> = policies.iter().filter(|p| p.spec.rules.reveal_allowed).cloned().collect();
        let who = Requester { user_id: me.user().id, groups: &groups };
        let mut allowed = Vec::new();
        let mut without_reveal = false;
        for candidate in candidates(&mut conn, &target, new.account.as_deref()).await? {
            match access_to(&mut conn, &revealing, who, &target, &candidate, now).await? {
                Some((policy, grant)) => allowed.push((candidate, policy, grant)),
                None => {
                    without_reveal |= access_to(&mut conn, &policies, who, &target, &candidate, now).await?.is_some()
                }
            }
        }
        let (account, policy, grant) = match allowed.len() {
            0 if without_reveal => {
                return Err(AppError::Refused("the policy giving you this access does not allow check-out".to_owned()));
            }
            0 if self.break_glass_covers(&mut conn, &groups, &target).await? => {
                return Err(AppError::Refused(BREAK_GLASS_NO_CHECKOUT.to_owned()));
            }
            0 => return Err(no_access()),
            1 => allowed.remove(0),
            _ => return Err(several(allowed.iter().map(|(a, _, _)| a))),
        };
        if policy.spec.rules.mfa_to_connect && !me.user().totp_enrolled {
            return Err(AppError::Refused(PolicyRefusal::MfaRequired.to_string()));
        }
        check_has_secret(&account)?;
        let max = policy.spec.rules.max_duration;
        Ok(CheckoutTerms { target_id: target.id, account, policy_id: Some(policy.id), grant, max })
    }

    /// The API-enabled account an API account may check out on `new.target`.
    async fn api_checkout_terms(&self, new: &NewCheckout) -> Result<CheckoutTerms, AppError> {
        let target = self.find_target(&new.target).await?;
        let mut conn = self.store().read().await?;
        let mut enabled: Vec<Account> = candidates(&mut conn, &target, new.account.as_deref())
            .await?
            .into_iter()
            .filter(|a| a.spec.api_enabled || new.account.is_some())
            .collect();
        let account = match enabled.len() {
            0 => return Err(AppError::NotFound("account")),
            1 => enabled.remove(0),
            _ => return Err(several(enabled.iter())),
        };
        if !account.spec.api_enabled {
            return Err(AppError::Refused("this account is not enabled for check-out through the API".to_owned()));
        }
        check_has_secret(&account)?;
        Ok(CheckoutTerms { target_id: target.id, account, policy_id: None, grant: None, max: MAX_API_RELEASE })
    }
}

/// The named account on `target` (none when there is no such account), or all of its accounts.
async fn candidates(
    db: &mut impl latch_store::Db,
    target: &Target,
    account: Option<&str>,
) -> Result<Vec<Account>, AppError> {
    match account {
        Some(name) => {
            let Ok(name) = AccountName::parse(name) else { return Ok(Vec::new()) };
            Ok(latch_store::accounts::find_on_target(db, target.id, &name).await?.into_iter().collect())
        }
        None => Ok(latch_store::accounts::list_for_target(db, target.id).await?),
    }
}

/// The reveal is still allowed: the grant is active, the policy still exists and allows reveal, and for API
/// accounts the account is still API-enabled.
async fn check_still_allowed(
    tx: &mut Tx,
    checkout: &Checkout,
    account: &Account,
    now: Timestamp,
) -> Result<(), AppError> {
    let ended = || AppError::StateConflict("the access this check-out was made under has ended".to_owned());
    if let Some(grant) = checkout.grant_id {
        let current = latch_store::grants::find(tx, grant).await?;
        if !current.is_some_and(|g| g.is_active(now)) {
            return Err(ended());
        }
    }
    if let Some(policy) = checkout.policy_id {
        let current = latch_store::policies::find(tx, policy).await?;
        if !current.is_some_and(|p| p.spec.enabled && p.spec.rules.reveal_allowed) {
            return Err(ended());
        }
    }
    if matches!(checkout.holder, CheckoutHolder::ApiAccount(_)) && !account.spec.api_enabled {
        return Err(ended());
    }
    Ok(())
}

fn check_has_secret(account: &Account) -> Result<(), AppError> {
    if account.has_secret {
        Ok(())
    } else {
        Err(AppError::StateConflict("this account has no secret stored".to_owned()))
    }
}

fn several<'a>(accounts: impl Iterator<Item = &'a Account>) -> AppError {
    let names: Vec<String> = accounts.map(|a| a.spec.username.to_string()).collect();
    AppError::BadRequest(format!("you may check out several accounts there ({}); name one", names.join(", ")))
}

/// The caller as a check-out holder, if they may hold check-outs: users who may request access (the policy then
/// decides), API accounts with the `credentials:checkout` scope.
fn require_checkout(principal: &Principal) -> Result<CheckoutHolder, AppError> {
    match principal {
        Principal::User(_) => principal.require(Permission::RequestsWrite)?,
        Principal::ApiAccount(_) => principal.require(Permission::CredentialsCheckout)?,
    }
    Ok(holder_of(principal))
}

fn holder_of(principal: &Principal) -> CheckoutHolder {
    match principal {
        Principal::User(user) => CheckoutHolder::User(user.user().id),
        Principal::ApiAccount(api) => CheckoutHolder::ApiAccount(api.account().id),
    }
}

fn may_read_all_checkouts(principal: &Principal) -> bool {
    [Permission::RequestsApprove, Permission::SessionsRead, Permission::AuditRead].into_iter().any(|p| principal.has(p))
}

fn check_reason(reason: &str) -> Result<String, AppError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(AppError::BadRequest("give a reason of at most 500 characters".to_owned()));
    }
    Ok(reason.to_owned())
}

fn refusal(refusal: CheckoutRefusal) -> AppError {
    match refusal {
        CheckoutRefusal::TooShort => AppError::BadRequest(refusal.to_string()),
        CheckoutRefusal::HeldExclusively
        | CheckoutRefusal::HeldShared
        | CheckoutRefusal::AlreadyRevealed
        | CheckoutRefusal::CheckedIn
        | CheckoutRefusal::ReleaseEnded => AppError::StateConflict(refusal.to_string()),
    }
}
