//! Forwarding channels: `direct-tcpip` (`ssh -L`, the target connects onwards), `forwarded-tcpip` (`ssh -R`, the
//! target accepted a connection on a port it listens on for the person) and `auth-agent@openssh.com` (`ssh -A`,
//! a program on the target talks to the person's agent). All are plain byte streams, relayed in both directions
//! with the same bounds as session channels, and logged in the session's event log when they open and close.
//!
//! Agent forwarding goes through the gateway as through any OpenSSH hop: the target sees a forwarded agent
//! socket, and each connection to it becomes an agent channel the gateway opens to the person's client. The
//! person's keys never leave their agent; the agent's own confirmation (`ssh-add -c`) still applies.

use std::sync::Arc;

use latch_recording::{ForwardDirection, SessionEvent};
use russh::client::Msg as ClientMsg;
use russh::server::{ChannelOpenHandle, Msg as ServerMsg};
use russh::{Channel, ChannelId, ChannelMsg, ChannelOpenFailure, ChannelReadHalf, ChannelWriteHalf};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::timeout;
use tracing::{debug, warn};

use super::relay::FAREWELL_LIMIT;
use super::session::ActiveSession;
use crate::upstream::ForwardedTcpIp;

/// Where a `direct-tcpip` channel asks the target to connect, and where the connection came from.
#[derive(Debug, Clone)]
pub(crate) struct DirectTcpIp {
    pub(crate) host: String,
    pub(crate) port: u32,
    pub(crate) originator_address: String,
    pub(crate) originator_port: u32,
}

/// Opens the `direct-tcpip` channel on the target, confirms the person's channel and relays the bytes.
pub(crate) async fn relay_direct_tcpip(
    session: Arc<ActiveSession>,
    client: Channel<ServerMsg>,
    reply: ChannelOpenHandle,
    request: DirectTcpIp,
    _channel_slot: OwnedSemaphorePermit,
) {
    let DirectTcpIp { host, port, originator_address, originator_port } = request;
    let opened = session.upstream.open_direct_tcpip(&host, port, &originator_address, originator_port).await;
    let target = match opened {
        Ok(target) => target,
        Err(error) => {
            debug!(%error, host, port, "the target could not open a direct-tcpip channel");
            reply.reject(ChannelOpenFailure::ConnectFailed).await;
            return;
        }
    };
    reply.accept().await;
    let channel = client.id().number();
    let opened = SessionEvent::ForwardOpened { channel, direction: ForwardDirection::Local, host, port };
    relay_recorded(&session, channel, opened, client, target).await;
}

/// Opens a `forwarded-tcpip` channel to the person for every connection the target accepted on a remote
/// forwarding, until the session ends.
pub(crate) async fn dispatch_remote_forwards(
    session: Arc<ActiveSession>,
    mut incoming: mpsc::Receiver<ForwardedTcpIp>,
) {
    loop {
        let forwarded = tokio::select! {
            forwarded = incoming.recv() => forwarded,
            () = session.ending() => None,
        };
        let Some(forwarded) = forwarded else { return };
        let Some(slot) = session.reserve_channel() else {
            warn!("refusing a forwarded connection: too many channels");
            let _ = forwarded.channel.close().await;
            continue;
        };
        session.spawn_relay(relay_forwarded_tcpip(session.clone(), forwarded, slot));
    }
}

async fn relay_forwarded_tcpip(
    session: Arc<ActiveSession>,
    forwarded: ForwardedTcpIp,
    _channel_slot: OwnedSemaphorePermit,
) {
    let ForwardedTcpIp { channel: target, connected_address, connected_port, originator_address, originator_port } =
        forwarded;
    let open = session.client.channel_open_forwarded_tcpip(
        connected_address.clone(),
        connected_port,
        originator_address,
        originator_port,
    );
    let client = tokio::select! {
        client = open => client,
        () = session.ending() => Err(russh::Error::Disconnect),
    };
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            debug!(%error, "the person's client refused a forwarded-tcpip channel");
            let _ = target.close().await;
            return;
        }
    };
    let channel = client.id().number();
    let opened = SessionEvent::ForwardOpened {
        channel,
        direction: ForwardDirection::Remote,
        host: connected_address,
        port: connected_port,
    };
    relay_recorded(&session, channel, opened, client, target).await;
}

/// Opens an agent channel to the person for every agent channel the target opened, until the session ends. Only
/// started for a grant that allows agent forwarding.
pub(crate) async fn dispatch_agent_channels(
    session: Arc<ActiveSession>,
    mut incoming: mpsc::Receiver<Channel<ClientMsg>>,
) {
    loop {
        let target = tokio::select! {
            target = incoming.recv() => target,
            () = session.ending() => None,
        };
        let Some(target) = target else { return };
        let Some(slot) = session.reserve_channel() else {
            warn!("refusing an agent channel: too many channels");
            let _ = target.close().await;
            continue;
        };
        session.spawn_relay(relay_agent_channel(session.clone(), target, slot));
    }
}

async fn relay_agent_channel(
    session: Arc<ActiveSession>,
    target: Channel<ClientMsg>,
    _channel_slot: OwnedSemaphorePermit,
) {
    let client = tokio::select! {
        client = session.client.channel_open_agent() => client,
        () = session.ending() => Err(russh::Error::Disconnect),
    };
    let client = match client {
        Ok(client) => client,
        Err(error) => {
            debug!(%error, "the person's client refused an agent channel");
            let _ = target.close().await;
            return;
        }
    };
    let channel = client.id().number();
    relay_recorded(&session, channel, SessionEvent::AgentChannelOpened { channel }, client, target).await;
}

/// Records the forward, relays it until either side closes or the session ends, and records its end.
async fn relay_recorded(
    session: &ActiveSession,
    channel: u32,
    opened: SessionEvent,
    client: Channel<ServerMsg>,
    target: Channel<ClientMsg>,
) {
    let (mut client_rx, client_tx) = client.split();
    let (mut target_rx, target_tx) = target.split();
    if session.recorder.event(opened).await.is_ok() {
        tokio::select! {
            () = copy(&mut client_rx, &target_tx, |bytes| session.count_to_target(bytes)) => {}
            () = copy(&mut target_rx, &client_tx, |bytes| session.count_from_target(bytes)) => {}
            () = session.ending() => {}
        }
    } else {
        session.end(latch_domain::gateway_session::SessionEndReason::RecordingFailed);
    }
    let close = async {
        let _ = client_tx.close().await;
        let _ = target_tx.close().await;
    };
    let _ = timeout(FAREWELL_LIMIT, close).await;
    let _ = session.recorder.event(SessionEvent::ForwardClosed { channel }).await;
}

/// Copies data and EOF from `from` to `to` until `from` closes or `to` cannot be written.
async fn copy<S>(from: &mut ChannelReadHalf, to: &ChannelWriteHalf<S>, count: impl Fn(usize))
where
    S: From<(ChannelId, ChannelMsg)> + Send + Sync + 'static,
{
    while let Some(message) = from.wait().await {
        let sent = match message {
            ChannelMsg::Data { data } => {
                count(data.len());
                to.data_bytes(data).await
            }
            ChannelMsg::Eof => to.eof().await,
            ChannelMsg::Close => return,
            _ => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    }
}
