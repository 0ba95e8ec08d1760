//! The gateway sessions running on this node, so that a revoked grant, a disabled user or an auditor can end them.
//!
//! A front end registers each session it opens and keeps the [`LiveSession`] handle for as long as it runs; the
//! handle's [`LiveSession::ended`] future resolves when Latch wants the session gone, and dropping the handle
//! unregisters it. [`LiveSessions::terminate`] signals the matching sessions and waits (bounded) until their front
//! ends have dropped them, so the caller can record when the end was actually enforced.

use latch_domain::gateway_session::SessionEndReason;
use latch_domain::{AccountId, GatewaySessionId, GrantId, PolicyId, UserId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{Notify, watch};

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
}

/// How long [`LiveSessions::terminate`] waits for front ends to close what it signalled.
pub const TERMINATE_WAIT: Duration = Duration::from_millis(900);

impl LiveSessions {
    /// Registers a session; it stays registered until the returned handle is dropped.
    pub(crate) fn register(&self, key: LiveSessionKey) -> LiveSession {
        let (end, ended) = watch::channel(None);
        self.lock().insert(key.session_id, Entry { key, end });
        LiveSession { key, ended, registry: self.clone() }
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
}
