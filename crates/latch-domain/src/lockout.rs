//! One failed-login counter per identity, shared by every way of logging in.

use crate::{TimeSpan, Timestamp};

/// When an identity gets locked and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub lock_for: TimeSpan,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self { max_failures: 5, lock_for: TimeSpan::from_minutes(15) }
    }
}

/// Consecutive failures and the end of the current lock, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LockoutState {
    pub failed_count: u32,
    pub locked_until: Option<Timestamp>,
}

impl LockoutState {
    pub fn is_locked(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// The state after one more failure at `now`. A lock that has run out starts a fresh count.
    pub fn after_failure(&self, policy: &LockoutPolicy, now: Timestamp) -> LockoutState {
        let lock_expired = self.locked_until.is_some_and(|until| now >= until);
        let previous = if lock_expired { 0 } else { self.failed_count };
        let failed_count = previous.saturating_add(1);
        let locked_until = if failed_count >= policy.max_failures {
            Some(now.plus(policy.lock_for))
        } else if lock_expired {
            None
        } else {
            self.locked_until
        };
        LockoutState { failed_count, locked_until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_after_max_failures_and_release_after_time() {
        let policy = LockoutPolicy { max_failures: 3, lock_for: TimeSpan::from_secs(60) };
        let t = |s: i64| Timestamp::from_millis(s * 1000);
        let mut state = LockoutState::default();
        let steps: [(i64, u32, bool); 5] = [(0, 1, false), (1, 2, false), (2, 3, true), (30, 4, true), (200, 1, false)];
        for (at, count, locked) in steps {
            state = state.after_failure(&policy, t(at));
            assert_eq!(state.failed_count, count, "at {at}");
            assert_eq!(state.is_locked(t(at)), locked, "at {at}");
        }
        let locked = LockoutState { failed_count: 3, locked_until: Some(t(62)) };
        assert!(locked.is_locked(t(61)));
        assert!(!locked.is_locked(t(62)));
    }
}
