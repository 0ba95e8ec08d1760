//! Outgoing notifications: which audit events a webhook receives, and how failed deliveries are retried.

use crate::{DomainError, TimeSpan};

/// An audit event kind pattern: `*` (everything), a prefix ending in `.` (`request.`), or an exact kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPattern(String);

impl EventPattern {
    pub fn parse(text: &str) -> Result<EventPattern, DomainError> {
        let text = text.trim();
        let valid = text == "*"
            || (!text.is_empty()
                && text.len() <= 64
                && text.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
                && !text.starts_with('.'));
        if !valid {
            return Err(DomainError::invalid("event pattern", "use *, a prefix such as request. or a kind"));
        }
        Ok(EventPattern(text.to_owned()))
    }

    pub fn matches(&self, kind: &str) -> bool {
        match self.0.as_str() {
            "*" => true,
            prefix if prefix.ends_with('.') => kind.starts_with(prefix),
            exact => kind == exact,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A webhook's name and the events it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSubscription {
    pub name: String,
    pub events: Vec<EventPattern>,
}

impl WebhookSubscription {
    /// Whether an event of `kind` is sent to this webhook. Notification events themselves never are, so a failing
    /// webhook cannot feed itself.
    pub fn wants(&self, kind: &str) -> bool {
        !kind.starts_with("notification.") && self.events.iter().any(|p| p.matches(kind))
    }
}

/// Deliveries are given up after this many attempts (about a day with [`retry_delay`]).
pub const MAX_DELIVERY_ATTEMPTS: i64 = 12;

/// How long to wait before the next attempt after `attempts` failed ones: 10 s doubling, at most 4 h.
pub fn retry_delay(attempts: i64) -> TimeSpan {
    let exponent = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
    let seconds = 10i64.saturating_mul(2i64.saturating_pow(exponent));
    TimeSpan::from_secs(seconds.min(4 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let cases = [
            ("*", "grant.ended", true),
            ("request.", "request.created", true),
            ("request.", "requests.x", false),
            ("grant.ended", "grant.ended", true),
            ("grant.ended", "grant.end", false),
        ];
        for (pattern, kind, expected) in cases {
            assert_eq!(EventPattern::parse(pattern).unwrap().matches(kind), expected, "{pattern} {kind}");
        }
        for bad in ["", ".x", "Request.", "a b"] {
            assert!(EventPattern::parse(bad).is_err(), "{bad:?}");
        }
        let all = WebhookSubscription { name: "siem".to_owned(), events: vec![EventPattern::parse("*").unwrap()] };
        assert!(all.wants("request.created"));
        assert!(!all.wants("notification.abandoned"));
    }

    #[test]
    fn backoff_doubles_up_to_a_bound() {
        assert_eq!(retry_delay(1), TimeSpan::from_secs(10));
        assert_eq!(retry_delay(2), TimeSpan::from_secs(20));
        assert_eq!(retry_delay(4), TimeSpan::from_secs(80));
        assert_eq!(retry_delay(40), TimeSpan::from_hours(4));
    }
}
