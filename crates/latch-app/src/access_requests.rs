//! Requests for time-bound access: ask, approve, deny, cancel, and expire the ones nobody decided.
//!
//! The request's policy is chosen and checked when it is made; approving creates the grant in the same
//! transaction as the final approval. Deciders lock the request row first, so concurrent decisions have one winner.

use crate::incidents::{CheckTrace, IncidentCheck, ValidatedIncident};
use crate::{App, AppError, AuthenticatedUser, Principal, RequestContext};
use latch_domain::access_request::{
    AccessRequest, Approval, Decider, Decision, DecisionEffect, RequestDetails, RequestRefusal, RequestStatus,
    decide_by,
};
use latch_domain::account::Account;
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent, Window};
use latch_domain::grant::{Grant, GrantOrigin};
use latch_domain::names::AccountName;
use latch_domain::permission::{Permission, Role};
use latch_domain::policy::{AccessMode, ApprovalRule, Policy, RequestWindow, Requester, policy_for_request};
use latch_domain::target::Target;
use latch_domain::user::User;
use latch_domain::{AccessRequestId, GrantId, GroupId, TimeSpan, Timestamp};
use latch_store::Tx;
use latch_store::access_requests::{RequestFilter, Resolution};
use uuid::Uuid;

/// A request as the requester enters it.
#[derive(Debug, Clone, Default)]
pub struct NewAccessRequest {
    pub target: String,
    /// The account's username on the target; may be left out when the user may request exactly one there.
    pub account: Option<String>,
    /// Defaults to now.
    pub starts_at: Option<Timestamp>,
    /// Either an end or a duration; a duration counts from the start.
    pub ends_at: Option<Timestamp>,
    pub duration: Option<TimeSpan>,
    pub reason: String,
    pub ticket: Option<String>,
    pub task: Option<String>,
}

/// What a request led to: still pending, or approved at once with its grant.
#[derive(Debug, Clone)]
pub struct RequestOutcome {
    pub request: AccessRequest,
    pub grant: Option<Grant>,
}

/// A request that passed its checks and is ready to be stored.
#[derive(Debug, Clone)]
pub(crate) struct CheckedRequest {
    pub(crate) target: Target,
    pub(crate) account: Account,
    pub(crate) policy: Policy,
    pub(crate) rule: ApprovalRule,
    pub(crate) starts_at: Timestamp,
    /// Capped at the incident task's expiry when an integration validated the request.
    pub(crate) ends_at: Timestamp,
    pub(crate) details: RequestDetails,
    pub(crate) incident: Option<ValidatedIncident>,
}

/// Which requests to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestScope {
    /// The caller's own requests.
    Mine,
    /// Pending requests the caller may decide.
    ToDecide,
    /// Every request (approvers and auditors).
    All,
}

const MAX_PAGE: i64 = 500;

impl App {
    /// Requests access for the calling user. Refusals by policy say why. When the policy names an incident
    /// integration, the ticket and the chosen task are checked with it first, and the window ends at the task's
    /// expiry at most; a lookup that fails or times out refuses the request.
    pub async fn request_access(
        &self,
        principal: &Principal,
        new: NewAccessRequest,
        ctx: &RequestContext,
    ) -> Result<RequestOutcome, AppError> {
        principal.require(Permission::RequestsWrite)?;
        let me = principal.as_user()?;
        let checked = self.check_request(me.user(), &new, None, &mut CheckTrace::default()).await?;
        let CheckedRequest { target, account, policy, rule, starts_at, ends_at, details, incident } = checked;
        let now = self.now();
        let request = AccessRequest {
            id: AccessRequestId::from_uuid(Uuid::new_v4()),
            requester: me.user().id,
            target_id: target.id,
            account_id: account.id,
            policy_id: policy.id,
            starts_at,
            ends_at,
            details,
            status: RequestStatus::Pending,
            approvals_required: rule.approvals_required,
            approver_group: rule.approver_group,
            approvals: Vec::new(),
            decided_by: None,
            decision_comment: None,
            decided_at: None,
            decide_by: decide_by(now, ends_at),
            grant_id: None,
            created_at: now,
        };
        let actor = principal.actor();
        let mut tx = self.store().begin().await?;
        latch_store::access_requests::insert(&mut tx, &request).await?;
        let window = Window { starts_at, ends_at };
        let event = AccessEvent::RequestCreated {
            request_id: request.id,
            target_id: target.id,
            account_id: account.id,
            window,
        };
        self.audit(&mut tx, ctx, &actor, AuditEvent::Access(event)).await?;
        if let Some(incident) = &incident {
            self.bind_incident(&mut tx, ctx, &actor, request.id, incident).await?;
        }
        let (request, grant) = if rule.approvals_required == 0 {
            let grant = self.approve(&mut tx, request.clone(), None, None, &AuditActor::System, ctx).await?;
            let approved = AccessRequest {
                status: RequestStatus::Approved,
                grant_id: Some(grant.id),
                decided_at: Some(grant.created_at),
                ..request
            };
            (approved, Some(grant))
        } else {
            (request, None)
        };
        tx.commit().await?;
        Ok(RequestOutcome { request, grant })
    }

    /// Checks a request of `requester` against the policies and, when the deciding policy names one, its incident
    /// integration, without writing anything. Test mode (`only_integration`) runs this same check and refuses a
    /// policy that does not use the integration under test before asking it anything.
    pub(crate) async fn check_request(
        &self,
        requester: &User,
        new: &NewAccessRequest,
        only_integration: Option<&str>,
        trace: &mut CheckTrace,
    ) -> Result<CheckedRequest, AppError> {
        let now = self.now();
        let details = RequestDetails::new(&new.reason, new.ticket.as_deref(), new.task.as_deref())?;
        let starts_at = new.starts_at.unwrap_or(now).max(now);
        let ends_at = match (new.ends_at, new.duration) {
            (Some(end), None) => end,
            (None, Some(duration)) => starts_at.plus(duration),
            _ => return Err(AppError::BadRequest("give either an end time or a duration".to_owned())),
        };
        let target = self.find_target(&new.target).await?;
        let mut conn = self.store().read().await?;
        let groups: Vec<GroupId> =
            latch_store::groups::of_user(&mut conn, requester.id).await?.iter().map(|g| g.id).collect();
        let policies = latch_store::policies::list(&mut conn).await?;
        let accounts = match &new.account {
            Some(name) => {
                let name = AccountName::parse(name)?;
                let found = latch_store::accounts::find_on_target(&mut conn, target.id, &name).await?;
                vec![found.ok_or(AppError::NotFound("account"))?]
            }
            None => latch_store::accounts::list_for_target(&mut conn, target.id).await?,
        };
        drop(conn);
        let who = Requester { user_id: requester.id, groups: &groups };
        let window = RequestWindow {
            starts_at,
            ends_at,
            ticket: details.ticket.as_deref(),
            requester_has_mfa: requester.totp_enrolled,
        };
        let (account, policy) = pick_account(&policies, who, &target, accounts, &window, now)?;
        trace.policy = Some(policy.spec.name.to_string());
        trace.account = Some(account.spec.username.to_string());
        let AccessMode::OnRequest(rule) = policy.spec.rules.mode else {
            return Err(AppError::BadRequest(latch_domain::policy::PolicyRefusal::StandingAccess.to_string()));
        };
        let integration = policy.spec.rules.integration.as_deref();
        if let Some(expected) = only_integration
            && integration != Some(expected)
        {
            return Err(AppError::BadRequest(format!(
                "the policy {} decides this request and does not use the incident integration {expected:?}",
                policy.spec.name
            )));
        }
        let (incident, ends_at) = match integration {
            Some(integration) => {
                let ask =
                    IncidentCheck { integration, requester, target: &target, account: &account, starts_at, ends_at };
                let (incident, capped) = self.check_incident(&ask, &details, trace).await?;
                (Some(incident), capped)
            }
            None => (None, ends_at),
        };
        trace.window = Some((starts_at, ends_at));
        let policy = policy.clone();
        Ok(CheckedRequest { target, account, policy, rule, starts_at, ends_at, details, incident })
    }

    /// Approves or denies a pending request. Returns the request as it now stands and the grant if this was the
    /// last approval needed.
    pub async fn decide_request(
        &self,
        principal: &Principal,
        id: &str,
        decision: Decision,
        comment: Option<String>,
        ctx: &RequestContext,
    ) -> Result<RequestOutcome, AppError> {
        principal.require(Permission::RequestsApprove)?;
        let me = principal.as_user()?;
        let id: AccessRequestId = id.parse().map_err(|_| AppError::NotFound("request"))?;
        let comment = check_comment(comment)?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let groups = group_ids(&mut tx, me).await?;
        let request =
            latch_store::access_requests::find_for_update(&mut tx, id).await?.ok_or(AppError::NotFound("request"))?;
        let decider = Decider {
            user_id: me.user().id,
            groups: &groups,
            has_approver_role: me.roles().has(Role::Approver) || me.roles().has(Role::Admin),
        };
        let effect = request.check_decision(decider, decision, now).map_err(refusal)?;
        let actor = principal.actor();
        let approval = Approval { approver: me.user().id, comment: comment.clone(), at: now };
        let (request, grant) = match effect {
            DecisionEffect::ApprovalRecorded { have, need } => {
                latch_store::access_requests::add_approval(&mut tx, id, &approval).await?;
                let event = AccessEvent::RequestApprovalRecorded {
                    request_id: id,
                    have: i64::from(have),
                    need: i64::from(need),
                };
                self.audit(&mut tx, ctx, &actor, AuditEvent::Access(event)).await?;
                let mut request = request;
                request.approvals.push(approval);
                (request, None)
            }
            DecisionEffect::Approved => {
                latch_store::access_requests::add_approval(&mut tx, id, &approval).await?;
                let grant = self.approve(&mut tx, request.clone(), Some(me), comment.as_deref(), &actor, ctx).await?;
                let mut request = request;
                request.approvals.push(approval);
                request.status = RequestStatus::Approved;
                request.grant_id = Some(grant.id);
                request.decided_by = Some(me.user().id);
                request.decision_comment = comment;
                request.decided_at = Some(grant.created_at);
                (request, Some(grant))
            }
            DecisionEffect::Denied => {
                let resolution = Resolution {
                    status: RequestStatus::Denied,
                    decided_by: Some(me.user().id),
                    comment: comment.as_deref(),
                    at: now,
                    grant_id: None,
                };
                if !latch_store::access_requests::resolve_pending(&mut tx, id, &resolution).await? {
                    return Err(AppError::StateConflict("the request was decided by someone else".to_owned()));
                }
                self.audit(&mut tx, ctx, &actor, AuditEvent::Access(AccessEvent::RequestDenied { request_id: id }))
                    .await?;
                let denied = AccessRequest {
                    status: RequestStatus::Denied,
                    decided_by: Some(me.user().id),
                    decision_comment: comment,
                    decided_at: Some(now),
                    ..request
                };
                (denied, None)
            }
        };
        tx.commit().await?;
        Ok(RequestOutcome { request, grant })
    }

    /// Cancels the caller's own pending request.
    pub async fn cancel_request(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<AccessRequest, AppError> {
        principal.require(Permission::RequestsWrite)?;
        let me = principal.as_user()?;
        let id: AccessRequestId = id.parse().map_err(|_| AppError::NotFound("request"))?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let request =
            latch_store::access_requests::find_for_update(&mut tx, id).await?.ok_or(AppError::NotFound("request"))?;
        if request.requester != me.user().id && !principal.has(Permission::Admin) {
            return Err(AppError::NotFound("request"));
        }
        request.check_cancel(request.requester, now).map_err(refusal)?;
        let resolution = Resolution {
            status: RequestStatus::Cancelled,
            decided_by: Some(me.user().id),
            comment: None,
            at: now,
            grant_id: None,
        };
        if !latch_store::access_requests::resolve_pending(&mut tx, id, &resolution).await? {
            return Err(AppError::StateConflict("the request was decided by someone else".to_owned()));
        }
        let event = AccessEvent::RequestCancelled { request_id: id };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(AccessRequest {
            status: RequestStatus::Cancelled,
            decided_by: Some(me.user().id),
            decided_at: Some(now),
            ..request
        })
    }

    pub async fn get_request(&self, principal: &Principal, id: &str) -> Result<AccessRequest, AppError> {
        require_access_read(principal)?;
        let id: AccessRequestId = id.parse().map_err(|_| AppError::NotFound("request"))?;
        let mut conn = self.store().read().await?;
        let request = latch_store::access_requests::find(&mut conn, id).await?.ok_or(AppError::NotFound("request"))?;
        let mine = principal.as_user().is_ok_and(|me| me.user().id == request.requester);
        if !mine && !principal.has(Permission::RequestsApprove) && !principal.has(Permission::AuditRead) {
            return Err(AppError::NotFound("request"));
        }
        Ok(request)
    }

    /// Lists requests, newest first.
    pub async fn list_requests(
        &self,
        principal: &Principal,
        scope: RequestScope,
        status: Option<RequestStatus>,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<AccessRequest>, AppError> {
        require_access_read(principal)?;
        let limit = limit.clamp(1, MAX_PAGE);
        let mut conn = self.store().read().await?;
        match scope {
            RequestScope::Mine => {
                principal.require(Permission::RequestsWrite)?;
                let me = principal.as_user()?;
                let filter = RequestFilter { requester: Some(me.user().id), status, limit, offset };
                Ok(latch_store::access_requests::list(&mut conn, &filter).await?)
            }
            RequestScope::All => {
                if !principal.has(Permission::RequestsApprove) && !principal.has(Permission::AuditRead) {
                    return Err(AppError::Forbidden);
                }
                let filter = RequestFilter { requester: None, status, limit, offset };
                Ok(latch_store::access_requests::list(&mut conn, &filter).await?)
            }
            RequestScope::ToDecide => {
                principal.require(Permission::RequestsApprove)?;
                let me = principal.as_user()?;
                let groups = group_ids(&mut conn, me).await?;
                let filter =
                    RequestFilter { requester: None, status: Some(RequestStatus::Pending), limit: MAX_PAGE, offset: 0 };
                let pending = latch_store::access_requests::list(&mut conn, &filter).await?;
                let now = self.now();
                let decider = Decider {
                    user_id: me.user().id,
                    groups: &groups,
                    has_approver_role: me.roles().has(Role::Approver) || me.roles().has(Role::Admin),
                };
                let mut decidable: Vec<AccessRequest> =
                    pending.into_iter().filter(|r| r.check_decision(decider, Decision::Deny, now).is_ok()).collect();
                let start = usize::try_from(offset.max(0)).unwrap_or(usize::MAX).min(decidable.len());
                decidable.drain(..start);
                decidable.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                Ok(decidable)
            }
        }
    }

    /// Expires pending requests nobody decided in time. Run periodically by the binary.
    pub async fn expire_overdue_requests(&self) -> Result<u64, AppError> {
        let now = self.now();
        let overdue = {
            let mut conn = self.store().read().await?;
            latch_store::access_requests::overdue(&mut conn, now, MAX_PAGE).await?
        };
        let mut expired = 0;
        for id in overdue {
            let mut tx = self.store().begin().await?;
            let resolution =
                Resolution { status: RequestStatus::Expired, decided_by: None, comment: None, at: now, grant_id: None };
            if latch_store::access_requests::resolve_pending(&mut tx, id, &resolution).await? {
                let event = AuditEvent::Access(AccessEvent::RequestExpired { request_id: id });
                self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, event).await?;
                expired += 1;
            }
            tx.commit().await?;
        }
        Ok(expired)
    }

    /// Resolves `request` as approved and creates its grant, in `tx`.
    async fn approve(
        &self,
        tx: &mut Tx,
        request: AccessRequest,
        decider: Option<&AuthenticatedUser>,
        comment: Option<&str>,
        actor: &AuditActor,
        ctx: &RequestContext,
    ) -> Result<Grant, AppError> {
        let now = self.now();
        let grant = Grant {
            id: GrantId::from_uuid(Uuid::new_v4()),
            user_id: request.requester,
            target_id: request.target_id,
            account_id: request.account_id,
            policy_id: Some(request.policy_id),
            request_id: Some(request.id),
            origin: GrantOrigin::Request,
            break_glass_id: None,
            starts_at: request.starts_at,
            ends_at: request.ends_at,
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            enforced_at: None,
            created_at: now,
        };
        latch_store::grants::insert(tx, &grant).await?;
        let resolution = Resolution {
            status: RequestStatus::Approved,
            decided_by: decider.map(|d| d.user().id),
            comment,
            at: now,
            grant_id: Some(grant.id),
        };
        if !latch_store::access_requests::resolve_pending(tx, request.id, &resolution).await? {
            return Err(AppError::StateConflict("the request was decided by someone else".to_owned()));
        }
        let approved = AccessEvent::RequestApproved { request_id: request.id, grant_id: grant.id };
        self.audit(tx, ctx, actor, AuditEvent::Access(approved)).await?;
        let created = AccessEvent::GrantCreated {
            grant_id: grant.id,
            user_id: grant.user_id,
            account_id: grant.account_id,
            origin: grant.origin.as_str().to_owned(),
            window: Window { starts_at: grant.starts_at, ends_at: grant.ends_at },
        };
        self.audit(tx, ctx, actor, AuditEvent::Access(created)).await?;
        Ok(grant)
    }
}

/// Finds the account to request and the policy deciding it. Without a named account, exactly one account on the
/// target must have a policy the window satisfies.
fn pick_account<'p>(
    policies: &'p [Policy],
    who: Requester<'_>,
    target: &Target,
    accounts: Vec<Account>,
    window: &RequestWindow<'_>,
    now: Timestamp,
) -> Result<(Account, &'p Policy), AppError> {
    let single = accounts.len() == 1;
    let mut allowed = Vec::new();
    let mut first_refusal = None;
    for account in accounts {
        match policy_for_request(policies, who, target, &account, window, now) {
            Ok(policy) => allowed.push((account, policy)),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    match allowed.len() {
        1 => Ok(allowed.remove(0)),
        0 if single || first_refusal.is_some() => Err(AppError::BadRequest(
            first_refusal.map_or_else(|| "no policy lets you request this".to_owned(), |r| r.to_string()),
        )),
        0 => Err(AppError::NotFound("account")),
        _ => Err(AppError::BadRequest(format!(
            "you may request several accounts there ({}); name one",
            allowed.iter().map(|(a, _)| a.spec.username.to_string()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

async fn group_ids(db: &mut impl latch_store::Db, me: &AuthenticatedUser) -> Result<Vec<GroupId>, AppError> {
    Ok(latch_store::groups::of_user(db, me.user().id).await?.iter().map(|g| g.id).collect())
}

/// Reading requests and grants: users their own (`requests:write`), approvers and auditors all of them.
pub(crate) fn require_access_read(principal: &Principal) -> Result<(), AppError> {
    if [Permission::RequestsWrite, Permission::RequestsApprove, Permission::AuditRead]
        .into_iter()
        .any(|p| principal.has(p))
    {
        return Ok(());
    }
    principal.require(Permission::RequestsWrite)
}

fn check_comment(comment: Option<String>) -> Result<Option<String>, AppError> {
    let comment = comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 1000) {
        return Err(AppError::BadRequest("the comment must be at most 1000 characters".to_owned()));
    }
    Ok(comment)
}

fn refusal(refusal: RequestRefusal) -> AppError {
    match refusal {
        RequestRefusal::NotPending(_) | RequestRefusal::Expired | RequestRefusal::AlreadyApproved => {
            AppError::StateConflict(refusal.to_string())
        }
        RequestRefusal::OwnRequest | RequestRefusal::NotAnApprover | RequestRefusal::NotRequester => {
            AppError::Refused(refusal.to_string())
        }
    }
}
