//! Points in time and spans as integer milliseconds: exact, portable across SQL backends.

use std::fmt;

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A length of time in milliseconds; never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeSpan(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub const fn as_millis(&self) -> i64 {
        self.0
    }
    pub const fn as_unix_seconds(&self) -> i64 {
        self.0.div_euclid(1000)
    }
    pub const fn plus(&self, span: TimeSpan) -> Self {
        Self(self.0.saturating_add(span.0))
    }
    pub const fn minus(&self, span: TimeSpan) -> Self {
        Self(self.0.saturating_sub(span.0))
    }
    /// The span from `earlier` to `self`, zero when `earlier` is later.
    pub const fn since(&self, earlier: Timestamp) -> TimeSpan {
        TimeSpan::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl TimeSpan {
    pub const ZERO: TimeSpan = TimeSpan(0);

    /// Negative inputs become zero.
    pub const fn from_millis(ms: i64) -> Self {
        if ms < 0 { Self(0) } else { Self(ms) }
    }
    pub const fn from_secs(s: i64) -> Self {
        Self::from_millis(s.saturating_mul(1000))
    }
    pub const fn from_minutes(m: i64) -> Self {
        Self::from_secs(m.saturating_mul(60))
    }
    pub const fn from_hours(h: i64) -> Self {
        Self::from_minutes(h.saturating_mul(60))
    }
    pub const fn as_millis(&self) -> i64 {
        self.0
    }
    pub const fn as_secs(&self) -> i64 {
        self.0 / 1000
    }
}

impl fmt::Display for TimeSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.as_secs();
        match secs {
            s if s % 3600 == 0 && s > 0 => write!(f, "{}h", s / 3600),
            s if s % 60 == 0 && s > 0 => write!(f, "{}m", s / 60),
            s => write!(f, "{s}s"),
        }
    }
}
