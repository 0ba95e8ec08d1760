//! Latch's cryptography: secrets in memory, the unseal key and its shares, root keys, envelope
//! encryption of stored secrets, password hashing, TOTP and the audit hash chain.
//!
//! Architecture Invariant: this crate does no IO at all (no files, sockets or databases): bytes in,
//! bytes out. Randomness comes only from `rand::rng()`, a CSPRNG.

mod aead_box;
mod associated_data;
mod gf256;
mod random;

pub mod audit_chain;
pub mod digest;
pub mod error;
pub mod kdf_params;
pub mod keyring;
pub mod password;
pub mod root_key;
pub mod secret;
pub mod shamir;
pub mod totp;
pub mod unseal_key;
pub mod unseal_share;
pub mod vault;

pub use audit_chain::AuditChainKey;
pub use digest::{constant_time_eq, sha256};
pub use error::VaultError;
pub use kdf_params::KdfParams;
pub use keyring::{Keyring, SealedSecret, SecretBinding};
pub use password::{dummy_verify, hash_password, verify_password};
pub use root_key::{RootKey, RootKeyId, unwrap_root_key, wrap_root_key};
pub use secret::{Secret, SecretBytes, SecretString};
pub use shamir::{combine_unseal_shares, split_unseal_key};
pub use totp::{TotpSeed, totp_code_at, totp_otpauth_uri, totp_qr_png_base64, totp_verify};
pub use unseal_key::UnsealKey;
pub use unseal_share::UnsealShare;
pub use vault::Vault;
