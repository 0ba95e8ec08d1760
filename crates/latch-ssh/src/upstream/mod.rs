//! The SSH client side of the gateway: log in to a target with a credential from the vault.
//!
//! [`connect`] dials the target, accepts its host key only if it equals the pin, authenticates with a password
//! (falling back to keyboard-interactive) or a private key, and returns an [`UpstreamConnection`] on which the relay
//! opens channels. [`fetch_host_key`] reads a target's host key without logging in, for an administrator to pin.

mod auth;
mod connection;
mod handler;
mod host_key;

use std::sync::Arc;
use std::time::Duration;

use latch_domain::target::HostKeyPin;
use latch_vault::SecretString;
use russh::client;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{Instrument, debug, info, info_span};

use self::connection::{AgentForwarding, RemoteForwards};
use self::handler::UpstreamHandler;
use self::host_key::HostKeyProbe;
use crate::{UpstreamError, UpstreamStage};

pub use self::connection::{ForwardedTcpIp, UpstreamConnection};
pub use self::host_key::PresentedHostKey;

/// How many accepted forwarded-tcpip channels may wait for the relay before further ones are refused.
const FORWARDED_TCPIP_BACKLOG: usize = 16;
/// How many accepted agent channels may wait for the relay before further ones are refused.
const AGENT_CHANNEL_BACKLOG: usize = 8;

/// Where to log in, and the host key it must present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTarget {
    /// A host name or an IP address (IPv6 without brackets).
    pub address: String,
    pub port: u16,
    /// The pinned host key fingerprint; without one, `connect` refuses every key.
    pub host_key_pin: Option<HostKeyPin>,
}

/// The account on the target and its secret, decrypted from the vault for this login.
#[derive(Debug, Clone)]
pub struct UpstreamCredential {
    pub username: String,
    pub secret: UpstreamSecret,
}

/// A credential's secret; `Debug` shows only which kind it is.
#[derive(Debug, Clone)]
pub enum UpstreamSecret {
    /// A password, tried with `password` and then `keyboard-interactive` authentication.
    Password(SecretString),
    /// A private key without passphrase, as OpenSSH or PEM text.
    PrivateKey(SecretString),
}

/// Time limits of an upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Name resolution and the TCP connection.
    pub connect_timeout: Duration,
    /// Everything after the TCP connection up to a logged-in connection: version exchange, key exchange, host key
    /// check and authentication.
    pub auth_timeout: Duration,
    /// A keepalive is sent after this long without hearing from the target.
    pub keepalive_interval: Duration,
    /// The connection is closed after this many keepalives went unanswered.
    pub keepalive_max: usize,
}

impl Default for UpstreamLimits {
    /// 10 s to connect, 20 s to log in, a keepalive every 15 s of silence and at most 3 unanswered. There is no
    /// inactivity timeout: sessions may stay idle for a long time, keepalives detect a dead target.
    fn default() -> Self {
        UpstreamLimits {
            connect_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(20),
            keepalive_interval: Duration::from_secs(15),
            keepalive_max: 3,
        }
    }
}

/// Connects to `target`, checks its host key against the pin and logs in with `credential`.
pub async fn connect(
    target: &UpstreamTarget,
    credential: &UpstreamCredential,
    limits: &UpstreamLimits,
) -> Result<UpstreamConnection, UpstreamError> {
    let address = display_address(&target.address, target.port);
    let span = info_span!("upstream", %address, username = %credential.username);
    async {
        let stream = dial(&target.address, target.port, &address, limits.connect_timeout).await?;
        let remote_forwards = RemoteForwards::default();
        let (forwarded_sender, forwarded_receiver) = mpsc::channel(FORWARDED_TCPIP_BACKLOG);
        let agent = AgentForwarding::default();
        let (agent_sender, agent_receiver) = mpsc::channel(AGENT_CHANNEL_BACKLOG);
        let handler = UpstreamHandler::new(target.host_key_pin.clone(), remote_forwards.clone(), forwarded_sender)
            .with_agent(agent.clone(), agent_sender);
        let log_in = async {
            let mut handle = client::connect_stream(client_config(limits), stream, handler).await?;
            auth::authenticate(&mut handle, credential).await?;
            Ok::<_, UpstreamError>(handle)
        };
        let handle = timeout(limits.auth_timeout, log_in).await.map_err(|_| UpstreamError::Timeout {
            address: address.clone(),
            stage: UpstreamStage::Handshake,
            limit: limits.auth_timeout,
        })??;
        info!("upstream connection established");
        Ok(UpstreamConnection::new(handle, remote_forwards, forwarded_receiver, agent, agent_receiver))
    }
    .instrument(span)
    .await
}

/// Connects to `address:port`, reads the host key the server presents and ends the handshake there, before any
/// authentication. `limit` bounds the whole exchange. The key is unverified: show it to an administrator to confirm.
pub async fn fetch_host_key(address: &str, port: u16, limit: Duration) -> Result<PresentedHostKey, UpstreamError> {
    let dialed = display_address(address, port);
    let deadline = Instant::now() + limit;
    let stream = dial(address, port, &dialed, limit).await?;
    let (probe, mut presented) = HostKeyProbe::new();
    let handshake = client::connect_stream(Arc::new(client::Config::default()), stream, probe);
    let outcome = timeout_at(deadline, handshake).await;
    // The probe refuses the key it captured, so the handshake ends in an error after the capture.
    if let Ok(host_key) = presented.try_recv() {
        debug!(address = %dialed, fingerprint = %host_key.fingerprint, "fetched upstream host key");
        return Ok(host_key);
    }
    match outcome {
        Err(_) => Err(UpstreamError::Timeout { address: dialed, stage: UpstreamStage::Handshake, limit }),
        Ok(Err(error)) => Err(error),
        // Cannot happen: the probe accepts no key. Refusing keeps it that way if russh ever changes.
        Ok(Ok(_handle)) => Err(UpstreamError::Protocol(russh::Error::Inconsistent)),
    }
}

/// Resolves `host` and opens the TCP connection within `limit`.
async fn dial(host: &str, port: u16, address: &str, limit: Duration) -> Result<TcpStream, UpstreamError> {
    let stream = timeout(limit, TcpStream::connect((host, port)))
        .await
        .map_err(|_| UpstreamError::Timeout { address: address.to_owned(), stage: UpstreamStage::TcpConnect, limit })?
        .map_err(|source| UpstreamError::Connect { address: address.to_owned(), source })?;
    // Interactive sessions send single keystrokes; Nagle's algorithm would delay them.
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%error, "cannot disable Nagle's algorithm on the upstream socket");
    }
    Ok(stream)
}

fn client_config(limits: &UpstreamLimits) -> Arc<client::Config> {
    Arc::new(client::Config {
        keepalive_interval: Some(limits.keepalive_interval),
        keepalive_max: limits.keepalive_max,
        inactivity_timeout: None,
        nodelay: true,
        ..client::Config::default()
    })
}

/// `host:port`, with brackets around an IPv6 address.
fn display_address(host: &str, port: u16) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        for secret in [
            UpstreamSecret::Password(SecretString::from("hunter2-password".to_owned())),
            UpstreamSecret::PrivateKey(SecretString::from("-----BEGIN OPENSSH PRIVATE KEY-----".to_owned())),
        ] {
            let credential = UpstreamCredential { username: "root".to_owned(), secret };
            let debug = format!("{credential:?}");
            assert!(debug.contains("root") && debug.contains("[redacted]"), "{debug}");
            assert!(!debug.contains("hunter2") && !debug.contains("BEGIN"), "{debug}");
        }
    }

    #[test]
    fn addresses_are_shown_as_dialed() {
        assert_eq!(display_address("db1.example.com", 22), "db1.example.com:22");
        assert_eq!(display_address("10.0.0.1", 2222), "10.0.0.1:2222");
        assert_eq!(display_address("fd00::1", 22), "[fd00::1]:22");
    }

    #[test]
    fn default_limits() {
        let limits = UpstreamLimits::default();
        assert_eq!(limits.connect_timeout, Duration::from_secs(10));
        assert_eq!(limits.auth_timeout, Duration::from_secs(20));
        let config = client_config(&limits);
        assert_eq!(config.keepalive_interval, Some(Duration::from_secs(15)));
        assert_eq!(config.keepalive_max, 3);
        assert_eq!(config.inactivity_timeout, None);
    }
}
