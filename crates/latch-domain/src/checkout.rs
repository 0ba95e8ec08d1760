//! Credential check-outs: a person (under a policy that allows reveal) or an API account (on an API-enabled
//! account) holds an account's secret for a release period, may see it once, and checks it in early or at the end.
//!
//! An account's check-outs are exclusive (one holder at a time) or shared (several at once, never next to an
//! exclusive one). Accounts flagged "rotate after use" get a rotation queued at every check-in.

use crate::{AccountId, ApiAccountId, CheckoutId, DomainError, GrantId, PolicyId, RotationId, TargetId, TimeSpan};
use crate::{Timestamp, UserId};

/// Who holds a check-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckoutHolder {
    User(UserId),
    ApiAccount(ApiAccountId),
}

/// Why a check-out ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckInReason {
    /// The holder checked it in.
    Returned,
    /// An approver or admin checked it in for the holder.
    Forced,
    /// The release period ended.
    Expired,
    /// The grant it was made under was revoked.
    GrantRevoked,
    /// The grant it was made under expired.
    GrantExpired,
}

impl CheckInReason {
    pub const ALL: [CheckInReason; 5] = [
        CheckInReason::Returned,
        CheckInReason::Forced,
        CheckInReason::Expired,
        CheckInReason::GrantRevoked,
        CheckInReason::GrantExpired,
    ];

    pub const fn as_str(&self) -> &'static str {
        match self {
            CheckInReason::Returned => "returned",
            CheckInReason::Forced => "forced",
            CheckInReason::Expired => "expired",
            CheckInReason::GrantRevoked => "grant_revoked",
            CheckInReason::GrantExpired => "grant_expired",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        CheckInReason::ALL
            .into_iter()
            .find(|r| r.as_str() == value)
            .ok_or_else(|| DomainError::invalid("check-in reason", format!("unknown check-in reason {value:?}")))
    }
}

/// A stored check-out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub id: CheckoutId,
    pub target_id: TargetId,
    pub account_id: AccountId,
    pub holder: CheckoutHolder,
    /// The grant it was made under; `None` for standing access and API accounts.
    pub grant_id: Option<GrantId>,
    /// The policy that allowed the reveal; `None` for API accounts.
    pub policy_id: Option<PolicyId>,
    pub exclusive: bool,
    pub reason: String,
    pub checked_out_at: Timestamp,
    /// The end of the release period: checked in automatically then.
    pub release_until: Timestamp,
    /// When the secret was shown (at most once).
    pub revealed_at: Option<Timestamp>,
    pub checked_in_at: Option<Timestamp>,
    pub check_in_reason: Option<CheckInReason>,
}

/// A check-out at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckoutState {
    /// Held, within its release period.
    Open,
    /// Past its release period, not yet checked in by the sweep.
    Overdue,
    CheckedIn,
}

impl CheckoutState {
    pub const fn as_str(&self) -> &'static str {
        match self {
            CheckoutState::Open => "open",
            CheckoutState::Overdue => "overdue",
            CheckoutState::CheckedIn => "checked_in",
        }
    }
}

impl Checkout {
    pub fn state(&self, now: Timestamp) -> CheckoutState {
        match self.checked_in_at {
            Some(_) => CheckoutState::CheckedIn,
            None if now >= self.release_until => CheckoutState::Overdue,
            None => CheckoutState::Open,
        }
    }

    /// Held and within its release period: it counts against exclusivity and its secret may be revealed (once).
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.state(now) == CheckoutState::Open
    }

    pub fn is_held_by(&self, holder: CheckoutHolder) -> bool {
        self.holder == holder
    }

    /// Why the secret may not be revealed now, if it may not.
    pub fn check_reveal(&self, now: Timestamp) -> Result<(), CheckoutRefusal> {
        match self.state(now) {
            CheckoutState::CheckedIn => Err(CheckoutRefusal::CheckedIn),
            CheckoutState::Overdue => Err(CheckoutRefusal::ReleaseEnded),
            CheckoutState::Open if self.revealed_at.is_some() => Err(CheckoutRefusal::AlreadyRevealed),
            CheckoutState::Open => Ok(()),
        }
    }
}

/// Why a check-out or a reveal is refused. The message is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckoutRefusal {
    #[error("this account is checked out exclusively by someone else; try again after it is checked in")]
    HeldExclusively,
    #[error("this account is checked out by someone else, and exclusive check-outs wait until all are checked in")]
    HeldShared,
    #[error("the release period must be at least one minute")]
    TooShort,
    #[error("the secret was already revealed for this check-out; check the account out again to see it again")]
    AlreadyRevealed,
    #[error("this check-out has been checked in")]
    CheckedIn,
    #[error("this check-out's release period has ended")]
    ReleaseEnded,
}

/// The longest release an API account may ask for.
pub const MAX_API_RELEASE: TimeSpan = TimeSpan::from_hours(1);
const MIN_RELEASE: TimeSpan = TimeSpan::from_minutes(1);

/// Whether a new check-out (exclusive or shared) may join the account's `open` check-outs.
pub fn check_availability(exclusive: bool, open: &[Checkout], now: Timestamp) -> Result<(), CheckoutRefusal> {
    let mut open = open.iter().filter(|c| c.is_open(now));
    match open.find(|c| exclusive || c.exclusive) {
        None => Ok(()),
        Some(held) if held.exclusive => Err(CheckoutRefusal::HeldExclusively),
        Some(_) => Err(CheckoutRefusal::HeldShared),
    }
}

/// The end of a release period asked for as `requested` at `now`: capped by `max` (the policy's longest window,
/// or [`MAX_API_RELEASE`]) and by `hard_end` (the grant's end), never shorter than a minute.
pub fn release_until(
    now: Timestamp,
    requested: TimeSpan,
    max: TimeSpan,
    hard_end: Option<Timestamp>,
) -> Result<Timestamp, CheckoutRefusal> {
    if requested < MIN_RELEASE {
        return Err(CheckoutRefusal::TooShort);
    }
    let until = now.plus(requested.min(max));
    let until = hard_end.map_or(until, |end| until.min(end));
    if until.since(now) < MIN_RELEASE {
        return Err(CheckoutRefusal::TooShort);
    }
    Ok(until)
}

/// Where a queued rotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RotationState {
    Pending,
    InProgress,
    Done,
    Failed,
}

impl RotationState {
    pub const ALL: [RotationState; 4] =
        [RotationState::Pending, RotationState::InProgress, RotationState::Done, RotationState::Failed];

    pub const fn as_str(&self) -> &'static str {
        match self {
            RotationState::Pending => "pending",
            RotationState::InProgress => "in_progress",
            RotationState::Done => "done",
            RotationState::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        RotationState::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or_else(|| DomainError::invalid("rotation state", format!("unknown rotation state {value:?}")))
    }
}

/// A rotation of an account's secret, queued when a check-out of a "rotate after use" account ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub id: RotationId,
    pub account_id: AccountId,
    /// The check-out whose end queued it.
    pub checkout_id: Option<CheckoutId>,
    pub queued_at: Timestamp,
    pub state: RotationState,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn at(minutes: i64) -> Timestamp {
        Timestamp::from_millis(minutes * 60_000)
    }

    fn checkout(exclusive: bool, release_until: i64, checked_in: bool) -> Checkout {
        Checkout {
            id: CheckoutId::from_uuid(Uuid::new_v4()),
            target_id: TargetId::from_uuid(Uuid::from_u128(1)),
            account_id: AccountId::from_uuid(Uuid::from_u128(2)),
            holder: CheckoutHolder::User(UserId::from_uuid(Uuid::from_u128(3))),
            grant_id: None,
            policy_id: None,
            exclusive,
            reason: "maintenance".to_owned(),
            checked_out_at: at(0),
            release_until: at(release_until),
            revealed_at: None,
            checked_in_at: checked_in.then(|| at(5)),
            check_in_reason: checked_in.then_some(CheckInReason::Returned),
        }
    }

    #[test]
    fn availability() {
        use CheckoutRefusal as R;
        let check = |exclusive: bool, open: &[Checkout], expected: Result<(), CheckoutRefusal>| {
            assert_eq!(check_availability(exclusive, open, at(10)), expected, "exclusive={exclusive} {open:?}");
        };
        check(true, &[], Ok(()));
        check(false, &[], Ok(()));
        check(true, &[checkout(true, 60, false)], Err(R::HeldExclusively));
        check(false, &[checkout(true, 60, false)], Err(R::HeldExclusively));
        check(true, &[checkout(false, 60, false)], Err(R::HeldShared));
        check(false, &[checkout(false, 60, false), checkout(false, 30, false)], Ok(()));
        // Checked in, or past the release period: no longer held.
        check(true, &[checkout(true, 60, true)], Ok(()));
        check(true, &[checkout(true, 10, false)], Ok(()));
        check(false, &[checkout(true, 9, false), checkout(false, 60, false)], Ok(()));
    }

    #[test]
    fn release_periods() {
        let minutes = TimeSpan::from_minutes;
        let check = |requested: i64, max: i64, hard_end: Option<i64>, expected: Result<i64, CheckoutRefusal>| {
            let got = release_until(at(100), minutes(requested), minutes(max), hard_end.map(at));
            assert_eq!(got, expected.map(at), "requested {requested} max {max} end {hard_end:?}");
        };
        check(30, 60, None, Ok(130));
        check(90, 60, None, Ok(160));
        check(30, 60, Some(120), Ok(120));
        check(30, 60, Some(200), Ok(130));
        check(0, 60, None, Err(CheckoutRefusal::TooShort));
        check(30, 60, Some(100), Err(CheckoutRefusal::TooShort));
        check(30, 60, Some(90), Err(CheckoutRefusal::TooShort));
    }

    #[test]
    fn reveal_once_while_open() {
        let mut open = checkout(true, 60, false);
        assert_eq!(open.check_reveal(at(10)), Ok(()));
        assert_eq!(open.check_reveal(at(60)), Err(CheckoutRefusal::ReleaseEnded));
        open.revealed_at = Some(at(11));
        assert_eq!(open.check_reveal(at(12)), Err(CheckoutRefusal::AlreadyRevealed));
        assert_eq!(checkout(true, 60, true).check_reveal(at(10)), Err(CheckoutRefusal::CheckedIn));
    }

    #[test]
    fn names_round_trip() {
        for reason in CheckInReason::ALL {
            assert_eq!(CheckInReason::parse(reason.as_str()), Ok(reason));
        }
        for state in RotationState::ALL {
            assert_eq!(RotationState::parse(state.as_str()), Ok(state));
        }
        assert!(CheckInReason::parse("nope").is_err());
        assert!(RotationState::parse("nope").is_err());
    }
}
