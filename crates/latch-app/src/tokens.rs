//! Bearer tokens and client secrets: random, prefixed by kind, stored only as SHA-256 hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latch_vault::SecretString;
use rand::RngCore;

/// A session token of a logged-in user.
pub(crate) const SESSION_PREFIX: &str = "lts_";
/// An access token of an API account.
pub(crate) const API_TOKEN_PREFIX: &str = "lta_";
/// A client secret of an API account.
pub(crate) const CLIENT_SECRET_PREFIX: &str = "ltc_";

/// A fresh random token with `prefix`, 256 bits of entropy.
pub(crate) fn generate(prefix: &str) -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes));
    bytes.fill(0);
    SecretString::new(token)
}

/// The stored form of a token: lowercase hex SHA-256.
pub(crate) fn hash(token: &str) -> String {
    latch_vault::sha256(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A one-time password for a new or reset local account: 20 characters from an unambiguous alphabet.
pub(crate) fn one_time_password() -> SecretString {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let text: String = (0..20)
        .map(|_| {
            let index = rand::Rng::random_range(&mut rng, 0..ALPHABET.len());
            char::from(ALPHABET.get(index).copied().unwrap_or(b'x'))
        })
        .collect();
    SecretString::new(text)
}
