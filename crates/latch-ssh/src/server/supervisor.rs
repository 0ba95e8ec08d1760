//! The task of one client connection: the SSH handshake and authentication within the deadline, then watching the
//! established session until something ends it, and the orderly end.
//!
//! A session ends when the person disconnects, the target connection drops, Latch wants it gone
//! (`LiveSession::ended`: grant revoked, user disabled, terminated), the grant's window passes (a timer from
//! `App::now`), the recording fails, or the gateway shuts down. Then every relay tells the person why and closes
//! its channels, the client and target connections are closed, the recording is finished and the end recorded
//! in Latch, in that order, so the person is gone well within a second.

use std::future::pending;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use latch_domain::gateway_session::SessionEndReason;
use russh::Disconnect;
use russh::server::{Handle, RunningSession, run_stream};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::{Instant, sleep, sleep_until, timeout, timeout_at};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, info_span, warn};

use super::ServerContext;
use super::connection::{Connection, Milestones};
use super::establish::Established;
use super::event_index;
use super::handler::GatewayHandler;
use super::route::{RouteStart, read_route_hint};
use super::session::ActiveSession;
use super::stream::KillableStream;

/// How long the relays get to say goodbye when a session ends.
const RELAY_WIND_DOWN: Duration = Duration::from_millis(400);
/// How long the connection task waits for russh to wind a closed connection down before it cuts the stream.
const CONNECTION_WIND_DOWN: Duration = Duration::from_secs(1);
/// The same for a connection that never authenticated.
const UNAUTHENTICATED_WIND_DOWN: Duration = Duration::from_millis(250);
/// How often the target connection is checked for having dropped.
const UPSTREAM_CHECK: Duration = Duration::from_millis(250);

/// Serves one client connection to its end. `unauthenticated` is released once the person has authenticated.
pub(crate) async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    context: Arc<ServerContext>,
    unauthenticated: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) {
    let span = info_span!("ssh", %peer);
    serve_connection(stream, peer, context, unauthenticated, shutdown).instrument(span).await;
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    context: Arc<ServerContext>,
    unauthenticated: OwnedSemaphorePermit,
    shutdown: CancellationToken,
) {
    let mut stream = stream;
    let route = match read_route_hint(&mut stream).await {
        RouteStart::Plain => None,
        RouteStart::Hint(hint) => Some(hint),
        RouteStart::Invalid => return debug!("closing a connection: malformed route hint"),
    };
    // Whatever way this function returns, the client's stream is cut.
    let kill = CancellationToken::new();
    let _kill_on_return = kill.clone().drop_guard();
    let stream = KillableStream::new(stream, kill);
    let (authenticated, authenticated_rx) = oneshot::channel();
    let (established, established_rx) = oneshot::channel();
    let connection = Connection::new(context.clone(), peer, route, Milestones { authenticated, established });
    let deadline = Instant::now() + context.limits.auth_timeout;
    let handshake =
        timeout_at(deadline, run_stream(context.russh_config.clone(), stream, GatewayHandler::new(connection)));
    let started = tokio::select! {
        started = handshake => started,
        () = shutdown.cancelled() => return,
    };
    let running = match started {
        Ok(Ok(running)) => running,
        Ok(Err(error)) => return debug!(%error, "ssh version exchange failed"),
        Err(_) => return debug!("no ssh version exchange before the authentication deadline"),
    };
    let client = running.handle();
    let mut running = pin!(running);
    let authenticated = tokio::select! {
        outcome = &mut running => {
            debug!(error = outcome.err().map(|error| error.to_string()), "connection closed before authentication");
            return;
        }
        authenticated = authenticated_rx => authenticated.is_ok(),
        () = sleep_until(deadline) => {
            info!("authentication timed out");
            disconnect(&client, "authentication timed out").await;
            false
        }
        () = shutdown.cancelled() => {
            disconnect(&client, SessionEndReason::Shutdown.message()).await;
            false
        }
    };
    if !authenticated {
        let _ = timeout(UNAUTHENTICATED_WIND_DOWN, running).await;
        return;
    }
    drop(unauthenticated);
    // The handler connects to the target inside russh's `auth_succeeded`, bounded by the upstream limits; it
    // always either hands over the session or drops the sender (and disconnects with the reason).
    let Ok(established) = established_rx.await else {
        let _ = timeout(CONNECTION_WIND_DOWN, running).await;
        return;
    };
    supervise(established, running, &client, &shutdown).await;
}

/// Watches an established session until it ends, then ends it in order.
async fn supervise(
    established: Established,
    mut running: std::pin::Pin<&mut RunningSession<GatewayHandler>>,
    client: &Handle,
    shutdown: &CancellationToken,
) {
    let Established { session, live, expires_in } = established;
    let span = info_span!("session", session_id = %session.grant.session_id());
    async {
        let mut expiry = pin!(async {
            match expires_in {
                Some(left) => sleep(left).await,
                None => pending().await,
            }
        });
        // Until the recording stops; a session whose policy does not require it goes on unrecorded after that.
        let mut recording = true;
        let (reason, client_gone) = loop {
            break tokio::select! {
                outcome = &mut running => {
                    (if outcome.is_ok() { SessionEndReason::ClientClosed } else { SessionEndReason::Error }, true)
                }
                reason = live.ended() => (reason, false),
                () = &mut expiry => (SessionEndReason::GrantExpired, false),
                () = session.recorder.failed(), if recording => {
                    recording = false;
                    if session.recorder.required() || !audit_recording_lost(&session, &live).await {
                        (SessionEndReason::RecordingFailed, false)
                    } else {
                        continue;
                    }
                }
                () = session.ending() => (session.end_reason().unwrap_or(SessionEndReason::Error), false),
                () = upstream_closed(&session) => (SessionEndReason::TargetClosed, false),
                () = shutdown.cancelled() => (SessionEndReason::Shutdown, false),
            };
        };
        session.end(reason);
        if !session.wait_for_relays(RELAY_WIND_DOWN).await {
            debug!("some channels did not close in time");
        }
        if !client_gone {
            disconnect(client, session.farewell().unwrap_or("session closed")).await;
        }
        if let Err(error) = session.upstream.close().await {
            debug!(%error, "closing the target connection");
        }
        if session.recorder.finish(reason).await.is_err() {
            warn!("the session recording could not be finished");
        }
        let traffic = session.traffic();
        // Whatever the log holds, even after a recording failure, is indexed with the session's end.
        let events = event_index::indexed_events(session.recorder.directory()).await;
        if let Err(error) = session.app.end_gateway_session(live, reason, traffic, events).await {
            warn!(%error, "cannot record the end of the session");
        }
        info!(
            reason = reason.as_str(),
            to_target = traffic.to_target,
            from_target = traffic.from_target,
            "gateway session ended"
        );
        if !client_gone {
            let _ = timeout(CONNECTION_WIND_DOWN, running).await;
        }
    }
    .instrument(span)
    .await;
}

/// Audits that the session goes on without its recording; false when that cannot be audited (the session must
/// then end: nothing unrecorded happens without a record of it).
async fn audit_recording_lost(session: &ActiveSession, live: &latch_app::LiveSession) -> bool {
    let cause = session.recorder.loss_cause();
    warn!(cause, "the session recording stopped; the policy lets the session go on unrecorded");
    match session.app.record_session_recording_lost(live, cause).await {
        Ok(()) => true,
        Err(error) => {
            warn!(%error, "cannot audit the loss of the recording; ending the session");
            false
        }
    }
}

/// Resolves once the target connection has dropped.
async fn upstream_closed(session: &ActiveSession) {
    while !session.upstream.is_closed() {
        sleep(UPSTREAM_CHECK).await;
    }
}

async fn disconnect(client: &Handle, message: &str) {
    let _ = client.disconnect(Disconnect::ByApplication, message.to_owned(), "en".to_owned()).await;
}
