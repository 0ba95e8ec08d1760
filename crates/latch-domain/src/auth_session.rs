//! Logged-in sessions and their idle and absolute timeouts.

use crate::{AuthSessionId, TimeSpan, Timestamp, UserId};

/// How a session token travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthSessionKind {
    /// A browser cookie.
    Web,
    /// A bearer token used by the CLI or scripts.
    Api,
}

impl AuthSessionKind {
    pub const fn as_str(&self) -> &'static str {
        match self {
            AuthSessionKind::Web => "web",
            AuthSessionKind::Api => "api",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "web" => Some(AuthSessionKind::Web),
            "api" => Some(AuthSessionKind::Api),
            _ => None,
        }
    }
}

/// What a session may do: a session opened with a one-time password may only change it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthSessionStage {
    /// Fully logged in.
    Full,
    /// Logged in with a one-time password: only the password change is allowed.
    PasswordChangeRequired,
    /// TOTP is required but not enrolled yet: only enrolment (and password change) is allowed.
    TotpEnrollmentRequired,
}

impl AuthSessionStage {
    pub const fn as_str(&self) -> &'static str {
        match self {
            AuthSessionStage::Full => "full",
            AuthSessionStage::PasswordChangeRequired => "password_change_required",
            AuthSessionStage::TotpEnrollmentRequired => "totp_enrollment_required",
        }
    }
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "full" => Some(AuthSessionStage::Full),
            "password_change_required" => Some(AuthSessionStage::PasswordChangeRequired),
            "totp_enrollment_required" => Some(AuthSessionStage::TotpEnrollmentRequired),
            _ => None,
        }
    }
}

/// Idle and absolute lifetimes of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub idle: TimeSpan,
    pub absolute: TimeSpan,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        Self { idle: TimeSpan::from_minutes(30), absolute: TimeSpan::from_hours(12) }
    }
}

/// A logged-in session. The token itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSession {
    pub id: AuthSessionId,
    pub user_id: UserId,
    pub kind: AuthSessionKind,
    pub stage: AuthSessionStage,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub source: Option<String>,
}

/// Why a session is no longer valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionExpiry {
    Idle,
    Absolute,
}

impl AuthSession {
    /// `None` while the session is valid at `now`.
    pub fn expiry(&self, timeouts: &SessionTimeouts, now: Timestamp) -> Option<SessionExpiry> {
        if now >= self.created_at.plus(timeouts.absolute) {
            return Some(SessionExpiry::Absolute);
        }
        if now >= self.last_seen_at.plus(timeouts.idle) {
            return Some(SessionExpiry::Idle);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_and_absolute() {
        let t = |m: i64| Timestamp::from_millis(m * 60_000);
        let timeouts = SessionTimeouts { idle: TimeSpan::from_minutes(10), absolute: TimeSpan::from_minutes(60) };
        let session = |created: i64, seen: i64| AuthSession {
            id: AuthSessionId::from_uuid(uuid::Uuid::nil()),
            user_id: UserId::from_uuid(uuid::Uuid::nil()),
            kind: AuthSessionKind::Web,
            stage: AuthSessionStage::Full,
            created_at: t(created),
            last_seen_at: t(seen),
            source: None,
        };
        let check = |created, seen, now, want: Option<SessionExpiry>| {
            assert_eq!(session(created, seen).expiry(&timeouts, t(now)), want, "{created} {seen} {now}");
        };
        check(0, 0, 5, None);
        check(0, 0, 10, Some(SessionExpiry::Idle));
        check(0, 55, 59, None);
        check(0, 55, 60, Some(SessionExpiry::Absolute));
    }
}
