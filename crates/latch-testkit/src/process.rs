//! Helpers shared by the real peers this crate starts.

use std::process::Output;

/// A finished command's status and trimmed output, for error messages.
pub(crate) fn describe_output(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    format!("{} stderr: {} stdout: {}", output.status, stderr.trim(), stdout.trim())
}
