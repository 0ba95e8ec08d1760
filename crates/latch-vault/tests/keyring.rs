//! Envelope encryption through the public API: round trips, tampering, bindings, rotation.

use latch_vault::{Keyring, RootKey, RootKeyId, SealedSecret, SecretBinding, VaultError};
use uuid::Uuid;

const NONCE_LEN: usize = 12;

fn root(n: u128) -> RootKey {
    RootKey::generate(RootKeyId::new(Uuid::from_u128(n)))
}

fn binding(kind: &str, record: u128) -> SecretBinding<'_> {
    SecretBinding { kind, record_id: Uuid::from_u128(record) }
}

fn sealed_sample(keyring: &Keyring) -> Result<SealedSecret, VaultError> {
    keyring.seal(&binding("account-password", 1), b"s3cr3t-password")
}

#[test]
fn seal_open_round_trip() -> Result<(), VaultError> {
    let keyring = Keyring::new(root(1), vec![root(2)]);
    let sealed = sealed_sample(&keyring)?;
    assert_eq!(sealed.root_key_id, keyring.active_id());
    assert!(!sealed.ciphertext.windows(6).any(|w| w == b"s3cr3t"));
    let opened = keyring.open(&binding("account-password", 1), &sealed)?;
    assert_eq!(opened.expose().as_slice(), b"s3cr3t-password");

    let empty = keyring.seal(&binding("note", 2), b"")?;
    assert!(keyring.open(&binding("note", 2), &empty)?.expose().is_empty());
    Ok(())
}

#[test]
fn each_seal_uses_fresh_data_key_and_nonces() -> Result<(), VaultError> {
    let keyring = Keyring::new(root(1), Vec::new());
    let first = sealed_sample(&keyring)?;
    let second = sealed_sample(&keyring)?;
    assert_ne!(first.ciphertext, second.ciphertext);
    assert_ne!(first.wrapped_data_key, second.wrapped_data_key);
    Ok(())
}

#[test]
fn any_flipped_byte_fails_with_decrypt() -> Result<(), VaultError> {
    let keyring = Keyring::new(root(1), Vec::new());
    let sealed = sealed_sample(&keyring)?;
    let bind = binding("account-password", 1);
    for position in 0..sealed.ciphertext.len() {
        let mut altered = sealed.clone();
        altered.ciphertext[position] ^= 0x01;
        assert_eq!(keyring.open(&bind, &altered).err(), Some(VaultError::Decrypt), "ct {position}");
    }
    for position in 0..sealed.wrapped_data_key.len() {
        let mut altered = sealed.clone();
        altered.wrapped_data_key[position] ^= 0x01;
        assert_eq!(keyring.open(&bind, &altered).err(), Some(VaultError::Decrypt), "dk {position}");
    }
    let mut nonce_only = sealed.clone();
    nonce_only.ciphertext[NONCE_LEN - 1] ^= 0x80;
    nonce_only.wrapped_data_key[0] ^= 0x80;
    assert_eq!(keyring.open(&bind, &nonce_only).err(), Some(VaultError::Decrypt));

    let mut truncated = sealed.clone();
    truncated.ciphertext.truncate(5);
    assert_eq!(keyring.open(&bind, &truncated).err(), Some(VaultError::Decrypt));
    let mut extended = sealed;
    extended.wrapped_data_key.push(0);
    assert_eq!(keyring.open(&bind, &extended).err(), Some(VaultError::Decrypt));
    Ok(())
}

#[test]
fn secrets_do_not_open_for_another_record_or_kind() -> Result<(), VaultError> {
    let keyring = Keyring::new(root(1), Vec::new());
    let record_a = keyring.seal(&binding("account-password", 1), b"password of a")?;
    let record_b = keyring.seal(&binding("account-password", 2), b"password of b")?;

    // The whole sealed secret of A copied onto record B.
    assert_eq!(keyring.open(&binding("account-password", 2), &record_a).err(), Some(VaultError::Decrypt));
    // Ciphertexts swapped between the two records, wrapped keys left in place.
    let swapped_a = SealedSecret { ciphertext: record_b.ciphertext.clone(), ..record_a.clone() };
    let swapped_b = SealedSecret { ciphertext: record_a.ciphertext.clone(), ..record_b.clone() };
    assert_eq!(keyring.open(&binding("account-password", 1), &swapped_a).err(), Some(VaultError::Decrypt));
    assert_eq!(keyring.open(&binding("account-password", 2), &swapped_b).err(), Some(VaultError::Decrypt));
    // Same record, other kind.
    assert_eq!(keyring.open(&binding("totp-seed", 1), &record_a).err(), Some(VaultError::Decrypt));
    // Kind and record id must not be shiftable into each other.
    assert_eq!(keyring.open(&binding("account-passwor", 1), &record_a).err(), Some(VaultError::Decrypt));
    Ok(())
}

#[test]
fn wrong_or_unknown_root_key_fails_with_decrypt() -> Result<(), VaultError> {
    let keyring = Keyring::new(root(1), vec![root(2)]);
    let sealed = sealed_sample(&keyring)?;
    let bind = binding("account-password", 1);

    // Same id, different key material.
    let impostor = Keyring::new(root(1), Vec::new());
    assert_eq!(impostor.open(&bind, &sealed).err(), Some(VaultError::Decrypt));
    // Id not in the keyring.
    let unrelated = Keyring::new(root(3), Vec::new());
    assert_eq!(unrelated.open(&bind, &sealed).err(), Some(VaultError::Decrypt));
    // Relabelled to another key the keyring does hold.
    let relabelled = SealedSecret { root_key_id: RootKeyId::new(Uuid::from_u128(2)), ..sealed };
    assert_eq!(keyring.open(&bind, &relabelled).err(), Some(VaultError::Decrypt));
    Ok(())
}

#[test]
fn rotation_rewraps_the_data_key_only() -> Result<(), VaultError> {
    let old_root = root(1);
    let new_root = root(2);
    let new_id = new_root.id();
    let before = Keyring::new(old_root.clone(), Vec::new());
    let bind = binding("account-password", 1);
    let sealed = sealed_sample(&before)?;

    let rotated = before.with_new_active(new_root.clone());
    assert_eq!(rotated.active_id(), new_id);
    assert!(rotated.contains(old_root.id()) && rotated.contains(new_id));
    assert_eq!(rotated.root_key_ids(), vec![old_root.id(), new_id]);

    let rewrapped = rotated.rewrap(&bind, &sealed, new_id)?;
    assert_eq!(rewrapped.root_key_id, new_id);
    assert_eq!(rewrapped.ciphertext, sealed.ciphertext);
    assert_ne!(rewrapped.wrapped_data_key, sealed.wrapped_data_key);

    let only_new = Keyring::new(new_root, Vec::new());
    assert!(!only_new.contains(old_root.id()));
    assert_eq!(only_new.open(&bind, &rewrapped)?.expose().as_slice(), b"s3cr3t-password");
    assert_eq!(only_new.open(&bind, &sealed).err(), Some(VaultError::Decrypt));
    assert_eq!(before.open(&bind, &rewrapped).err(), Some(VaultError::Decrypt));
    Ok(())
}

#[test]
fn rewrap_refuses_unknown_target_and_wrong_binding() -> Result<(), VaultError> {
    let keyring = Keyring::new(root(1), vec![root(2)]);
    let sealed = sealed_sample(&keyring)?;
    let unknown = RootKeyId::new(Uuid::from_u128(9));
    assert_eq!(
        keyring.rewrap(&binding("account-password", 1), &sealed, unknown).err(),
        Some(VaultError::UnknownRootKey(unknown))
    );
    let target = RootKeyId::new(Uuid::from_u128(2));
    assert_eq!(keyring.rewrap(&binding("account-password", 7), &sealed, target).err(), Some(VaultError::Decrypt));
    Ok(())
}

#[test]
fn new_keeps_the_given_active_key_over_a_duplicate_id() -> Result<(), VaultError> {
    let active = root(1);
    let keyring = Keyring::new(active.clone(), vec![root(1), root(2)]);
    let sealed = sealed_sample(&keyring)?;
    let only_active = Keyring::new(active, Vec::new());
    assert!(only_active.open(&binding("account-password", 1), &sealed).is_ok());
    let debug = format!("{keyring:?}");
    assert!(debug.contains("Keyring") && debug.contains(&Uuid::from_u128(1).to_string()), "{debug}");
    Ok(())
}
