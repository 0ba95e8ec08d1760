//! Logging in and out, bearer tokens, password change and TOTP enrolment.
//!
//! Every way of logging in goes through [`App::check_password_and_code`], so the one failed-login
//! counter of an identity counts failures from the API, the web and SSH alike.

use crate::principal::{AuthenticatedApiAccount, AuthenticatedUser};
use crate::tokens::{self, API_TOKEN_PREFIX, SESSION_PREFIX};
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AuditActor, AuditEvent, LoginMethod};
use latch_domain::auth_session::{AuthSession, AuthSessionKind, AuthSessionStage};
use latch_domain::names::Username;
use latch_domain::user::{EffectiveRoles, User, check_password_policy};
use latch_domain::{AuthSessionId, SecretId, TimeSpan};
use latch_vault::{SecretString, TotpSeed};
use uuid::Uuid;

const TOTP_KIND: &str = "user-totp-seed";
/// Sessions are touched at most this often, so reads do not each become a write.
const TOUCH_EVERY: TimeSpan = TimeSpan::from_secs(30);

/// A login attempt with a password and, when enrolled, a TOTP code.
#[derive(Debug)]
pub struct LoginRequest {
    pub username: String,
    pub password: SecretString,
    pub totp_code: Option<String>,
    pub kind: AuthSessionKind,
}

/// A successful login: the token is shown once.
#[derive(Debug)]
pub struct LoginOutcome {
    pub token: SecretString,
    pub session: AuthSession,
    pub user: User,
}

/// A started TOTP enrolment: show the URI as a QR code, then confirm with a first code.
#[derive(Debug)]
pub struct TotpEnrollment {
    pub otpauth_uri: SecretString,
    pub qr_png_base64: SecretString,
}

impl App {
    /// Logs in with username, password and TOTP code; opens a session of `kind`.
    pub async fn login(&self, request: LoginRequest, ctx: &RequestContext) -> Result<LoginOutcome, AppError> {
        let user = self
            .check_password_and_code(
                &request.username,
                &request.password,
                request.totp_code.as_deref(),
                LoginMethod::Password,
                ctx,
            )
            .await?;
        let now = self.now();
        let stage = if user.must_change_password {
            AuthSessionStage::PasswordChangeRequired
        } else if user.totp_required && !user.totp_enrolled {
            AuthSessionStage::TotpEnrollmentRequired
        } else {
            AuthSessionStage::Full
        };
        let session = AuthSession {
            id: AuthSessionId::from_uuid(Uuid::new_v4()),
            user_id: user.id,
            kind: request.kind,
            stage,
            created_at: now,
            last_seen_at: now,
            source: ctx.source_text(),
        };
        let token = tokens::generate(SESSION_PREFIX);
        let mut tx = self.store().begin().await?;
        latch_store::auth_sessions::insert(&mut tx, &session, &tokens::hash(token.expose())).await?;
        latch_store::users::record_login(&mut tx, user.id, now).await?;
        let event = AuditEvent::LoginSucceeded {
            method: LoginMethod::Password,
            session_kind: request.kind.as_str().to_owned(),
        };
        self.audit(&mut tx, ctx, &user_actor(&user), event).await?;
        tx.commit().await?;
        Ok(LoginOutcome { token, session, user })
    }

    /// Checks a password (and TOTP code when enrolled) for `username`, counting failures against
    /// the identity's lockout. Used by every login path; opens no session.
    pub async fn check_password_and_code(
        &self,
        username: &str,
        password: &SecretString,
        totp_code: Option<&str>,
        method: LoginMethod,
        ctx: &RequestContext,
    ) -> Result<User, AppError> {
        let now = self.now();
        let found = match Username::parse(username) {
            Ok(name) => {
                let mut conn = self.store().read().await?;
                latch_store::users::find_by_username(&mut conn, &name).await?
            }
            Err(_) => None,
        };
        let Some(user) = found else {
            let password = password.clone();
            let _ = tokio::task::spawn_blocking(move || latch_vault::dummy_verify(&password)).await;
            self.audit_failure(ctx, None, username, method, "unknown user").await?;
            return Err(AppError::InvalidCredentials);
        };
        if user.lockout.is_locked(now) {
            self.audit_failure(ctx, Some(&user), username, method, "locked").await?;
            return Err(AppError::Locked { until: user.lockout.locked_until.unwrap_or(now) });
        }
        let mut conn = self.store().read().await?;
        let credentials = latch_store::users::credentials(&mut conn, user.id).await?;
        drop(conn);
        let password_ok = match credentials.password_hash {
            Some(hash) => verify_password_blocking(password.clone(), hash).await?,
            None => false,
        };
        if !password_ok {
            return Err(self.count_failure(&user, method, "wrong password", ctx).await?);
        }
        if user.disabled {
            self.audit_failure(ctx, Some(&user), username, method, "disabled").await?;
            return Err(AppError::Disabled);
        }
        if credentials.totp_secret_id.is_some() {
            let Some(code) = totp_code.filter(|c| !c.trim().is_empty()) else {
                return Err(AppError::TotpRequired);
            };
            self.verify_second_factor(&user, code, ctx).await?;
        }
        Ok(user)
    }

    /// Checks a TOTP code of `user` (each code once), counting a wrong code toward the lockout.
    pub(crate) async fn verify_second_factor(
        &self,
        user: &User,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<(), AppError> {
        let now = self.now();
        let mut conn = self.store().read().await?;
        let seed_id = latch_store::users::credentials(&mut conn, user.id).await?.totp_secret_id;
        drop(conn);
        let Some(seed_id) = seed_id else {
            return Err(AppError::BadRequest("enrol an authenticator app in Latch first".to_owned()));
        };
        let seed = self.totp_seed(seed_id, user).await?;
        let step = latch_vault::totp_verify(&seed, code.trim(), unix_seconds(now));
        let mut tx = self.store().begin().await?;
        let fresh = match step {
            Some(step) => latch_store::users::use_totp_step(&mut tx, user.id, step_i64(step)).await?,
            None => false,
        };
        tx.commit().await?;
        if !fresh {
            return Err(self.count_failure(user, LoginMethod::Totp, "wrong or reused totp code", ctx).await?);
        }
        Ok(())
    }

    /// Resolves a bearer token (session or API token) to its principal.
    pub async fn authenticate(&self, token: &str, ctx: &RequestContext) -> Result<Principal, AppError> {
        if token.starts_with(SESSION_PREFIX) {
            return self.authenticate_session(token).await.map(Principal::User);
        }
        if token.starts_with(API_TOKEN_PREFIX) {
            return self.authenticate_api_token(token, ctx).await.map(Principal::ApiAccount);
        }
        Err(AppError::Unauthenticated)
    }

    async fn authenticate_session(&self, token: &str) -> Result<AuthenticatedUser, AppError> {
        let now = self.now();
        let mut conn = self.store().read().await?;
        let session = latch_store::auth_sessions::find_by_token_hash(&mut conn, &tokens::hash(token))
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if session.expiry(&self.config().session_timeouts, now).is_some() {
            drop(conn);
            let mut tx = self.store().begin().await?;
            latch_store::auth_sessions::delete(&mut tx, session.id).await?;
            tx.commit().await?;
            return Err(AppError::Unauthenticated);
        }
        let user = latch_store::users::find(&mut conn, session.user_id).await?.ok_or(AppError::Unauthenticated)?;
        if user.disabled {
            return Err(AppError::Unauthenticated);
        }
        let groups = latch_store::groups::of_user(&mut conn, user.id).await?;
        drop(conn);
        if now.since(session.last_seen_at) >= TOUCH_EVERY {
            let mut tx = self.store().begin().await?;
            latch_store::auth_sessions::touch(&mut tx, session.id, now).await?;
            tx.commit().await?;
        }
        let roles = EffectiveRoles::collect(&user.roles, &groups);
        Ok(AuthenticatedUser { user, roles, session_id: session.id, stage: session.stage })
    }

    async fn authenticate_api_token(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<AuthenticatedApiAccount, AppError> {
        let now = self.now();
        let mut conn = self.store().read().await?;
        let issued = latch_store::api_accounts::find_token_by_hash(&mut conn, &tokens::hash(token))
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if now >= issued.expires_at {
            return Err(AppError::Unauthenticated);
        }
        let account = latch_store::api_accounts::find(&mut conn, issued.api_account_id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if account.revoked {
            return Err(AppError::Unauthenticated);
        }
        if let Some(source) = ctx.source
            && !account.allowed_sources.allows(source)
        {
            return Err(AppError::Unauthenticated);
        }
        // Scopes removed from the account since the token was issued no longer apply.
        let scopes = latch_domain::permission::ScopeSet::new(
            issued.scopes.iter().filter(|p| account.scopes.permits(*p)).collect(),
        );
        Ok(AuthenticatedApiAccount { account, scopes, token_id: issued.id })
    }

    /// Ends the caller's own session.
    pub async fn logout(&self, principal: &Principal, ctx: &RequestContext) -> Result<(), AppError> {
        let user = principal.as_user()?;
        let mut tx = self.store().begin().await?;
        latch_store::auth_sessions::delete(&mut tx, user.session_id).await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Logout).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the caller's own password; the current one must be given again.
    pub async fn change_own_password(
        &self,
        principal: &Principal,
        current: SecretString,
        new: SecretString,
        ctx: &RequestContext,
    ) -> Result<(), AppError> {
        let me = principal.as_user()?;
        check_password_policy(new.expose(), &me.user.username)?;
        if current.expose() == new.expose() {
            return Err(AppError::BadRequest("the new password must differ from the current one".to_owned()));
        }
        let mut conn = self.store().read().await?;
        let hash = latch_store::users::credentials(&mut conn, me.user.id).await?.password_hash.unwrap_or_default();
        drop(conn);
        if !verify_password_blocking(current, hash).await? {
            return Err(self.count_failure(&me.user, LoginMethod::Password, "wrong current password", ctx).await?);
        }
        let new_hash = crate::users::hash_password_blocking(new).await?;
        let next_stage = if me.user.totp_required && !me.user.totp_enrolled {
            AuthSessionStage::TotpEnrollmentRequired
        } else {
            AuthSessionStage::Full
        };
        let mut tx = self.store().begin().await?;
        latch_store::users::set_password(&mut tx, me.user.id, &new_hash, false, self.now()).await?;
        latch_store::auth_sessions::set_stage(&mut tx, me.session_id, next_stage).await?;
        let event = AuditEvent::PasswordChanged { user_id: me.user.id, by_admin: false };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Starts TOTP enrolment for the caller: a new seed waits for its first code.
    pub async fn begin_totp_enrollment(&self, principal: &Principal) -> Result<TotpEnrollment, AppError> {
        let me = principal.as_user()?;
        let seed = TotpSeed::generate();
        let issuer = self.config().totp_issuer.clone();
        let account = me.user.username.to_string();
        let uri = latch_vault::totp_otpauth_uri(&seed, &issuer, &account)?;
        let qr = latch_vault::totp_qr_png_base64(&seed, &issuer, &account)?;
        let mut tx = self.store().begin().await?;
        let old = latch_store::users::credentials(&mut tx, me.user.id).await?.totp_pending_secret_id;
        let id = self.seal_new_secret(&mut tx, TOTP_KIND, me.user.id.as_uuid(), seed.as_bytes()).await?;
        latch_store::users::set_totp_pending(&mut tx, me.user.id, Some(id)).await?;
        if let Some(old) = old {
            latch_store::vault::delete_secret(&mut tx, old).await?;
        }
        tx.commit().await?;
        Ok(TotpEnrollment { otpauth_uri: SecretString::new(uri), qr_png_base64: SecretString::new(qr) })
    }

    /// Confirms enrolment with a first code from the new seed.
    pub async fn confirm_totp_enrollment(
        &self,
        principal: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<(), AppError> {
        let me = principal.as_user()?;
        let mut conn = self.store().read().await?;
        let credentials = latch_store::users::credentials(&mut conn, me.user.id).await?;
        drop(conn);
        let pending = credentials
            .totp_pending_secret_id
            .ok_or_else(|| AppError::BadRequest("no enrolment in progress; start one first".to_owned()))?;
        let seed = self.totp_seed(pending, &me.user).await?;
        let step = latch_vault::totp_verify(&seed, code, unix_seconds(self.now())).ok_or_else(|| {
            AppError::BadRequest("the code does not match; check the device's clock and try again".to_owned())
        })?;
        let mut tx = self.store().begin().await?;
        latch_store::users::set_totp_pending(&mut tx, me.user.id, None).await?;
        latch_store::users::set_totp_secret(&mut tx, me.user.id, Some(pending)).await?;
        latch_store::users::use_totp_step(&mut tx, me.user.id, step_i64(step)).await?;
        if let Some(old) = credentials.totp_secret_id {
            latch_store::vault::delete_secret(&mut tx, old).await?;
        }
        if me.stage == AuthSessionStage::TotpEnrollmentRequired {
            latch_store::auth_sessions::set_stage(&mut tx, me.session_id, AuthSessionStage::Full).await?;
        }
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::TotpEnrolled { user_id: me.user.id }).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn totp_seed(&self, id: SecretId, user: &User) -> Result<TotpSeed, AppError> {
        let mut conn = self.store().read().await?;
        let bytes = self.open_secret(&mut conn, id, TOTP_KIND, user.id.as_uuid()).await?;
        Ok(TotpSeed::from_bytes(bytes)?)
    }

    /// Records a failed login against `user` and returns the error to give the caller.
    async fn count_failure(
        &self,
        user: &User,
        method: LoginMethod,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<AppError, AppError> {
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let current =
            latch_store::users::find_for_update(&mut tx, user.id).await?.ok_or(AppError::InvalidCredentials)?;
        let next = current.lockout.after_failure(&self.config().lockout, now);
        latch_store::users::set_lockout(&mut tx, user.id, next).await?;
        let anonymous = AuditActor::Anonymous;
        let failed = AuditEvent::LoginFailed { username: user.username.to_string(), method, reason: reason.to_owned() };
        self.audit(&mut tx, ctx, &anonymous, failed).await?;
        let newly_locked = next.is_locked(now) && !current.lockout.is_locked(now);
        if let (true, Some(until)) = (newly_locked, next.locked_until) {
            let locked = AuditEvent::IdentityLocked { username: user.username.to_string(), until };
            self.audit(&mut tx, ctx, &AuditActor::System, locked).await?;
        }
        tx.commit().await?;
        match next.locked_until {
            Some(until) if next.is_locked(now) => Ok(AppError::Locked { until }),
            _ => Ok(AppError::InvalidCredentials),
        }
    }

    async fn audit_failure(
        &self,
        ctx: &RequestContext,
        user: Option<&User>,
        username: &str,
        method: LoginMethod,
        reason: &str,
    ) -> Result<(), AppError> {
        let name: String = user.map(|u| u.username.to_string()).unwrap_or_else(|| username.chars().take(64).collect());
        let mut tx = self.store().begin().await?;
        let event = AuditEvent::LoginFailed { username: name, method, reason: reason.to_owned() };
        self.audit(&mut tx, ctx, &AuditActor::Anonymous, event).await?;
        tx.commit().await.map_err(AppError::from)
    }
}

pub(crate) fn user_actor(user: &User) -> AuditActor {
    AuditActor::User { id: user.id, username: user.username.to_string() }
}

async fn verify_password_blocking(password: SecretString, hash: String) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || latch_vault::verify_password(&password, &hash))
        .await
        .map_err(|e| AppError::Internal(format!("password check task failed: {e}")))
}

fn unix_seconds(now: latch_domain::Timestamp) -> u64 {
    u64::try_from(now.as_unix_seconds()).unwrap_or(0)
}

fn step_i64(step: u64) -> i64 {
    i64::try_from(step).unwrap_or(i64::MAX)
}
