//! The gateway sessions running on this node, so that a revoked grant, a disabled user or an auditor can end them.
//!
//! A front end registers each session it opens and keeps the [`LiveSession`] handle for as long as it runs; the
//! handle's [`LiveSession::ended`] future resolves when Latch wants the session gone, and dropping the handle
//! unregisters it. [`LiveSessions::terminate`] signals the matching sessions and waits (bounded) until their front
//! ends have dropped them, so the caller can record when the end was actually enforced.
//!
//! Each registered session also has a bounded broadcast channel of what its terminals do ([`LiveOutput`]): the
//! front end publishes through a [`LiveOutputPublisher`] (which never waits: a watcher that falls behind loses the
//! oldest events and is told how many), and [`LiveSessions::watch`] subscribes to it. The channel closes when the
//! session unregisters, which ends every watch.

use latch_domain::gateway_session::SessionEndReason;
use latch_domain::{AccountId, GatewaySessionId, GrantId, PolicyId, UserId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, broadcast, watch};
use tokio::time::Instant;

/// What identifies a live session for termination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSessionKey {
    pub session_id: GatewaySessionId,
    pub user_id: UserId,
    pub account_id: AccountId,
    pub grant_id: Option<GrantId>,
    pub policy_id: PolicyId,
}

/// Which live sessions to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionSelector {
    Session(GatewaySessionId),
    Grant(GrantId),
    User(UserId),
}

impl SessionSelector {
    fn matches(&self, key: &LiveSessionKey) -> bool {
        match self {
            SessionSelector::Session(id) => key.session_id == *id,
            SessionSelector::Grant(id) => key.grant_id == Some(*id),
            SessionSelector::User(id) => key.user_id == *id,
        }
    }
}

/// The registry of live sessions on this node. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct LiveSessions {
    inner: Arc<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    sessions: Mutex<HashMap<GatewaySessionId, Entry>>,
    /// Woken whenever a session unregisters.
    unregistered: Notify,
}

#[derive(Debug)]
struct Entry {
    key: LiveSessionKey,
    end: watch::Sender<Option<SessionEndReason>>,
    /// The only strong sender of the session's output: dropping the entry closes the channel for every watcher.
    output: broadcast::Sender<LiveOutput>,
    terminal: Arc<TerminalState>,
}

/// How many events of a session's output wait for the slowest watcher before it starts losing them.
pub const LIVE_OUTPUT_CAPACITY: usize = 256;

/// One thing a live session's terminal did, as watchers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveOutput {
    /// Since the session started.
    pub elapsed: Duration,
    /// The front end's channel number within the session (one session may run several shells or commands).
    pub channel: u32,
    pub kind: LiveOutputKind,
    /// The bytes written (output or input); empty for a resize. Shared between watchers, never copied.
    pub data: Arc<[u8]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveOutputKind {
    /// What the target wrote (stdout and stderr).
    Output,
    /// What the person typed; published only when the policy records input.
    Input,
    /// The person's terminal changed size.
    Resize { cols: u32, rows: u32 },
}

/// A terminal's size in columns and rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    pub cols: u32,
    pub rows: u32,
}

/// What a watcher joining now needs to know about a session's terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TerminalSnapshot {
    /// The last size published, if any.
    pub(crate) size: Option<TerminalSize>,
    /// How long the session has been running.
    pub(crate) elapsed: Duration,
}

/// Shared by a session's publishers and its registry entry.
#[derive(Debug)]
struct TerminalState {
    started: Instant,
    /// The last size published, `cols << 32 | rows`; 0 while unknown.
    size: AtomicU64,
}

impl TerminalState {
    fn snapshot(&self) -> TerminalSnapshot {
        let packed = self.size.load(Ordering::Relaxed);
        let size = (packed != 0).then_some(TerminalSize { cols: (packed >> 32) as u32, rows: packed as u32 });
        TerminalSnapshot { size, elapsed: self.started.elapsed() }
    }
}

/// How long [`LiveSessions::terminate`] waits for front ends to close what it signalled.
pub const TERMINATE_WAIT: Duration = Duration::from_millis(900);

impl LiveSessions {
    /// Registers a session; it stays registered until the returned handle is dropped.
    pub(crate) fn register(&self, key: LiveSessionKey) -> LiveSession {
        let (end, ended) = watch::channel(None);
        let (output, _) = broadcast::channel(LIVE_OUTPUT_CAPACITY);
        let terminal = Arc::new(TerminalState { started: Instant::now(), size: AtomicU64::new(0) });
        let publisher = LiveOutputPublisher { sender: output.downgrade(), terminal: terminal.clone() };
        self.lock().insert(key.session_id, Entry { key, end, output, terminal });
        LiveSession { key, ended, publisher, registry: self.clone() }
    }

    /// Subscribes to the output of a session live on this node; `None` when it is not (any more). The receiver
    /// sees what is published from now on, and ends (`RecvError::Closed`) once the session has unregistered.
    pub fn watch(&self, session_id: GatewaySessionId) -> Option<broadcast::Receiver<LiveOutput>> {
        self.subscribe(session_id).map(|(receiver, _)| receiver)
    }

    /// Like [`watch`](Self::watch), with what the watcher needs to know about the terminal it joins.
    pub(crate) fn subscribe(
        &self,
        session_id: GatewaySessionId,
    ) -> Option<(broadcast::Receiver<LiveOutput>, TerminalSnapshot)> {
        let sessions = self.lock();
        let entry = sessions.get(&session_id)?;
        Some((entry.output.subscribe(), entry.terminal.snapshot()))
    }

    /// The keys of every registered session.
    pub fn keys(&self) -> Vec<LiveSessionKey> {
        self.lock().values().map(|entry| entry.key).collect()
    }

    /// Signals every matching session to end with `reason`, waits up to [`TERMINATE_WAIT`] for them to close and
    /// returns the sessions it signalled.
    pub async fn terminate(&self, selector: SessionSelector, reason: SessionEndReason) -> Vec<LiveSessionKey> {
        self.terminate_where(|key| selector.matches(key), reason).await
    }

    /// Like [`terminate`](Self::terminate), for any predicate over the session keys.
    pub async fn terminate_where(
        &self,
        predicate: impl Fn(&LiveSessionKey) -> bool,
        reason: SessionEndReason,
    ) -> Vec<LiveSessionKey> {
        let signalled: Vec<LiveSessionKey> = {
            let sessions = self.lock();
            sessions
                .values()
                .filter(|entry| predicate(&entry.key))
                .map(|entry| {
                    entry.end.send_if_modified(|current| {
                        let first = current.is_none();
                        if first {
                            *current = Some(reason);
                        }
                        first
                    });
                    entry.key
                })
                .collect()
        };
        if signalled.is_empty() {
            return signalled;
        }
        let all_gone = async {
            loop {
                let waiting = self.inner.unregistered.notified();
                if signalled.iter().all(|key| !self.lock().contains_key(&key.session_id)) {
                    return;
                }
                waiting.await;
            }
        };
        let _ = tokio::time::timeout(TERMINATE_WAIT, all_gone).await;
        signalled
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<GatewaySessionId, Entry>> {
        match self.inner.sessions.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A front end's handle on one registered session.
#[derive(Debug)]
pub struct LiveSession {
    key: LiveSessionKey,
    ended: watch::Receiver<Option<SessionEndReason>>,
    publisher: LiveOutputPublisher,
    registry: LiveSessions,
}

impl LiveSession {
    pub fn key(&self) -> &LiveSessionKey {
        &self.key
    }

    /// Resolves with the reason once Latch wants this session ended.
    pub async fn ended(&self) -> SessionEndReason {
        let mut ended = self.ended.clone();
        match ended.wait_for(Option::is_some).await {
            Ok(reason) => reason.unwrap_or(SessionEndReason::Terminated),
            // The registry entry is gone, which only happens when this handle is dropped.
            Err(_) => SessionEndReason::Terminated,
        }
    }

    /// The end reason if one was signalled already.
    pub fn end_requested(&self) -> Option<SessionEndReason> {
        *self.ended.borrow()
    }

    /// A publisher of this session's output, for the parts of the front end that relay it.
    pub fn publisher(&self) -> LiveOutputPublisher {
        self.publisher.clone()
    }

    /// Publishes to this session's watchers; see [`LiveOutputPublisher::publish`].
    pub fn publish(&self, channel: u32, kind: LiveOutputKind, data: &[u8]) {
        self.publisher.publish(channel, kind, data);
    }
}

/// Sends a live session's output to its watchers. Cheap to clone; holds the channel open only while publishing, so
/// the session's end closes it even if a publisher lingers.
#[derive(Debug, Clone)]
pub struct LiveOutputPublisher {
    sender: broadcast::WeakSender<LiveOutput>,
    terminal: Arc<TerminalState>,
}

impl LiveOutputPublisher {
    /// Publishes one event without ever waiting: with no watcher it costs no copy, and a watcher that has fallen
    /// [`LIVE_OUTPUT_CAPACITY`] events behind loses the oldest ones (and is told so).
    pub fn publish(&self, channel: u32, kind: LiveOutputKind, data: &[u8]) {
        if let LiveOutputKind::Resize { cols, rows } = kind {
            self.terminal.size.store(u64::from(cols) << 32 | u64::from(rows), Ordering::Relaxed);
        }
        let Some(sender) = self.sender.upgrade() else { return };
        if sender.receiver_count() == 0 {
            return;
        }
        let output = LiveOutput { elapsed: self.terminal.started.elapsed(), channel, kind, data: Arc::from(data) };
        // Fails only when the last watcher left in between.
        let _ = sender.send(output);
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.key.session_id);
        self.registry.inner.unregistered.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn key(n: u128, grant: Option<u128>) -> LiveSessionKey {
        LiveSessionKey {
            session_id: GatewaySessionId::from_uuid(Uuid::from_u128(n)),
            user_id: UserId::from_uuid(Uuid::from_u128(1)),
            account_id: AccountId::from_uuid(Uuid::from_u128(2)),
            grant_id: grant.map(|g| GrantId::from_uuid(Uuid::from_u128(g))),
            policy_id: PolicyId::from_uuid(Uuid::from_u128(3)),
        }
    }

    #[tokio::test]
    async fn terminate_signals_matching_sessions_and_waits_for_them() {
        let registry = LiveSessions::default();
        let first = registry.register(key(10, Some(7)));
        let other = registry.register(key(11, Some(8)));
        let closer = tokio::spawn(async move {
            let reason = first.ended().await;
            drop(first);
            reason
        });
        let started = std::time::Instant::now();
        let ended = registry
            .terminate(SessionSelector::Grant(GrantId::from_uuid(Uuid::from_u128(7))), SessionEndReason::GrantRevoked)
            .await;
        assert_eq!(ended.len(), 1);
        assert!(started.elapsed() < TERMINATE_WAIT, "waited for a session that had closed");
        assert_eq!(closer.await.unwrap(), SessionEndReason::GrantRevoked);
        assert_eq!(other.end_requested(), None);
        assert_eq!(registry.keys(), vec![key(11, Some(8))]);
    }

    #[tokio::test]
    async fn terminate_gives_up_waiting_after_a_bound() {
        let registry = LiveSessions::default();
        let stuck = registry.register(key(10, None));
        let ended = registry
            .terminate(SessionSelector::User(UserId::from_uuid(Uuid::from_u128(1))), SessionEndReason::UserDisabled)
            .await;
        assert_eq!(ended.len(), 1);
        assert_eq!(stuck.end_requested(), Some(SessionEndReason::UserDisabled));
    }

    fn session_id(n: u128) -> GatewaySessionId {
        GatewaySessionId::from_uuid(Uuid::from_u128(n))
    }

    #[tokio::test]
    async fn watchers_see_what_is_published_after_they_join_and_the_end() {
        let registry = LiveSessions::default();
        let live = registry.register(key(10, None));
        let publisher = live.publisher();
        publisher.publish(1, LiveOutputKind::Output, b"before anyone watches");
        assert!(registry.watch(session_id(11)).is_none());
        let (mut watcher, joined) = registry.subscribe(session_id(10)).unwrap();
        assert_eq!(joined.size, None);
        publisher.publish(1, LiveOutputKind::Output, b"hello");
        live.publish(1, LiveOutputKind::Resize { cols: 120, rows: 40 }, b"");
        publisher.publish(1, LiveOutputKind::Input, b"ls\r");

        let first = watcher.recv().await.unwrap();
        assert_eq!((first.channel, first.kind, &*first.data), (1, LiveOutputKind::Output, &b"hello"[..]));
        assert_eq!(watcher.recv().await.unwrap().kind, LiveOutputKind::Resize { cols: 120, rows: 40 });
        assert_eq!(&*watcher.recv().await.unwrap().data, b"ls\r");
        let (_, later) = registry.subscribe(session_id(10)).unwrap();
        assert_eq!(later.size, Some(TerminalSize { cols: 120, rows: 40 }));

        // A publisher outliving the session does not keep the watch open.
        drop(live);
        assert!(matches!(watcher.recv().await, Err(broadcast::error::RecvError::Closed)));
        publisher.publish(1, LiveOutputKind::Output, b"after the end");
        assert!(registry.watch(session_id(10)).is_none());
    }

    #[tokio::test]
    async fn a_lagging_watcher_is_told_how_much_it_missed_and_goes_on() {
        let registry = LiveSessions::default();
        let live = registry.register(key(10, None));
        let mut slow = registry.watch(session_id(10)).unwrap();
        let extra = 44;
        for n in 0..LIVE_OUTPUT_CAPACITY + extra {
            live.publish(1, LiveOutputKind::Output, n.to_string().as_bytes());
        }
        assert!(matches!(slow.recv().await, Err(broadcast::error::RecvError::Lagged(n)) if n == extra as u64));
        assert_eq!(&*slow.recv().await.unwrap().data, extra.to_string().as_bytes());
    }
}
