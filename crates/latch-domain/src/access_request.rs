//! Requests for time-bound access and their decisions.
//!
//! A request is `Pending` until enough approvers approve it (→ `Approved`, which creates a grant), one approver
//! denies it (→ `Denied`), the requester cancels it (→ `Cancelled`) or nobody decides in time (→ `Expired`). Only
//! `Pending` requests change; the store makes each change conditional on that, so two deciders cannot both win.

use crate::{
    AccessRequestId, AccountId, DomainError, GrantId, GroupId, PolicyId, TargetId, TimeSpan, Timestamp, UserId,
};

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
    Cancelled,
    Expired,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 5] = [
        RequestStatus::Pending,
        RequestStatus::Approved,
        RequestStatus::Denied,
        RequestStatus::Cancelled,
        RequestStatus::Expired,
    ];

    pub const fn as_str(&self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Cancelled => "cancelled",
            RequestStatus::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        RequestStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == value.trim())
            .ok_or_else(|| DomainError::invalid("status", format!("unknown request status {value:?}")))
    }
}

/// What the requester gives, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestDetails {
    pub reason: String,
    pub ticket: Option<String>,
    /// The incident task picked from the integration's answer.
    pub task: Option<String>,
}

impl RequestDetails {
    pub fn new(reason: &str, ticket: Option<&str>, task: Option<&str>) -> Result<RequestDetails, DomainError> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(DomainError::invalid("reason", "say why you need access"));
        }
        if reason.chars().count() > 1000 {
            return Err(DomainError::invalid("reason", "must be at most 1000 characters"));
        }
        let optional = |field: &'static str, value: Option<&str>, max: usize| {
            let value = value.map(str::trim).filter(|v| !v.is_empty());
            match value {
                Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
                    Err(DomainError::invalid(field, format!("must be at most {max} printable characters")))
                }
                other => Ok(other.map(str::to_owned)),
            }
        };
        Ok(RequestDetails {
            reason: reason.to_owned(),
            ticket: optional("ticket", ticket, 64)?,
            task: optional("task", task, 200)?,
        })
    }
}

/// One approval given to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub approver: UserId,
    pub comment: Option<String>,
    pub at: Timestamp,
}

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: AccessRequestId,
    pub requester: UserId,
    pub target_id: TargetId,
    pub account_id: AccountId,
    pub policy_id: PolicyId,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub details: RequestDetails,
    pub status: RequestStatus,
    pub approvals_required: u8,
    pub approver_group: Option<GroupId>,
    pub approvals: Vec<Approval>,
    /// Who made the final decision (the last approver, the denier or the requester who cancelled).
    pub decided_by: Option<UserId>,
    pub decision_comment: Option<String>,
    pub decided_at: Option<Timestamp>,
    /// A pending request expires at this time.
    pub decide_by: Timestamp,
    pub grant_id: Option<GrantId>,
    pub created_at: Timestamp,
}

/// How long a request may wait for a decision at most (less when its window ends sooner).
pub const MAX_PENDING: TimeSpan = TimeSpan::from_hours(24 * 7);

/// When a request made at `created_at` for a window ending at `ends_at` expires if nobody decides.
pub fn decide_by(created_at: Timestamp, ends_at: Timestamp) -> Timestamp {
    ends_at.min(created_at.plus(MAX_PENDING))
}

/// The person deciding, with what makes them an approver.
#[derive(Debug, Clone, Copy)]
pub struct Decider<'a> {
    pub user_id: UserId,
    pub groups: &'a [GroupId],
    /// Holds the approver (or admin) role.
    pub has_approver_role: bool,
}

/// An approver's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

/// What a valid decision does to the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecisionEffect {
    /// One more approval; still pending.
    ApprovalRecorded {
        have: u8,
        need: u8,
    },
    /// The last approval needed: the request is approved and a grant is created.
    Approved,
    Denied,
}

/// Why a decision, cancellation or request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestRefusal {
    #[error("the request is already {}", .0.as_str())]
    NotPending(RequestStatus),
    #[error("you cannot decide your own request")]
    OwnRequest,
    #[error("you are not an approver for this request")]
    NotAnApprover,
    #[error("you have already approved this request")]
    AlreadyApproved,
    #[error("the request expired before it was decided")]
    Expired,
    #[error("only the requester can cancel a request")]
    NotRequester,
}

impl AccessRequest {
    /// Checks that `decider` may make `decision` now, and says what it does.
    pub fn check_decision(
        &self,
        decider: Decider<'_>,
        decision: Decision,
        now: Timestamp,
    ) -> Result<DecisionEffect, RequestRefusal> {
        self.check_pending(now)?;
        if decider.user_id == self.requester {
            return Err(RequestRefusal::OwnRequest);
        }
        let may_decide = match self.approver_group {
            Some(group) => decider.groups.contains(&group),
            None => decider.has_approver_role,
        };
        if !may_decide {
            return Err(RequestRefusal::NotAnApprover);
        }
        match decision {
            Decision::Deny => Ok(DecisionEffect::Denied),
            Decision::Approve => {
                if self.approvals.iter().any(|a| a.approver == decider.user_id) {
                    return Err(RequestRefusal::AlreadyApproved);
                }
                let have = u8::try_from(self.approvals.len()).unwrap_or(u8::MAX).saturating_add(1);
                if have >= self.approvals_required {
                    Ok(DecisionEffect::Approved)
                } else {
                    Ok(DecisionEffect::ApprovalRecorded { have, need: self.approvals_required })
                }
            }
        }
    }

    /// Checks that `user` may cancel this request now.
    pub fn check_cancel(&self, user: UserId, now: Timestamp) -> Result<(), RequestRefusal> {
        self.check_pending(now)?;
        if user != self.requester {
            return Err(RequestRefusal::NotRequester);
        }
        Ok(())
    }

    fn check_pending(&self, now: Timestamp) -> Result<(), RequestRefusal> {
        if self.status != RequestStatus::Pending {
            return Err(RequestRefusal::NotPending(self.status));
        }
        if now >= self.decide_by {
            return Err(RequestRefusal::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    fn request(approvals_required: u8, approver_group: Option<GroupId>) -> AccessRequest {
        AccessRequest {
            id: AccessRequestId::from_uuid(Uuid::from_u128(100)),
            requester: user(1),
            target_id: TargetId::from_uuid(Uuid::from_u128(200)),
            account_id: AccountId::from_uuid(Uuid::from_u128(300)),
            policy_id: PolicyId::from_uuid(Uuid::from_u128(400)),
            starts_at: Timestamp::from_millis(1_000),
            ends_at: Timestamp::from_millis(10_000),
            details: RequestDetails::new("fix the disk", None, None).unwrap(),
            status: RequestStatus::Pending,
            approvals_required,
            approver_group,
            approvals: Vec::new(),
            decided_by: None,
            decision_comment: None,
            decided_at: None,
            decide_by: Timestamp::from_millis(10_000),
            grant_id: None,
            created_at: Timestamp::from_millis(0),
        }
    }

    type Case =
        (&'static str, AccessRequest, Decider<'static>, Decision, Timestamp, Result<DecisionEffect, RequestRefusal>);

    #[test]
    fn decisions() {
        let ops = GroupId::from_uuid(Uuid::from_u128(900));
        let approver =
            |n, groups: &'static [GroupId], role: bool| Decider { user_id: user(n), groups, has_approver_role: role };
        let now = Timestamp::from_millis(500);
        let mut two_of_ops = request(2, Some(ops));
        two_of_ops.approvals.push(Approval { approver: user(2), comment: None, at: now });
        let mut denied = request(1, None);
        denied.status = RequestStatus::Denied;

        const OPS_MEMBERS: &[GroupId] = &[GroupId::from_uuid(Uuid::from_u128(900))];
        let ops_members = OPS_MEMBERS;
        let cases: Vec<Case> = vec![
            (
                "approver approves single",
                request(1, None),
                approver(2, &[], true),
                Decision::Approve,
                now,
                Ok(DecisionEffect::Approved),
            ),
            (
                "approver denies",
                request(1, None),
                approver(2, &[], true),
                Decision::Deny,
                now,
                Ok(DecisionEffect::Denied),
            ),
            (
                "requester approves own",
                request(1, None),
                approver(1, &[], true),
                Decision::Approve,
                now,
                Err(RequestRefusal::OwnRequest),
            ),
            (
                "requester denies own",
                request(1, None),
                approver(1, &[], true),
                Decision::Deny,
                now,
                Err(RequestRefusal::OwnRequest),
            ),
            (
                "no approver role",
                request(1, None),
                approver(2, &[], false),
                Decision::Approve,
                now,
                Err(RequestRefusal::NotAnApprover),
            ),
            (
                "first of two",
                request(2, None),
                approver(2, &[], true),
                Decision::Approve,
                now,
                Ok(DecisionEffect::ApprovalRecorded { have: 1, need: 2 }),
            ),
            (
                "group rule ignores role",
                request(1, Some(ops)),
                approver(2, &[], true),
                Decision::Approve,
                now,
                Err(RequestRefusal::NotAnApprover),
            ),
            (
                "second of two in group",
                two_of_ops.clone(),
                approver(3, ops_members, false),
                Decision::Approve,
                now,
                Ok(DecisionEffect::Approved),
            ),
            (
                "same approver twice",
                two_of_ops.clone(),
                approver(2, ops_members, false),
                Decision::Approve,
                now,
                Err(RequestRefusal::AlreadyApproved),
            ),
            (
                "already denied",
                denied.clone(),
                approver(2, &[], true),
                Decision::Approve,
                now,
                Err(RequestRefusal::NotPending(RequestStatus::Denied)),
            ),
            (
                "too late",
                request(1, None),
                approver(2, &[], true),
                Decision::Approve,
                Timestamp::from_millis(10_000),
                Err(RequestRefusal::Expired),
            ),
        ];
        for (name, request, decider, decision, at, expected) in cases {
            assert_eq!(request.check_decision(decider, decision, at), expected, "{name}");
        }
    }

    #[test]
    fn only_the_requester_cancels_a_pending_request() {
        let pending = request(1, None);
        let now = Timestamp::from_millis(500);
        assert_eq!(pending.check_cancel(user(1), now), Ok(()));
        assert_eq!(pending.check_cancel(user(2), now), Err(RequestRefusal::NotRequester));
        let mut approved = request(1, None);
        approved.status = RequestStatus::Approved;
        assert_eq!(approved.check_cancel(user(1), now), Err(RequestRefusal::NotPending(RequestStatus::Approved)));
    }

    #[test]
    fn details_are_validated() {
        assert!(RequestDetails::new("  ", None, None).is_err());
        let details = RequestDetails::new(" disk full ", Some(" INC1234567 "), Some("")).unwrap();
        assert_eq!(details.reason, "disk full");
        assert_eq!(details.ticket.as_deref(), Some("INC1234567"));
        assert_eq!(details.task, None);
        assert!(RequestDetails::new("x", Some("bad\nticket"), None).is_err());
        assert!(RequestDetails::new(&"x".repeat(1001), None, None).is_err());
    }

    #[test]
    fn pending_requests_expire_with_their_window_or_after_a_week() {
        let created = Timestamp::from_millis(0);
        assert_eq!(decide_by(created, Timestamp::from_millis(60_000)), Timestamp::from_millis(60_000));
        assert_eq!(decide_by(created, created.plus(TimeSpan::from_hours(24 * 30))), created.plus(MAX_PENDING));
    }
}
