//! The gateway's server side end to end: the real OpenSSH `ssh`, `scp` and `sftp` clients → the gateway (in this
//! process, on 127.0.0.1) → a real OpenSSH sshd (`latch_testkit::sshd`), with Latch data set up through the app's
//! use cases. Without root or sshd the tests are skipped (unless LATCH_REQUIRE_SSHD=1).

#![expect(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "gateway/channels.rs"]
mod channels;
#[path = "gateway/ending.rs"]
mod ending;
#[path = "gateway/file_events.rs"]
mod file_events;
#[path = "gateway/harness.rs"]
mod harness;
#[path = "gateway/limits.rs"]
mod limits;
#[path = "gateway/login.rs"]
mod login;
#[path = "gateway/recording.rs"]
mod recording;
#[path = "gateway/watch.rs"]
mod watch;
