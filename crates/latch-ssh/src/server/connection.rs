//! `Connection`: the state machine of one client connection, driven by the russh handler one event at a time.
//!
//! Authenticating → (authorized, session established) Active → Closed. While authenticating, events go to the
//! [`Authenticator`]; once active, channel events start relays on the [`ActiveSession`]. Every decision about what
//! a person may do comes from the grant `latch-app` issued.

use latch_domain::gateway_login::RouteHint;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use latch_app::RequestContext;
use latch_domain::gateway_session::SessionEndReason;
use russh::keys::PublicKey;
use russh::server::{Auth, ChannelOpenHandle, Msg, Response, Session};
use russh::{Channel, ChannelId, ChannelOpenFailure, Disconnect};
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use super::ServerContext;
use super::auth::{Authenticator, refuse};
use super::establish::{Established, establish};
use super::forward::{DirectTcpIp, relay_direct_tcpip};
use super::relay::relay_session_channel;
use super::session::ActiveSession;

/// A request on a channel, as the handler received it; the data it carries travels with the channel's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelRequest {
    Pty,
    Env,
    Shell,
    Exec,
    Subsystem,
    WindowChange,
    X11,
    AgentForwarding,
}

/// Tells the connection's supervisor how far the connection got.
#[derive(Debug)]
pub(crate) struct Milestones {
    pub(crate) authenticated: oneshot::Sender<()>,
    pub(crate) established: oneshot::Sender<Established>,
}

#[derive(Debug)]
enum Phase {
    Authenticating(Box<Authenticator>),
    Active(Arc<ActiveSession>),
    Closed,
}

/// One client connection.
#[derive(Debug)]
pub(crate) struct Connection {
    context: Arc<ServerContext>,
    ctx: RequestContext,
    phase: Phase,
    /// Session channels, and whether their shell, command or subsystem was started.
    session_channels: HashMap<ChannelId, bool>,
    milestones: Option<Milestones>,
}

impl Connection {
    pub(crate) fn new(
        context: Arc<ServerContext>,
        peer: SocketAddr,
        route: Option<RouteHint>,
        milestones: Milestones,
    ) -> Connection {
        let ctx = RequestContext::from_ip(peer.ip());
        let authenticator = Authenticator::new(context.app.clone(), ctx.clone(), route);
        Connection {
            context,
            ctx,
            phase: Phase::Authenticating(Box::new(authenticator)),
            session_channels: HashMap::new(),
            milestones: Some(milestones),
        }
    }

    fn authenticator(&mut self) -> Option<&mut Authenticator> {
        match &mut self.phase {
            Phase::Authenticating(authenticator) => Some(authenticator),
            _ => None,
        }
    }

    fn active(&self) -> Option<&Arc<ActiveSession>> {
        match &self.phase {
            Phase::Active(session) if !session.is_ending() => Some(session),
            _ => None,
        }
    }

    pub(crate) async fn auth_password(&mut self, user: &str, password: &str) -> Auth {
        match self.authenticator() {
            Some(authenticator) => authenticator.password(user, password).await,
            None => refuse(),
        }
    }

    pub(crate) async fn auth_key_offered(&mut self, user: &str, key: &PublicKey) -> Auth {
        match self.authenticator() {
            Some(authenticator) => authenticator.key_offered(user, key).await,
            None => refuse(),
        }
    }

    pub(crate) async fn auth_key_verified(&mut self, user: &str, key: &PublicKey) -> Auth {
        match self.authenticator() {
            Some(authenticator) => authenticator.key_verified(user, key).await,
            None => refuse(),
        }
    }

    pub(crate) async fn auth_keyboard_interactive(&mut self, user: &str, response: Option<Response<'_>>) -> Auth {
        match self.authenticator() {
            Some(authenticator) => authenticator.keyboard_interactive(user, response).await,
            None => refuse(),
        }
    }

    /// Authentication succeeded: connect to the target and start the session, or tell the person why not and
    /// disconnect.
    pub(crate) async fn authenticated(&mut self, session: &mut Session) -> Result<(), russh::Error> {
        let authorized = self.authenticator().and_then(Authenticator::take_authorized);
        let milestones = self.milestones.take();
        let (Some(authorized), Some(milestones)) = (authorized, milestones) else {
            self.phase = Phase::Closed;
            return session.disconnect(Disconnect::ByApplication, "authentication state lost", "en");
        };
        let _ = milestones.authenticated.send(());
        match establish(&self.context, &self.ctx, authorized, session.handle()).await {
            Ok(established) => {
                self.phase = Phase::Active(established.session.clone());
                if let Err(established) = milestones.established.send(established) {
                    // The supervisor gave up on this connection meanwhile: end the session it will not watch.
                    self.phase = Phase::Closed;
                    established.session.end(SessionEndReason::Error);
                    let app = self.context.app.clone();
                    let traffic = established.session.traffic();
                    tokio::spawn(async move {
                        let _ = app
                            .end_gateway_session(established.live, SessionEndReason::Error, traffic, Vec::new())
                            .await;
                    });
                }
                Ok(())
            }
            Err(refusal) => {
                info!(?refusal, "authorized login refused");
                self.phase = Phase::Closed;
                session.disconnect(Disconnect::ByApplication, refusal.message(), "en")
            }
        }
    }

    pub(crate) async fn open_session_channel(&mut self, channel: Channel<Msg>, reply: ChannelOpenHandle) {
        let Some(session) = self.active().cloned() else {
            drop(reply);
            return;
        };
        let Some(slot) = session.reserve_channel() else {
            warn!("refusing a session channel: too many channels");
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return;
        };
        self.remember_session_channel(channel.id());
        session.spawn_relay(relay_session_channel(session.clone(), channel, reply, slot));
    }

    pub(crate) async fn open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        request: DirectTcpIp,
        reply: ChannelOpenHandle,
    ) {
        let Some(session) = self.active().cloned() else {
            drop(reply);
            return;
        };
        if !session.grant.forwarding().local {
            info!(host = request.host, port = request.port, "local forwarding refused by policy");
            reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
            return;
        }
        let Some(slot) = session.reserve_channel() else {
            warn!("refusing a direct-tcpip channel: too many channels");
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return;
        };
        session.spawn_relay(relay_direct_tcpip(session.clone(), channel, reply, request, slot));
    }

    /// Whether to accept `request` on `channel`. The relay passes accepted requests to the target in order.
    pub(crate) fn channel_request(&mut self, channel: ChannelId, request: ChannelRequest) -> bool {
        let agent_allowed = self.active().is_some_and(|session| session.grant.forwarding().agent);
        let Some(started) = self.session_channels.get_mut(&channel) else { return false };
        match request {
            ChannelRequest::Pty | ChannelRequest::Env | ChannelRequest::WindowChange => true,
            // Only one shell, command or subsystem per channel (RFC 4254 6.5); the relay ignores later ones.
            ChannelRequest::Shell | ChannelRequest::Exec | ChannelRequest::Subsystem => {
                !std::mem::replace(started, true)
            }
            ChannelRequest::X11 => false,
            // The relay passes the request on and the target's agent channels are relayed back to the person.
            ChannelRequest::AgentForwarding => agent_allowed,
        }
    }

    /// Channels the target closed are never reported closed by russh; started ones are forgotten once there are
    /// many (their later requests, such as window-change, are passed on by the relay anyway).
    fn remember_session_channel(&mut self, channel: ChannelId) {
        if self.session_channels.len() >= 4 * self.context.limits.max_channels_per_connection {
            self.session_channels.retain(|_, started| !*started);
        }
        self.session_channels.insert(channel, false);
    }

    pub(crate) fn channel_closed(&mut self, channel: ChannelId) {
        self.session_channels.remove(&channel);
    }

    /// `tcpip-forward` (`ssh -R`): asks the target to listen, if the grant allows remote forwarding.
    pub(crate) async fn tcpip_forward(&mut self, address: &str, port: &mut u32) -> bool {
        let Some(session) = self.active() else { return false };
        if !session.grant.forwarding().remote {
            info!(address, port = *port, "remote forwarding refused by policy");
            return false;
        }
        match session.upstream.request_tcpip_forward(address, *port).await {
            Ok(bound) => {
                debug!(address, bound, "remote forwarding active on the target");
                *port = bound;
                true
            }
            Err(error) => {
                debug!(%error, address, port = *port, "the target refused remote forwarding");
                false
            }
        }
    }

    pub(crate) async fn cancel_tcpip_forward(&mut self, address: &str, port: u32) -> bool {
        match self.active() {
            Some(session) => session.upstream.cancel_tcpip_forward(address, port).await.is_ok(),
            None => false,
        }
    }
}
