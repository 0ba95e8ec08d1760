//! Break-glass: stored and read back, listed and filtered, switched off once, found when due, its grants revoked
//! together, and the sessions that ran under it counted.

use crate::fixtures::{AccessWorld, expect_err, fresh, gateway_session, grant, seed_access_world, t};
use latch_domain::break_glass::BreakGlass;
use latch_domain::gateway_session::SessionEndReason;
use latch_domain::grant::GrantOrigin;
use latch_domain::names::TargetName;
use latch_domain::{BreakGlassId, UserId};
use latch_store::break_glass::{self, BreakGlassFilter};
use latch_store::gateway_sessions::{self, SessionEnd};
use latch_store::{Store, StoreError, grants};

/// A break-glass by `by` for `targets`, on from `from_ms` until `until_ms`.
fn glass(by: UserId, targets: &[&str], from_ms: i64, until_ms: i64) -> anyhow::Result<BreakGlass> {
    Ok(BreakGlass {
        id: fresh(BreakGlassId::from_uuid),
        targets: targets.iter().map(|n| TargetName::parse(n)).collect::<Result<_, _>>()?,
        reason: "primary database down, INC0042".to_owned(),
        activated_by: by,
        activated_at: t(from_ms),
        ends_at: t(until_ms),
        ended_at: None,
        ended_by: None,
    })
}

async fn listed(store: &Store, filter: BreakGlassFilter) -> anyhow::Result<Vec<BreakGlassId>> {
    let mut conn = store.read().await?;
    Ok(break_glass::list(&mut conn, &filter).await?.into_iter().map(|g| g.id).collect())
}

pub async fn check_break_glass(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let AccessWorld { alice, bob, .. } = &world;
    let first = glass(alice.id, &["db01", "web-01"], 1_000, 10_000)?;
    let second = glass(bob.id, &["db02"], 2_000, 5_000)?;
    let mut old = glass(alice.id, &["db01"], 100, 900)?;
    old.ended_at = Some(t(500));
    old.ended_by = Some("alice".to_owned());
    let mut tx = store.begin().await?;
    for g in [&first, &second, &old] {
        break_glass::insert(&mut tx, g).await?;
    }
    tx.commit().await?;
    let mut tx = store.begin().await?;
    expect_err(break_glass::insert(&mut tx, &first).await, &StoreError::Conflict("break-glass"))?;
    drop(tx);

    let mut conn = store.read().await?;
    for g in [&first, &second, &old] {
        assert_eq!(break_glass::find(&mut conn, g.id).await?.as_ref(), Some(g));
    }
    assert_eq!(break_glass::find(&mut conn, fresh(BreakGlassId::from_uuid)).await?, None);
    let active = |now| {
        let store = store.clone();
        async move {
            let mut conn = store.read().await?;
            anyhow::Ok(break_glass::active(&mut conn, t(now)).await?.into_iter().map(|g| g.id).collect::<Vec<_>>())
        }
    };
    assert_eq!(active(2_000).await?, vec![first.id, second.id]);
    assert_eq!(active(5_000).await?, vec![first.id], "the end is exclusive");
    assert_eq!(active(10_000).await?, Vec::<BreakGlassId>::new());

    let page = BreakGlassFilter { limit: 10, ..BreakGlassFilter::default() };
    assert_eq!(listed(&store, page.clone()).await?, vec![second.id, first.id, old.id], "newest first");
    let alices = BreakGlassFilter { activated_by: Some(alice.id), ..page.clone() };
    assert_eq!(listed(&store, alices.clone()).await?, vec![first.id, old.id]);
    let on = BreakGlassFilter { active_at: Some(t(6_000)), ..alices };
    assert_eq!(listed(&store, on).await?, vec![first.id]);
    let second_page = BreakGlassFilter { limit: 1, offset: 1, ..page };
    assert_eq!(listed(&store, second_page).await?, vec![first.id]);

    // Due once its end passed; switched off once.
    assert_eq!(break_glass::due_to_end(&mut conn, t(4_999), 10).await?, Vec::<BreakGlass>::new());
    let due = break_glass::due_to_end(&mut conn, t(5_000), 10).await?;
    assert_eq!(due.iter().map(|g| g.id).collect::<Vec<_>>(), vec![second.id]);
    drop(conn);
    let mut tx = store.begin().await?;
    assert!(break_glass::end(&mut tx, second.id, t(5_100), "system").await?);
    assert!(!break_glass::end(&mut tx, second.id, t(5_200), "bob").await?, "only once");
    assert!(!break_glass::end(&mut tx, old.id, t(5_200), "bob").await?);
    tx.commit().await?;
    let mut conn = store.read().await?;
    let ended = break_glass::find(&mut conn, second.id).await?;
    assert_eq!(ended.as_ref().and_then(|g| g.ended_at), Some(t(5_100)));
    assert_eq!(ended.and_then(|g| g.ended_by).as_deref(), Some("system"));
    assert_eq!(break_glass::due_to_end(&mut conn, t(50_000), 10).await?.len(), 1, "only the first is left");
    Ok(())
}

pub async fn check_break_glass_grants_and_sessions(store: Store) -> anyhow::Result<()> {
    let world = seed_access_world(&store).await?;
    let AccessWorld { alice, bob, web, root, deploy, .. } = &world;
    let on = glass(alice.id, &["web-01"], 1_000, 10_000)?;
    let other = glass(alice.id, &["web-01"], 1_000, 10_000)?;
    let under = |user: UserId, account, glass: &BreakGlass| {
        let mut g = grant(user, account, 1_000, 10_000);
        g.origin = GrantOrigin::BreakGlass;
        g.policy_id = None;
        g.request_id = None;
        g.break_glass_id = Some(glass.id);
        g
    };
    let alices = under(alice.id, root, &on);
    let bobs = under(bob.id, deploy, &on);
    let elsewhere = under(bob.id, root, &other);
    let plain = grant(alice.id, deploy, 1_000, 10_000);
    let mut tx = store.begin().await?;
    break_glass::insert(&mut tx, &on).await?;
    break_glass::insert(&mut tx, &other).await?;
    for g in [&alices, &bobs, &elsewhere, &plain] {
        grants::insert(&mut tx, g).await?;
    }
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(grants::find(&mut conn, alices.id).await?.as_ref(), Some(&alices), "break_glass_id is kept");
    assert_eq!(grants::find(&mut conn, plain.id).await?.and_then(|g| g.break_glass_id), None);
    drop(conn);

    // Sessions under its grants: one ended before 3 000, one still running, one under another break-glass.
    let mut ended = gateway_session(alice, web, root, Some(alices.id), 1_500, "node-a");
    let running = gateway_session(bob, web, deploy, Some(bobs.id), 2_000, "node-b");
    let unrelated = gateway_session(bob, web, root, Some(elsewhere.id), 2_000, "node-a");
    let mut tx = store.begin().await?;
    for s in [&ended, &running, &unrelated] {
        gateway_sessions::insert(&mut tx, s).await?;
    }
    let end =
        SessionEnd { at: t(2_500), reason: SessionEndReason::ClientClosed, bytes_to_target: 0, bytes_from_target: 0 };
    assert!(gateway_sessions::end(&mut tx, ended.id, &end).await?);
    ended.ended_at = Some(t(2_500));
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(break_glass::sessions_running_at(&mut conn, on.id, t(1_000)).await?, 0, "none started yet");
    assert_eq!(break_glass::sessions_running_at(&mut conn, on.id, t(2_000)).await?, 2);
    assert_eq!(break_glass::sessions_running_at(&mut conn, on.id, t(3_000)).await?, 1);
    drop(conn);

    // Revoking for the break-glass revokes its unexpired grants only, once.
    let mut tx = store.begin().await?;
    assert_eq!(grants::revoke_for_break_glass(&mut tx, on.id, t(4_000), "alice", "outage over").await?, 2);
    assert_eq!(grants::revoke_for_break_glass(&mut tx, on.id, t(4_100), "bob", "again").await?, 0);
    tx.commit().await?;
    let mut conn = store.read().await?;
    for g in [&alices, &bobs] {
        let stored = grants::find(&mut conn, g.id).await?;
        assert_eq!(stored.as_ref().and_then(|g| g.revoked_at), Some(t(4_000)));
        assert_eq!(stored.and_then(|g| g.revoke_reason).as_deref(), Some("outage over"));
    }
    for g in [&elsewhere, &plain] {
        assert_eq!(grants::find(&mut conn, g.id).await?.and_then(|g| g.revoked_at), None);
    }
    let due = grants::awaiting_enforcement(&mut conn, t(4_000), 10).await?;
    assert_eq!(due.len(), 2, "revoked grants await enforcement");
    Ok(())
}
