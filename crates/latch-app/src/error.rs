//! What a use case can refuse or fail with. Front ends map these to their own codes.

use latch_domain::{DomainError, Timestamp};

/// A refused or failed use case.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("a one-time code from your authenticator app is required")]
    TotpRequired,
    #[error("this identity is locked after too many failed logins; try again later")]
    Locked { until: Timestamp },
    #[error("this identity is disabled")]
    Disabled,
    #[error("the password must be changed before anything else")]
    PasswordChangeRequired,
    #[error("two-factor enrolment must be completed before anything else")]
    TotpEnrollmentRequired,
    #[error("not allowed")]
    Forbidden,
    /// Refused for a reason the caller may see (self-approval, not an approver).
    #[error("{0}")]
    Refused(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The thing changed state meanwhile (already decided, already revoked).
    #[error("{0}")]
    StateConflict(String),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error(transparent)]
    Invalid(#[from] DomainError),
    #[error("{0}")]
    BadRequest(String),
    #[error("the vault is sealed")]
    Sealed,
    #[error("the vault is already initialized")]
    AlreadyInitialized,
    #[error("the vault is not initialized")]
    NotInitialized,
    #[error("the unseal key or passphrase is wrong")]
    WrongUnsealKey,
    #[error("the audit log could not be written, so the action was refused")]
    AuditUnavailable(#[source] latch_store::StoreError),
    #[error("internal error")]
    Store(#[from] latch_store::StoreError),
    #[error("internal error")]
    Vault(#[source] latch_vault::VaultError),
    #[error("internal error")]
    Internal(String),
}

impl From<latch_vault::VaultError> for AppError {
    fn from(err: latch_vault::VaultError) -> Self {
        match err {
            latch_vault::VaultError::Sealed => AppError::Sealed,
            latch_vault::VaultError::WrongUnsealKey => AppError::WrongUnsealKey,
            other => AppError::Vault(other),
        }
    }
}

impl AppError {
    /// Whether this is a fault of Latch (to be logged) rather than a refusal of the caller.
    pub fn is_internal(&self) -> bool {
        matches!(self, AppError::Store(_) | AppError::Vault(_) | AppError::Internal(_) | AppError::AuditUnavailable(_))
    }
}
