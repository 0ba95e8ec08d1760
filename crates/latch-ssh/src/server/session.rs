//! `ActiveSession`: what every relay of one established gateway session shares.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use latch_app::{App, ConnectionGrant, LiveOutputKind, LiveOutputPublisher, SessionTraffic};
use latch_domain::gateway_session::SessionEndReason;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;

use super::recording::Recorder;
use super::user_slots::UserSlot;
use crate::upstream::UpstreamConnection;

/// One person's authorized session: the target connection, the recording, and the end signal for every relay.
#[derive(Debug)]
pub(crate) struct ActiveSession {
    pub(crate) app: App,
    pub(crate) grant: ConnectionGrant,
    pub(crate) upstream: UpstreamConnection,
    pub(crate) recorder: Recorder,
    /// Where what is recorded is also shown to auditors watching live.
    watchers: LiveOutputPublisher,
    /// The client connection, for channels the gateway opens towards it and for requests outside a channel.
    pub(crate) client: russh::server::Handle,
    channels: Arc<Semaphore>,
    ending: CancellationToken,
    end_reason: OnceLock<SessionEndReason>,
    to_target: AtomicU64,
    from_target: AtomicU64,
    relays: TaskTracker,
    /// This session's place in its user's session count, given back when the session is gone.
    _user_slot: UserSlot,
}

/// What [`ActiveSession::new`] is made of, once authorized, connected and recording.
#[derive(Debug)]
pub(crate) struct SessionParts {
    pub(crate) grant: ConnectionGrant,
    pub(crate) upstream: UpstreamConnection,
    pub(crate) recorder: Recorder,
    pub(crate) watchers: LiveOutputPublisher,
    pub(crate) client: russh::server::Handle,
    pub(crate) user_slot: UserSlot,
}

impl ActiveSession {
    pub(crate) fn new(app: App, parts: SessionParts, max_channels: usize) -> ActiveSession {
        let SessionParts { grant, upstream, recorder, watchers, client, user_slot } = parts;
        ActiveSession {
            app,
            grant,
            upstream,
            recorder,
            watchers,
            client,
            _user_slot: user_slot,
            channels: Arc::new(Semaphore::new(max_channels)),
            ending: CancellationToken::new(),
            end_reason: OnceLock::new(),
            to_target: AtomicU64::new(0),
            from_target: AtomicU64::new(0),
            relays: TaskTracker::new(),
        }
    }

    /// Room for one more channel, held for as long as the channel is relayed; `None` at the limit.
    pub(crate) fn reserve_channel(&self) -> Option<OwnedSemaphorePermit> {
        self.channels.clone().try_acquire_owned().ok()
    }

    /// Runs a relay as part of this session: the session waits for it when it ends.
    pub(crate) fn spawn_relay(&self, relay: impl Future<Output = ()> + Send + 'static) {
        self.relays.spawn(relay);
    }

    /// Resolves once the session is ending; relays then tell the person why and close their channels.
    pub(crate) fn ending(&self) -> WaitForCancellationFuture<'_> {
        self.ending.cancelled()
    }

    pub(crate) fn is_ending(&self) -> bool {
        self.ending.is_cancelled()
    }

    /// Ends every relay with `reason`; the first reason given wins.
    pub(crate) fn end(&self, reason: SessionEndReason) {
        let _ = self.end_reason.set(reason);
        self.ending.cancel();
    }

    /// The reason given to [`ActiveSession::end`], once ending.
    pub(crate) fn end_reason(&self) -> Option<SessionEndReason> {
        self.end_reason.get().copied()
    }

    /// The line shown to the person on each open session channel when the session ends, if any: nothing when the
    /// person or the target closed it.
    pub(crate) fn farewell(&self) -> Option<&'static str> {
        match self.end_reason.get() {
            None | Some(SessionEndReason::ClientClosed | SessionEndReason::TargetClosed) => None,
            Some(reason) => Some(reason.message()),
        }
    }

    /// Waits (at most `limit`) for every relay to finish after [`ActiveSession::end`].
    pub(crate) async fn wait_for_relays(&self, limit: Duration) -> bool {
        self.relays.close();
        tokio::time::timeout(limit, self.relays.wait()).await.is_ok()
    }

    /// Shows what was just recorded on `channel` to the auditors watching the session live; never waits.
    pub(crate) fn show_watchers(&self, channel: u32, kind: LiveOutputKind, data: &[u8]) {
        self.watchers.publish(channel, kind, data);
    }

    pub(crate) fn count_to_target(&self, bytes: usize) {
        self.to_target.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn count_from_target(&self, bytes: usize) {
        self.from_target.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(crate) fn traffic(&self) -> SessionTraffic {
        SessionTraffic {
            to_target: self.to_target.load(Ordering::Relaxed),
            from_target: self.from_target.load(Ordering::Relaxed),
        }
    }
}
