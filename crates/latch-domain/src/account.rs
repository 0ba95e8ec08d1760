//! Accounts on targets whose secrets Latch holds.

use crate::names::AccountName;
use crate::{AccountId, DomainError, TargetId, Timestamp};

/// What kind of secret an account has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    Password,
    SshPrivateKey,
}

impl SecretKind {
    pub const fn as_str(&self) -> &'static str {
        match self {
            SecretKind::Password => "password",
            SecretKind::SshPrivateKey => "ssh_private_key",
        }
    }
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value.trim() {
            "password" => Ok(SecretKind::Password),
            "ssh_private_key" | "ssh-key" | "ssh_key" => Ok(SecretKind::SshPrivateKey),
            other => Err(DomainError::invalid(
                "secret kind",
                format!("unknown kind {other:?}; use password or ssh_private_key"),
            )),
        }
    }
    /// The vault binding kind for this secret.
    pub const fn vault_kind(&self) -> &'static str {
        match self {
            SecretKind::Password => "account-password",
            SecretKind::SshPrivateKey => "account-ssh-key",
        }
    }
    /// Checks the shape of a new secret of this kind.
    pub fn check_secret(&self, secret: &str) -> Result<(), DomainError> {
        if secret.is_empty() {
            return Err(DomainError::invalid("secret", "must not be empty"));
        }
        if secret.len() > 16 * 1024 {
            return Err(DomainError::invalid("secret", "must be at most 16 KiB"));
        }
        if *self == SecretKind::SshPrivateKey && !secret.trim_start().starts_with("-----BEGIN ") {
            return Err(DomainError::invalid(
                "secret",
                "an SSH private key must be in PEM or OpenSSH format (-----BEGIN …)",
            ));
        }
        Ok(())
    }
}

/// The editable fields of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSpec {
    pub username: AccountName,
    pub secret_kind: SecretKind,
    /// Only API-enabled accounts can be checked out through the API.
    pub api_enabled: bool,
    /// Queue a rotation whenever a checked-out secret is checked in.
    pub rotate_after_use: bool,
    /// Check-outs are exclusive (one holder at a time); otherwise several may hold it at once.
    pub exclusive_checkout: bool,
    pub description: String,
}

/// An account on a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub target_id: TargetId,
    pub spec: AccountSpec,
    pub has_secret: bool,
    pub secret_updated_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}
