//! Managing users: create, change, disable (which ends their sessions at once), reset, delete.

use crate::{App, AppError, Principal, RequestContext};
use latch_domain::UserId;
use latch_domain::audit::AuditEvent;
use latch_domain::lockout::LockoutState;
use latch_domain::names::Username;
use latch_domain::permission::{Permission, Role};
use latch_domain::user::{User, check_password_policy};
use latch_store::Tx;
use latch_vault::SecretString;
use uuid::Uuid;

/// A new local user. Without a password, a one-time password is generated and returned.
#[derive(Debug)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    pub totp_required: bool,
    pub password: Option<SecretString>,
}

/// Fields to change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub roles: Option<Vec<Role>>,
    pub totp_required: Option<bool>,
}

const MAX_PAGE: i64 = 1000;

impl App {
    pub async fn create_user(
        &self,
        principal: &Principal,
        new: NewUser,
        ctx: &RequestContext,
    ) -> Result<(User, Option<SecretString>), AppError> {
        principal.require(Permission::Admin)?;
        let username = Username::parse(&new.username)?;
        let generated = new.password.is_none().then(crate::tokens::one_time_password);
        let password = match (&new.password, &generated) {
            (Some(given), _) => {
                check_password_policy(given.expose(), &username)?;
                given.clone()
            }
            (None, Some(otp)) => otp.clone(),
            (None, None) => return Err(AppError::Internal("no password".to_owned())),
        };
        let hash = hash_password_blocking(password).await?;
        let now = self.now();
        let user = User {
            id: UserId::from_uuid(Uuid::new_v4()),
            username,
            display_name: check_display_name(&new.display_name)?,
            email: check_email(new.email)?,
            roles: sorted(new.roles),
            disabled: false,
            must_change_password: generated.is_some(),
            totp_enrolled: false,
            totp_required: new.totp_required,
            lockout: LockoutState::default(),
            created_at: now,
            last_login_at: None,
        };
        let mut tx = self.store().begin().await?;
        latch_store::users::insert(&mut tx, &user, Some(&hash)).await.map_err(conflict_as("user"))?;
        let roles = user.roles.iter().map(ToString::to_string).collect();
        let event = AuditEvent::UserCreated { user_id: user.id, username: user.username.to_string(), roles };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok((user, generated))
    }

    pub async fn list_users(&self, principal: &Principal, limit: i64, offset: i64) -> Result<Vec<User>, AppError> {
        principal.require(Permission::UsersRead)?;
        let mut conn = self.store().read().await?;
        Ok(latch_store::users::list(&mut conn, limit.clamp(1, MAX_PAGE), offset.max(0)).await?)
    }

    /// A user by id or username. Users may always see themselves.
    pub async fn get_user(&self, principal: &Principal, key: &str) -> Result<User, AppError> {
        let user = self.find_user(key).await?;
        let is_self = principal.as_user().is_ok_and(|me| me.user().id == user.id);
        if !is_self {
            principal.require(Permission::UsersRead).map_err(|_| AppError::NotFound("user"))?;
        }
        Ok(user)
    }

    pub async fn update_user(
        &self,
        principal: &Principal,
        key: &str,
        change: UserChange,
        ctx: &RequestContext,
    ) -> Result<User, AppError> {
        principal.require(Permission::Admin)?;
        let mut user = self.find_user(key).await?;
        let mut changes = Vec::new();
        if let Some(name) = change.display_name {
            user.display_name = check_display_name(&name)?;
            changes.push("display_name".to_owned());
        }
        if let Some(email) = change.email {
            user.email = check_email(email)?;
            changes.push("email".to_owned());
        }
        if let Some(roles) = change.roles {
            user.roles = sorted(roles);
            changes.push(format!("roles={}", user.roles.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")));
        }
        if let Some(required) = change.totp_required {
            user.totp_required = required;
            changes.push(format!("totp_required={required}"));
        }
        let mut tx = self.store().begin().await?;
        if !user.roles.contains(&Role::Admin) {
            self.refuse_removing_last_admin(&mut tx, &user).await?;
        }
        latch_store::users::update(&mut tx, &user, self.now()).await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::UserUpdated { user_id: user.id, changes }).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Disables or enables a user. Disabling ends every session and token of theirs at once.
    pub async fn set_user_disabled(
        &self,
        principal: &Principal,
        key: &str,
        disabled: bool,
        ctx: &RequestContext,
    ) -> Result<User, AppError> {
        principal.require(Permission::Admin)?;
        let mut user = self.find_user(key).await?;
        if disabled && principal.as_user().is_ok_and(|me| me.user().id == user.id) {
            return Err(AppError::BadRequest("you cannot disable yourself".to_owned()));
        }
        user.disabled = disabled;
        let mut tx = self.store().begin().await?;
        if disabled {
            self.refuse_removing_last_admin(&mut tx, &user).await?;
        }
        latch_store::users::update(&mut tx, &user, self.now()).await?;
        let event = if disabled {
            let ended = latch_store::auth_sessions::delete_for_user(&mut tx, user.id).await?;
            AuditEvent::UserDisabled { user_id: user.id, sessions_ended: ended }
        } else {
            AuditEvent::UserEnabled { user_id: user.id }
        };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        if disabled {
            self.terminate_user_sessions(user.id, &principal.actor(), ctx).await?;
        }
        Ok(user)
    }

    /// Clears the failed-login counter and lock.
    pub async fn unlock_user(&self, principal: &Principal, key: &str, ctx: &RequestContext) -> Result<User, AppError> {
        principal.require(Permission::Admin)?;
        let mut user = self.find_user(key).await?;
        user.lockout = LockoutState::default();
        let mut tx = self.store().begin().await?;
        latch_store::users::set_lockout(&mut tx, user.id, user.lockout).await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::UserUnlocked { user_id: user.id }).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Sets a new one-time password (returned once); the user must change it at next login.
    /// Their sessions end.
    pub async fn reset_user_password(
        &self,
        principal: &Principal,
        key: &str,
        ctx: &RequestContext,
    ) -> Result<SecretString, AppError> {
        principal.require(Permission::Admin)?;
        let user = self.find_user(key).await?;
        let password = crate::tokens::one_time_password();
        let hash = hash_password_blocking(password.clone()).await?;
        let mut tx = self.store().begin().await?;
        latch_store::users::set_password(&mut tx, user.id, &hash, true, self.now()).await?;
        latch_store::users::set_lockout(&mut tx, user.id, LockoutState::default()).await?;
        latch_store::auth_sessions::delete_for_user(&mut tx, user.id).await?;
        let event = AuditEvent::PasswordChanged { user_id: user.id, by_admin: true };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(password)
    }

    /// Removes the user's TOTP enrolment; they enrol again at next login when TOTP is required.
    pub async fn reset_user_totp(
        &self,
        principal: &Principal,
        key: &str,
        ctx: &RequestContext,
    ) -> Result<User, AppError> {
        principal.require(Permission::Admin)?;
        let mut user = self.find_user(key).await?;
        let mut tx = self.store().begin().await?;
        let credentials = latch_store::users::credentials(&mut tx, user.id).await?;
        latch_store::users::set_totp_secret(&mut tx, user.id, None).await?;
        latch_store::users::set_totp_pending(&mut tx, user.id, None).await?;
        for secret in [credentials.totp_secret_id, credentials.totp_pending_secret_id].into_iter().flatten() {
            latch_store::vault::delete_secret(&mut tx, secret).await?;
        }
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::TotpReset { user_id: user.id }).await?;
        tx.commit().await?;
        user.totp_enrolled = false;
        Ok(user)
    }

    pub async fn delete_user(&self, principal: &Principal, key: &str, ctx: &RequestContext) -> Result<(), AppError> {
        principal.require(Permission::Admin)?;
        let user = self.find_user(key).await?;
        if principal.as_user().is_ok_and(|me| me.user().id == user.id) {
            return Err(AppError::BadRequest("you cannot delete yourself".to_owned()));
        }
        let mut tx = self.store().begin().await?;
        self.refuse_removing_last_admin(&mut tx, &user).await?;
        let credentials = latch_store::users::credentials(&mut tx, user.id).await?;
        latch_store::users::delete(&mut tx, user.id).await?;
        for secret in [credentials.totp_secret_id, credentials.totp_pending_secret_id].into_iter().flatten() {
            latch_store::vault::delete_secret(&mut tx, secret).await?;
        }
        let event = AuditEvent::UserDeleted { user_id: user.id, username: user.username.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The caller's own user record.
    pub fn me<'p>(&self, principal: &'p Principal) -> Result<&'p User, AppError> {
        Ok(principal.as_user()?.user())
    }

    pub(crate) async fn find_user(&self, key: &str) -> Result<User, AppError> {
        let mut conn = self.store().read().await?;
        let found = match key.parse::<UserId>() {
            Ok(id) => latch_store::users::find(&mut conn, id).await?,
            Err(_) => match Username::parse(key) {
                Ok(name) => latch_store::users::find_by_username(&mut conn, &name).await?,
                Err(_) => None,
            },
        };
        found.ok_or(AppError::NotFound("user"))
    }

    /// Refuses a change that would leave no enabled user with a direct admin role.
    async fn refuse_removing_last_admin(&self, tx: &mut Tx, user: &User) -> Result<(), AppError> {
        let mut offset = 0;
        loop {
            let page = latch_store::users::list(tx, MAX_PAGE, offset).await?;
            let other_admin = page.iter().any(|u| u.id != user.id && !u.disabled && u.roles.contains(&Role::Admin));
            if other_admin {
                return Ok(());
            }
            if (page.len() as i64) < MAX_PAGE {
                break;
            }
            offset += MAX_PAGE;
        }
        Err(AppError::BadRequest("this would leave Latch without an enabled administrator".to_owned()))
    }
}

/// Hashes a password with Argon2id off the async runtime.
pub(crate) async fn hash_password_blocking(password: SecretString) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || latch_vault::hash_password(&password))
        .await
        .map_err(|e| AppError::Internal(format!("password hash task failed: {e}")))?
        .map_err(AppError::from)
}

pub(crate) fn conflict_as(what: &'static str) -> impl Fn(latch_store::StoreError) -> AppError {
    move |err| match err {
        latch_store::StoreError::Conflict(_) => AppError::Conflict(what),
        other => other.into(),
    }
}

fn sorted(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort();
    roles.dedup();
    roles
}

fn check_display_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(
            latch_domain::DomainError::invalid("display name", "must be at most 200 printable characters").into()
        );
    }
    Ok(name.to_owned())
}

fn check_email(email: Option<String>) -> Result<Option<String>, AppError> {
    let Some(email) = email.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()) else { return Ok(None) };
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(latch_domain::DomainError::invalid("email", "must look like name@example.com").into());
    }
    Ok(Some(email))
}
