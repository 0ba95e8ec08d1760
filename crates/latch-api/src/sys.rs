use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Whether the vault is initialized and sealed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct VaultStatusView {
    pub initialized: bool,
    pub sealed: bool,
    /// `key_file`, `passphrase` or `shamir`.
    pub mode: Option<String>,
    pub shares_received: usize,
    pub shares_threshold: Option<u8>,
    pub version: String,
}

/// Exactly one of the fields unseals the vault.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsealRequest {
    /// The text of an unseal key file.
    pub key_file: Option<String>,
    pub passphrase: Option<String>,
    /// One Shamir share; send shares one per request until unsealed.
    pub share: Option<String>,
}

/// The outcome of a root-key rotation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct RotationView {
    pub new_root_key_id: String,
    pub rewrapped: i64,
    pub retired_root_keys: usize,
}

crate::redact::redacted_debug!(UnsealRequest {  } hides { key_file, passphrase, share });
