//! `UpstreamError`: what can go wrong between the gateway and a target. No variant carries secret material.

use std::fmt;
use std::time::Duration;

/// Why connecting to, or talking to, a target failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The TCP connection could not be made (refused, unreachable, name not resolved).
    #[error("cannot connect to {address}")]
    Connect {
        /// `host:port` as dialed.
        address: String,
        #[source]
        source: std::io::Error,
    },
    /// A stage took longer than its limit.
    #[error("{stage} with {address} timed out after {limit:?}")]
    Timeout { address: String, stage: UpstreamStage, limit: Duration },
    /// The target has no pinned host key; its key is refused until an administrator pins one.
    #[error("the target's host key is not pinned (it presented {presented})")]
    HostKeyNotPinned {
        /// The presented key's `SHA256:…` fingerprint.
        presented: String,
    },
    /// The target presented a key other than the pinned one (a reinstalled host, or a machine in the middle).
    #[error("the target's host key does not match the pin: expected {expected}, presented {presented}")]
    HostKeyMismatch {
        /// The pin, as stored.
        expected: String,
        /// The presented key's `SHA256:…` fingerprint.
        presented: String,
    },
    /// The target refused the credential.
    #[error("the target refused the credential")]
    AuthenticationFailed,
    /// The stored private key cannot be used; the message names the reason, never the key.
    #[error("the private key cannot be used: {reason}")]
    InvalidPrivateKey { reason: &'static str },
    /// The SSH connection failed after it was made, or the target refused a request.
    #[error("ssh protocol error")]
    Protocol(#[from] russh::Error),
}

impl UpstreamError {
    /// Whether the target's identity could not be confirmed (no pin, or a different key): an administrator has to
    /// look at the pin, retrying will not help.
    pub fn is_host_key_problem(&self) -> bool {
        matches!(self, UpstreamError::HostKeyNotPinned { .. } | UpstreamError::HostKeyMismatch { .. })
    }
}

/// The stage of an upstream connection that a timeout interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamStage {
    /// Name resolution and the TCP connection (`UpstreamLimits::connect_timeout`).
    TcpConnect,
    /// SSH version exchange, key exchange, host key check and authentication (`UpstreamLimits::auth_timeout`).
    Handshake,
}

impl fmt::Display for UpstreamStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpstreamStage::TcpConnect => "tcp connect",
            UpstreamStage::Handshake => "ssh handshake",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync_static<T: Send + Sync + 'static>() {}

    #[test]
    fn errors_can_travel_between_tasks() {
        assert_send_sync_static::<UpstreamError>();
    }

    #[test]
    fn messages_are_lowercase_without_trailing_period() {
        let errors = [
            UpstreamError::Connect { address: "db1:22".into(), source: std::io::ErrorKind::ConnectionRefused.into() },
            UpstreamError::Timeout {
                address: "db1:22".into(),
                stage: UpstreamStage::Handshake,
                limit: Duration::from_secs(20),
            },
            UpstreamError::HostKeyNotPinned { presented: "SHA256:abc".into() },
            UpstreamError::HostKeyMismatch { expected: "SHA256:abc".into(), presented: "SHA256:def".into() },
            UpstreamError::AuthenticationFailed,
            UpstreamError::InvalidPrivateKey { reason: "the key is encrypted with a passphrase" },
            UpstreamError::Protocol(russh::Error::Disconnect),
        ];
        for error in errors {
            let message = error.to_string();
            assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
            assert!(!message.ends_with('.'), "{message}");
        }
    }

    #[test]
    fn host_key_problems_are_told_apart() {
        assert!(UpstreamError::HostKeyNotPinned { presented: "SHA256:a".into() }.is_host_key_problem());
        assert!(
            UpstreamError::HostKeyMismatch { expected: "SHA256:a".into(), presented: "SHA256:b".into() }
                .is_host_key_problem()
        );
        assert!(!UpstreamError::AuthenticationFailed.is_host_key_problem());
    }

    #[test]
    fn timeouts_name_the_stage() {
        let error = UpstreamError::Timeout {
            address: "10.0.0.1:22".into(),
            stage: UpstreamStage::TcpConnect,
            limit: Duration::from_secs(10),
        };
        assert_eq!(error.to_string(), "tcp connect with 10.0.0.1:22 timed out after 10s");
    }
}
