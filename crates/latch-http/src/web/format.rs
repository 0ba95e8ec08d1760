//! Times as the pages show them: UTC to the minute for reading, RFC 3339 in `datetime` attributes (latch.js
//! turns those into countdowns and local-time tooltips).

use latch_domain::Timestamp;

/// `2026-11-23 18:50` (UTC).
pub(crate) fn minute(at: Timestamp) -> String {
    let text = crate::views::time(at);
    match (text.get(..10), text.get(11..16)) {
        (Some(date), Some(clock)) => format!("{date} {clock}"),
        _ => text,
    }
}

/// RFC 3339, for `<time datetime>`.
pub(crate) fn machine(at: Timestamp) -> String {
    crate::views::time(at)
}

/// `1 h 30 min`, `45 min`.
pub(crate) fn span(from: Timestamp, to: Timestamp) -> String {
    let minutes = to.since(from).as_millis() / 60_000;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}
