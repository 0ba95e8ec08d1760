//! Everything `latch` writes for people (or scripts) to read on stdout, and fatal errors on
//! stderr. Logs go through `tracing` to stderr instead.

use std::io::Write;

/// Writes `text` and a newline to stdout.
///
/// Errors are returned, not panicked on (as `println!` would), so that `latch status | head`
/// does not crash; callers that print something shown only once decide what a failure means.
pub fn line(text: &str) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}")?;
    stdout.flush()
}

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn json(value: &serde_json::Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(std::io::Error::other)?;
    line(&text)
}

/// Writes a message to stderr, for failures before or outside logging. Never fails.
pub fn error(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ignored = writeln!(stderr, "{text}");
}
