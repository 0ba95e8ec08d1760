//! No secret-holding type prints its bytes through `Debug`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use latch_vault::{
    AuditChainKey, RootKey, RootKeyId, SecretBytes, SecretString, TotpSeed, UnsealKey, VaultError, split_unseal_key,
};
use uuid::Uuid;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks that `debug` says "redacted" and shows none of the usual renderings of `bytes`.
fn assert_redacted(debug: &str, bytes: &[u8]) {
    assert!(debug.contains("redacted"), "{debug}");
    assert!(!debug.contains(&hex(bytes)), "{debug}");
    assert!(!debug.contains(&hex(bytes).to_uppercase()), "{debug}");
    assert!(!debug.contains(&STANDARD.encode(bytes)), "{debug}");
    assert!(!debug.contains(&STANDARD_NO_PAD.encode(bytes)), "{debug}");
    assert!(!debug.contains(&format!("{bytes:?}")), "{debug}");
    let first_bytes = format!("{:?}", &bytes[..4]);
    assert!(!debug.contains(first_bytes.trim_matches(|c| c == '[' || c == ']')), "{debug}");
}

#[test]
fn secret_wrappers_are_redacted() {
    let text = SecretString::from("correct horse battery staple".to_owned());
    assert!(!format!("{text:?}{text}").contains("horse"));
    let bytes = SecretBytes::from(vec![0xc3, 0x5e, 0x91, 0x07, 0x42]);
    assert_redacted(&format!("{bytes:?}"), bytes.expose());
    assert_redacted(&format!("{bytes}"), bytes.expose());
}

#[test]
fn unseal_key_is_redacted() -> Result<(), VaultError> {
    let key = UnsealKey::from_bytes([0xc3; 32]);
    let debug = format!("{key:?}");
    assert_redacted(&debug, &[0xc3; 32]);
    let file_text = key.to_key_file_text();
    let encoded = file_text.expose().trim().trim_start_matches("latch-unseal-key-v1:");
    assert!(!debug.contains(encoded));
    assert!(!format!("{file_text:?}").contains(encoded));
    Ok(())
}

#[test]
fn shares_are_redacted() -> Result<(), VaultError> {
    let key = UnsealKey::from_bytes([0xc3; 32]);
    for share in split_unseal_key(&key, 2, 3)? {
        let debug = format!("{share:?}");
        let text = share.to_text();
        let value = text.expose().split(':').nth(4).unwrap_or("missing");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains(value), "{debug}");
        assert!(!format!("{text:?}").contains(value));
        let value_bytes = STANDARD.decode(value).map_err(|_| VaultError::MalformedShare("test"))?;
        assert_redacted(&debug, &value_bytes);
    }
    Ok(())
}

#[test]
fn root_key_totp_seed_and_chain_key_are_redacted() -> Result<(), VaultError> {
    let root = RootKey::generate(RootKeyId::new(Uuid::from_u128(5)));
    assert!(format!("{root:?}").contains("redacted"));

    let seed = TotpSeed::from_bytes(vec![0xc3; 20])?;
    assert_redacted(&format!("{seed:?}"), seed.as_bytes());

    let chain = AuditChainKey::from_bytes([0xc3; 32]);
    assert_redacted(&format!("{chain:?}"), chain.as_bytes());
    Ok(())
}
