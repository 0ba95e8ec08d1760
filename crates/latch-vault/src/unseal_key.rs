//! The unseal key: the key-encryption key (KEK) that wraps the root keys.

use std::fmt;

use argon2::{Algorithm, Argon2, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::VaultError;
use crate::kdf_params::KdfParams;
use crate::random::fill_random;
use crate::secret::SecretString;

/// The 256-bit key-encryption key that wraps root keys. Zeroized on drop; `Debug` is redacted.
///
/// It comes from a key file ([`UnsealKey::from_key_file_text`]), a passphrase
/// ([`UnsealKey::from_passphrase`]) or a quorum of shares ([`crate::combine_unseal_shares`]).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct UnsealKey {
    bytes: [u8; 32],
}

/// Prefix of the key file format.
const KEY_FILE_PREFIX: &str = "latch-unseal-key-v1:";

impl UnsealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = Self { bytes: [0; 32] };
        fill_random(&mut key.bytes);
        key
    }

    /// Uses the given bytes as the key (the caller should zeroize its copy).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    /// Derives the key from a passphrase with Argon2id.
    ///
    /// Length and strength policy belongs to the caller; only an empty passphrase is refused here.
    ///
    /// # Errors
    /// [`VaultError::EmptyPassphrase`], [`VaultError::InvalidKdfParams`] or
    /// [`VaultError::KeyDerivation`].
    pub fn from_passphrase(pass: &SecretString, kdf: &KdfParams) -> Result<Self, VaultError> {
        if pass.expose().is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, kdf.argon2_params()?);
        let mut key = Self { bytes: [0; 32] };
        argon2
            .hash_password_into(pass.expose().as_bytes(), &kdf.salt, &mut key.bytes)
            .map_err(|_| VaultError::KeyDerivation)?;
        Ok(key)
    }

    /// The key file text: `latch-unseal-key-v1:<base64>` and a newline.
    pub fn to_key_file_text(&self) -> SecretString {
        let mut text = String::with_capacity(KEY_FILE_PREFIX.len() + 45);
        text.push_str(KEY_FILE_PREFIX);
        STANDARD.encode_string(self.bytes, &mut text);
        text.push('\n');
        SecretString::new(text)
    }

    /// Parses the text made by [`UnsealKey::to_key_file_text`]; surrounding whitespace
    /// (such as the trailing newline an editor adds) is ignored.
    ///
    /// # Errors
    /// [`VaultError::MalformedKeyFile`] naming what is wrong, never echoing the content.
    pub fn from_key_file_text(text: &str) -> Result<Self, VaultError> {
        let encoded = text
            .trim()
            .strip_prefix(KEY_FILE_PREFIX)
            .ok_or(VaultError::MalformedKeyFile("expected latch-unseal-key-v1:<base64>"))?;
        let decoded = Zeroizing::new(
            STANDARD.decode(encoded).map_err(|_| VaultError::MalformedKeyFile("key is not valid base64"))?,
        );
        let mut key = Self { bytes: [0; 32] };
        if decoded.len() != key.bytes.len() {
            return Err(VaultError::MalformedKeyFile("key must be 32 bytes"));
        }
        key.bytes.copy_from_slice(&decoded);
        Ok(key)
    }

    /// The raw key bytes, for wrapping and splitting inside this crate.
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for UnsealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnsealKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn passphrase_kdf_is_deterministic_per_salt() -> Result<(), VaultError> {
        let kdf = KdfParams::generate_fast_for_tests();
        let first = UnsealKey::from_passphrase(&pass("correct horse battery"), &kdf)?;
        let again = UnsealKey::from_passphrase(&pass("correct horse battery"), &kdf)?;
        assert_eq!(first.as_bytes(), again.as_bytes());

        let other_salt = KdfParams { salt: [9; 16], ..kdf.clone() };
        let salted = UnsealKey::from_passphrase(&pass("correct horse battery"), &other_salt)?;
        assert_ne!(first.as_bytes(), salted.as_bytes());

        let other_pass = UnsealKey::from_passphrase(&pass("correct horse battery!"), &kdf)?;
        assert_ne!(first.as_bytes(), other_pass.as_bytes());
        Ok(())
    }

    #[test]
    fn empty_passphrase_is_refused() {
        let kdf = KdfParams::generate_fast_for_tests();
        let result = UnsealKey::from_passphrase(&pass(""), &kdf);
        assert_eq!(result.err(), Some(VaultError::EmptyPassphrase));
    }

    #[test]
    fn key_file_round_trip() -> Result<(), VaultError> {
        let key = UnsealKey::generate();
        let text = key.to_key_file_text();
        assert!(text.expose().starts_with("latch-unseal-key-v1:"));
        assert!(text.expose().ends_with('\n'));
        let parsed = UnsealKey::from_key_file_text(text.expose())?;
        assert_eq!(parsed.as_bytes(), key.as_bytes());
        let padded = format!("{}  \r\n\n", text.expose().trim_end());
        assert_eq!(UnsealKey::from_key_file_text(&padded)?.as_bytes(), key.as_bytes());
        Ok(())
    }

    #[test]
    fn bad_key_files_are_refused_without_echo() {
        let short = format!("{KEY_FILE_PREFIX}{}", STANDARD.encode([1u8; 31]));
        for text in ["", "latch-unseal-key-v2:AAAA", "latch-unseal-key-v1:not base64!", &short] {
            let error = UnsealKey::from_key_file_text(text).err();
            assert!(matches!(error, Some(VaultError::MalformedKeyFile(_))), "{text:?}");
            let message = error.map(|e| e.to_string()).unwrap_or_default();
            assert!(!message.contains("not base64!"));
        }
    }

    #[test]
    fn generated_keys_differ_and_debug_is_redacted() {
        let key = UnsealKey::generate();
        assert_ne!(key.as_bytes(), UnsealKey::generate().as_bytes());
        let debug = format!("{key:?}");
        let file_text = key.to_key_file_text();
        let encoded = file_text.expose().trim().trim_start_matches(KEY_FILE_PREFIX);
        assert!(debug.contains("redacted"));
        assert!(!debug.contains(encoded));
    }
}
