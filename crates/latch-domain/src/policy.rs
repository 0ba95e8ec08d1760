//! Access policies: who may reach which target accounts, and on what terms.
//!
//! A policy never grants anything by itself unless its mode is `Standing`; `OnRequest` policies are the rules a
//! request is checked against. Evaluation is pure: the caller passes the user's groups, the target, the account and
//! the time.

mod schedule;
mod ticket;

pub use schedule::{Schedule, Weekday};
pub use ticket::TicketPattern;

use crate::account::Account;
use crate::names::{AccountName, PolicyName, TagName, TargetName};
use crate::target::Target;
use crate::{DomainError, GroupId, PolicyId, TimeSpan, Timestamp, UserId};

/// Who a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PolicySubject {
    User(UserId),
    Group(GroupId),
}

/// Which targets a policy covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetSelector {
    Name(TargetName),
    Tag(TagName),
}

/// Which accounts on the covered targets a policy covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSelector {
    Any,
    Named(Vec<AccountName>),
}

/// How access under a policy comes about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessMode {
    /// Always on (within the schedule), no request needed.
    Standing,
    /// A request is needed; `approvals_required == 0` means it is approved at once.
    OnRequest(ApprovalRule),
}

/// How many approvals a request needs, and from whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApprovalRule {
    pub approvals_required: u8,
    /// Members of this group may approve; without it, any user with the approver role may.
    pub approver_group: Option<GroupId>,
}

/// What the SSH gateway lets a session under this policy do beyond a shell, exec and file transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ForwardingRules {
    pub local: bool,
    pub remote: bool,
    pub agent: bool,
}

/// The terms of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRules {
    pub mode: AccessMode,
    /// The longest window a request may ask for (and the longest release of a check-out).
    pub max_duration: TimeSpan,
    /// When access may be used; `None` is always.
    pub schedule: Option<Schedule>,
    /// The requester must have logged in with a second factor.
    pub mfa_to_request: bool,
    /// The gateway asks for a second factor before connecting.
    pub mfa_to_connect: bool,
    /// Record keystrokes as well as output.
    pub record_input: bool,
    /// The secret may be revealed (checked out), not only injected by the gateway.
    pub reveal_allowed: bool,
    /// A ticket or incident reference is needed, and must match this pattern when one is set.
    pub ticket_required: bool,
    pub ticket_pattern: Option<TicketPattern>,
    /// The incident integration that validates tickets for this policy.
    pub integration: Option<String>,
    pub forwarding: ForwardingRules,
    /// Shown by the gateway before the session starts; the user must accept it.
    pub consent_banner: Option<String>,
    /// How many days the recordings of sessions under this policy are kept after the session ends, then deleted
    /// (unless on legal hold); `None` keeps them forever. A session keeps the retention it started with.
    pub recording_retention_days: Option<u32>,
    /// The session needs its recording (strict, the default): one whose recording cannot be created, or whose
    /// recordings spool is below its free-space reserve, is refused, and a live one whose recording stops (disk
    /// full, write error) is ended. When false, such a session goes on unrecorded and the loss is audited.
    pub recording_required: bool,
}

/// The editable fields of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub name: PolicyName,
    pub description: String,
    pub enabled: bool,
    pub subjects: Vec<PolicySubject>,
    pub targets: Vec<TargetSelector>,
    pub accounts: AccountSelector,
    pub rules: PolicyRules,
}

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub id: PolicyId,
    pub spec: PolicySpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The longest window any policy may allow.
pub const MAX_POLICY_DURATION: TimeSpan = TimeSpan::from_hours(24 * 31);
const MAX_BANNER_CHARS: usize = 4000;
/// The longest recording retention a policy may set (about a hundred years); the shortest is one day.
pub const MAX_RECORDING_RETENTION_DAYS: u32 = 36_500;
const MAX_SELECTORS: usize = 256;

impl PolicySpec {
    /// Sorts and de-duplicates the lists and checks the rules that span fields.
    pub fn normalized(mut self) -> Result<Self, DomainError> {
        self.subjects.sort();
        self.subjects.dedup();
        self.targets.sort();
        self.targets.dedup();
        if let AccountSelector::Named(names) = &mut self.accounts {
            names.sort();
            names.dedup();
            if names.is_empty() {
                return Err(DomainError::invalid("accounts", "name at least one account, or allow any account"));
            }
        }
        if self.subjects.is_empty() {
            return Err(DomainError::invalid("subjects", "name at least one user or group"));
        }
        if self.targets.is_empty() {
            return Err(DomainError::invalid("targets", "name at least one target or tag"));
        }
        if self.subjects.len() > MAX_SELECTORS || self.targets.len() > MAX_SELECTORS {
            return Err(DomainError::invalid("policy", format!("at most {MAX_SELECTORS} subjects and targets")));
        }
        if self.description.chars().count() > 2000 {
            return Err(DomainError::invalid("description", "must be at most 2000 characters"));
        }
        self.rules.check()?;
        Ok(self)
    }
}

impl PolicyRules {
    fn check(&self) -> Result<(), DomainError> {
        if self.max_duration < TimeSpan::from_minutes(1) || self.max_duration > MAX_POLICY_DURATION {
            return Err(DomainError::invalid("max duration", "must be between 1 minute and 31 days"));
        }
        if let AccessMode::OnRequest(rule) = self.mode
            && rule.approvals_required > 10
        {
            return Err(DomainError::invalid("approvals required", "must be at most 10"));
        }
        if self.ticket_pattern.is_some() && !self.ticket_required {
            return Err(DomainError::invalid("ticket pattern", "a pattern needs \"ticket required\""));
        }
        if self.integration.is_some() && !self.ticket_required {
            return Err(DomainError::invalid("integration", "an incident integration needs \"ticket required\""));
        }
        if let Some(banner) = &self.consent_banner
            && (banner.trim().is_empty() || banner.chars().count() > MAX_BANNER_CHARS)
        {
            return Err(DomainError::invalid("consent banner", "must be 1 to 4000 characters"));
        }
        if let Some(days) = self.recording_retention_days
            && !(1..=MAX_RECORDING_RETENTION_DAYS).contains(&days)
        {
            return Err(DomainError::invalid(
                "recording retention",
                format!("must be 1 to {MAX_RECORDING_RETENTION_DAYS} days, or absent to keep recordings forever"),
            ));
        }
        Ok(())
    }
}

/// The user asking, with the groups they belong to.
#[derive(Debug, Clone, Copy)]
pub struct Requester<'a> {
    pub user_id: UserId,
    pub groups: &'a [GroupId],
}

impl Policy {
    /// Whether this enabled policy covers `who` using `account` on `target`.
    pub fn covers(&self, who: Requester<'_>, target: &Target, account: &Account) -> bool {
        let spec = &self.spec;
        spec.enabled
            && account.target_id == target.id
            && spec.subjects.iter().any(|subject| match subject {
                PolicySubject::User(id) => *id == who.user_id,
                PolicySubject::Group(id) => who.groups.contains(id),
            })
            && spec.targets.iter().any(|selector| match selector {
                TargetSelector::Name(name) => *name == target.spec.name,
                TargetSelector::Tag(tag) => target.spec.tags.contains(tag),
            })
            && match &spec.accounts {
                AccountSelector::Any => true,
                AccountSelector::Named(names) => names.contains(&account.spec.username),
            }
    }

    /// Whether access under this policy may be used at `at`.
    pub fn in_schedule(&self, at: Timestamp) -> bool {
        self.spec.rules.schedule.as_ref().is_none_or(|schedule| schedule.allows(at))
    }

    pub fn is_standing(&self) -> bool {
        self.spec.rules.mode == AccessMode::Standing
    }
}

/// Why a request or a connection is refused by policy. The message is shown to the requester.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefusal {
    #[error("no policy lets you use this account on this target")]
    NoPolicy,
    #[error("you already have standing access to this account; no request is needed")]
    StandingAccess,
    #[error("the window must end after it starts")]
    EmptyWindow,
    #[error("the window may not start in the past")]
    StartsInPast,
    #[error("the window may start at most 30 days ahead")]
    StartsTooFarAhead,
    #[error("the window is longer than the policy allows ({max})")]
    TooLong { max: TimeSpan },
    #[error("the policy does not allow access at that time ({schedule})")]
    OutsideSchedule { schedule: String },
    #[error("this policy requires a ticket or incident reference")]
    TicketRequired,
    #[error("the ticket reference does not match the required pattern {pattern}")]
    TicketPattern { pattern: String },
    #[error("this policy requires two-factor login; enrol an authenticator app first")]
    MfaRequired,
}

/// What a request asks for, as checked against a policy.
#[derive(Debug, Clone)]
pub struct RequestWindow<'a> {
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub ticket: Option<&'a str>,
    /// Whether the requester logged in with a second factor.
    pub requester_has_mfa: bool,
}

/// How far ahead a window may start, and how far in the past a start is still taken as "now".
pub const MAX_START_AHEAD: TimeSpan = TimeSpan::from_hours(24 * 30);
pub const START_SLACK: TimeSpan = TimeSpan::from_minutes(5);

/// Picks the policy a request is decided under: among the enabled on-request policies covering the request whose
/// terms the window satisfies, the one needing the fewest approvals (then the first by name). If none is satisfied,
/// the refusal of the closest one (the first by name) is returned.
pub fn policy_for_request<'p>(
    policies: &'p [Policy],
    who: Requester<'_>,
    target: &Target,
    account: &Account,
    window: &RequestWindow<'_>,
    now: Timestamp,
) -> Result<&'p Policy, PolicyRefusal> {
    let mut covering: Vec<&Policy> = policies.iter().filter(|p| p.covers(who, target, account)).collect();
    if covering.iter().any(|p| p.is_standing() && p.in_schedule(now)) {
        return Err(PolicyRefusal::StandingAccess);
    }
    covering.retain(|p| !p.is_standing());
    covering.sort_by(|a, b| approvals_needed(a).cmp(&approvals_needed(b)).then(a.spec.name.cmp(&b.spec.name)));
    let mut first_refusal = None;
    for policy in covering {
        match check_window(policy, window, now) {
            Ok(()) => return Ok(policy),
            Err(refusal) => {
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    Err(first_refusal.unwrap_or(PolicyRefusal::NoPolicy))
}

/// The standing policy that lets `who` use `account` on `target` at `now`, if any (the first by name).
pub fn standing_policy<'p>(
    policies: &'p [Policy],
    who: Requester<'_>,
    target: &Target,
    account: &Account,
    now: Timestamp,
) -> Option<&'p Policy> {
    policies
        .iter()
        .filter(|p| p.is_standing() && p.covers(who, target, account) && p.in_schedule(now))
        .min_by(|a, b| a.spec.name.cmp(&b.spec.name))
}

/// Checks a window against one policy's terms.
pub fn check_window(policy: &Policy, window: &RequestWindow<'_>, now: Timestamp) -> Result<(), PolicyRefusal> {
    let rules = &policy.spec.rules;
    if window.ends_at <= window.starts_at {
        return Err(PolicyRefusal::EmptyWindow);
    }
    if window.starts_at < now.minus(START_SLACK) {
        return Err(PolicyRefusal::StartsInPast);
    }
    if window.starts_at > now.plus(MAX_START_AHEAD) {
        return Err(PolicyRefusal::StartsTooFarAhead);
    }
    if window.ends_at.since(window.starts_at) > rules.max_duration {
        return Err(PolicyRefusal::TooLong { max: rules.max_duration });
    }
    if let Some(schedule) = &rules.schedule
        && !schedule.allows_window(window.starts_at, window.ends_at)
    {
        return Err(PolicyRefusal::OutsideSchedule { schedule: schedule.to_string() });
    }
    if rules.mfa_to_request && !window.requester_has_mfa {
        return Err(PolicyRefusal::MfaRequired);
    }
    check_ticket(rules, window.ticket)
}

fn check_ticket(rules: &PolicyRules, ticket: Option<&str>) -> Result<(), PolicyRefusal> {
    let ticket = ticket.map(str::trim).filter(|t| !t.is_empty());
    match (rules.ticket_required, ticket, &rules.ticket_pattern) {
        (true, None, _) => Err(PolicyRefusal::TicketRequired),
        (_, Some(ticket), Some(pattern)) if !pattern.matches(ticket) => {
            Err(PolicyRefusal::TicketPattern { pattern: pattern.as_str().to_owned() })
        }
        _ => Ok(()),
    }
}

fn approvals_needed(policy: &Policy) -> u8 {
    match policy.spec.rules.mode {
        AccessMode::Standing => 0,
        AccessMode::OnRequest(rule) => rule.approvals_required,
    }
}

#[cfg(test)]
mod tests;
