//! `UpstreamConnection`: an authenticated SSH connection to a target, and the channels the relay drives over it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use russh::Channel;
use russh::client::{Handle, Msg};
use tokio::sync::mpsc;
use tracing::debug;

use super::handler::UpstreamHandler;
use crate::UpstreamError;

/// How long `disconnect` waits for the connection to wind down after sending the disconnect message.
const DISCONNECT_GRACE: Duration = Duration::from_secs(2);

/// An authenticated connection to a target, logged in with the vault's credential.
///
/// Dropping it closes the connection; [`UpstreamConnection::disconnect`] says goodbye first.
pub struct UpstreamConnection {
    handle: Handle<UpstreamHandler>,
    remote_forwards: RemoteForwards,
    forwarded: Option<mpsc::Receiver<ForwardedTcpIp>>,
    agent: AgentForwarding,
    agent_channels: Option<mpsc::Receiver<Channel<Msg>>>,
}

/// A connection the target accepted on a remote forwarding (`ssh -R`) port, as a channel to relay.
#[derive(Debug)]
pub struct ForwardedTcpIp {
    /// The channel, already confirmed to the target.
    pub channel: Channel<Msg>,
    /// The address and port the target listens on, as requested with `tcpip_forward`.
    pub connected_address: String,
    pub connected_port: u32,
    /// Where the connection to that port came from.
    pub originator_address: String,
    pub originator_port: u32,
}

impl UpstreamConnection {
    pub(crate) fn new(
        handle: Handle<UpstreamHandler>,
        remote_forwards: RemoteForwards,
        forwarded: mpsc::Receiver<ForwardedTcpIp>,
        agent: AgentForwarding,
        agent_channels: mpsc::Receiver<Channel<Msg>>,
    ) -> UpstreamConnection {
        UpstreamConnection {
            handle,
            remote_forwards,
            forwarded: Some(forwarded),
            agent,
            agent_channels: Some(agent_channels),
        }
    }

    /// Opens a session channel (shell, exec, subsystem such as sftp; pty and env requests go on the channel).
    pub async fn open_session(&self) -> Result<Channel<Msg>, UpstreamError> {
        Ok(self.handle.channel_open_session().await?)
    }

    /// Opens a direct-tcpip channel (`ssh -L`): the target connects to `host:port`; `originator` is where the
    /// connection came from on the gateway's side, as the user's client reported it.
    pub async fn open_direct_tcpip(
        &self,
        host: &str,
        port: u32,
        originator_address: &str,
        originator_port: u32,
    ) -> Result<Channel<Msg>, UpstreamError> {
        Ok(self.handle.channel_open_direct_tcpip(host, port, originator_address, originator_port).await?)
    }

    /// Asks the target to listen on `address:port` (`ssh -R`; port 0 lets the target choose) and returns the port
    /// it listens on. Connections to it arrive on [`UpstreamConnection::take_forwarded_tcpip`]'s receiver; a
    /// refusal is `UpstreamError::Protocol(russh::Error::RequestDenied)`.
    pub async fn request_tcpip_forward(&self, address: &str, port: u32) -> Result<u32, UpstreamError> {
        // Registered before asking, so that a connection arriving right after the reply is not refused.
        self.remote_forwards.insert(address, port);
        let result = self.handle.tcpip_forward(address, port).await;
        let bound_port = match result {
            Ok(bound_port) if port == 0 => bound_port,
            Ok(_) => port,
            Err(error) => {
                self.remote_forwards.remove(address, port);
                return Err(error.into());
            }
        };
        if bound_port != port {
            self.remote_forwards.remove(address, port);
            self.remote_forwards.insert(address, bound_port);
        }
        debug!(address, bound_port, "upstream remote forwarding active");
        Ok(bound_port)
    }

    /// Stops a remote forwarding started with [`UpstreamConnection::request_tcpip_forward`] (pass the bound port).
    pub async fn cancel_tcpip_forward(&self, address: &str, port: u32) -> Result<(), UpstreamError> {
        self.remote_forwards.remove(address, port);
        Ok(self.handle.cancel_tcpip_forward(address, port).await?)
    }

    /// The receiver of forwarded-tcpip channels; `None` once taken. It holds a bounded backlog: while it is full,
    /// or after it is dropped, further connections are refused to the target.
    pub fn take_forwarded_tcpip(&mut self) -> Option<mpsc::Receiver<ForwardedTcpIp>> {
        self.forwarded.take()
    }

    /// From now on, accepts the `auth-agent@openssh.com` channels the target opens: call it before sending an
    /// agent forwarding request on a session channel. Until then every agent channel is refused.
    pub fn accept_agent_channels(&self) {
        self.agent.allow();
    }

    /// The receiver of the agent channels the target opened, already confirmed; `None` once taken. It holds a
    /// bounded backlog: while it is full, or after it is dropped, further agent channels are refused.
    pub fn take_agent_channels(&mut self) -> Option<mpsc::Receiver<Channel<Msg>>> {
        self.agent_channels.take()
    }

    /// Whether the connection has ended (closed by the target, keepalive timeout, or disconnected).
    pub fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    /// Sends an SSH disconnect ("by application") without waiting for the connection to end; for a connection
    /// shared by several tasks, which cannot give it up to [`UpstreamConnection::disconnect`].
    pub async fn close(&self) -> Result<(), UpstreamError> {
        self.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await?;
        Ok(())
    }

    /// Sends an SSH disconnect ("by application") and waits briefly for the connection to end.
    pub async fn disconnect(self) -> Result<(), UpstreamError> {
        self.handle.disconnect(russh::Disconnect::ByApplication, "", "en").await?;
        // The handle is also the connection task's join handle; its result after a goodbye is of no interest.
        let _ = tokio::time::timeout(DISCONNECT_GRACE, self.handle).await;
        Ok(())
    }
}

impl fmt::Debug for UpstreamConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamConnection")
            .field("closed", &self.is_closed())
            .field("remote_forwards", &self.remote_forwards)
            .field("agent", &self.agent)
            .finish_non_exhaustive()
    }
}

/// The remote forwardings the gateway requested, shared with the handler, which refuses forwarded-tcpip channels
/// for anything else.
#[derive(Debug, Clone, Default)]
pub(crate) struct RemoteForwards {
    active: Arc<Mutex<Vec<(String, u32)>>>,
}

impl RemoteForwards {
    pub(crate) fn contains(&self, address: &str, port: u32) -> bool {
        self.lock().iter().any(|(active_address, active_port)| active_address == address && *active_port == port)
    }

    fn insert(&self, address: &str, port: u32) {
        self.lock().push((address.to_owned(), port));
    }

    /// Removes one registration (the same forwarding may be requested twice).
    fn remove(&self, address: &str, port: u32) {
        let mut active = self.lock();
        if let Some(index) = active.iter().position(|(a, p)| a == address && *p == port) {
            active.swap_remove(index);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, u32)>> {
        // The list stays consistent whatever a panicking holder did: every change is a single push or remove.
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether the gateway asked the target to forward an agent, shared with the handler, which refuses agent
/// channels until then.
#[derive(Debug, Clone, Default)]
pub(crate) struct AgentForwarding {
    allowed: Arc<AtomicBool>,
}

impl AgentForwarding {
    pub(crate) fn is_allowed(&self) -> bool {
        self.allowed.load(Ordering::Acquire)
    }

    fn allow(&self) {
        self.allowed.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_forwards_match_address_and_port() {
        let forwards = RemoteForwards::default();
        forwards.insert("127.0.0.1", 8080);
        forwards.insert("127.0.0.1", 8080);
        assert!(forwards.contains("127.0.0.1", 8080));
        assert!(!forwards.contains("127.0.0.1", 8081));
        assert!(!forwards.contains("0.0.0.0", 8080));
        forwards.remove("127.0.0.1", 8080);
        assert!(forwards.contains("127.0.0.1", 8080), "requested twice, cancelled once");
        forwards.remove("127.0.0.1", 8080);
        assert!(!forwards.contains("127.0.0.1", 8080));
    }
}
