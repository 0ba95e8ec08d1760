//! The russh server handler: a thin adapter that turns each russh callback into one event on the connection's
//! state machine ([`Connection`]) and answers the client with what the state machine decided. No policy here.
//!
//! Channel requests are answered at once (russh tracks only the latest request's want-reply flag, so an answer
//! given later could go to the wrong request); the channel's relay receives the same requests in order from the
//! channel itself and passes them to the target.

use russh::keys::Certificate;
use russh::server::{Auth, ChannelOpenHandle, Handler, Msg, PublicKeyOffer, Response, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, Pty, Sig};

use super::auth::refuse;
use super::connection::{ChannelRequest, Connection};
use super::forward::DirectTcpIp;
use crate::server::GatewayError;

/// The handler of one client connection.
#[derive(Debug)]
pub(crate) struct GatewayHandler {
    connection: Connection,
}

impl GatewayHandler {
    pub(crate) fn new(connection: Connection) -> GatewayHandler {
        GatewayHandler { connection }
    }

    fn answer(
        &mut self,
        channel: ChannelId,
        request: ChannelRequest,
        session: &mut Session,
    ) -> Result<(), GatewayError> {
        if self.connection.channel_request(channel, request) {
            session.channel_success(channel)?;
        } else {
            session.channel_failure(channel)?;
        }
        Ok(())
    }
}

impl Handler for GatewayHandler {
    type Error = GatewayError;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, GatewayError> {
        Ok(refuse())
    }

    async fn auth_password(&mut self, user: &str, password: &str) -> Result<Auth, GatewayError> {
        Ok(self.connection.auth_password(user, password).await)
    }

    async fn auth_publickey_offered(&mut self, user: &str, offer: PublicKeyOffer<'_>) -> Result<Auth, GatewayError> {
        Ok(self.connection.auth_key_offered(user, offer.public_key).await)
    }

    async fn auth_publickey(&mut self, user: &str, key: VerifiedPublicKey<'_>) -> Result<Auth, GatewayError> {
        Ok(self.connection.auth_key_verified(user, key.public_key).await)
    }

    async fn auth_openssh_certificate(
        &mut self,
        _user: &str,
        _certificate: &Certificate,
    ) -> Result<Auth, GatewayError> {
        Ok(refuse())
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        user: &str,
        _submethods: &str,
        response: Option<Response<'a>>,
    ) -> Result<Auth, GatewayError> {
        Ok(self.connection.auth_keyboard_interactive(user, response).await)
    }

    async fn auth_succeeded(&mut self, session: &mut Session) -> Result<(), GatewayError> {
        Ok(self.connection.authenticated(session).await?)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), GatewayError> {
        self.connection.open_session_channel(channel, reply).await;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        originator_address: &str,
        originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), GatewayError> {
        let request = DirectTcpIp {
            host: host_to_connect.to_owned(),
            port: port_to_connect,
            originator_address: originator_address.to_owned(),
            originator_port,
        };
        self.connection.open_direct_tcpip(channel, request, reply).await;
        Ok(())
    }

    async fn channel_close(&mut self, channel: ChannelId, _session: &mut Session) -> Result<(), GatewayError> {
        self.connection.channel_closed(channel);
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        _term: &str,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), GatewayError> {
        self.answer(channel, ChannelRequest::Pty, session)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), GatewayError> {
        self.answer(channel, ChannelRequest::X11, session)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        _variable_name: &str,
        _variable_value: &str,
        session: &mut Session,
    ) -> Result<(), GatewayError> {
        self.answer(channel, ChannelRequest::Env, session)
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut Session) -> Result<(), GatewayError> {
        self.answer(channel, ChannelRequest::Shell, session)
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), GatewayError> {
        self.answer(channel, ChannelRequest::Exec, session)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        _name: &str,
        session: &mut Session,
    ) -> Result<(), GatewayError> {
        self.answer(channel, ChannelRequest::Subsystem, session)
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        _col_width: u32,
        _row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        session: &mut Session,
    ) -> Result<(), GatewayError> {
        self.answer(channel, ChannelRequest::WindowChange, session)
    }

    async fn agent_request(&mut self, channel: ChannelId, _session: &mut Session) -> Result<bool, GatewayError> {
        Ok(self.connection.channel_request(channel, ChannelRequest::AgentForwarding))
    }

    async fn signal(&mut self, _channel: ChannelId, _signal: Sig, _session: &mut Session) -> Result<(), GatewayError> {
        // Passed on by the channel's relay; a signal has no answer.
        Ok(())
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, GatewayError> {
        Ok(self.connection.tcpip_forward(address, port).await)
    }

    async fn cancel_tcpip_forward(
        &mut self,
        address: &str,
        port: u32,
        _session: &mut Session,
    ) -> Result<bool, GatewayError> {
        Ok(self.connection.cancel_tcpip_forward(address, port).await)
    }
}
