//! Break-glass: emergency access to named targets, switched on with a reason by a member of the configured
//! break-glass group, switched off by hand or by itself after at most the configured time.
//!
//! While it is on, members of the group connect to the named targets through the gateway without a request or an
//! approval. It never reveals a credential (no check-out), and every session under it records input as well as
//! output: the terms are [`BreakGlass::connection_policy`], built here and never stored or editable.

use crate::names::{PolicyName, TargetName};
use crate::policy::{
    AccessMode, AccountSelector, ApprovalRule, ForwardingRules, Policy, PolicyRules, PolicySpec, TargetSelector,
};
use crate::{BreakGlassId, DomainError, PolicyId, TimeSpan, Timestamp, UserId};

/// The most targets one break-glass may name.
pub const MAX_TARGETS: usize = 50;
/// The longest reason.
pub const MAX_REASON_CHARS: usize = 1000;
/// The shortest time break-glass may be on.
pub const MIN_DURATION: TimeSpan = TimeSpan::from_minutes(1);
/// The longest maximum the configuration may set.
pub const MAX_DURATION: TimeSpan = TimeSpan::from_hours(24);

/// A stored break-glass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    pub id: BreakGlassId,
    /// Sorted, without duplicates.
    pub targets: Vec<TargetName>,
    pub reason: String,
    pub activated_by: UserId,
    pub activated_at: Timestamp,
    /// When it switches itself off.
    pub ends_at: Timestamp,
    /// When it was switched off (by hand, or by Latch once `ends_at` passed).
    pub ended_at: Option<Timestamp>,
    /// Who switched it off: a username, or `system` at expiry.
    pub ended_by: Option<String>,
}

/// A break-glass at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakGlassState {
    Active,
    /// Switched off by hand before its end.
    Ended,
    /// Its time ran out.
    Expired,
}

impl BreakGlassState {
    pub const fn as_str(&self) -> &'static str {
        match self {
            BreakGlassState::Active => "active",
            BreakGlassState::Ended => "ended",
            BreakGlassState::Expired => "expired",
        }
    }
}

/// What a member asks to switch on, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassRequest {
    targets: Vec<TargetName>,
    reason: String,
    duration: TimeSpan,
}

impl BreakGlassRequest {
    /// Checks the request against the rules and the configured maximum `max`: 1 to 50 targets (duplicates
    /// removed), a reason of 1 to 1000 characters, and a duration of at least a minute and at most `max`.
    pub fn new(
        mut targets: Vec<TargetName>,
        reason: &str,
        duration: TimeSpan,
        max: TimeSpan,
    ) -> Result<Self, DomainError> {
        targets.sort();
        targets.dedup();
        if targets.is_empty() || targets.len() > MAX_TARGETS {
            return Err(DomainError::invalid("targets", format!("name 1 to {MAX_TARGETS} targets")));
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
            return Err(DomainError::invalid("reason", format!("give a reason of 1 to {MAX_REASON_CHARS} characters")));
        }
        if duration < MIN_DURATION || duration > max {
            return Err(DomainError::invalid(
                "duration",
                format!("must be between {MIN_DURATION} and the configured maximum of {max}"),
            ));
        }
        Ok(Self { targets, reason: reason.to_owned(), duration })
    }

    pub fn targets(&self) -> &[TargetName] {
        &self.targets
    }

    /// Switches it on: `by` at `now`, until `now` plus the duration.
    pub fn activate(self, id: BreakGlassId, by: UserId, now: Timestamp) -> BreakGlass {
        BreakGlass {
            id,
            targets: self.targets,
            reason: self.reason,
            activated_by: by,
            activated_at: now,
            ends_at: now.plus(self.duration),
            ended_at: None,
            ended_by: None,
        }
    }
}

impl BreakGlass {
    pub fn state(&self, now: Timestamp) -> BreakGlassState {
        match self.ended_at {
            Some(ended) if ended <= now && ended < self.ends_at => BreakGlassState::Ended,
            Some(ended) if ended <= now => BreakGlassState::Expired,
            _ if now >= self.ends_at => BreakGlassState::Expired,
            _ => BreakGlassState::Active,
        }
    }

    pub fn is_active(&self, now: Timestamp) -> bool {
        self.state(now) == BreakGlassState::Active
    }

    /// Whether it gives emergency access to `target` at `now`.
    pub fn covers(&self, target: &TargetName, now: Timestamp) -> bool {
        self.is_active(now) && self.targets.contains(target)
    }

    /// The built-in terms of sessions under this break-glass: any account on its targets, input recorded (no
    /// opt-out), no forwarding, no consent banner, never a reveal, recordings kept forever. Its id is the
    /// break-glass's id, so a session row names the break-glass it ran under; it is never stored as a policy.
    pub fn connection_policy(&self) -> Result<Policy, DomainError> {
        let window = self.ends_at.since(self.activated_at);
        let rules = PolicyRules {
            mode: AccessMode::OnRequest(ApprovalRule { approvals_required: 0, approver_group: None }),
            max_duration: if window < MIN_DURATION { MIN_DURATION } else { window },
            schedule: None,
            mfa_to_request: false,
            mfa_to_connect: false,
            record_input: true,
            reveal_allowed: false,
            ticket_required: false,
            ticket_pattern: None,
            integration: None,
            forwarding: ForwardingRules { local: false, remote: false, agent: false },
            consent_banner: None,
            recording_retention_days: None,
            recording_required: true,
        };
        let spec = PolicySpec {
            name: PolicyName::parse("break-glass")?,
            description: format!("break-glass: {}", self.reason),
            enabled: true,
            subjects: Vec::new(),
            targets: self.targets.iter().cloned().map(TargetSelector::Name).collect(),
            accounts: AccountSelector::Any,
            rules,
        };
        let id = PolicyId::from_uuid(self.id.as_uuid());
        Ok(Policy { id, spec, created_at: self.activated_at, updated_at: self.activated_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn names(list: &[&str]) -> Vec<TargetName> {
        list.iter().map(|n| TargetName::parse(n).unwrap()).collect()
    }

    const MAX: TimeSpan = TimeSpan::from_hours(4);

    /// Checks one request: `Ok(targets as stored)` or `Err(field that was refused)`.
    fn check(targets: &[&str], reason: &str, minutes: i64, expected: Result<&[&str], &str>) {
        let result = BreakGlassRequest::new(names(targets), reason, TimeSpan::from_minutes(minutes), MAX);
        match (result, expected) {
            (Ok(request), Ok(stored)) => {
                let mut stored = names(stored);
                stored.sort();
                assert_eq!(request.targets(), stored, "{targets:?}");
            }
            (Err(DomainError::Invalid { field, .. }), Err(refused)) => assert_eq!(field, refused, "{targets:?}"),
            (result, expected) => panic!("{targets:?} {reason:?} {minutes}: got {result:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn requests_are_checked() {
        let fifty: Vec<String> = (0..50).map(|n| format!("db{n}")).collect();
        let fifty: Vec<&str> = fifty.iter().map(String::as_str).collect();
        let fifty_one: Vec<String> = (0..51).map(|n| format!("db{n}")).collect();
        let fifty_one: Vec<&str> = fifty_one.iter().map(String::as_str).collect();
        let long_reason = "x".repeat(MAX_REASON_CHARS + 1);
        check(&["db02", "db01", "db02"], "outage", 60, Ok(&["db01", "db02"]));
        check(&fifty, "outage", 60, Ok(&fifty));
        check(&fifty_one, "outage", 60, Err("targets"));
        check(&[], "outage", 60, Err("targets"));
        check(&["db01"], "   ", 60, Err("reason"));
        check(&["db01"], &long_reason, 60, Err("reason"));
        check(&["db01"], &"y".repeat(MAX_REASON_CHARS), 60, Ok(&["db01"]));
        check(&["db01"], "outage", 240, Ok(&["db01"]));
        check(&["db01"], "outage", 241, Err("duration"));
        check(&["db01"], "outage", 0, Err("duration"));
        check(&["db01"], "outage", 1, Ok(&["db01"]));
    }

    fn switched_on() -> BreakGlass {
        let request = BreakGlassRequest::new(names(&["db01"]), " outage ", TimeSpan::from_minutes(60), MAX).unwrap();
        request.activate(
            BreakGlassId::from_uuid(Uuid::from_u128(1)),
            UserId::from_uuid(Uuid::from_u128(2)),
            Timestamp::from_millis(1_000),
        )
    }

    #[test]
    fn state_over_time() {
        let at = Timestamp::from_millis;
        let hour = 3_600_000;
        let mut glass = switched_on();
        assert_eq!(glass.reason, "outage");
        assert_eq!(glass.ends_at, at(1_000 + hour));
        let db01 = TargetName::parse("db01").unwrap();
        let db02 = TargetName::parse("db02").unwrap();
        assert_eq!(glass.state(at(1_000)), BreakGlassState::Active);
        assert!(glass.covers(&db01, at(1_000)) && !glass.covers(&db02, at(1_000)));
        assert_eq!(glass.state(at(1_000 + hour - 1)), BreakGlassState::Active);
        assert_eq!(glass.state(at(1_000 + hour)), BreakGlassState::Expired);
        assert!(!glass.covers(&db01, at(1_000 + hour)));

        glass.ended_at = Some(at(5_000));
        assert_eq!(glass.state(at(4_999)), BreakGlassState::Active);
        assert_eq!(glass.state(at(5_000)), BreakGlassState::Ended);
        assert!(!glass.covers(&db01, at(5_000)));
        // Switched off by the sweep after its end: expired, not ended by hand.
        glass.ended_at = Some(at(1_000 + hour + 10));
        assert_eq!(glass.state(at(1_000 + hour + 10)), BreakGlassState::Expired);
    }

    #[test]
    fn sessions_under_it_record_input_and_reveal_nothing() {
        let glass = switched_on();
        let policy = glass.connection_policy().unwrap();
        assert_eq!(policy.id.as_uuid(), glass.id.as_uuid());
        let rules = &policy.spec.rules;
        assert!(rules.record_input && !rules.reveal_allowed && !rules.ticket_required);
        assert_eq!(rules.forwarding, ForwardingRules::default());
        assert_eq!(rules.consent_banner, None);
        assert_eq!(rules.max_duration, TimeSpan::from_minutes(60));
        assert_eq!(policy.spec.targets, vec![TargetSelector::Name(TargetName::parse("db01").unwrap())]);
    }
}
