//! API accounts and the access tokens issued to them.

use crate::fixtures::{api_account, expect_err, fresh, t};
use anyhow::Context;
use latch_domain::api_account::{ApiToken, SourceRanges};
use latch_domain::lockout::LockoutState;
use latch_domain::names::ApiAccountName;
use latch_domain::permission::ScopeSet;
use latch_domain::{ApiAccountId, ApiTokenId, TimeSpan};
use latch_store::{Store, StoreError, api_accounts};

fn token(account: ApiAccountId, issued_ms: i64, expires_ms: i64) -> anyhow::Result<ApiToken> {
    Ok(ApiToken {
        id: fresh(ApiTokenId::from_uuid),
        api_account_id: account,
        scopes: ScopeSet::parse_list(["inventory:read"])?,
        source: Some("10.1.2.3".to_owned()),
        issued_at: crate::fixtures::t(issued_ms),
        expires_at: crate::fixtures::t(expires_ms),
    })
}

pub async fn check_api_accounts(store: Store) -> anyhow::Result<()> {
    let robot = api_account("robot")?;
    let mut anywhere = api_account("backup")?;
    anywhere.allowed_sources = SourceRanges::default();
    anywhere.scopes = ScopeSet::parse_list(["admin"])?;
    let mut tx = store.begin().await?;
    api_accounts::insert(&mut tx, &robot, "hash-robot").await?;
    api_accounts::insert(&mut tx, &anywhere, "hash-backup").await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(api_accounts::insert(&mut tx, &api_account("robot")?, "x").await, &StoreError::Conflict("api account"))?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(api_accounts::find(&mut conn, robot.id).await?, Some(robot.clone()));
    assert_eq!(api_accounts::find_by_name(&mut conn, &ApiAccountName::parse("backup")?).await?, Some(anywhere.clone()));
    assert_eq!(api_accounts::find(&mut conn, fresh(ApiAccountId::from_uuid)).await?, None);
    assert_eq!(api_accounts::find_by_name(&mut conn, &ApiAccountName::parse("nobody")?).await?, None);
    assert_eq!(api_accounts::list(&mut conn).await?, vec![anywhere.clone(), robot.clone()]);
    assert_eq!(api_accounts::secret_hash(&mut conn, robot.id).await?, "hash-robot");
    expect_err(
        api_accounts::secret_hash(&mut conn, fresh(ApiAccountId::from_uuid)).await,
        &StoreError::NotFound("api account"),
    )?;
    drop(conn);

    // update saves description, scopes, sources, ttl and revoked; nothing else.
    let mut changed = robot.clone();
    changed.description = "nightly inventory sync".to_owned();
    changed.scopes = ScopeSet::parse_list(["inventory:write", "audit:read"])?;
    changed.allowed_sources = SourceRanges::parse_list(["2001:db8::/32"])?;
    changed.token_ttl = TimeSpan::from_hours(2);
    changed.revoked = true;
    let mut sneaky = changed.clone();
    sneaky.created_at = t(1);
    sneaky.secret_rotated_at = t(1);
    sneaky.lockout = LockoutState { failed_count: 9, locked_until: None };
    let mut tx = store.begin().await?;
    api_accounts::update(&mut tx, &sneaky, t(1_000)).await?;
    expect_err(
        api_accounts::update(&mut tx, &api_account("ghost")?, t(1)).await,
        &StoreError::NotFound("api account"),
    )?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(api_accounts::find(&mut conn, robot.id).await?, Some(changed.clone()));
    drop(conn);

    let mut tx = store.begin().await?;
    api_accounts::set_secret_hash(&mut tx, robot.id, "hash-robot-2", t(2_000)).await?;
    let locked = LockoutState { failed_count: 5, locked_until: Some(t(3_000)) };
    api_accounts::set_lockout(&mut tx, robot.id, locked).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(api_accounts::secret_hash(&mut conn, robot.id).await?, "hash-robot-2");
    let stored = api_accounts::find(&mut conn, robot.id).await?.context("robot")?;
    assert_eq!((stored.secret_rotated_at, stored.lockout), (t(2_000), locked));
    drop(conn);

    let mut tx = store.begin().await?;
    api_accounts::record_success(&mut tx, robot.id).await?;
    let missing = fresh(ApiAccountId::from_uuid);
    expect_err(api_accounts::set_secret_hash(&mut tx, missing, "h", t(1)).await, &StoreError::NotFound("api account"))?;
    expect_err(api_accounts::set_lockout(&mut tx, missing, locked).await, &StoreError::NotFound("api account"))?;
    expect_err(api_accounts::record_success(&mut tx, missing).await, &StoreError::NotFound("api account"))?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(api_accounts::find(&mut conn, robot.id).await?.context("robot")?.lockout, LockoutState::default());
    drop(conn);

    let mut tx = store.begin().await?;
    api_accounts::delete(&mut tx, anywhere.id).await?;
    expect_err(api_accounts::delete(&mut tx, anywhere.id).await, &StoreError::NotFound("api account"))?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(api_accounts::list(&mut conn).await?.len(), 1);
    Ok(())
}

pub async fn check_api_tokens(store: Store) -> anyhow::Result<()> {
    let robot = api_account("robot")?;
    let other = api_account("other")?;
    let expiring = token(robot.id, 1_000, 2_000)?;
    let lasting = ApiToken { source: None, ..token(robot.id, 1_000, 3_000)? };
    let others = token(other.id, 1_000, 2_000)?;
    let mut tx = store.begin().await?;
    api_accounts::insert(&mut tx, &robot, "h").await?;
    api_accounts::insert(&mut tx, &other, "h").await?;
    api_accounts::insert_token(&mut tx, &expiring, "t-expiring").await?;
    api_accounts::insert_token(&mut tx, &lasting, "t-lasting").await?;
    api_accounts::insert_token(&mut tx, &others, "t-other").await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(
        api_accounts::insert_token(&mut tx, &token(robot.id, 1, 2)?, "t-lasting").await,
        &StoreError::Conflict("api token"),
    )?;
    drop(tx);
    let mut tx = store.begin().await?;
    expect_err(
        api_accounts::insert_token(&mut tx, &token(fresh(ApiAccountId::from_uuid), 1, 2)?, "t-orphan").await,
        &StoreError::MissingReference { what: "api token" },
    )?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(api_accounts::find_token_by_hash(&mut conn, "t-expiring").await?, Some(expiring.clone()));
    assert_eq!(api_accounts::find_token_by_hash(&mut conn, "t-lasting").await?, Some(lasting.clone()));
    assert_eq!(api_accounts::find_token_by_hash(&mut conn, "t-nope").await?, None);
    drop(conn);

    // A token is invalid from its expiry on (`now >= expires_at`), so it is swept then too.
    let mut tx = store.begin().await?;
    assert_eq!(api_accounts::delete_expired_tokens(&mut tx, t(1_999)).await?, 0);
    assert_eq!(api_accounts::delete_expired_tokens(&mut tx, t(2_000)).await?, 2);
    assert_eq!(api_accounts::delete_expired_tokens(&mut tx, t(2_000)).await?, 0);
    tx.commit().await?;

    let mut tx = store.begin().await?;
    api_accounts::insert_token(&mut tx, &token(robot.id, 2_500, 9_000)?, "t-second").await?;
    api_accounts::insert_token(&mut tx, &token(other.id, 2_500, 9_000)?, "t-other-2").await?;
    assert_eq!(api_accounts::delete_tokens_for_account(&mut tx, robot.id).await?, 2);
    assert_eq!(api_accounts::delete_tokens_for_account(&mut tx, robot.id).await?, 0);
    tx.commit().await?;
    let mut conn = store.read().await?;
    for hash in ["t-expiring", "t-lasting", "t-other", "t-second"] {
        assert_eq!(api_accounts::find_token_by_hash(&mut conn, hash).await?, None, "{hash}");
    }
    assert!(api_accounts::find_token_by_hash(&mut conn, "t-other-2").await?.is_some());
    drop(conn);

    // Deleting the account takes its tokens along.
    let mut tx = store.begin().await?;
    api_accounts::delete(&mut tx, other.id).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(api_accounts::find_token_by_hash(&mut conn, "t-other-2").await?, None);
    Ok(())
}
