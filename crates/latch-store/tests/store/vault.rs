//! Vault metadata, root keys and sealed secrets.

use crate::fixtures::{expect_err, fresh, sealed, seed_root_key, t};
use latch_domain::SecretId;
use latch_store::vault::{self, SealedRecord, UnsealMode, VaultMeta, WrappedRootKey};
use latch_store::{Store, StoreError};
use uuid::Uuid;

fn meta(active_root_key_id: Uuid) -> VaultMeta {
    VaultMeta {
        mode: UnsealMode::Shamir,
        kdf: None,
        shamir_threshold: Some(3),
        shamir_shares: Some(5),
        active_root_key_id,
        audit_key_secret_id: fresh(SecretId::from_uuid),
        created_at: t(1_000),
    }
}

pub async fn check_vault_meta(store: Store) -> anyhow::Result<()> {
    let mut conn = store.read().await?;
    assert_eq!(vault::meta(&mut conn).await?, None);
    drop(conn);

    let first = meta(Uuid::new_v4());
    let mut tx = store.begin().await?;
    vault::insert_meta(&mut tx, &first).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(vault::insert_meta(&mut tx, &meta(Uuid::new_v4())).await, &StoreError::Conflict("vault"))?;
    drop(tx);

    let passphrase =
        VaultMeta { mode: UnsealMode::Passphrase, kdf: Some("argon2id$m=19456".to_owned()), ..meta(Uuid::new_v4()) };
    let mut tx = store.begin().await?;
    expect_err(vault::insert_meta(&mut tx, &passphrase).await, &StoreError::Conflict("vault"))?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(vault::meta(&mut conn).await?, Some(first.clone()));
    drop(conn);

    let next_key = Uuid::new_v4();
    let mut tx = store.begin().await?;
    vault::set_active_root_key(&mut tx, next_key).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    assert_eq!(vault::meta(&mut conn).await?, Some(VaultMeta { active_root_key_id: next_key, ..first }));
    Ok(())
}

pub async fn check_vault_secrets_and_root_keys(store: Store) -> anyhow::Result<()> {
    let old_key = WrappedRootKey { id: Uuid::new_v4(), wrapped: vec![1; 40] };
    let new_key = WrappedRootKey { id: Uuid::new_v4(), wrapped: vec![2; 40] };
    let mut tx = store.begin().await?;
    vault::insert_root_key(&mut tx, &old_key, t(10)).await?;
    vault::insert_root_key(&mut tx, &new_key, t(20)).await?;
    vault::insert_meta(&mut tx, &meta(old_key.id)).await?;
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(vault::insert_root_key(&mut tx, &old_key, t(30)).await, &StoreError::Conflict("root key"))?;
    drop(tx);

    let mut conn = store.read().await?;
    assert_eq!(vault::root_keys(&mut conn).await?, vec![old_key.clone(), new_key.clone()]);
    drop(conn);

    // Three secrets under the old key.
    let mut records: Vec<SealedRecord> = (0..3).map(|i| sealed(old_key.id, "account-password", i)).collect();
    records.sort_by_key(|record| record.id.to_string());
    let mut tx = store.begin().await?;
    for record in &records {
        vault::insert_secret(&mut tx, record, t(100)).await?;
    }
    tx.commit().await?;

    let mut tx = store.begin().await?;
    expect_err(vault::insert_secret(&mut tx, &records[0], t(100)).await, &StoreError::Conflict("secret"))?;
    drop(tx);
    let mut tx = store.begin().await?;
    expect_err(
        vault::insert_secret(&mut tx, &sealed(Uuid::new_v4(), "account-password", 9), t(100)).await,
        &StoreError::MissingReference { what: "secret" },
    )?;
    drop(tx);

    // Replacing puts a new value under the new key; the kind must match.
    let replacement = SealedRecord {
        root_key_id: new_key.id,
        wrapped_data_key: vec![0xaa; 48],
        ciphertext: vec![0xbb; 70],
        ..records[0].clone()
    };
    let mut tx = store.begin().await?;
    vault::replace_secret(&mut tx, &replacement, t(200)).await?;
    let wrong_kind = SealedRecord { kind: "account-ssh-key".to_owned(), ..records[1].clone() };
    expect_err(vault::replace_secret(&mut tx, &wrong_kind, t(200)).await, &StoreError::NotFound("secret"))?;
    tx.commit().await?;

    let mut conn = store.read().await?;
    assert_eq!(vault::secret(&mut conn, records[0].id).await?, replacement);
    assert_eq!(vault::secret(&mut conn, records[1].id).await?, records[1]);
    expect_err(vault::secret(&mut conn, fresh(SecretId::from_uuid)).await, &StoreError::NotFound("secret"))?;
    assert_eq!(vault::secrets_wrapped_by(&mut conn, old_key.id, 10).await?, records[1..].to_vec());
    assert_eq!(vault::secrets_wrapped_by(&mut conn, old_key.id, 1).await?, records[1..2].to_vec());
    assert_eq!(vault::count_secrets_not_wrapped_by(&mut conn, new_key.id).await?, 2);
    drop(conn);

    // Re-wrapping is conditional on the key the secret is still wrapped by.
    let mut tx = store.begin().await?;
    assert!(vault::rewrap_secret(&mut tx, records[1].id, old_key.id, new_key.id, &[0xcc; 48]).await?);
    assert!(!vault::rewrap_secret(&mut tx, records[1].id, old_key.id, new_key.id, &[0xdd; 48]).await?);
    // The old key is still used by a secret and still active.
    assert!(!vault::delete_unused_root_key(&mut tx, old_key.id).await?);
    assert!(vault::rewrap_secret(&mut tx, records[2].id, old_key.id, new_key.id, &[0xee; 48]).await?);
    assert!(!vault::delete_unused_root_key(&mut tx, old_key.id).await?, "still the active key");
    vault::set_active_root_key(&mut tx, new_key.id).await?;
    assert!(!vault::delete_unused_root_key(&mut tx, new_key.id).await?);
    assert!(vault::delete_unused_root_key(&mut tx, old_key.id).await?);
    tx.commit().await?;

    let mut conn = store.read().await?;
    let rewrapped = vault::secret(&mut conn, records[1].id).await?;
    assert_eq!((rewrapped.root_key_id, rewrapped.wrapped_data_key), (new_key.id, vec![0xcc; 48]));
    assert_eq!(rewrapped.ciphertext, records[1].ciphertext);
    assert_eq!(vault::count_secrets_not_wrapped_by(&mut conn, new_key.id).await?, 0);
    assert_eq!(vault::root_keys(&mut conn).await?, vec![new_key.clone()]);
    drop(conn);

    let mut tx = store.begin().await?;
    vault::delete_secret(&mut tx, records[2].id).await?;
    tx.commit().await?;
    let mut conn = store.read().await?;
    expect_err(vault::secret(&mut conn, records[2].id).await, &StoreError::NotFound("secret"))?;
    drop(conn);

    // A key that no secret uses and that is not active goes at once.
    let mut tx = store.begin().await?;
    let spare = seed_root_key(&mut tx).await?;
    assert!(vault::delete_unused_root_key(&mut tx, spare).await?);
    tx.commit().await?;
    Ok(())
}
