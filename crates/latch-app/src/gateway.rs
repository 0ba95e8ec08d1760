//! What a gateway front end (SSH today) asks of Latch: who is this person, may they use this account on this
//! target now, the credential to log in with, and the record of the session.
//!
//! Architecture Invariant: an account's credential is decrypted only by [`App::open_connection_credential`], which
//! takes a [`ConnectionGrant`]; only [`App::authorize_connection`] constructs one, after checking standing access or
//! a valid grant. A front end that forgets to authorize cannot get a credential.

use crate::access::access_to;
use crate::auth::user_actor;
use crate::live_sessions::{LiveSession, LiveSessionKey};
use crate::{App, AppError, RequestContext};
use latch_domain::account::{Account, SecretKind};
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent, LoginMethod};
use latch_domain::gateway_session::{GatewaySession, RecordingRetention, SessionEndReason, SessionEventEntry};
use latch_domain::grant::Grant;
use latch_domain::names::{AccountName, TargetName, Username};
use latch_domain::policy::{ForwardingRules, Policy, Requester};
use latch_domain::target::{Protocol, Target};
use latch_domain::user::User;
use latch_domain::{GatewaySessionId, GroupId, Timestamp};
use latch_store::gateway_sessions::SessionEnd;
use latch_vault::{SecretBytes, SecretString};
use uuid::Uuid;

/// A person authenticated at a gateway. Only this crate constructs it.
#[derive(Debug, Clone)]
pub struct GatewayIdentity {
    user: User,
    /// Whether a second factor (TOTP) was part of this login.
    mfa: bool,
}

impl GatewayIdentity {
    pub fn user(&self) -> &User {
        &self.user
    }
    pub fn has_mfa(&self) -> bool {
        self.mfa
    }
}

/// Proof that a person may use one account on one target now, and on what terms. Only this crate constructs it.
#[derive(Debug, Clone)]
pub struct ConnectionGrant {
    session_id: GatewaySessionId,
    user: User,
    target: Target,
    account: Account,
    policy: Policy,
    grant: Option<Grant>,
    protocol: Protocol,
}

impl ConnectionGrant {
    /// The id the session will have once started.
    pub fn session_id(&self) -> GatewaySessionId {
        self.session_id
    }
    pub fn user(&self) -> &User {
        &self.user
    }
    pub fn target(&self) -> &Target {
        &self.target
    }
    pub fn account(&self) -> &Account {
        &self.account
    }
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
    pub fn grant(&self) -> Option<&Grant> {
        self.grant.as_ref()
    }
    /// When access ends by itself (the grant's end); `None` for standing access.
    pub fn valid_until(&self) -> Option<Timestamp> {
        self.grant.as_ref().map(Grant::valid_until)
    }
    pub fn forwarding(&self) -> ForwardingRules {
        self.policy.spec.rules.forwarding
    }
    pub fn record_input(&self) -> bool {
        self.policy.spec.rules.record_input
    }
    /// Whether the session must end (or not start) when its recording cannot be written.
    pub fn recording_required(&self) -> bool {
        self.policy.spec.rules.recording_required
    }
    pub fn consent_banner(&self) -> Option<&str> {
        self.policy.spec.rules.consent_banner.as_deref()
    }
}

/// The secret a gateway logs in to the target with. Never printed.
#[derive(Debug)]
pub struct TargetCredential {
    pub username: String,
    pub secret: TargetSecret,
}

/// The account's secret, by kind.
#[derive(Debug)]
pub enum TargetSecret {
    Password(SecretString),
    PrivateKey(SecretString),
}

/// What the front end knows when a session starts.
#[derive(Debug, Clone, Default)]
pub struct SessionStart {
    /// Where the recording is written, relative to the recordings store.
    pub recording: Option<String>,
    pub consent_accepted_at: Option<Timestamp>,
}

/// Byte counts of a finished session.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionTraffic {
    pub to_target: u64,
    pub from_target: u64,
}

impl App {
    /// Whether the key with `fingerprint` is registered to `username`. Lets the SSH layer ask only for signatures
    /// it could accept; the decision is [`gateway_login_with_key`](Self::gateway_login_with_key).
    pub async fn gateway_key_registered(&self, username: &str, fingerprint: &str) -> Result<bool, AppError> {
        Ok(self.user_of_key(username, fingerprint).await?.is_some())
    }

    /// Logs in a person whose signature with the key `fingerprint` the SSH layer has verified.
    pub async fn gateway_login_with_key(
        &self,
        username: &str,
        fingerprint: &str,
        ctx: &RequestContext,
    ) -> Result<GatewayIdentity, AppError> {
        let user = self.user_of_key(username, fingerprint).await?.ok_or(AppError::InvalidCredentials)?;
        let now = self.now();
        if user.lockout.is_locked(now) {
            return Err(AppError::Locked { until: user.lockout.locked_until.unwrap_or(now) });
        }
        if user.disabled {
            return Err(AppError::Disabled);
        }
        self.audit_gateway_login(&user, LoginMethod::SshPublicKey, ctx).await?;
        Ok(GatewayIdentity { user, mfa: false })
    }

    /// Logs in with password and, when the user has enrolled, a TOTP code (`AppError::TotpRequired` asks for it).
    /// Failures count toward the same lockout as every other login path.
    pub async fn gateway_login_with_password(
        &self,
        username: &str,
        password: &SecretString,
        totp_code: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<GatewayIdentity, AppError> {
        let method = LoginMethod::SshKeyboardInteractive;
        let user = self.check_password_and_code(username, password, totp_code, method, ctx).await?;
        if user.must_change_password {
            return Err(AppError::PasswordChangeRequired);
        }
        self.audit_gateway_login(&user, method, ctx).await?;
        let mfa = user.totp_enrolled;
        Ok(GatewayIdentity { user, mfa })
    }

    /// Adds a second factor to a key login, for policies that require MFA to connect.
    pub async fn gateway_add_totp(
        &self,
        identity: &GatewayIdentity,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<GatewayIdentity, AppError> {
        self.verify_second_factor(&identity.user, code, ctx).await?;
        Ok(GatewayIdentity { user: identity.user.clone(), mfa: true })
    }

    /// Decides whether `who` may use `account` (or their only account) on `target` through `protocol` now.
    ///
    /// Unknown target, unknown account and no access all give `Forbidden`, so the gateway reveals nothing about
    /// what exists; the reason is in the audit log.
    pub async fn authorize_connection(
        &self,
        who: &GatewayIdentity,
        target: &str,
        account: Option<&str>,
        protocol: Protocol,
        ctx: &RequestContext,
    ) -> Result<ConnectionGrant, AppError> {
        match self.find_access(who, target, account, protocol, ctx).await {
            Ok(grant) => {
                if grant.policy.spec.rules.mfa_to_connect && !who.mfa {
                    return Err(AppError::TotpRequired);
                }
                Ok(grant)
            }
            Err(Refusal::Ambiguous(names)) => Err(AppError::BadRequest(format!(
                "you may use several accounts there ({}); name one as user@account@target",
                names.join(", ")
            ))),
            Err(Refusal::App(err)) => Err(err),
            Err(Refusal::Denied(reason)) => {
                let event = AccessEvent::ConnectionRefused {
                    user_id: who.user.id,
                    target: target.chars().take(100).collect(),
                    account: account.map(|a| a.chars().take(100).collect()).unwrap_or_default(),
                    reason: reason.to_owned(),
                };
                let mut tx = self.store().begin().await?;
                self.audit(&mut tx, ctx, &user_actor(&who.user), AuditEvent::Access(event)).await?;
                tx.commit().await?;
                Err(AppError::Forbidden)
            }
        }
    }

    /// Decrypts the credential of the account `grant` allows.
    pub async fn open_connection_credential(&self, grant: &ConnectionGrant) -> Result<TargetCredential, AppError> {
        let account = &grant.account;
        let mut conn = self.store().read().await?;
        let secret_id = latch_store::accounts::secret_id(&mut conn, account.id).await?.ok_or(AppError::Forbidden)?;
        let kind = account.spec.secret_kind;
        let bytes = self.open_secret(&mut conn, secret_id, kind.vault_kind(), account.id.as_uuid()).await?;
        let text = secret_text(bytes)?;
        let secret = match kind {
            SecretKind::Password => TargetSecret::Password(text),
            SecretKind::SshPrivateKey => TargetSecret::PrivateKey(text),
        };
        Ok(TargetCredential { username: account.spec.username.to_string(), secret })
    }

    /// Records the start of a session (row and audit event, in one transaction) and registers it as live. The
    /// grant is checked again inside the transaction, so a revocation racing the connection wins.
    pub async fn start_gateway_session(
        &self,
        grant: &ConnectionGrant,
        start: SessionStart,
        ctx: &RequestContext,
    ) -> Result<LiveSession, AppError> {
        let now = self.now();
        // Registered first: a revocation that commits after the check below finds this session live and ends it;
        // one that committed before is seen by the check. Dropping `live` on any error unregisters it.
        let live = self.live_sessions().register(LiveSessionKey {
            session_id: grant.session_id,
            user_id: grant.user.id,
            account_id: grant.account.id,
            grant_id: grant.grant.as_ref().map(|g| g.id),
            policy_id: grant.policy.id,
        });
        let mut tx = self.store().begin().await?;
        if let Some(g) = &grant.grant {
            let current = latch_store::grants::find(&mut tx, g.id).await?;
            if !current.is_some_and(|g| g.is_active(now)) || live.end_requested().is_some() {
                return Err(AppError::Forbidden);
            }
        }
        let session = GatewaySession {
            id: grant.session_id,
            user_id: grant.user.id,
            username: grant.user.username.to_string(),
            target_id: grant.target.id,
            target_name: grant.target.spec.name.to_string(),
            account_id: grant.account.id,
            account_name: grant.account.spec.username.to_string(),
            grant_id: grant.grant.as_ref().map(|g| g.id),
            policy_id: grant.policy.id,
            protocol: grant.protocol,
            source: ctx.source_text(),
            started_at: now,
            ended_at: None,
            end_reason: None,
            bytes_to_target: 0,
            bytes_from_target: 0,
            recording: start.recording,
            consent_accepted_at: start.consent_accepted_at,
            node: self.config().node_name.clone(),
            // The policy's retention as it is now; `retain_until` is set when the session ends.
            retention: RecordingRetention::keeping_for(grant.policy.spec.rules.recording_retention_days),
        };
        latch_store::gateway_sessions::insert(&mut tx, &session).await?;
        let event = AccessEvent::SessionStarted {
            session_id: session.id,
            target_id: session.target_id,
            account_id: session.account_id,
            grant_id: session.grant_id,
        };
        self.audit(&mut tx, ctx, &user_actor(&grant.user), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(live)
    }

    /// Audits that `live`, whose policy does not require its recording, goes on unrecorded because of `cause`. An
    /// error means the loss could not be audited, and the caller must end the session (fail closed).
    pub async fn record_session_recording_lost(&self, live: &LiveSession, cause: &str) -> Result<(), AppError> {
        let event = AccessEvent::SessionRecordingLost { session_id: live.key().session_id, cause: cause.to_owned() };
        let mut tx = self.store().begin().await?;
        self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records the end of a session and unregisters it.
    /// Closes the session's row with its traffic and reason (and when its recording becomes due for deletion: the
    /// end plus the retention days it started with), audits the end, and indexes the session's events (the entries
    /// of its event log, for reports) in the same transaction, each stamped with the `session.ended` record's
    /// sequence number, their position in the SIEM export. Events indexed before stay as they are. When the row
    /// was already ended (by the abandoned-session sweep, which indexed the log and audited the end), there is no
    /// record to stamp: what this adds is indexed for reports only.
    pub async fn end_gateway_session(
        &self,
        live: LiveSession,
        reason: SessionEndReason,
        traffic: SessionTraffic,
        events: Vec<SessionEventEntry>,
    ) -> Result<(), AppError> {
        let session_id = live.key().session_id;
        let end = SessionEnd {
            at: self.now(),
            reason,
            bytes_to_target: i64::try_from(traffic.to_target).unwrap_or(i64::MAX),
            bytes_from_target: i64::try_from(traffic.from_target).unwrap_or(i64::MAX),
        };
        let mut tx = self.store().begin().await?;
        if latch_store::gateway_sessions::end(&mut tx, session_id, &end).await? {
            let event = AccessEvent::SessionEnded { session_id, reason: reason.as_str().to_owned() };
            let seq = self
                .audit_returning_seq(
                    &mut tx,
                    &RequestContext::default(),
                    &AuditActor::System,
                    AuditEvent::Access(event),
                )
                .await?;
            latch_store::session_events::insert_all_exported(&mut tx, session_id, seq, &events).await?;
        } else {
            latch_store::session_events::insert_all(&mut tx, session_id, &events).await?;
        }
        tx.commit().await?;
        drop(live);
        Ok(())
    }

    /// Records that a target presented another host key than the pinned one (the connection was refused).
    pub async fn record_host_key_mismatch(
        &self,
        grant: &ConnectionGrant,
        presented: &str,
        ctx: &RequestContext,
    ) -> Result<(), AppError> {
        let event = AccessEvent::HostKeyMismatch {
            target_id: grant.target.id,
            expected: grant.target.spec.host_key_pin.as_ref().map(|p| p.as_str().to_owned()).unwrap_or_default(),
            presented: presented.to_owned(),
        };
        let mut tx = self.store().begin().await?;
        self.audit(&mut tx, ctx, &user_actor(&grant.user), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn user_of_key(&self, username: &str, fingerprint: &str) -> Result<Option<User>, AppError> {
        let Ok(username) = Username::parse(username) else { return Ok(None) };
        let mut conn = self.store().read().await?;
        let Some(key) = latch_store::user_ssh_keys::find_by_fingerprint(&mut conn, fingerprint).await? else {
            return Ok(None);
        };
        let user = latch_store::users::find(&mut conn, key.user_id).await?;
        Ok(user.filter(|u| u.username == username))
    }

    async fn audit_gateway_login(
        &self,
        user: &User,
        method: LoginMethod,
        ctx: &RequestContext,
    ) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        let event = AuditEvent::LoginSucceeded { method, session_kind: "ssh".to_owned() };
        self.audit(&mut tx, ctx, &user_actor(user), event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_access(
        &self,
        who: &GatewayIdentity,
        target: &str,
        account: Option<&str>,
        protocol: Protocol,
        ctx: &RequestContext,
    ) -> Result<ConnectionGrant, Refusal> {
        let now = self.now();
        let mut conn = self.store().read().await?;
        let user = latch_store::users::find(&mut conn, who.user.id).await?.ok_or(Refusal::Denied("unknown user"))?;
        if user.disabled {
            return Err(Refusal::Denied("user disabled"));
        }
        let name = TargetName::parse(target).map_err(|_| Refusal::Denied("unknown target"))?;
        let target =
            latch_store::targets::find_by_name(&mut conn, &name).await?.ok_or(Refusal::Denied("unknown target"))?;
        if !target.spec.protocols.contains(&protocol) {
            return Err(Refusal::Denied("protocol not enabled on target"));
        }
        let groups: Vec<GroupId> =
            latch_store::groups::of_user(&mut conn, user.id).await?.iter().map(|g| g.id).collect();
        let policies = latch_store::policies::list(&mut conn).await?;
        let candidates = match account {
            Some(name) => {
                let name = AccountName::parse(name).map_err(|_| Refusal::Denied("unknown account"))?;
                let found = latch_store::accounts::find_on_target(&mut conn, target.id, &name).await?;
                vec![found.ok_or(Refusal::Denied("unknown account"))?]
            }
            None => latch_store::accounts::list_for_target(&mut conn, target.id).await?,
        };
        let who_requests = Requester { user_id: user.id, groups: &groups };
        let mut allowed = Vec::new();
        for candidate in &candidates {
            if let Some(access) = access_to(&mut conn, &policies, who_requests, &target, candidate, now).await? {
                allowed.push((candidate.clone(), access));
            }
        }
        let (account, (policy, grant)) = match allowed.len() {
            0 => self
                .break_glass_access(conn, &user, &groups, &target, candidates, ctx)
                .await?
                .ok_or(Refusal::Denied("no standing access or valid grant"))?,
            1 => allowed.remove(0),
            _ => return Err(Refusal::Ambiguous(allowed.iter().map(|(a, _)| a.spec.username.to_string()).collect())),
        };
        if !account.has_secret {
            return Err(Refusal::Denied("account has no secret"));
        }
        let session_id = GatewaySessionId::from_uuid(Uuid::new_v4());
        Ok(ConnectionGrant { session_id, user, target, account, policy, grant, protocol })
    }
}

/// Why access was not found.
enum Refusal {
    Denied(&'static str),
    Ambiguous(Vec<String>),
    App(AppError),
}

impl<E: Into<AppError>> From<E> for Refusal {
    fn from(err: E) -> Self {
        Refusal::App(err.into())
    }
}

pub(crate) fn secret_text(bytes: SecretBytes) -> Result<SecretString, AppError> {
    match std::str::from_utf8(bytes.expose()) {
        Ok(text) => Ok(SecretString::new(text.to_owned())),
        Err(_) => Err(AppError::Internal("stored credential is not text".to_owned())),
    }
}
