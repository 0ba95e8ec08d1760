//! The one error type of this crate.

use crate::root_key::RootKeyId;

/// Everything that can go wrong in `latch-vault`.
///
/// Messages never contain key material, plaintext, passphrases or share values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// The vault holds no keyring: it has not been unsealed yet or was sealed again.
    #[error("vault is sealed")]
    Sealed,
    /// A sealed secret could not be opened: unknown root key, wrong binding or tampered bytes.
    ///
    /// Deliberately one variant without detail, so callers cannot tell the causes apart.
    #[error("decryption failed")]
    Decrypt,
    /// Encryption was refused by the cipher (only possible for absurdly large inputs).
    #[error("encryption failed")]
    Encrypt,
    /// The unseal key did not open the wrapped root key (wrong key or damaged bytes).
    #[error("unseal key does not open the wrapped root key")]
    WrongUnsealKey,
    /// The wrapped root key does not have the length a wrapped root key has.
    #[error("wrapped root key is malformed")]
    MalformedWrappedRootKey,
    /// A root key id was named that the keyring does not hold.
    #[error("root key {0} is not in the keyring")]
    UnknownRootKey(RootKeyId),
    /// An empty passphrase was given to the key derivation.
    #[error("passphrase is empty")]
    EmptyPassphrase,
    /// Argon2 parameters are out of range or their text form is malformed.
    #[error("invalid key derivation parameters: {0}")]
    InvalidKdfParams(&'static str),
    /// The key derivation function itself failed.
    #[error("key derivation failed")]
    KeyDerivation,
    /// An unseal key file's text is not in the `latch-unseal-key-v1:` format.
    #[error("malformed unseal key file: {0}")]
    MalformedKeyFile(&'static str),
    /// Threshold and share count are not `1 <= threshold <= shares <= 16`.
    #[error("share threshold {threshold} of {shares} is invalid (need 1 <= threshold <= shares <= 16)")]
    InvalidShareCount {
        /// Requested threshold.
        threshold: u8,
        /// Requested number of shares.
        shares: u8,
    },
    /// A share's text is not in the `latch-share-v1:` format.
    #[error("malformed unseal share: {0}")]
    MalformedShare(&'static str),
    /// A share's checksum does not match its content, most likely a typing mistake.
    #[error("unseal share checksum does not match (mistyped share?)")]
    ShareChecksum,
    /// Fewer shares were given than their threshold requires.
    #[error("{given} unseal shares given but {threshold} are needed")]
    TooFewShares {
        /// Number of shares given.
        given: usize,
        /// Number of shares needed.
        threshold: u8,
    },
    /// Two shares with the same index were given.
    #[error("unseal share {index} was given twice")]
    DuplicateShare {
        /// The repeated share index.
        index: u8,
    },
    /// Shares from different splits (or with different thresholds) were mixed.
    #[error("unseal shares come from different splits")]
    MixedShares,
    /// Password hashing failed or the stored hash is malformed.
    #[error("password hashing failed")]
    PasswordHash,
    /// A TOTP seed, issuer or account name was refused.
    #[error("totp setup failed: {0}")]
    Totp(&'static str),
}
