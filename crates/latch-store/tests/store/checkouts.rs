//! Credential check-outs (reveal once, check in once, exclusivity decided under the account lock, also when many
//! race) and the rotation queue they feed.

use crate::fixtures::{AccessWorld, api_account, expect_err, fresh, seed_access_world, t};
use anyhow::Context;
use latch_domain::account::Account;
use latch_domain::checkout::{
    CheckInReason, Checkout, CheckoutHolder, CheckoutRefusal, Rotation, RotationState, check_availability,
};
use latch_domain::{AccountId, CheckoutId, GrantId, PolicyId, RotationId};
use latch_store::checkouts::{self, CheckoutFilter};
use latch_store::{Backend, Store, StoreError, api_accounts, rotation_queue};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

/// An exclusive check-out of `account` by `holder` from `from_ms` until `until_ms`.
fn checkout(holder: CheckoutHolder, account: &Account, from_ms: i64, until_ms: i64) -> Checkout {
    Checkout {
        id: fresh(CheckoutId::from_uuid),
        target_id: account.target_id,
        account_id: account.id,
        holder,
        grant_id: None,
        policy_id: Some(fresh(PolicyId::from_uuid)),
        exclusive: true,
        reason: "rotate the backup key".to_owned(),
        checked_out_at: t(from_ms),
        release_until: t(until_ms),
        revealed_at: None,
        checked_in_at: None,
        check_in_reason: None,
    }
}

async fn insert_all(store: &Store, all: &[&Checkout]) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    for checkout in all {
        checkouts::insert(&mut tx, checkout).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn listed(store: &Store, filter: CheckoutFilter) -> anyhow::Result<Vec<CheckoutId>> {
    let mut conn = store.read().await?;
    Ok(checkouts::list(&mut conn, &filter).await?.into_iter().map(|c| c.id).collect())
}

pub async fn check_checkouts(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let AccessWorld { alice, bob, root, deploy, .. } = &world;
    let robot = api_account("backup-robot")?;
    let mut tx = store.begin().await?;
    api_accounts::insert(&mut tx, &robot, "hash").await?;
    tx.commit().await?;

    let alices = checkout(CheckoutHolder::User(alice.id), root, 1_000, 5_000);
    let mut bobs = checkout(CheckoutHolder::User(bob.id), deploy, 2_000, 9_000);
    bobs.exclusive = false;
    bobs.grant_id = Some(fresh(GrantId::from_uuid));
    let mut robots = checkout(CheckoutHolder::ApiAccount(robot.id), deploy, 3_000, 4_000);
    robots.exclusive = false;
    robots.policy_id = None;
    let mut old = checkout(CheckoutHolder::User(alice.id), deploy, 500, 900);
    old.revealed_at = Some(t(600));
    old.checked_in_at = Some(t(700));
    old.check_in_reason = Some(CheckInReason::Returned);
    insert_all(&store, &[&alices, &bobs, &robots, &old]).await?;

    let mut tx = store.begin().await?;
    expect_err(checkouts::insert(&mut tx, &alices).await, &StoreError::Conflict("checkout"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    let orphan =
        checkout(CheckoutHolder::User(alice.id), &Account { id: fresh(AccountId::from_uuid), ..root.clone() }, 1, 2);
    expect_err(checkouts::insert(&mut tx, &orphan).await, &StoreError::MissingReference { what: "checkout" })?;
    drop(tx);

    let mut conn = store.read().await?;
    for stored in [&alices, &bobs, &robots, &old] {
        assert_eq!(checkouts::find(&mut conn, stored.id).await?.as_ref(), Some(stored));
    }
    assert_eq!(checkouts::find(&mut conn, fresh(CheckoutId::from_uuid)).await?, None);
    drop(conn);

    // Lists: newest first; by holder; open at a time (not checked in, release period not over).
    let all = CheckoutFilter { limit: 100, ..CheckoutFilter::default() };
    assert_eq!(listed(&store, all.clone()).await?, [robots.id, bobs.id, alices.id, old.id]);
    let of = |holder| CheckoutFilter { holder: Some(holder), ..all.clone() };
    assert_eq!(listed(&store, of(CheckoutHolder::User(alice.id))).await?, [alices.id, old.id]);
    assert_eq!(listed(&store, of(CheckoutHolder::ApiAccount(robot.id))).await?, [robots.id]);
    let open_at = |ms| CheckoutFilter { open_at: Some(t(ms)), ..all.clone() };
    assert_eq!(listed(&store, open_at(3_500)).await?, [robots.id, bobs.id, alices.id]);
    assert_eq!(listed(&store, open_at(4_000)).await?, [bobs.id, alices.id], "release_until is exclusive");
    let alices_open = CheckoutFilter { holder: Some(CheckoutHolder::User(alice.id)), ..open_at(800) };
    assert_eq!(listed(&store, alices_open).await?, [alices.id]);
    assert_eq!(listed(&store, CheckoutFilter { limit: 1, offset: 1, ..all.clone() }).await?, [bobs.id]);

    // Under the account lock: the open check-outs of one account.
    let mut tx = store.begin().await?;
    let open: Vec<CheckoutId> =
        checkouts::open_for_account_locked(&mut tx, deploy.id, t(3_500)).await?.iter().map(|c| c.id).collect();
    assert_eq!(open, [bobs.id, robots.id]);
    expect_err(
        checkouts::open_for_account_locked(&mut tx, fresh(AccountId::from_uuid), t(1)).await,
        &StoreError::NotFound("account"),
    )?;
    drop(tx);

    // Reveal once, only while held; check in once.
    let mut tx = store.begin().await?;
    assert!(!checkouts::mark_revealed(&mut tx, alices.id, t(5_000)).await?, "release period over");
    assert!(checkouts::mark_revealed(&mut tx, alices.id, t(2_000)).await?);
    assert!(!checkouts::mark_revealed(&mut tx, alices.id, t(2_001)).await?, "revealed before");
    assert!(!checkouts::mark_revealed(&mut tx, old.id, t(800)).await?, "checked in");
    assert!(checkouts::check_in(&mut tx, alices.id, t(2_500), CheckInReason::Returned).await?);
    assert!(!checkouts::check_in(&mut tx, alices.id, t(2_600), CheckInReason::Expired).await?);
    tx.commit().await?;
    let mut conn = store.read().await?;
    let returned = checkouts::find(&mut conn, alices.id).await?.context("alice's")?;
    let expected = Checkout {
        revealed_at: Some(t(2_000)),
        checked_in_at: Some(t(2_500)),
        check_in_reason: Some(CheckInReason::Returned),
        ..alices.clone()
    };
    assert_eq!(returned, expected);

    // Due for automatic check-in: not checked in, release period over, earliest first.
    let mut due = Vec::new();
    for ms in [3_999, 4_000, 99_000] {
        due.push(checkouts::due_for_check_in(&mut conn, t(ms), 10).await?.iter().map(|c| c.id).collect::<Vec<_>>());
    }
    assert_eq!(due, [vec![], vec![robots.id], vec![robots.id, bobs.id]]);
    let grant = bobs.grant_id.context("bob's grant")?;
    let for_grant = checkouts::not_checked_in_for_grant(&mut conn, grant).await?;
    assert_eq!(for_grant.iter().map(|c| c.id).collect::<Vec<_>>(), [bobs.id]);
    assert_eq!(checkouts::not_checked_in_for_grant(&mut conn, fresh(GrantId::from_uuid)).await?, []);
    Ok(())
}

pub async fn check_rotation_queue(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let first = checkout(CheckoutHolder::User(world.alice.id), &world.root, 1_000, 2_000);
    let second = checkout(CheckoutHolder::User(world.bob.id), &world.root, 3_000, 4_000);
    insert_all(&store, &[&first, &second]).await?;
    let queued = |checkout: &Checkout, at_ms| Rotation {
        id: fresh(RotationId::from_uuid),
        account_id: checkout.account_id,
        checkout_id: Some(checkout.id),
        queued_at: t(at_ms),
        state: RotationState::Pending,
        attempts: 0,
        last_error: None,
        updated_at: t(at_ms),
    };
    let a = queued(&first, 2_000);
    let b = queued(&second, 4_000);
    let mut tx = store.begin().await?;
    rotation_queue::enqueue(&mut tx, &b).await?;
    rotation_queue::enqueue(&mut tx, &a).await?;
    tx.commit().await?;
    let mut tx = store.begin().await?;
    let again = Rotation { id: fresh(RotationId::from_uuid), ..a.clone() };
    expect_err(rotation_queue::enqueue(&mut tx, &again).await, &StoreError::Conflict("rotation"))?;
    drop(tx);

    let ids = |rotations: Vec<Rotation>| rotations.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let mut conn = store.read().await?;
    assert_eq!(rotation_queue::find(&mut conn, a.id).await?.as_ref(), Some(&a));
    assert_eq!(ids(rotation_queue::list(&mut conn, None, 10, 0).await?), [a.id, b.id], "oldest first");
    assert_eq!(ids(rotation_queue::list(&mut conn, Some(RotationState::Pending), 10, 1).await?), [b.id]);
    drop(conn);

    // pending → in_progress → done | failed, each step once.
    let mut tx = store.begin().await?;
    assert!(rotation_queue::start(&mut tx, a.id, t(5_000)).await?);
    assert!(!rotation_queue::start(&mut tx, a.id, t(5_001)).await?);
    assert!(!rotation_queue::finish(&mut tx, b.id, Ok(()), t(5_002)).await?, "b was never started");
    assert!(rotation_queue::finish(&mut tx, a.id, Err("target unreachable"), t(5_003)).await?);
    assert!(!rotation_queue::finish(&mut tx, a.id, Ok(()), t(5_004)).await?);
    assert!(rotation_queue::start(&mut tx, b.id, t(5_005)).await?);
    assert!(rotation_queue::finish(&mut tx, b.id, Ok(()), t(5_006)).await?);
    tx.commit().await?;
    let mut conn = store.read().await?;
    let failed = rotation_queue::find(&mut conn, a.id).await?.context("a")?;
    assert_eq!(
        (failed.state, failed.attempts, failed.last_error.as_deref(), failed.updated_at),
        (RotationState::Failed, 1, Some("target unreachable"), t(5_003))
    );
    let done = rotation_queue::find(&mut conn, b.id).await?.context("b")?;
    assert_eq!((done.state, done.attempts, done.last_error), (RotationState::Done, 1, None));
    assert_eq!(ids(rotation_queue::list(&mut conn, Some(RotationState::Failed), 10, 0).await?), [a.id]);
    assert_eq!(ids(rotation_queue::list(&mut conn, Some(RotationState::Pending), 10, 0).await?), []);
    drop(conn);

    // Deleting the account takes its check-outs and rotations with it.
    let mut tx = store.begin().await?;
    latch_store::accounts::delete(&mut tx, world.root.id).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(checkouts::find(&mut conn, first.id).await?, None);
    assert_eq!(rotation_queue::list(&mut conn, None, 10, 0).await?, []);
    Ok(())
}

/// Tries one exclusive check-out the way the application does: lock, decide, insert, commit. The barriers line the
/// contenders up (on PostgreSQL also inside their transactions, so only the account lock orders them).
async fn try_exclusive(store: Store, barrier: Arc<Barrier>, candidate: Checkout) -> anyhow::Result<bool> {
    barrier.wait().await;
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        barrier.wait().await;
    }
    let open = checkouts::open_for_account_locked(&mut tx, candidate.account_id, candidate.checked_out_at).await?;
    tokio::time::sleep(Duration::from_millis(2)).await;
    match check_availability(candidate.exclusive, &open, candidate.checked_out_at) {
        Ok(()) => {
            checkouts::insert(&mut tx, &candidate).await?;
            tx.commit().await?;
            Ok(true)
        }
        Err(CheckoutRefusal::HeldExclusively | CheckoutRefusal::HeldShared) => Ok(false),
        Err(other) => anyhow::bail!("unexpected refusal: {other}"),
    }
}

pub async fn check_exclusive_checkout_race(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let contenders = [world.alice.id, world.bob.id, world.approvers[0].id, world.approvers[1].id];
    for round in 0..8 {
        let from = 10_000 * (round + 1);
        let barrier = Arc::new(Barrier::new(contenders.len()));
        let handles: Vec<_> = contenders
            .iter()
            .map(|user| {
                let candidate = checkout(CheckoutHolder::User(*user), &world.root, from, from + 5_000);
                tokio::spawn(try_exclusive(store.clone(), Arc::clone(&barrier), candidate))
            })
            .collect();
        let mut won = 0;
        for handle in handles {
            won += usize::from(handle.await??);
        }
        assert_eq!(won, 1, "round {round}: exactly one exclusive check-out wins");
        let mut conn = store.read().await?;
        let open = CheckoutFilter { open_at: Some(t(from + 1)), limit: 10, ..CheckoutFilter::default() };
        assert_eq!(checkouts::list(&mut conn, &open).await?.len(), 1, "round {round}");
    }
    Ok(())
}
