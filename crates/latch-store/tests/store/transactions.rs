//! Transactions: what a dropped one leaves behind (nothing).

use crate::fixtures::{TestMac, account, api_account, group, seed_root_key, seed_secret, t, target, user};
use latch_domain::audit::{AuditActor, AuditEvent};
use latch_domain::permission::Role;
use latch_domain::target::{Protocol, TargetQuery};
use latch_store::audit::{self, NewAuditEntry};
use latch_store::{Store, accounts, api_accounts, groups, targets, users, vault};

pub async fn check_dropped_transaction_leaves_nothing(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1)?;
    let ops = group("ops", vec![Role::Admin])?;
    let web = target("web", "web.example.com", &[Protocol::Ssh], &["prod"], "")?;
    let root = account(web.id, "root")?;
    let robot = api_account("robot")?;
    let event = AuditEvent::TargetCreated { target_id: web.id, name: "web".to_owned() };

    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, Some("hash")).await?;
    groups::insert(&mut tx, &ops).await?;
    groups::add_member(&mut tx, ops.id, alice.id).await?;
    targets::insert(&mut tx, &web).await?;
    let key = seed_root_key(&mut tx).await?;
    let secret = seed_secret(&mut tx, key, "account-password").await?;
    accounts::insert(&mut tx, &root, Some(secret)).await?;
    api_accounts::insert(&mut tx, &robot, "hash").await?;
    let entry = NewAuditEntry { at: t(5), actor: &AuditActor::System, source: None, event: &event };
    assert_eq!(audit::append(&mut tx, &TestMac::default(), entry).await?, 1);
    // Everything is visible inside the transaction…
    assert!(users::find(&mut tx, alice.id).await?.is_some());
    assert_eq!(targets::count(&mut tx, &TargetQuery::default()).await?, 1);
    drop(tx);

    // …and gone once it is dropped without a commit.
    let mut conn = store.read().await?;
    assert_eq!(users::count(&mut conn).await?, 0);
    assert_eq!(groups::list(&mut conn).await?, vec![]);
    assert_eq!(targets::list_all(&mut conn).await?, vec![]);
    assert_eq!(accounts::list_all(&mut conn).await?, vec![]);
    assert_eq!(api_accounts::list(&mut conn).await?, vec![]);
    assert_eq!(vault::root_keys(&mut conn).await?, vec![]);
    assert_eq!(audit::head_seq(&mut conn).await?, 0);
    drop(conn);

    // The next append starts the chain at 1 again, and the same rows can be written for real.
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, Some("hash")).await?;
    targets::insert(&mut tx, &web).await?;
    let entry = NewAuditEntry { at: t(6), actor: &AuditActor::System, source: None, event: &event };
    assert_eq!(audit::append(&mut tx, &TestMac::default(), entry).await?, 1);
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(users::count(&mut conn).await?, 1);
    assert_eq!(targets::list_all(&mut conn).await?, vec![web]);
    Ok(())
}
