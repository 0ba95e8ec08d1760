//! Gateway sessions: one person's connection to one target account through Latch.

use crate::target::Protocol;
use crate::{AccountId, DomainError, GatewaySessionId, GrantId, PolicyId, TargetId, TimeSpan, Timestamp, UserId};

/// Why a gateway session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionEndReason {
    /// The person disconnected or every channel closed normally.
    ClientClosed,
    /// The target closed the connection.
    TargetClosed,
    /// The grant's window ended.
    GrantExpired,
    /// The grant was revoked.
    GrantRevoked,
    /// An auditor or admin terminated it.
    Terminated,
    /// The user was disabled.
    UserDisabled,
    /// Reconciliation found no valid grant or policy for it.
    Reconciled,
    /// The recording could not be written (fail closed).
    RecordingFailed,
    /// Latch shut down.
    Shutdown,
    /// Latch lost track of it (found open after a restart).
    Abandoned,
    /// A protocol or network error.
    Error,
}

impl SessionEndReason {
    pub const ALL: [SessionEndReason; 11] = [
        SessionEndReason::ClientClosed,
        SessionEndReason::TargetClosed,
        SessionEndReason::GrantExpired,
        SessionEndReason::GrantRevoked,
        SessionEndReason::Terminated,
        SessionEndReason::UserDisabled,
        SessionEndReason::Reconciled,
        SessionEndReason::RecordingFailed,
        SessionEndReason::Shutdown,
        SessionEndReason::Abandoned,
        SessionEndReason::Error,
    ];

    pub const fn as_str(&self) -> &'static str {
        match self {
            SessionEndReason::ClientClosed => "client_closed",
            SessionEndReason::TargetClosed => "target_closed",
            SessionEndReason::GrantExpired => "grant_expired",
            SessionEndReason::GrantRevoked => "grant_revoked",
            SessionEndReason::Terminated => "terminated",
            SessionEndReason::UserDisabled => "user_disabled",
            SessionEndReason::Reconciled => "reconciled",
            SessionEndReason::RecordingFailed => "recording_failed",
            SessionEndReason::Shutdown => "shutdown",
            SessionEndReason::Abandoned => "abandoned",
            SessionEndReason::Error => "error",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        SessionEndReason::ALL
            .into_iter()
            .find(|r| r.as_str() == value)
            .ok_or_else(|| DomainError::invalid("end reason", format!("unknown end reason {value:?}")))
    }

    /// The message shown to the person whose session ends for this reason.
    pub const fn message(&self) -> &'static str {
        match self {
            SessionEndReason::GrantExpired => "your access to this account has expired",
            SessionEndReason::GrantRevoked => "your access to this account was revoked",
            SessionEndReason::Terminated => "this session was terminated by an administrator",
            SessionEndReason::UserDisabled => "your Latch account was disabled",
            SessionEndReason::Reconciled => "you no longer have access to this account",
            SessionEndReason::RecordingFailed => "the session recording could not be written",
            SessionEndReason::Shutdown => "the gateway is shutting down",
            _ => "session closed",
        }
    }
}

/// A stored gateway session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySession {
    pub id: GatewaySessionId,
    pub user_id: UserId,
    pub username: String,
    pub target_id: TargetId,
    pub target_name: String,
    pub account_id: AccountId,
    pub account_name: String,
    pub grant_id: Option<GrantId>,
    pub policy_id: PolicyId,
    pub protocol: Protocol,
    pub source: Option<String>,
    pub started_at: Timestamp,
    pub ended_at: Option<Timestamp>,
    pub end_reason: Option<SessionEndReason>,
    pub bytes_to_target: i64,
    pub bytes_from_target: i64,
    /// Where the recording lives, relative to the recordings store.
    pub recording: Option<String>,
    /// When the person accepted the consent banner, if the policy showed one.
    pub consent_accepted_at: Option<Timestamp>,
    /// Which Latch node runs (or ran) it.
    pub node: String,
    /// How long the recording is kept, whether it is on legal hold, and whether it was deleted.
    pub retention: RecordingRetention,
}

/// One day, the unit of recording retention.
pub const RETENTION_DAY: TimeSpan = TimeSpan::from_hours(24);
/// The longest legal hold reason, in characters.
pub const MAX_HOLD_REASON_CHARS: usize = 1000;

/// What becomes of a session's recording: kept for the days of the policy the session started under, counted from
/// the session's end (a long session is kept as long after it ended as a short one), never deleted while on legal
/// hold, and when deleted, only the recording goes: the session row and its indexed events stay for reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordingRetention {
    /// Days the recording is kept after the session ends; `None` keeps it forever.
    pub days: Option<u32>,
    /// When the recording becomes due for deletion: the session's end plus `days`. `None` while the session is
    /// live, and when the recording is kept forever.
    pub retain_until: Option<Timestamp>,
    /// While set, the recording is never deleted, even after `retain_until`.
    pub legal_hold: Option<LegalHold>,
    /// When the recording was deleted.
    pub deleted_at: Option<Timestamp>,
}

impl RecordingRetention {
    /// The retention of a session starting under a policy that keeps recordings for `days`.
    pub fn keeping_for(days: Option<u32>) -> RecordingRetention {
        RecordingRetention { days, ..RecordingRetention::default() }
    }

    /// When a recording kept for `days` after a session that ended at `ended_at` becomes due for deletion.
    pub fn due_at(ended_at: Timestamp, days: u32) -> Timestamp {
        ended_at.plus(TimeSpan::from_millis(RETENTION_DAY.as_millis() * i64::from(days)))
    }
}

/// An order to keep a session's recording whatever its retention says, until released.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHold {
    /// Why, such as a case or ticket reference.
    pub reason: String,
    /// The name of the user or API account that placed it.
    pub placed_by: String,
    pub placed_at: Timestamp,
}

impl LegalHold {
    /// A hold with a reason of 1 to [`MAX_HOLD_REASON_CHARS`] characters (trimmed).
    pub fn new(reason: &str, placed_by: String, placed_at: Timestamp) -> Result<LegalHold, DomainError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_HOLD_REASON_CHARS {
            return Err(DomainError::invalid(
                "reason",
                format!("a legal hold needs a reason of 1 to {MAX_HOLD_REASON_CHARS} characters"),
            ));
        }
        Ok(LegalHold { reason: reason.to_owned(), placed_by, placed_at })
    }
}

/// One event of a session's event log, as indexed for reports: `kind` is the event's machine name (`exec`,
/// `file_transfer`, …), `summary` one line a person reads (the command, the path, `host:port`), `bytes` the bytes a
/// file transfer moved, `data` the whole event as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEventEntry {
    /// The event's position in its session's event log, from 0.
    pub seq: i64,
    pub at: Timestamp,
    pub kind: String,
    pub channel: Option<i64>,
    pub summary: String,
    pub bytes: Option<i64>,
    pub data: String,
}

/// An indexed session event: `id` increases with every event indexed, over all sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedSessionEvent {
    pub id: i64,
    pub session_id: GatewaySessionId,
    pub entry: SessionEventEntry,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_reasons_round_trip() {
        for reason in SessionEndReason::ALL {
            assert_eq!(SessionEndReason::parse(reason.as_str()), Ok(reason));
        }
        assert!(SessionEndReason::parse("nope").is_err());
    }

    #[test]
    fn recordings_are_due_whole_days_after_the_session_ended() {
        let ended = Timestamp::from_millis(1_800_000_000_000);
        assert_eq!(RecordingRetention::due_at(ended, 1), ended.plus(TimeSpan::from_hours(24)));
        assert_eq!(RecordingRetention::due_at(ended, 36_500).since(ended), TimeSpan::from_hours(24 * 36_500));
    }

    #[test]
    fn a_legal_hold_needs_a_reason() {
        let at = Timestamp::from_millis(5);
        let check = |reason: &str| LegalHold::new(reason, "auditor1".to_owned(), at).map(|hold| hold.reason);
        assert_eq!(check("  case 2024-17 "), Ok("case 2024-17".to_owned()));
        assert!(check("").is_err());
        assert!(check(" \n ").is_err());
        assert!(check(&"x".repeat(MAX_HOLD_REASON_CHARS)).is_ok());
        assert!(check(&"x".repeat(MAX_HOLD_REASON_CHARS + 1)).is_err());
    }
}
