//! Who is calling. Only this crate can construct these, so a use case that takes one knows the
//! caller was authenticated.

use crate::AppError;
use latch_domain::api_account::ApiAccount;
use latch_domain::audit::AuditActor;
use latch_domain::auth_session::AuthSessionStage;
use latch_domain::permission::{Permission, ScopeSet};
use latch_domain::user::{EffectiveRoles, User};
use latch_domain::{ApiTokenId, AuthSessionId};

/// A logged-in user, with the roles of their groups resolved.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    pub(crate) user: User,
    pub(crate) roles: EffectiveRoles,
    pub(crate) session_id: AuthSessionId,
    pub(crate) stage: AuthSessionStage,
}

/// An API account calling with a bearer token from the client-credentials grant.
#[derive(Debug, Clone)]
pub struct AuthenticatedApiAccount {
    pub(crate) account: ApiAccount,
    pub(crate) scopes: ScopeSet,
    pub(crate) token_id: ApiTokenId,
}

/// The caller of a use case.
#[derive(Debug, Clone)]
pub enum Principal {
    User(AuthenticatedUser),
    ApiAccount(AuthenticatedApiAccount),
}

impl AuthenticatedUser {
    pub fn user(&self) -> &User {
        &self.user
    }
    pub fn roles(&self) -> &EffectiveRoles {
        &self.roles
    }
    pub fn session_id(&self) -> AuthSessionId {
        self.session_id
    }
    pub fn stage(&self) -> AuthSessionStage {
        self.stage
    }
}

impl AuthenticatedApiAccount {
    pub fn account(&self) -> &ApiAccount {
        &self.account
    }
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }
    pub fn token_id(&self) -> ApiTokenId {
        self.token_id
    }
}

impl Principal {
    /// Succeeds when the caller holds `permission` and has finished login (password change, TOTP enrolment).
    pub fn require(&self, permission: Permission) -> Result<(), AppError> {
        match self {
            Principal::User(user) => {
                user.require_full_login()?;
                if user.roles.permits(permission) { Ok(()) } else { Err(AppError::Forbidden) }
            }
            Principal::ApiAccount(api) => {
                if api.scopes.permits(permission) {
                    Ok(())
                } else {
                    Err(AppError::Forbidden)
                }
            }
        }
    }

    /// Whether the caller holds `permission` (without the login-stage check).
    pub fn has(&self, permission: Permission) -> bool {
        match self {
            Principal::User(user) => user.stage == AuthSessionStage::Full && user.roles.permits(permission),
            Principal::ApiAccount(api) => api.scopes.permits(permission),
        }
    }

    /// The user behind the call, for self-service use cases; API accounts have none.
    pub fn as_user(&self) -> Result<&AuthenticatedUser, AppError> {
        match self {
            Principal::User(user) => Ok(user),
            Principal::ApiAccount(_) => Err(AppError::Forbidden),
        }
    }

    pub fn actor(&self) -> AuditActor {
        match self {
            Principal::User(u) => AuditActor::User { id: u.user.id, username: u.user.username.to_string() },
            Principal::ApiAccount(a) => AuditActor::ApiAccount { id: a.account.id, name: a.account.name.to_string() },
        }
    }
}

impl AuthenticatedUser {
    pub(crate) fn require_full_login(&self) -> Result<(), AppError> {
        match self.stage {
            AuthSessionStage::Full => Ok(()),
            AuthSessionStage::PasswordChangeRequired => Err(AppError::PasswordChangeRequired),
            AuthSessionStage::TotpEnrollmentRequired => Err(AppError::TotpEnrollmentRequired),
        }
    }
}
