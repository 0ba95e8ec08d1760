//! The SSH server people connect to: `ssh alice@root@db01@gateway` logs Latch user `alice` in, asks Latch whether
//! they may use account `root` on target `db01` now, logs in to the target with the vault's credential and relays
//! the session while recording it, until the person leaves or Latch ends it.
//!
//! Layout, one idea per file:
//!
//! - `supervisor`: the task of one connection (authentication deadline, watching the session, the orderly end);
//! - `handler`: the russh `Handler`, a thin adapter from callbacks to events on a `connection::Connection`;
//! - `connection`: the per-connection state machine; `auth`: authentication; `establish`: from authorization to
//!   a running session; `session`: what the relays of a session share;
//! - `relay`: session channels (shell, exec, sftp); `forward`: `-L`/`-R` forwarding channels;
//! - `recording`: the session's recording task; `limits`: `GatewayLimits`; `stream`: the client stream's kill
//!   switch.

mod auth;
mod connection;
mod error;
mod establish;
mod event_index;
mod forward;
mod handler;
mod limits;
mod recording;
mod relay;
mod route;
mod scp_observer;
mod seal;
mod session;
mod sftp_observer;
mod stream;
mod supervisor;
mod user_slots;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use latch_app::App;
use latch_recording::SpoolReserve;
use russh::keys::PrivateKey;
use russh::keys::ssh_key::HashAlg;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

pub use self::error::GatewayError;
pub use self::event_index::indexed_events;
pub use self::limits::GatewayLimits;
pub use self::seal::seal_abandoned;

/// A pause after a failed `accept` (such as running out of file descriptors), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What the gateway's server side needs, validated by the binary.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where people connect.
    pub listen: SocketAddr,
    /// The gateway's own host key, which people's clients pin.
    pub host_key: PrivateKey,
    /// The recordings store: each session writes a directory `<session_id>/` here.
    pub recordings_dir: PathBuf,
    /// The free space the recordings store keeps: below it, sessions whose policy requires the recording are
    /// refused or ended, and others go on unrecorded.
    pub recordings_reserve: SpoolReserve,
    /// The node's recording key (Ed25519), which signs every finished session's manifest.
    pub recording_key: PrivateKey,
    pub limits: GatewayLimits,
}

impl fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("host_key", &self.host_key.public_key().fingerprint(HashAlg::Sha256).to_string())
            .field("recordings_dir", &self.recordings_dir)
            .field("recordings_reserve", &self.recordings_reserve)
            .field("recording_key", &self.recording_key.public_key().fingerprint(HashAlg::Sha256).to_string())
            .field("limits", &self.limits)
            .finish()
    }
}

/// What every connection of one gateway shares.
#[derive(Debug)]
pub(crate) struct ServerContext {
    pub(crate) app: App,
    pub(crate) recordings_dir: PathBuf,
    pub(crate) recordings_reserve: SpoolReserve,
    pub(crate) limits: GatewayLimits,
    pub(crate) russh_config: Arc<russh::server::Config>,
    pub(crate) recording_key: seal::RecordingKey,
    /// Each user's sessions on this node, against `limits.max_sessions_per_user`.
    pub(crate) user_slots: user_slots::UserSlots,
}

/// A gateway listening for people's SSH connections; [`GatewayServer::run`] serves them.
#[derive(Debug)]
pub struct GatewayServer {
    listener: TcpListener,
    context: Arc<ServerContext>,
}

impl GatewayServer {
    /// Opens the listening socket (`config.listen`; port 0 picks a free port, see [`GatewayServer::local_addr`]).
    pub async fn bind(app: App, config: GatewayConfig) -> Result<GatewayServer, GatewayError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| GatewayError::Bind { address: config.listen, source })?;
        let russh_config = config.limits.server_config(config.host_key);
        let context = ServerContext {
            app,
            recordings_dir: config.recordings_dir,
            recordings_reserve: config.recordings_reserve,
            limits: config.limits,
            russh_config,
            recording_key: seal::RecordingKey(Arc::new(config.recording_key)),
            user_slots: user_slots::UserSlots::default(),
        };
        Ok(GatewayServer { listener, context: Arc::new(context) })
    }

    /// The address the gateway listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, GatewayError> {
        self.listener.local_addr().map_err(GatewayError::LocalAddress)
    }

    /// Accepts connections until `shutdown` is cancelled, then ends every session (`SessionEndReason::Shutdown`)
    /// and returns once all connections are closed.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), GatewayError> {
        let limits = &self.context.limits;
        info!(address = %self.local_addr()?, "ssh gateway listening");
        let unauthenticated = Arc::new(Semaphore::new(limits.max_unauthenticated_connections));
        let connections = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                accepted = self.listener.accept() => accepted,
                () = shutdown.cancelled() => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    warn!(%error, "cannot accept an ssh connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let Ok(permit) = unauthenticated.clone().try_acquire_owned() else {
                debug!(%peer, "closing a connection: too many unauthenticated connections");
                drop(stream);
                continue;
            };
            let context = self.context.clone();
            connections.spawn(supervisor::run_connection(stream, peer, context, permit, shutdown.clone()));
        }
        drop(self.listener);
        connections.close();
        connections.wait().await;
        info!("ssh gateway stopped");
        Ok(())
    }
}

/// Binds `config.listen` and serves until `shutdown` is cancelled.
pub async fn serve(app: App, config: GatewayConfig, shutdown: CancellationToken) -> Result<(), GatewayError> {
    GatewayServer::bind(app, config).await?.run(shutdown).await
}
