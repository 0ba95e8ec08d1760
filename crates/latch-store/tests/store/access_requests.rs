//! Access requests (with approvals and one winner per decision, also under concurrency), the grants they lead to,
//! and the gateway sessions those allow.

use crate::fixtures::{AccessWorld, expect_err, fresh, gateway_session, grant, request, seed_access_world, t};
use anyhow::Context;
use latch_domain::access_request::{AccessRequest, Approval, RequestDetails, RequestStatus};
use latch_domain::account::Account;
use latch_domain::gateway_session::{GatewaySession, SessionEndReason};
use latch_domain::grant::{Grant, GrantOrigin};
use latch_domain::target::Protocol;
use latch_domain::{AccessRequestId, AccountId, GatewaySessionId, GrantId, UserId};
use latch_store::access_requests::{self, RequestFilter, Resolution};
use latch_store::gateway_sessions::{self, SessionEnd, SessionFilter};
use latch_store::grants::{self, GrantFilter};
use latch_store::{Backend, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

fn approval(approver: UserId, at_ms: i64, comment: Option<&str>) -> Approval {
    Approval { approver, comment: comment.map(str::to_owned), at: t(at_ms) }
}

fn resolution(status: RequestStatus, by: Option<UserId>, at_ms: i64) -> Resolution<'static> {
    Resolution { status, decided_by: by, comment: None, at: t(at_ms), grant_id: None }
}

async fn insert_requests(store: &Store, requests: &[&AccessRequest]) -> anyhow::Result<()> {
    let mut tx = store.begin().await?;
    for request in requests {
        access_requests::insert(&mut tx, request).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn listed(store: &Store, filter: RequestFilter) -> anyhow::Result<Vec<AccessRequestId>> {
    let mut conn = store.read().await?;
    Ok(access_requests::list(&mut conn, &filter).await?.into_iter().map(|r| r.id).collect())
}

pub async fn check_access_requests(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let AccessWorld { alice, bob, approvers, approver_group, root, deploy, .. } = &world;

    // r1 has every optional field but the decision; r4 is stored already decided, every decision column set.
    let mut r1 = request(alice.id, root, 1_000, 5_000)?;
    r1.details = RequestDetails::new("rotate the TLS certificate", Some("INC1234567"), Some("TASK-7 renew cert"))?;
    r1.approvals_required = 2;
    r1.approver_group = Some(approver_group.id);
    let r2 = request(alice.id, deploy, 2_000, 3_000)?;
    let r3 = request(bob.id, root, 3_000, 4_000)?;
    let mut r4 = request(bob.id, deploy, 4_000, 2_000)?;
    r4.status = RequestStatus::Denied;
    r4.decided_by = Some(approvers[0].id);
    r4.decision_comment = Some("not during the freeze".to_owned());
    r4.decided_at = Some(t(4_500));
    r4.grant_id = Some(fresh(GrantId::from_uuid));
    let r5 = request(alice.id, root, 500, 3_500)?;
    insert_requests(&store, &[&r1, &r2, &r3, &r4, &r5]).await?;

    let mut tx = store.begin().await?;
    expect_err(access_requests::insert(&mut tx, &r2).await, &StoreError::Conflict("access request"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    let orphan = request(alice.id, &Account { id: fresh(AccountId::from_uuid), ..root.clone() }, 1, 2)?;
    expect_err(
        access_requests::insert(&mut tx, &orphan).await,
        &StoreError::MissingReference { what: "access request" },
    )?;
    drop(tx);

    let mut conn = store.read().await?;
    for r in [&r1, &r2, &r3, &r4, &r5] {
        assert_eq!(access_requests::find(&mut conn, r.id).await?.as_ref(), Some(r));
    }
    assert_eq!((r2.details.ticket.as_deref(), r2.details.task.as_deref()), (None, None), "r2 has neither");
    assert_eq!(access_requests::find(&mut conn, fresh(AccessRequestId::from_uuid)).await?, None);
    drop(conn);

    // Approvals come back by time; the approvers are added in descending id order, so an id order would show.
    let by_time: Vec<Approval> = approvers
        .iter()
        .rev()
        .zip([1_500, 1_600, 1_700])
        .zip([Some("fine by me"), None, Some("ok")])
        .map(|((approver, at), comment)| approval(approver.id, at, comment))
        .collect();
    let mut tx = store.begin().await?;
    for given in &by_time {
        access_requests::add_approval(&mut tx, r1.id, given).await?;
    }
    access_requests::add_approval(&mut tx, r3.id, &approval(approvers[1].id, 3_100, None)).await?;
    tx.commit().await?;
    let mut tx = store.begin().await?;
    expect_err(
        access_requests::add_approval(&mut tx, r1.id, &approval(approvers[0].id, 1_800, Some("again"))).await,
        &StoreError::Conflict("approval"),
    )?;
    drop(tx);
    let mut tx = store.begin().await?;
    let found = access_requests::find_for_update(&mut tx, r1.id).await?.context("r1")?;
    assert_eq!(found.approvals, by_time);
    assert_eq!(access_requests::find_for_update(&mut tx, fresh(AccessRequestId::from_uuid)).await?, None);
    drop(tx);
    let r1 = AccessRequest { approvals: by_time.clone(), ..r1 };
    let r3 = AccessRequest { approvals: vec![approval(approvers[1].id, 3_100, None)], ..r3 };
    let mut conn = store.read().await?;
    assert_eq!(access_requests::find(&mut conn, r1.id).await?.as_ref(), Some(&r1));
    let everything = RequestFilter { limit: 100, ..RequestFilter::default() };
    let all = access_requests::list(&mut conn, &everything).await?;
    assert_eq!(all, vec![r4.clone(), r3.clone(), r2.clone(), r1.clone(), r5.clone()], "newest first, with approvals");
    drop(conn);

    // One decision wins; later ones change nothing.
    let r2_grant = fresh(GrantId::from_uuid);
    let approve = Resolution {
        status: RequestStatus::Approved,
        decided_by: Some(approvers[2].id),
        comment: Some("go ahead"),
        at: t(2_500),
        grant_id: Some(r2_grant),
    };
    let mut tx = store.begin().await?;
    assert!(access_requests::resolve_pending(&mut tx, r2.id, &approve).await?);
    assert!(!access_requests::resolve_pending(&mut tx, r2.id, &approve).await?);
    let deny = Resolution { status: RequestStatus::Denied, comment: Some("no"), grant_id: None, ..approve.clone() };
    assert!(!access_requests::resolve_pending(&mut tx, r2.id, &deny).await?);
    assert!(!access_requests::resolve_pending(&mut tx, r4.id, &approve).await?, "r4 was denied before");
    assert!(
        !access_requests::resolve_pending(&mut tx, fresh(AccessRequestId::from_uuid), &approve).await?,
        "no such request"
    );
    tx.commit().await?;
    let r2 = AccessRequest {
        status: RequestStatus::Approved,
        decided_by: Some(approvers[2].id),
        decision_comment: Some("go ahead".to_owned()),
        decided_at: Some(t(2_500)),
        grant_id: Some(r2_grant),
        ..r2
    };
    let mut conn = store.read().await?;
    assert_eq!(access_requests::find(&mut conn, r2.id).await?.as_ref(), Some(&r2));
    assert_eq!(access_requests::find(&mut conn, r4.id).await?.as_ref(), Some(&r4), "the denial stays as it was");
    drop(conn);

    // Filters and pages.
    let of = |requester: Option<UserId>, status: Option<RequestStatus>| RequestFilter {
        requester,
        status,
        limit: 100,
        offset: 0,
    };
    assert_eq!(listed(&store, of(Some(alice.id), None)).await?, [r2.id, r1.id, r5.id]);
    assert_eq!(listed(&store, of(Some(bob.id), None)).await?, [r4.id, r3.id]);
    assert_eq!(listed(&store, of(None, Some(RequestStatus::Pending))).await?, [r3.id, r1.id, r5.id]);
    assert_eq!(listed(&store, of(None, Some(RequestStatus::Approved))).await?, [r2.id]);
    assert_eq!(listed(&store, of(Some(bob.id), Some(RequestStatus::Denied))).await?, [r4.id]);
    assert_eq!(listed(&store, of(Some(alice.id), Some(RequestStatus::Denied))).await?, []);
    assert_eq!(listed(&store, of(Some(approvers[0].id), None)).await?, []);
    let page = |limit, offset| RequestFilter { limit, offset, ..RequestFilter::default() };
    assert_eq!(listed(&store, page(2, 0)).await?, [r4.id, r3.id]);
    assert_eq!(listed(&store, page(2, 2)).await?, [r2.id, r1.id]);
    assert_eq!(listed(&store, page(2, 4)).await?, [r5.id]);
    assert_eq!(listed(&store, page(2, 6)).await?, []);
    assert_eq!(listed(&store, page(0, 0)).await?, []);
    let alice_page = RequestFilter { requester: Some(alice.id), limit: 1, offset: 1, status: None };
    assert_eq!(listed(&store, alice_page).await?, [r1.id]);

    // Overdue: pending and past their decision deadline (inclusive), earliest deadline first.
    let mut conn = store.read().await?;
    assert_eq!(access_requests::overdue(&mut conn, t(3_499), 10).await?, []);
    assert_eq!(access_requests::overdue(&mut conn, t(3_500), 10).await?, [r5.id]);
    assert_eq!(access_requests::overdue(&mut conn, t(4_000), 10).await?, [r5.id, r3.id]);
    assert_eq!(access_requests::overdue(&mut conn, t(99_000), 10).await?, [r5.id, r3.id, r1.id]);
    assert_eq!(access_requests::overdue(&mut conn, t(99_000), 1).await?, [r5.id]);
    drop(conn);
    let mut tx = store.begin().await?;
    assert!(access_requests::resolve_pending(&mut tx, r5.id, &resolution(RequestStatus::Expired, None, 3_600)).await?);
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(access_requests::overdue(&mut conn, t(99_000), 10).await?, [r3.id, r1.id]);
    let expired = access_requests::find(&mut conn, r5.id).await?.context("r5")?;
    assert_eq!(
        (expired.status, expired.decided_by, expired.decided_at),
        (RequestStatus::Expired, None, Some(t(3_600)))
    );
    Ok(())
}

/// What one concurrent decider saw and did.
#[derive(Debug)]
struct Decided {
    status: RequestStatus,
    decider: UserId,
    seen: RequestStatus,
    won: bool,
}

/// Locks the request, then resolves it to `status` whatever it saw; the barriers line the deciders up (on
/// PostgreSQL also inside their transactions, so only the row lock orders them).
async fn decide(
    store: Store,
    barrier: Arc<Barrier>,
    id: AccessRequestId,
    status: RequestStatus,
    decider: UserId,
    at_ms: i64,
) -> anyhow::Result<Decided> {
    barrier.wait().await;
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        barrier.wait().await;
    }
    let seen = access_requests::find_for_update(&mut tx, id).await?.context("request")?.status;
    tokio::time::sleep(Duration::from_millis(2)).await;
    let won = access_requests::resolve_pending(&mut tx, id, &resolution(status, Some(decider), at_ms)).await?;
    tx.commit().await?;
    Ok(Decided { status, decider, seen, won })
}

pub async fn check_request_decision_race(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    for round in 0..20 {
        let pending = request(world.alice.id, &world.root, 1_000 + round, 9_000)?;
        insert_requests(&store, &[&pending]).await?;
        let barrier = Arc::new(Barrier::new(2));
        let contenders =
            [(RequestStatus::Approved, world.approvers[0].id), (RequestStatus::Denied, world.approvers[1].id)];
        let handles: Vec<_> = contenders
            .into_iter()
            .map(|(status, decider)| {
                tokio::spawn(decide(store.clone(), Arc::clone(&barrier), pending.id, status, decider, 2_000 + round))
            })
            .collect();
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.push(handle.await??);
        }
        let winners: Vec<&Decided> = outcomes.iter().filter(|d| d.won).collect();
        let [winner] = winners.as_slice() else { anyhow::bail!("round {round}: not exactly one winner: {outcomes:?}") };
        let loser = outcomes.iter().find(|d| !d.won).context("a loser")?;
        assert_eq!(winner.seen, RequestStatus::Pending, "round {round}: {outcomes:?}");
        assert_eq!(loser.seen, winner.status, "round {round}: the loser locked the row after the winner committed");
        let mut conn = store.read().await?;
        let stored = access_requests::find(&mut conn, pending.id).await?.context("request")?;
        assert_eq!((stored.status, stored.decided_by), (winner.status, Some(winner.decider)), "round {round}");
    }
    Ok(())
}

/// One approver of an N-of-M request: locks it, skips it unless still pending, approves, and resolves it when this
/// approval completes the count.
async fn approve(
    store: Store,
    barrier: Arc<Barrier>,
    id: AccessRequestId,
    approver: UserId,
    at_ms: i64,
) -> anyhow::Result<(UserId, bool, bool)> {
    barrier.wait().await;
    let mut tx = store.begin().await?;
    if store.backend() == Backend::Postgres {
        barrier.wait().await;
    }
    let request = access_requests::find_for_update(&mut tx, id).await?.context("request")?;
    if request.status != RequestStatus::Pending {
        return Ok((approver, false, false));
    }
    tokio::time::sleep(Duration::from_millis(2)).await;
    access_requests::add_approval(&mut tx, id, &approval(approver, at_ms, None)).await?;
    let won = if request.approvals.len() + 1 >= usize::from(request.approvals_required) {
        access_requests::resolve_pending(&mut tx, id, &resolution(RequestStatus::Approved, Some(approver), at_ms))
            .await?
    } else {
        false
    };
    tx.commit().await?;
    Ok((approver, true, won))
}

pub async fn check_request_approval_quorum_race(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    for round in 0..10 {
        let mut pending = request(world.alice.id, &world.root, 1_000 + round, 9_000)?;
        pending.approvals_required = 2;
        pending.approver_group = Some(world.approver_group.id);
        insert_requests(&store, &[&pending]).await?;
        let barrier = Arc::new(Barrier::new(world.approvers.len()));
        let handles: Vec<_> = (0..)
            .zip(&world.approvers)
            .map(|(i, approver)| {
                tokio::spawn(approve(store.clone(), Arc::clone(&barrier), pending.id, approver.id, 2_000 + i))
            })
            .collect();
        let mut outcomes = Vec::new();
        for handle in handles {
            outcomes.push(handle.await??);
        }
        let winners: Vec<UserId> = outcomes.iter().filter(|(_, _, won)| *won).map(|(who, _, _)| *who).collect();
        let [winner] = winners.as_slice() else { anyhow::bail!("round {round}: not exactly one winner: {outcomes:?}") };
        let mut added: Vec<UserId> = outcomes.iter().filter(|(_, added, _)| *added).map(|(who, _, _)| *who).collect();
        added.sort();
        let mut conn = store.read().await?;
        let stored = access_requests::find(&mut conn, pending.id).await?.context("request")?;
        let mut approved_by: Vec<UserId> = stored.approvals.iter().map(|a| a.approver).collect();
        approved_by.sort();
        assert_eq!(stored.status, RequestStatus::Approved, "round {round}");
        assert_eq!(stored.decided_by, Some(*winner), "round {round}");
        assert_eq!(approved_by.len(), 2, "round {round}: the third approver found it decided: {outcomes:?}");
        assert_eq!(approved_by, added, "round {round}");
    }
    Ok(())
}

async fn grant_ids(store: &Store, filter: GrantFilter) -> anyhow::Result<Vec<GrantId>> {
    let mut conn = store.read().await?;
    Ok(grants::list(&mut conn, &filter).await?.into_iter().map(|g| g.id).collect())
}

pub async fn check_grants(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let AccessWorld { alice, bob, root, deploy, .. } = &world;
    let active = grant(alice.id, root, 1_000, 5_000);
    let mut later = grant(alice.id, root, 6_000, 9_000);
    later.origin = GrantOrigin::BreakGlass;
    later.policy_id = None;
    later.request_id = None;
    later.created_at = t(5_900);
    let longer = grant(alice.id, root, 2_000, 8_000);
    let other_account = grant(alice.id, deploy, 1_100, 5_100);
    let bobs = grant(bob.id, root, 1_200, 5_200);
    let expired = grant(alice.id, root, 0, 900);
    let mut stored_revoked = grant(bob.id, deploy, 1_300, 9_300);
    stored_revoked.revoked_at = Some(t(1_400));
    stored_revoked.revoked_by = Some("user:carol".to_owned());
    stored_revoked.revoke_reason = Some("left the team".to_owned());
    stored_revoked.enforced_at = Some(t(1_450));
    let all = [&active, &later, &longer, &other_account, &bobs, &expired, &stored_revoked];
    let mut tx = store.begin().await?;
    for g in all {
        grants::insert(&mut tx, g).await?;
    }
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(grants::insert(&mut tx, &active).await, &StoreError::Conflict("grant"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    let orphan = grant(fresh(UserId::from_uuid), root, 1, 2);
    expect_err(grants::insert(&mut tx, &orphan).await, &StoreError::MissingReference { what: "grant" })?;
    drop(tx);

    let mut conn = store.read().await?;
    for g in all {
        assert_eq!(grants::find(&mut conn, g.id).await?.as_ref(), Some(g));
    }
    assert_eq!(grants::find(&mut conn, fresh(GrantId::from_uuid)).await?, None);

    // Valid: started (inclusive), not ended (exclusive), not revoked; for that user and that account only.
    let ids = |grants: Vec<Grant>| grants.into_iter().map(|g| g.id).collect::<Vec<_>>();
    let valid_at = async |conn: &mut latch_store::Conn, user: UserId, account: AccountId, at: i64| {
        anyhow::Ok(ids(grants::valid_for(conn, user, account, t(at)).await?))
    };
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 899).await?, [expired.id]);
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 900).await?, []);
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 1_000).await?, [active.id]);
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 3_000).await?, [longer.id, active.id], "latest end first");
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 5_000).await?, [longer.id]);
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 7_000).await?, [later.id, longer.id]);
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 9_000).await?, []);
    assert_eq!(valid_at(&mut conn, alice.id, deploy.id, 3_000).await?, [other_account.id]);
    assert_eq!(valid_at(&mut conn, bob.id, root.id, 3_000).await?, [bobs.id]);
    assert_eq!(valid_at(&mut conn, bob.id, deploy.id, 3_000).await?, [], "revoked before");
    assert_eq!(valid_at(&mut conn, bob.id, deploy.id, 1_399).await?, [stored_revoked.id], "not yet revoked");
    drop(conn);

    // Revocation happens once, and never to a grant that already ended.
    let mut tx = store.begin().await?;
    assert!(grants::revoke(&mut tx, longer.id, t(3_000), "user:dave", "incident closed").await?);
    assert!(!grants::revoke(&mut tx, longer.id, t(3_100), "user:erin", "again").await?);
    assert!(!grants::revoke(&mut tx, stored_revoked.id, t(3_000), "user:erin", "again").await?);
    assert!(!grants::revoke(&mut tx, expired.id, t(3_000), "user:erin", "too late").await?);
    assert!(!grants::revoke(&mut tx, active.id, t(5_000), "user:erin", "at its end").await?);
    assert!(!grants::revoke(&mut tx, fresh(GrantId::from_uuid), t(3_000), "user:erin", "none").await?);
    tx.commit().await?;
    let longer = Grant {
        revoked_at: Some(t(3_000)),
        revoked_by: Some("user:dave".to_owned()),
        revoke_reason: Some("incident closed".to_owned()),
        ..longer
    };
    let mut conn = store.read().await?;
    assert_eq!(grants::find(&mut conn, longer.id).await?.as_ref(), Some(&longer));
    assert_eq!(grants::find(&mut conn, expired.id).await?.as_ref(), Some(&expired), "unchanged");
    assert_eq!(grants::find(&mut conn, active.id).await?.as_ref(), Some(&active), "unchanged");
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 2_999).await?, [longer.id, active.id]);
    assert_eq!(valid_at(&mut conn, alice.id, root.id, 3_000).await?, [active.id]);
    drop(conn);

    // Lists: newest first; `current_at` hides what ended or was revoked by then.
    let of = |user: Option<UserId>, current_at: Option<i64>| GrantFilter {
        user,
        current_at: current_at.map(t),
        limit: 100,
        offset: 0,
    };
    let newest_first = [later.id, longer.id, stored_revoked.id, bobs.id, other_account.id, active.id, expired.id];
    assert_eq!(grant_ids(&store, of(None, None)).await?, newest_first);
    assert_eq!(grant_ids(&store, of(Some(bob.id), None)).await?, [stored_revoked.id, bobs.id]);
    assert_eq!(grant_ids(&store, of(None, Some(3_000))).await?, [later.id, bobs.id, other_account.id, active.id]);
    let alice_before_revocation = [later.id, longer.id, other_account.id, active.id];
    assert_eq!(grant_ids(&store, of(Some(alice.id), Some(2_999))).await?, alice_before_revocation);
    assert_eq!(grant_ids(&store, of(Some(alice.id), Some(5_050))).await?, [later.id, other_account.id]);
    assert_eq!(grant_ids(&store, GrantFilter { limit: 2, offset: 2, ..of(None, None) }).await?, newest_first[2..4]);
    assert_eq!(grant_ids(&store, GrantFilter { limit: 0, ..of(None, None) }).await?, []);

    // Ended or revoked but not enforced yet, earliest end first; each enforced once.
    let awaiting = async |at: i64, limit: i64| {
        let mut conn = store.read().await?;
        anyhow::Ok(ids(grants::awaiting_enforcement(&mut conn, t(at), limit).await?))
    };
    assert_eq!(awaiting(800, 10).await?, []);
    assert_eq!(awaiting(4_000, 10).await?, [expired.id, longer.id]);
    assert_eq!(awaiting(5_100, 10).await?, [expired.id, active.id, other_account.id, longer.id]);
    assert_eq!(awaiting(5_100, 2).await?, [expired.id, active.id]);
    let mut tx = store.begin().await?;
    assert!(grants::mark_enforced(&mut tx, expired.id, t(4_100)).await?);
    assert!(!grants::mark_enforced(&mut tx, expired.id, t(4_200)).await?);
    assert!(grants::mark_enforced(&mut tx, longer.id, t(4_150)).await?);
    assert!(!grants::mark_enforced(&mut tx, stored_revoked.id, t(4_200)).await?, "enforced when stored");
    assert!(!grants::mark_enforced(&mut tx, fresh(GrantId::from_uuid), t(4_200)).await?);
    tx.commit().await?;
    assert_eq!(awaiting(4_000, 10).await?, []);
    assert_eq!(awaiting(99_000, 10).await?, [active.id, other_account.id, bobs.id, later.id]);
    let mut conn = store.read().await?;
    let enforced = grants::find(&mut conn, expired.id).await?.context("expired")?;
    assert_eq!(enforced, Grant { enforced_at: Some(t(4_100)), ..expired });
    Ok(())
}

async fn session_ids(store: &Store, filter: SessionFilter) -> anyhow::Result<Vec<GatewaySessionId>> {
    let mut conn = store.read().await?;
    Ok(gateway_sessions::list(&mut conn, &filter).await?.into_iter().map(|s| s.id).collect())
}

pub async fn check_gateway_sessions(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let AccessWorld { alice, bob, web, root, deploy, .. } = &world;
    let granted = fresh(GrantId::from_uuid);
    let mut full = gateway_session(alice, web, root, Some(granted), 1_000, "node-a");
    full.protocol = Protocol::Telnet;
    full.source = Some("198.51.100.7:52000".to_owned());
    full.bytes_to_target = 12;
    full.bytes_from_target = 3_000_000_000_000;
    full.recording = Some("2026/11/23/session.cast".to_owned());
    full.consent_accepted_at = Some(t(1_001));
    let second = gateway_session(alice, web, deploy, None, 2_000, "node-a");
    let third = gateway_session(alice, web, root, Some(granted), 2_500, "node-a");
    let bobs = gateway_session(bob, web, root, None, 3_000, "node-b");
    let mut finished = gateway_session(alice, web, root, None, 500, "node-a");
    finished.ended_at = Some(t(800));
    finished.end_reason = Some(SessionEndReason::TargetClosed);
    finished.bytes_to_target = 5;
    finished.bytes_from_target = 6;
    let all = [&full, &second, &third, &bobs, &finished];
    let mut tx = store.begin().await?;
    for s in all {
        gateway_sessions::insert(&mut tx, s).await?;
    }
    tx.commit().await?;
    let mut tx = store.begin().await?;
    expect_err(gateway_sessions::insert(&mut tx, &bobs).await, &StoreError::Conflict("gateway session"))?;
    drop(tx);

    let mut conn = store.read().await?;
    for s in all {
        assert_eq!(gateway_sessions::find(&mut conn, s.id).await?.as_ref(), Some(s));
    }
    assert_eq!(gateway_sessions::find(&mut conn, fresh(GatewaySessionId::from_uuid)).await?, None);
    drop(conn);

    // A session ends once; the first end's details stay.
    let closed = SessionEnd {
        at: t(4_000),
        reason: SessionEndReason::ClientClosed,
        bytes_to_target: 100,
        bytes_from_target: 200,
    };
    let mut tx = store.begin().await?;
    assert!(gateway_sessions::end(&mut tx, full.id, &closed).await?);
    let terminated = SessionEnd { at: t(4_100), reason: SessionEndReason::Terminated, ..closed };
    assert!(!gateway_sessions::end(&mut tx, full.id, &terminated).await?);
    assert!(!gateway_sessions::end(&mut tx, finished.id, &terminated).await?);
    assert!(!gateway_sessions::end(&mut tx, fresh(GatewaySessionId::from_uuid), &closed).await?);
    tx.commit().await?;
    let full = GatewaySession {
        ended_at: Some(t(4_000)),
        end_reason: Some(SessionEndReason::ClientClosed),
        bytes_to_target: 100,
        bytes_from_target: 200,
        ..full
    };
    let mut conn = store.read().await?;
    assert_eq!(gateway_sessions::find(&mut conn, full.id).await?.as_ref(), Some(&full));
    assert_eq!(gateway_sessions::find(&mut conn, finished.id).await?.as_ref(), Some(&finished), "unchanged");
    drop(conn);

    // Lists: newest first, filtered by liveness, user and grant.
    let of = |live_only: bool, user: Option<UserId>, grant: Option<GrantId>| SessionFilter {
        live_only,
        user,
        grant,
        limit: 100,
        offset: 0,
        ..SessionFilter::default()
    };
    let newest_first = [bobs.id, third.id, second.id, full.id, finished.id];
    assert_eq!(session_ids(&store, of(false, None, None)).await?, newest_first);
    assert_eq!(session_ids(&store, of(true, None, None)).await?, [bobs.id, third.id, second.id]);
    assert_eq!(
        session_ids(&store, of(false, Some(alice.id), None)).await?,
        [third.id, second.id, full.id, finished.id]
    );
    assert_eq!(session_ids(&store, of(true, Some(alice.id), None)).await?, [third.id, second.id]);
    assert_eq!(session_ids(&store, of(false, None, Some(granted))).await?, [third.id, full.id]);
    assert_eq!(session_ids(&store, of(true, Some(alice.id), Some(granted))).await?, [third.id]);
    assert_eq!(session_ids(&store, of(true, Some(bob.id), Some(granted))).await?, []);
    let paged = SessionFilter { limit: 2, offset: 1, ..of(false, None, None) };
    assert_eq!(session_ids(&store, paged).await?, newest_first[1..3]);
    assert_eq!(session_ids(&store, SessionFilter { limit: 0, ..of(false, None, None) }).await?, []);

    // After a restart of node-a, its open sessions are closed as abandoned; node-b's stay open.
    let mut tx = store.begin().await?;
    let mut abandoned = gateway_sessions::end_abandoned(&mut tx, "node-a", t(9_000)).await?;
    abandoned.sort();
    let mut expected = vec![second.id, third.id];
    expected.sort();
    assert_eq!(abandoned, expected);
    assert_eq!(gateway_sessions::end_abandoned(&mut tx, "node-a", t(9_100)).await?, []);
    assert_eq!(gateway_sessions::end_abandoned(&mut tx, "node-c", t(9_100)).await?, []);
    assert!(!gateway_sessions::end(&mut tx, second.id, &closed).await?, "already closed");
    tx.commit().await?;
    let mut conn = store.read().await?;
    for open in [&second, &third] {
        let stored = gateway_sessions::find(&mut conn, open.id).await?.context("abandoned")?;
        let expected = GatewaySession {
            ended_at: Some(t(9_000)),
            end_reason: Some(SessionEndReason::Abandoned),
            ..(*open).clone()
        };
        assert_eq!(stored, expected);
    }
    assert_eq!(gateway_sessions::find(&mut conn, full.id).await?.as_ref(), Some(&full), "ended before: unchanged");
    assert_eq!(gateway_sessions::find(&mut conn, bobs.id).await?.as_ref(), Some(&bobs), "another node's");
    assert_eq!(session_ids(&store, of(true, None, None)).await?, [bobs.id]);
    Ok(())
}

/// A session someone else ends while a node sweeps its abandoned ones is not reported as abandoned: the sweep
/// returns exactly the sessions it closed. (On PostgreSQL the sweep waits for that session's row lock; on SQLite
/// for the write lock.)
pub async fn check_end_abandoned_during_end(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let ending = gateway_session(&world.alice, &world.web, &world.root, None, 1_000, "node-a");
    let idle = gateway_session(&world.bob, &world.web, &world.deploy, None, 1_100, "node-a");
    let mut tx = store.begin().await?;
    gateway_sessions::insert(&mut tx, &ending).await?;
    gateway_sessions::insert(&mut tx, &idle).await?;
    tx.commit().await?;

    let closed =
        SessionEnd { at: t(2_000), reason: SessionEndReason::ClientClosed, bytes_to_target: 1, bytes_from_target: 2 };
    let mut closer = store.begin().await?;
    assert!(gateway_sessions::end(&mut closer, ending.id, &closed).await?);
    let sweep = tokio::spawn({
        let store = store.clone();
        async move {
            let mut tx = store.begin().await?;
            let ids = gateway_sessions::end_abandoned(&mut tx, "node-a", t(3_000)).await?;
            tx.commit().await?;
            anyhow::Ok(ids)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    closer.commit().await?;
    assert_eq!(sweep.await??, [idle.id], "only the session the sweep closed");

    let mut conn = store.read().await?;
    let ended = gateway_sessions::find(&mut conn, ending.id).await?.context("ending")?;
    assert_eq!((ended.ended_at, ended.end_reason), (Some(t(2_000)), Some(SessionEndReason::ClientClosed)));
    let swept = gateway_sessions::find(&mut conn, idle.id).await?.context("idle")?;
    assert_eq!((swept.ended_at, swept.end_reason), (Some(t(3_000)), Some(SessionEndReason::Abandoned)));
    Ok(())
}
