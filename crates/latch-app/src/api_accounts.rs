//! API accounts and the OAuth 2.0 client-credentials grant.

use crate::principal::Principal;
use crate::tokens::{self, API_TOKEN_PREFIX, CLIENT_SECRET_PREFIX};
use crate::users::conflict_as;
use crate::{App, AppError, RequestContext};
use latch_domain::api_account::{ApiAccount, ApiToken, SourceRanges, check_token_ttl};
use latch_domain::audit::{AuditActor, AuditEvent, LoginMethod};
use latch_domain::lockout::LockoutState;
use latch_domain::names::ApiAccountName;
use latch_domain::permission::{Permission, ScopeSet};
use latch_domain::{ApiAccountId, ApiTokenId, TimeSpan, Timestamp};
use latch_vault::SecretString;
use uuid::Uuid;

/// A new API account.
#[derive(Debug)]
pub struct NewApiAccount {
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub allowed_sources: Vec<String>,
    pub token_ttl_secs: Option<i64>,
}

/// Fields to change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct ApiAccountChange {
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allowed_sources: Option<Vec<String>>,
    pub token_ttl_secs: Option<i64>,
}

/// An API account with its client secret, shown once.
#[derive(Debug)]
pub struct IssuedApiSecret {
    pub account: ApiAccount,
    pub client_secret: SecretString,
}

/// An access token from the client-credentials grant.
#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: SecretString,
    pub expires_at: Timestamp,
    pub expires_in_secs: i64,
    pub scopes: ScopeSet,
}

impl App {
    pub async fn create_api_account(
        &self,
        principal: &Principal,
        new: NewApiAccount,
        ctx: &RequestContext,
    ) -> Result<IssuedApiSecret, AppError> {
        principal.require(Permission::Admin)?;
        let now = self.now();
        let ttl = match new.token_ttl_secs {
            Some(secs) => check_token_ttl(TimeSpan::from_secs(secs))?,
            None => App::DEFAULT_API_TOKEN_TTL,
        };
        let account = ApiAccount {
            id: ApiAccountId::from_uuid(Uuid::new_v4()),
            name: ApiAccountName::parse(&new.name)?,
            description: crate::groups::check_description(&new.description)?,
            scopes: ScopeSet::parse_list(new.scopes.iter().map(String::as_str))?,
            allowed_sources: SourceRanges::parse_list(new.allowed_sources.iter().map(String::as_str))?,
            token_ttl: ttl,
            revoked: false,
            lockout: LockoutState::default(),
            created_at: now,
            secret_rotated_at: now,
        };
        let secret = tokens::generate(CLIENT_SECRET_PREFIX);
        let mut tx = self.store().begin().await?;
        latch_store::api_accounts::insert(&mut tx, &account, &tokens::hash(secret.expose()))
            .await
            .map_err(conflict_as("api account"))?;
        let event = AuditEvent::ApiAccountCreated {
            api_account_id: account.id,
            name: account.name.to_string(),
            scopes: account.scopes.iter().map(|s| s.to_string()).collect(),
        };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(IssuedApiSecret { account, client_secret: secret })
    }

    pub async fn list_api_accounts(&self, principal: &Principal) -> Result<Vec<ApiAccount>, AppError> {
        principal.require(Permission::Admin)?;
        let mut conn = self.store().read().await?;
        Ok(latch_store::api_accounts::list(&mut conn).await?)
    }

    pub async fn get_api_account(&self, principal: &Principal, key: &str) -> Result<ApiAccount, AppError> {
        principal.require(Permission::Admin)?;
        self.find_api_account(key).await?.ok_or(AppError::NotFound("api account"))
    }

    pub async fn update_api_account(
        &self,
        principal: &Principal,
        key: &str,
        change: ApiAccountChange,
        ctx: &RequestContext,
    ) -> Result<ApiAccount, AppError> {
        principal.require(Permission::Admin)?;
        let mut account = self.find_api_account(key).await?.ok_or(AppError::NotFound("api account"))?;
        let mut changes = Vec::new();
        if let Some(description) = change.description {
            account.description = crate::groups::check_description(&description)?;
            changes.push("description".to_owned());
        }
        if let Some(scopes) = change.scopes {
            account.scopes = ScopeSet::parse_list(scopes.iter().map(String::as_str))?;
            changes.push(format!("scopes={}", scopes.join(" ")));
        }
        if let Some(sources) = change.allowed_sources {
            account.allowed_sources = SourceRanges::parse_list(sources.iter().map(String::as_str))?;
            changes.push(format!("allowed_sources={}", sources.join(",")));
        }
        if let Some(secs) = change.token_ttl_secs {
            account.token_ttl = check_token_ttl(TimeSpan::from_secs(secs))?;
            changes.push(format!("token_ttl={}", account.token_ttl));
        }
        let mut tx = self.store().begin().await?;
        latch_store::api_accounts::update(&mut tx, &account, self.now()).await?;
        let event = AuditEvent::ApiAccountUpdated { api_account_id: account.id, changes };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(account)
    }

    /// Issues a new client secret; the old one and every token issued with it stop working.
    pub async fn rotate_api_account_secret(
        &self,
        principal: &Principal,
        key: &str,
        ctx: &RequestContext,
    ) -> Result<IssuedApiSecret, AppError> {
        principal.require(Permission::Admin)?;
        let mut account = self.find_api_account(key).await?.ok_or(AppError::NotFound("api account"))?;
        let secret = tokens::generate(CLIENT_SECRET_PREFIX);
        let now = self.now();
        let mut tx = self.store().begin().await?;
        latch_store::api_accounts::set_secret_hash(&mut tx, account.id, &tokens::hash(secret.expose()), now).await?;
        latch_store::api_accounts::delete_tokens_for_account(&mut tx, account.id).await?;
        latch_store::api_accounts::record_success(&mut tx, account.id).await?;
        let event = AuditEvent::ApiAccountSecretRotated { api_account_id: account.id };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        account.secret_rotated_at = now;
        account.lockout = LockoutState::default();
        Ok(IssuedApiSecret { account, client_secret: secret })
    }

    /// Revokes an API account: its tokens stop working at once and no new ones are issued.
    pub async fn revoke_api_account(
        &self,
        principal: &Principal,
        key: &str,
        ctx: &RequestContext,
    ) -> Result<ApiAccount, AppError> {
        principal.require(Permission::Admin)?;
        let mut account = self.find_api_account(key).await?.ok_or(AppError::NotFound("api account"))?;
        account.revoked = true;
        let mut tx = self.store().begin().await?;
        latch_store::api_accounts::update(&mut tx, &account, self.now()).await?;
        latch_store::api_accounts::delete_tokens_for_account(&mut tx, account.id).await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::ApiAccountRevoked { api_account_id: account.id })
            .await?;
        tx.commit().await?;
        Ok(account)
    }

    /// The OAuth 2.0 client-credentials grant. `requested_scope` is the space-separated `scope`
    /// parameter; without it the token gets every scope of the account.
    pub async fn issue_client_credentials_token(
        &self,
        client_id: &str,
        client_secret: &SecretString,
        requested_scope: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<IssuedToken, AppError> {
        let now = self.now();
        let Some(account) = self.find_api_account(client_id).await? else {
            self.audit_client_failure(client_id, "unknown client", ctx).await?;
            return Err(AppError::InvalidCredentials);
        };
        if account.lockout.is_locked(now) {
            self.audit_client_failure(client_id, "locked", ctx).await?;
            return Err(AppError::Locked { until: account.lockout.locked_until.unwrap_or(now) });
        }
        let mut conn = self.store().read().await?;
        let stored = latch_store::api_accounts::secret_hash(&mut conn, account.id).await?;
        drop(conn);
        let secret_ok =
            latch_vault::constant_time_eq(tokens::hash(client_secret.expose()).as_bytes(), stored.as_bytes());
        if !secret_ok {
            return Err(self.count_client_failure(&account, ctx).await?);
        }
        let source_ok = ctx.source.is_none_or(|ip| account.allowed_sources.allows(ip));
        if account.revoked || !source_ok {
            let reason = if account.revoked { "revoked" } else { "source address not allowed" };
            self.audit_client_failure(client_id, reason, ctx).await?;
            return Err(AppError::InvalidCredentials);
        }
        let scopes = match requested_scope.map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => account.scopes.narrowed_to(&ScopeSet::parse_list(text.split_whitespace())?)?,
            None => account.scopes.clone(),
        };
        let token = ApiToken {
            id: ApiTokenId::from_uuid(Uuid::new_v4()),
            api_account_id: account.id,
            scopes: scopes.clone(),
            source: ctx.source_text(),
            issued_at: now,
            expires_at: now.plus(account.token_ttl),
        };
        let access_token = tokens::generate(API_TOKEN_PREFIX);
        let mut tx = self.store().begin().await?;
        latch_store::api_accounts::insert_token(&mut tx, &token, &tokens::hash(access_token.expose())).await?;
        latch_store::api_accounts::record_success(&mut tx, account.id).await?;
        let actor = AuditActor::ApiAccount { id: account.id, name: account.name.to_string() };
        let event = AuditEvent::ApiTokenIssued {
            api_account_id: account.id,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            expires_at: token.expires_at,
        };
        self.audit(&mut tx, ctx, &actor, event).await?;
        tx.commit().await?;
        Ok(IssuedToken {
            access_token,
            expires_at: token.expires_at,
            expires_in_secs: account.token_ttl.as_secs(),
            scopes,
        })
    }

    async fn find_api_account(&self, key: &str) -> Result<Option<ApiAccount>, AppError> {
        let mut conn = self.store().read().await?;
        if let Ok(id) = key.parse::<ApiAccountId>() {
            return Ok(latch_store::api_accounts::find(&mut conn, id).await?);
        }
        match ApiAccountName::parse(key) {
            Ok(name) => Ok(latch_store::api_accounts::find_by_name(&mut conn, &name).await?),
            Err(_) => Ok(None),
        }
    }

    async fn count_client_failure(&self, account: &ApiAccount, ctx: &RequestContext) -> Result<AppError, AppError> {
        let now = self.now();
        let next = account.lockout.after_failure(&self.config().lockout, now);
        let mut tx = self.store().begin().await?;
        latch_store::api_accounts::set_lockout(&mut tx, account.id, next).await?;
        let failed = AuditEvent::LoginFailed {
            username: account.name.to_string(),
            method: LoginMethod::ClientCredentials,
            reason: "wrong client secret".to_owned(),
        };
        self.audit(&mut tx, ctx, &AuditActor::Anonymous, failed).await?;
        if let (true, Some(until)) = (next.is_locked(now) && !account.lockout.is_locked(now), next.locked_until) {
            let locked = AuditEvent::IdentityLocked { username: account.name.to_string(), until };
            self.audit(&mut tx, ctx, &AuditActor::System, locked).await?;
        }
        tx.commit().await?;
        match next.locked_until {
            Some(until) if next.is_locked(now) => Ok(AppError::Locked { until }),
            _ => Ok(AppError::InvalidCredentials),
        }
    }

    async fn audit_client_failure(&self, client_id: &str, reason: &str, ctx: &RequestContext) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        let event = AuditEvent::LoginFailed {
            username: client_id.chars().take(64).collect(),
            method: LoginMethod::ClientCredentials,
            reason: reason.to_owned(),
        };
        self.audit(&mut tx, ctx, &AuditActor::Anonymous, event).await?;
        tx.commit().await?;
        Ok(())
    }
}
