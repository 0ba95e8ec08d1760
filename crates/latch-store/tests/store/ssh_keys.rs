//! SSH public keys registered to users.

use crate::fixtures::{expect_err, fresh, t, user};
use latch_domain::ssh_key::{SshPublicKey, UserSshKey};
use latch_domain::{UserId, UserSshKeyId};
use latch_store::{Store, StoreError, user_ssh_keys, users};

const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILfUpGl7YcX7Z2ZoAUz/G6KLYJ5oJT/uVAXgByhnMCPd alice@laptop";
const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEFuWogOgNO6eY2MXa/Hsu4xC5UNqcRh0kDD6U1GRYA3t9o/ZeBBKNP8ZgAbFwqPG5L16B7nhsSQ0ctpaz+cPN0= e";

fn ssh_key(user: UserId, line: &str, name: &str, created_ms: i64) -> anyhow::Result<UserSshKey> {
    Ok(UserSshKey {
        id: fresh(UserSshKeyId::from_uuid),
        user_id: user,
        key: SshPublicKey::parse(line)?,
        name: name.to_owned(),
        created_at: t(created_ms),
        last_used_at: None,
    })
}

pub async fn check_user_ssh_keys(store: Store) -> anyhow::Result<()> {
    let alice = user("alice", 1)?;
    let bob = user("bob", 2)?;
    let laptop = ssh_key(alice.id, ED25519, "laptop", 10)?;
    let token = ssh_key(alice.id, ECDSA, "token", 20)?;
    let mut tx = store.begin().await?;
    users::insert(&mut tx, &alice, None).await?;
    users::insert(&mut tx, &bob, None).await?;
    user_ssh_keys::insert(&mut tx, &token).await?;
    user_ssh_keys::insert(&mut tx, &laptop).await?;
    tx.commit().await?;

    // One key belongs to one user: the same key again (for anyone) is a conflict.
    let mut tx = store.begin().await?;
    let again = ssh_key(bob.id, ED25519, "stolen", 30)?;
    expect_err(user_ssh_keys::insert(&mut tx, &again).await, &StoreError::Conflict("ssh key"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    let orphan = ssh_key(fresh(UserId::from_uuid), ED25519.replace("AAAAILf", "AAAAILg").as_str(), "x", 1)?;
    expect_err(user_ssh_keys::insert(&mut tx, &orphan).await, &StoreError::MissingReference { what: "ssh key" })?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(user_ssh_keys::list_for_user(&mut conn, alice.id).await?, vec![laptop.clone(), token.clone()]);
    assert_eq!(user_ssh_keys::list_for_user(&mut conn, bob.id).await?, vec![]);
    let found = user_ssh_keys::find_by_fingerprint(&mut conn, &laptop.key.fingerprint()).await?;
    assert_eq!(found.as_ref().map(|k| k.user_id), Some(alice.id));
    assert_eq!(found.as_ref().map(|k| k.key.comment()), Some("alice@laptop"));
    assert_eq!(user_ssh_keys::find_by_fingerprint(&mut conn, "SHA256:nothing").await?, None);
    drop(conn);

    let mut tx = store.begin().await?;
    user_ssh_keys::touch_last_used(&mut tx, laptop.id, t(99)).await?;
    expect_err(
        user_ssh_keys::touch_last_used(&mut tx, fresh(UserSshKeyId::from_uuid), t(99)).await,
        &StoreError::NotFound("ssh key"),
    )?;
    // Only the owner's key is deleted.
    expect_err(user_ssh_keys::delete(&mut tx, token.id, bob.id).await, &StoreError::NotFound("ssh key"))?;
    assert_eq!(user_ssh_keys::delete(&mut tx, token.id, alice.id).await?, token);
    expect_err(user_ssh_keys::delete(&mut tx, token.id, alice.id).await, &StoreError::NotFound("ssh key"))?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    let listed = user_ssh_keys::list_for_user(&mut conn, alice.id).await?;
    assert_eq!(listed, vec![UserSshKey { last_used_at: Some(t(99)), ..laptop.clone() }]);
    drop(conn);

    // Deleting the user deletes their keys.
    let mut tx = store.begin().await?;
    users::delete(&mut tx, alice.id).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(user_ssh_keys::find_by_fingerprint(&mut conn, &laptop.key.fingerprint()).await?, None);
    Ok(())
}
