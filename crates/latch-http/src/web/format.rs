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

/// The start (00:00 UTC) of the day `text` (`YYYY-MM-DD`, as `<input type="date">` sends it); `None` when empty.
/// The error names `field`.
pub(crate) fn day_start(field: &str, text: &str) -> Result<Option<Timestamp>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let shaped = text.len() == 10
        && text.char_indices().all(|(i, c)| if i == 4 || i == 7 { c == '-' } else { c.is_ascii_digit() });
    if !shaped {
        return Err(format!("{field}: a date such as 2026-01-31"));
    }
    crate::views::parse_time(field, &format!("{text}T00:00:00Z"))
        .map(Some)
        .map_err(|_| format!("{field}: {text} is not a date"))
}
