//! The russh client handler of an upstream connection: checks the host key pin and routes the forwarded-tcpip and
//! agent channels the gateway asked for; refuses every other channel the server tries to open.

use latch_domain::target::HostKeyPin;
use russh::Channel;
use russh::ChannelOpenFailure;
use russh::client::{ChannelOpenHandle, Msg, Session};
use russh::keys::PublicKeyOrCertificate;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::connection::{AgentForwarding, ForwardedTcpIp, RemoteForwards};
use super::host_key::check_pin;
use crate::UpstreamError;

#[derive(Debug)]
pub(crate) struct UpstreamHandler {
    pin: Option<HostKeyPin>,
    remote_forwards: RemoteForwards,
    forwarded: mpsc::Sender<ForwardedTcpIp>,
    agent: AgentForwarding,
    agent_channels: Option<mpsc::Sender<Channel<Msg>>>,
}

impl UpstreamHandler {
    pub(crate) fn new(
        pin: Option<HostKeyPin>,
        remote_forwards: RemoteForwards,
        forwarded: mpsc::Sender<ForwardedTcpIp>,
    ) -> UpstreamHandler {
        UpstreamHandler { pin, remote_forwards, forwarded, agent: AgentForwarding::default(), agent_channels: None }
    }

    /// Routes agent channels to `channels` once `agent` allows them.
    pub(crate) fn with_agent(mut self, agent: AgentForwarding, channels: mpsc::Sender<Channel<Msg>>) -> Self {
        self.agent = agent;
        self.agent_channels = Some(channels);
        self
    }
}

impl russh::client::Handler for UpstreamHandler {
    type Error = UpstreamError;

    async fn check_server_key(&mut self, server_key: &PublicKeyOrCertificate) -> Result<bool, UpstreamError> {
        // An error (rather than `Ok(false)`) ends the handshake with the typed reason, which `connect` returns.
        check_pin(self.pin.as_ref(), server_key)?;
        debug!("upstream host key matches the pin");
        Ok(true)
    }

    async fn server_channel_open_forwarded_tcpip(
        &mut self,
        channel: Channel<Msg>,
        connected_address: &str,
        connected_port: u32,
        originator_address: &str,
        originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), UpstreamError> {
        if !self.remote_forwards.contains(connected_address, connected_port) {
            warn!(connected_address, connected_port, "refusing a forwarded-tcpip channel that was never requested");
            reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
            return Ok(());
        }
        // Reserve room first, so that a channel is only confirmed to the server when someone will receive it.
        let Ok(permit) = self.forwarded.try_reserve() else {
            warn!(connected_address, connected_port, "refusing a forwarded-tcpip channel: too many are waiting");
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        };
        reply.accept().await;
        permit.send(ForwardedTcpIp {
            channel,
            connected_address: connected_address.to_owned(),
            connected_port,
            originator_address: originator_address.to_owned(),
            originator_port,
        });
        Ok(())
    }

    async fn server_channel_open_forwarded_streamlocal(
        &mut self,
        _channel: Channel<Msg>,
        _socket_path: &str,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), UpstreamError> {
        refuse(reply, "forwarded-streamlocal").await
    }

    async fn server_channel_open_agent_forward(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), UpstreamError> {
        let Some(channels) = self.agent_channels.as_ref().filter(|_| self.agent.is_allowed()) else {
            return refuse(reply, "agent forwarding").await;
        };
        let Ok(permit) = channels.try_reserve() else {
            warn!("refusing an agent channel: too many are waiting");
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        };
        reply.accept().await;
        permit.send(channel);
        Ok(())
    }

    async fn server_channel_open_session(
        &mut self,
        _channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), UpstreamError> {
        refuse(reply, "session").await
    }

    async fn server_channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<Msg>,
        _host_to_connect: &str,
        _port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), UpstreamError> {
        refuse(reply, "direct-tcpip").await
    }

    async fn server_channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<Msg>,
        _socket_path: &str,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), UpstreamError> {
        refuse(reply, "direct-streamlocal").await
    }

    async fn server_channel_open_x11(
        &mut self,
        _channel: Channel<Msg>,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), UpstreamError> {
        refuse(reply, "x11").await
    }
}

/// russh's defaults accept these server-initiated channels; the gateway never asked for them.
async fn refuse(reply: ChannelOpenHandle, kind: &'static str) -> Result<(), UpstreamError> {
    warn!(kind, "refusing a channel the upstream server opened without being asked");
    reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
    Ok(())
}
