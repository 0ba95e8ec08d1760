//! Per-user session slots: how many gateway sessions each Latch user has on this node, counted when a session is
//! about to be established, so that connections of one user arriving together cannot all pass the limit before any
//! of them is registered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use latch_domain::ids::UserId;

/// The counts of every user's sessions; cheap to share.
#[derive(Debug, Clone, Default)]
pub(crate) struct UserSlots {
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
}

/// One session's place in its user's count, given back when dropped.
#[derive(Debug)]
pub(crate) struct UserSlot {
    counts: Arc<Mutex<HashMap<UserId, usize>>>,
    user: UserId,
}

impl UserSlots {
    /// A slot for one more session of `user`, or `None` when they already hold `limit`.
    pub(crate) fn take(&self, user: UserId, limit: usize) -> Option<UserSlot> {
        let mut counts = lock(&self.counts);
        let count = counts.entry(user).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(UserSlot { counts: self.counts.clone(), user })
    }

    #[cfg(test)]
    fn held(&self, user: UserId) -> usize {
        lock(&self.counts).get(&user).copied().unwrap_or(0)
    }
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        if let Some(count) = counts.get_mut(&self.user) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}

/// Every change is one increment or decrement, so the map stays consistent whatever a panicking holder did.
fn lock(counts: &Mutex<HashMap<UserId, usize>>) -> MutexGuard<'_, HashMap<UserId, usize>> {
    counts.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(number: u128) -> UserId {
        format!("00000000-0000-0000-0000-{number:012}").parse().unwrap()
    }

    #[test]
    fn a_user_holds_at_most_the_limit_and_a_dropped_slot_frees_its_place() {
        let slots = UserSlots::default();
        let (alice, bob) = (user(1), user(2));
        let first = slots.take(alice, 2).unwrap();
        let second = slots.take(alice, 2).unwrap();
        assert!(slots.take(alice, 2).is_none(), "a third session of alice is refused");
        let bobs = slots.take(bob, 2).unwrap();
        assert_eq!((slots.held(alice), slots.held(bob)), (2, 1));
        drop(first);
        let third = slots.take(alice, 2).unwrap();
        drop((second, third, bobs));
        assert_eq!((slots.held(alice), slots.held(bob)), (0, 0));
        assert!(slots.counts.lock().unwrap().is_empty(), "users without sessions are forgotten");
    }

    #[test]
    fn sessions_arriving_together_never_pass_the_limit() {
        let slots = UserSlots::default();
        let alice = user(1);
        let taken: Vec<Option<UserSlot>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..16).map(|_| scope.spawn(|| slots.take(alice, 3))).collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        assert_eq!(taken.iter().filter(|slot| slot.is_some()).count(), 3);
    }
}
