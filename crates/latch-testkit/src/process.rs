//! Helpers shared by the real peers this crate starts.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};

use anyhow::Context;

/// A finished command's status and trimmed output, for error messages.
pub(crate) fn describe_output(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    format!("{} stderr: {} stdout: {}", output.status, stderr.trim(), stdout.trim())
}

/// A shell script that waits for EOF on its standard input, then cleans up after a peer (stops it, removes its
/// directory). The test process holds the only write end of that pipe, so the EOF comes from [`Watchdog::finish`],
/// from dropping the watchdog, or from the test process ending in any way. It runs in its own process group so that
/// Ctrl-C on the test run does not kill it before it has cleaned up.
#[derive(Debug)]
pub(crate) struct Watchdog {
    child: Child,
}

impl Watchdog {
    /// Starts `sh` (as built by the caller: user, environment, directory) with `script`, named `name`, and `args`.
    pub(crate) fn spawn(mut sh: Command, name: &str, script: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<Self> {
        let child = sh
            .args(["-c", script, name])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Watchdog { child })
    }

    /// Closes the pipe and waits for the cleanup to end.
    pub(crate) fn finish(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.finish();
    }
}
