//! Grants: time-bound permission for one user to use one account on one target.
//!
//! A grant is valid from `starts_at` until `ends_at` unless revoked earlier. When it ends, every live session it
//! allowed ends too; `enforced_at` records when Latch did that, for the audit receipt.

use crate::{AccessRequestId, AccountId, BreakGlassId, DomainError, GrantId, PolicyId, TargetId, Timestamp, UserId};

/// How a grant came about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantOrigin {
    /// An approved (or auto-approved) request.
    Request,
    /// Emergency access while break-glass is on.
    BreakGlass,
}

impl GrantOrigin {
    pub const fn as_str(&self) -> &'static str {
        match self {
            GrantOrigin::Request => "request",
            GrantOrigin::BreakGlass => "break_glass",
        }
    }
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "request" => Ok(GrantOrigin::Request),
            "break_glass" => Ok(GrantOrigin::BreakGlass),
            other => Err(DomainError::invalid("grant origin", format!("unknown origin {other:?}"))),
        }
    }
}

/// A stored grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: GrantId,
    pub user_id: UserId,
    pub target_id: TargetId,
    pub account_id: AccountId,
    pub policy_id: Option<PolicyId>,
    pub request_id: Option<AccessRequestId>,
    pub origin: GrantOrigin,
    /// The break-glass it was made under (origin `BreakGlass`); such a grant has no policy.
    pub break_glass_id: Option<BreakGlassId>,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
    /// When Latch ended the grant's sessions after it expired or was revoked.
    pub enforced_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// A grant at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantState {
    Scheduled,
    Active,
    Expired,
    Revoked,
}

impl GrantState {
    pub const fn as_str(&self) -> &'static str {
        match self {
            GrantState::Scheduled => "scheduled",
            GrantState::Active => "active",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
        }
    }
}

impl Grant {
    pub fn state(&self, now: Timestamp) -> GrantState {
        match self.revoked_at {
            Some(revoked) if revoked <= now => GrantState::Revoked,
            _ if now >= self.ends_at => GrantState::Expired,
            _ if now < self.starts_at => GrantState::Scheduled,
            _ => GrantState::Active,
        }
    }

    pub fn is_active(&self, now: Timestamp) -> bool {
        self.state(now) == GrantState::Active
    }

    /// When the grant stops (or stopped) being valid.
    pub fn valid_until(&self) -> Timestamp {
        self.revoked_at.map_or(self.ends_at, |revoked| revoked.min(self.ends_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn state_over_time() {
        let id = |n| Uuid::from_u128(n);
        let mut grant = Grant {
            id: GrantId::from_uuid(id(1)),
            user_id: UserId::from_uuid(id(2)),
            target_id: TargetId::from_uuid(id(3)),
            account_id: AccountId::from_uuid(id(4)),
            policy_id: None,
            request_id: None,
            origin: GrantOrigin::Request,
            break_glass_id: None,
            starts_at: Timestamp::from_millis(100),
            ends_at: Timestamp::from_millis(200),
            revoked_at: None,
            revoked_by: None,
            revoke_reason: None,
            enforced_at: None,
            created_at: Timestamp::from_millis(0),
        };
        let at = Timestamp::from_millis;
        assert_eq!(grant.state(at(99)), GrantState::Scheduled);
        assert_eq!(grant.state(at(100)), GrantState::Active);
        assert_eq!(grant.state(at(199)), GrantState::Active);
        assert_eq!(grant.state(at(200)), GrantState::Expired);
        grant.revoked_at = Some(at(150));
        assert_eq!(grant.state(at(149)), GrantState::Active);
        assert_eq!(grant.state(at(150)), GrantState::Revoked);
        assert_eq!(grant.valid_until(), at(150));
    }
}
