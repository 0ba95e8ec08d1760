//! Gateway sessions: one person's connection to one target account through Latch.

use crate::target::Protocol;
use crate::{AccountId, DomainError, GatewaySessionId, GrantId, PolicyId, TargetId, Timestamp, UserId};

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
}
