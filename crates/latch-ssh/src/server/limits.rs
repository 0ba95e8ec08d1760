//! `GatewayLimits`: the bounds that keep one client, or many, from exhausting the gateway.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::server::Config;
use russh::{MethodKind, MethodSet, SshId};

use crate::upstream::UpstreamLimits;

/// How much the gateway lets each client use. The defaults suit a production gateway; tests shorten the times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayLimits {
    /// Connections that have not finished authenticating, over all clients. One more is closed at once.
    pub max_unauthenticated_connections: usize,
    /// From the TCP connection to a successful authentication; the connection is closed after it.
    pub auth_timeout: Duration,
    /// Refused authentication requests per connection (public key probes do not count) before disconnecting.
    pub max_auth_attempts: usize,
    /// Every refusal of an authentication request takes at least this long, so timing tells nothing.
    pub auth_rejection_delay: Duration,
    /// Channels (sessions, forwards) open at the same time on one connection; more are refused.
    pub max_channels_per_connection: usize,
    /// Messages queued per channel and direction before the gateway stops reading from that side (each message
    /// carries at most one SSH packet of 32 KiB), so a slow side never makes the gateway buffer without limit.
    pub channel_buffer_messages: usize,
    /// Gateway sessions one Latch user may have on this node at once; one more is refused with a message.
    pub max_sessions_per_user: usize,
    /// A keepalive is sent to a client after this long without hearing from it.
    pub keepalive_interval: Duration,
    /// The client connection is closed after this many keepalives went unanswered.
    pub keepalive_max: usize,
    /// Limits of the connection to the target.
    pub upstream: UpstreamLimits,
}

impl Default for GatewayLimits {
    fn default() -> Self {
        GatewayLimits {
            max_unauthenticated_connections: 64,
            auth_timeout: Duration::from_secs(30),
            max_auth_attempts: 6,
            auth_rejection_delay: Duration::from_secs(1),
            max_channels_per_connection: 32,
            channel_buffer_messages: 64,
            max_sessions_per_user: 16,
            keepalive_interval: Duration::from_secs(30),
            keepalive_max: 3,
            upstream: UpstreamLimits::default(),
        }
    }
}

/// The authentication methods the gateway offers.
pub(crate) fn offered_methods() -> MethodSet {
    MethodSet::from(&[MethodKind::PublicKey, MethodKind::Password, MethodKind::KeyboardInteractive][..])
}

/// Only keyboard-interactive: what is left after a partial success (a second factor, a consent banner).
pub(crate) fn keyboard_interactive_only() -> MethodSet {
    MethodSet::from(&[MethodKind::KeyboardInteractive][..])
}

impl GatewayLimits {
    /// The russh server configuration for these limits. There is no inactivity timeout: sessions may be idle for
    /// long; the authentication deadline is enforced per connection, keepalives find dead clients.
    pub(crate) fn server_config(&self, host_key: PrivateKey) -> Arc<Config> {
        Arc::new(Config {
            server_id: SshId::Standard(Cow::Borrowed("SSH-2.0-Latch")),
            methods: offered_methods(),
            auth_rejection_time: self.auth_rejection_delay,
            // The first "none" request is how clients ask which methods exist; answering it fast costs nothing.
            auth_rejection_time_initial: Some(Duration::ZERO),
            keys: vec![host_key],
            max_auth_attempts: self.max_auth_attempts,
            channel_buffer_size: self.channel_buffer_messages.max(1),
            inactivity_timeout: None,
            keepalive_interval: Some(self.keepalive_interval),
            keepalive_max: self.keepalive_max,
            nodelay: true,
            ..Config::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_bounded() {
        let limits = GatewayLimits::default();
        assert_eq!(limits.auth_timeout, Duration::from_secs(30));
        assert!(limits.max_unauthenticated_connections > 0);
        assert!(limits.max_channels_per_connection > 0);
        assert!(limits.channel_buffer_messages > 0);
    }

    #[test]
    fn server_config_has_no_inactivity_timeout_and_offers_three_methods() {
        let key = PrivateKey::from(russh::keys::ssh_key::private::Ed25519Keypair::from_seed(&[7; 32]));
        let config = GatewayLimits::default().server_config(key);
        assert_eq!(config.inactivity_timeout, None);
        assert_eq!(config.methods.len(), 3);
        assert_eq!(config.max_auth_attempts, 6);
    }
}
