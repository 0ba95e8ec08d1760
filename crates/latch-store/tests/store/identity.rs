//! Users, groups and logged-in sessions.

use crate::fixtures::{expect_err, fresh, group, seed_root_key, seed_secret, session, t, user};
use anyhow::Context;
use latch_domain::auth_session::AuthSessionStage;
use latch_domain::lockout::LockoutState;
use latch_domain::names::{GroupName, Username};
use latch_domain::permission::Role;
use latch_domain::{AuthSessionId, GroupId, UserId};
use latch_store::users::UserCredentials;
use latch_store::{Store, StoreError, auth_sessions, groups, users};

pub async fn check_users(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1_000)?;
    let bob = user("bob", 1_001)?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &bob, None).await?;
    users::insert(&mut tx, &alice, Some("hash-1")).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(users::insert(&mut tx, &user("alice", 5)?, None).await, &StoreError::Conflict("user"))?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(users::find(&mut conn, alice.id).await?, Some(alice.clone()));
    assert_eq!(users::find_by_username(&mut conn, &Username::parse("bob")?).await?, Some(bob.clone()));
    assert_eq!(users::find(&mut conn, fresh(UserId::from_uuid)).await?, None);
    assert_eq!(users::find_by_username(&mut conn, &Username::parse("carol")?).await?, None);
    assert_eq!(users::list(&mut conn, 10, 0).await?, vec![alice.clone(), bob.clone()]);
    assert_eq!(users::list(&mut conn, 1, 1).await?, vec![bob.clone()]);
    assert_eq!(users::count(&mut conn).await?, 2);
    assert_eq!(
        users::credentials(&mut conn, alice.id).await?,
        UserCredentials {
            password_hash: Some("hash-1".to_owned()),
            totp_secret_id: None,
            totp_pending_secret_id: None
        }
    );
    assert_eq!(users::credentials(&mut conn, bob.id).await?.password_hash, None);
    expect_err(users::credentials(&mut conn, fresh(UserId::from_uuid)).await, &StoreError::NotFound("user"))?;
    drop(conn);

    let mut changed = alice.clone();
    changed.display_name = "Alice Liddell".to_owned();
    changed.email = None;
    changed.roles = vec![Role::Admin, Role::Auditor];
    changed.disabled = true;
    changed.must_change_password = true;
    changed.totp_required = true;
    let mut tx = store.begin().await?;
    users::update(&mut tx, &changed, t(2_000)).await?;
    assert_eq!(users::find_for_update(&mut tx, alice.id).await?, Some(changed.clone()));
    expect_err(users::update(&mut tx, &user("ghost", 1)?, t(2_000)).await, &StoreError::NotFound("user"))?;
    users::set_password(&mut tx, alice.id, "hash-2", false, t(2_001)).await?;
    expect_err(
        users::set_password(&mut tx, fresh(UserId::from_uuid), "x", false, t(1)).await,
        &StoreError::NotFound("user"),
    )?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    let stored = users::find(&mut conn, alice.id).await?.context("alice")?;
    assert_eq!(stored, latch_domain::user::User { must_change_password: false, ..changed });
    assert_eq!(users::credentials(&mut conn, alice.id).await?.password_hash.as_deref(), Some("hash-2"));
    Ok(())
}

pub async fn check_user_lockout_and_login(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1_000)?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, Some("hash")).await?;
    let locked = LockoutState { failed_count: 5, locked_until: Some(t(9_000)) };
    users::set_lockout(&mut tx, alice.id, locked).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    let stored = users::find(&mut conn, alice.id).await?.context("alice")?;
    assert_eq!(stored.lockout, locked);
    assert!(stored.lockout.is_locked(t(8_999)));
    drop(conn);

    let mut tx = store.begin().await?;
    users::record_login(&mut tx, alice.id, t(10_000)).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    let stored = users::find(&mut conn, alice.id).await?.context("alice")?;
    assert_eq!(stored.lockout, LockoutState::default());
    assert_eq!(stored.last_login_at, Some(t(10_000)));
    Ok(())
}

pub async fn check_totp_steps(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1_000)?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, Some("hash")).await?;
    let root_key = seed_root_key(&mut tx).await?;
    let first_seed = seed_secret(&mut tx, root_key, "totp-seed").await?;
    let second_seed = seed_secret(&mut tx, root_key, "totp-seed").await?;
    users::set_totp_pending(&mut tx, alice.id, Some(first_seed)).await?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert!(!users::find(&mut conn, alice.id).await?.context("alice")?.totp_enrolled, "pending is not enrolled");
    let pending = users::credentials(&mut conn, alice.id).await?;
    assert_eq!((pending.totp_secret_id, pending.totp_pending_secret_id), (None, Some(first_seed)));
    drop(conn);

    // Enrolment completes: the pending seed becomes the seed.
    let mut tx = store.begin().await?;
    users::set_totp_secret(&mut tx, alice.id, Some(first_seed)).await?;
    users::set_totp_pending(&mut tx, alice.id, None).await?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert!(users::find(&mut conn, alice.id).await?.context("alice")?.totp_enrolled);
    let enrolled = users::credentials(&mut conn, alice.id).await?;
    assert_eq!((enrolled.totp_secret_id, enrolled.totp_pending_secret_id), (Some(first_seed), None));
    drop(conn);

    // Each step works once, and never again once a later one was used.
    let steps = [(100, true), (100, false), (99, false), (101, true), (50, false), (101, false), (200, true)];
    for (step, accepted) in steps {
        let mut tx = store.begin().await?;
        assert_eq!(users::use_totp_step(&mut tx, alice.id, step).await?, accepted, "step {step}");
        tx.commit().await?;
    }
    // A step used in a transaction that rolled back was not used.
    let mut tx = store.begin().await?;
    assert!(users::use_totp_step(&mut tx, alice.id, 300).await?);
    drop(tx);
    let mut tx = store.begin().await?;
    assert!(users::use_totp_step(&mut tx, alice.id, 300).await?);
    // A new seed starts over.
    users::set_totp_secret(&mut tx, alice.id, Some(second_seed)).await?;
    assert!(users::use_totp_step(&mut tx, alice.id, 5).await?);
    assert!(!users::use_totp_step(&mut tx, alice.id, 5).await?);
    users::set_totp_secret(&mut tx, alice.id, None).await?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert!(!users::find(&mut conn, alice.id).await?.context("alice")?.totp_enrolled);
    Ok(())
}

pub async fn check_user_delete_cascades(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1_000)?;
    let bob = user("bob", 1_000)?;
    let ops = group("ops", vec![Role::Approver])?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, None).await?;
    users::insert(&mut tx, &bob, None).await?;
    groups::insert(&mut tx, &ops).await?;
    groups::add_member(&mut tx, ops.id, alice.id).await?;
    groups::add_member(&mut tx, ops.id, bob.id).await?;
    auth_sessions::insert(&mut tx, &session(alice.id, 1, 1), "alice-1").await?;
    auth_sessions::insert(&mut tx, &session(alice.id, 2, 2), "alice-2").await?;
    auth_sessions::insert(&mut tx, &session(bob.id, 3, 3), "bob-1").await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    users::delete(&mut tx, alice.id).await?;
    expect_err(users::delete(&mut tx, alice.id).await, &StoreError::NotFound("user"))?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert_eq!(users::find(&mut conn, alice.id).await?, None);
    assert_eq!(auth_sessions::find_by_token_hash(&mut conn, "alice-1").await?, None);
    assert_eq!(auth_sessions::find_by_token_hash(&mut conn, "alice-2").await?, None);
    assert!(auth_sessions::find_by_token_hash(&mut conn, "bob-1").await?.is_some());
    assert_eq!(groups::members(&mut conn, ops.id).await?, vec![bob.id]);
    assert_eq!(groups::of_user(&mut conn, alice.id).await?, vec![]);
    Ok(())
}

pub async fn check_groups(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1)?;
    let bob = user("bob", 2)?;
    let ops = group("ops", vec![Role::Approver, Role::Auditor])?;
    let dev = group("dev", vec![Role::User])?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &bob, None).await?;
    users::insert(&mut tx, &alice, None).await?;
    groups::insert(&mut tx, &ops).await?;
    groups::insert(&mut tx, &dev).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(groups::insert(&mut tx, &group("ops", vec![])?).await, &StoreError::Conflict("group"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    expect_err(
        groups::add_member(&mut tx, ops.id, fresh(UserId::from_uuid)).await,
        &StoreError::MissingReference { what: "group member" },
    )?;
    drop(tx);

    let mut tx = store.begin().await?;
    assert!(groups::add_member(&mut tx, ops.id, bob.id).await?);
    assert!(groups::add_member(&mut tx, ops.id, alice.id).await?);
    assert!(!groups::add_member(&mut tx, ops.id, alice.id).await?);
    assert!(groups::add_member(&mut tx, dev.id, alice.id).await?);
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert_eq!(groups::find(&mut conn, ops.id).await?, Some(ops.clone()));
    assert_eq!(groups::find_by_name(&mut conn, &GroupName::parse("dev")?).await?, Some(dev.clone()));
    assert_eq!(groups::find(&mut conn, fresh(GroupId::from_uuid)).await?, None);
    assert_eq!(groups::list(&mut conn).await?, vec![dev.clone(), ops.clone()]);
    assert_eq!(groups::members(&mut conn, ops.id).await?, vec![alice.id, bob.id]);
    assert_eq!(groups::of_user(&mut conn, alice.id).await?, vec![dev.clone(), ops.clone()]);
    assert_eq!(groups::of_user(&mut conn, bob.id).await?, vec![ops.clone()]);
    drop(conn);

    let mut changed = ops.clone();
    changed.description = "operations".to_owned();
    changed.roles = vec![Role::Admin];
    let mut tx = store.begin().await?;
    groups::update(&mut tx, &changed).await?;
    expect_err(groups::update(&mut tx, &group("ghost", vec![])?).await, &StoreError::NotFound("group"))?;
    assert!(groups::remove_member(&mut tx, ops.id, bob.id).await?);
    assert!(!groups::remove_member(&mut tx, ops.id, bob.id).await?);
    groups::delete(&mut tx, dev.id).await?;
    expect_err(groups::delete(&mut tx, dev.id).await, &StoreError::NotFound("group"))?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert_eq!(groups::find(&mut conn, ops.id).await?, Some(changed.clone()));
    assert_eq!(groups::of_user(&mut conn, bob.id).await?, vec![]);
    assert_eq!(groups::of_user(&mut conn, alice.id).await?, vec![changed]);
    assert_eq!(groups::list(&mut conn).await?.len(), 1);
    Ok(())
}

pub async fn check_auth_sessions(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1)?;
    let bob = user("bob", 2)?;
    let fresh_session = session(alice.id, 1_000, 5_000);
    let idle_session = session(alice.id, 1_000, 1_500);
    let old_session = session(alice.id, 100, 9_000);
    let bobs_session = session(bob.id, 1_000, 5_000);
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, None).await?;
    users::insert(&mut tx, &bob, None).await?;
    auth_sessions::insert(&mut tx, &fresh_session, "h-fresh").await?;
    auth_sessions::insert(&mut tx, &idle_session, "h-idle").await?;
    auth_sessions::insert(&mut tx, &old_session, "h-old").await?;
    auth_sessions::insert(&mut tx, &bobs_session, "h-bob").await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(
        auth_sessions::insert(&mut tx, &session(bob.id, 1, 1), "h-bob").await,
        &StoreError::Conflict("session"),
    )?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(auth_sessions::find_by_token_hash(&mut conn, "h-fresh").await?, Some(fresh_session.clone()));
    assert_eq!(auth_sessions::find_by_token_hash(&mut conn, "nope").await?, None);
    drop(conn);

    // touch only moves forward; set_stage changes the stage.
    let mut tx = store.begin().await?;
    auth_sessions::touch(&mut tx, fresh_session.id, t(6_000)).await?;
    auth_sessions::touch(&mut tx, fresh_session.id, t(5_500)).await?;
    auth_sessions::set_stage(&mut tx, bobs_session.id, AuthSessionStage::PasswordChangeRequired).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    let touched = auth_sessions::find_by_token_hash(&mut conn, "h-fresh").await?.context("fresh")?;
    assert_eq!(touched.last_seen_at, t(6_000));
    let staged = auth_sessions::find_by_token_hash(&mut conn, "h-bob").await?.context("bob")?;
    assert_eq!(staged.stage, AuthSessionStage::PasswordChangeRequired);
    drop(conn);

    // Idle since before 2_000 or created before 500: the idle one and the old one.
    let mut tx = store.begin().await?;
    assert_eq!(auth_sessions::delete_expired(&mut tx, t(2_000), t(500)).await?, 2);
    assert_eq!(auth_sessions::delete_expired(&mut tx, t(2_000), t(500)).await?, 0);
    assert!(auth_sessions::delete(&mut tx, bobs_session.id).await?);
    assert!(!auth_sessions::delete(&mut tx, fresh(AuthSessionId::from_uuid)).await?);
    auth_sessions::insert(&mut tx, &session(alice.id, 7_000, 7_000), "h-second").await?;
    assert_eq!(auth_sessions::delete_for_user(&mut tx, alice.id).await?, 2);
    assert_eq!(auth_sessions::delete_for_user(&mut tx, alice.id).await?, 0);
    tx.commit().await?;

    let mut conn = store.read().await?;
    for hash in ["h-fresh", "h-idle", "h-old", "h-bob", "h-second"] {
        assert_eq!(auth_sessions::find_by_token_hash(&mut conn, hash).await?, None, "{hash}");
    }
    Ok(())
}
