//! Audit events: typed facts about security-relevant actions, chained so that tampering shows.
//!
//! The store writes each event in the same transaction as the change it describes, and links it
//! to the previous one with a keyed MAC ([`ChainMac`]) over [`ChainedRecord::canonical_bytes`].

mod access;

pub use access::{AccessEvent, Window};

use crate::{AccountId, ApiAccountId, GroupId, TargetId, Timestamp, UserId, UserSshKeyId};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditActor {
    System,
    Anonymous,
    User { id: UserId, username: String },
    ApiAccount { id: ApiAccountId, name: String },
}

impl AuditActor {
    pub const fn kind(&self) -> &'static str {
        match self {
            AuditActor::System => "system",
            AuditActor::Anonymous => "anonymous",
            AuditActor::User { .. } => "user",
            AuditActor::ApiAccount { .. } => "api_account",
        }
    }
    pub fn id(&self) -> Option<String> {
        match self {
            AuditActor::User { id, .. } => Some(id.to_string()),
            AuditActor::ApiAccount { id, .. } => Some(id.to_string()),
            AuditActor::System | AuditActor::Anonymous => None,
        }
    }
    pub fn name(&self) -> &str {
        match self {
            AuditActor::User { username, .. } => username,
            AuditActor::ApiAccount { name, .. } => name,
            AuditActor::System => "system",
            AuditActor::Anonymous => "anonymous",
        }
    }
}

/// How someone logged in or tried to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginMethod {
    Password,
    Totp,
    ClientCredentials,
    SshPublicKey,
    SshKeyboardInteractive,
}

impl LoginMethod {
    pub const fn as_str(&self) -> &'static str {
        match self {
            LoginMethod::Password => "password",
            LoginMethod::Totp => "totp",
            LoginMethod::ClientCredentials => "client_credentials",
            LoginMethod::SshPublicKey => "ssh_publickey",
            LoginMethod::SshKeyboardInteractive => "ssh_keyboard_interactive",
        }
    }
}

/// A value in an event's details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditValue {
    Text(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

impl From<&str> for AuditValue {
    fn from(v: &str) -> Self {
        AuditValue::Text(v.to_owned())
    }
}
impl From<String> for AuditValue {
    fn from(v: String) -> Self {
        AuditValue::Text(v)
    }
}
impl From<i64> for AuditValue {
    fn from(v: i64) -> Self {
        AuditValue::Int(v)
    }
}
impl From<bool> for AuditValue {
    fn from(v: bool) -> Self {
        AuditValue::Bool(v)
    }
}
impl From<Vec<String>> for AuditValue {
    fn from(v: Vec<String>) -> Self {
        AuditValue::List(v)
    }
}

/// Every security-relevant action Latch records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditEvent {
    VaultInitialized { mode: String },
    VaultUnsealed,
    VaultUnsealFailed { attempts: i64 },
    VaultSealed,
    RootKeyRotationStarted { new_key_id: String },
    RootKeyRotationCompleted { new_key_id: String, rewrapped: i64 },
    LoginSucceeded { method: LoginMethod, session_kind: String },
    LoginFailed { username: String, method: LoginMethod, reason: String },
    IdentityLocked { username: String, until: Timestamp },
    Logout,
    SessionRevoked { user_id: UserId, sessions: i64 },
    PasswordChanged { user_id: UserId, by_admin: bool },
    TotpEnrolled { user_id: UserId },
    TotpReset { user_id: UserId },
    UserCreated { user_id: UserId, username: String, roles: Vec<String> },
    UserUpdated { user_id: UserId, changes: Vec<String> },
    UserDisabled { user_id: UserId, sessions_ended: i64 },
    UserEnabled { user_id: UserId },
    UserUnlocked { user_id: UserId },
    UserDeleted { user_id: UserId, username: String },
    UserSshKeyAdded { user_id: UserId, key_id: UserSshKeyId, fingerprint: String },
    UserSshKeyRemoved { user_id: UserId, key_id: UserSshKeyId, fingerprint: String },
    GroupCreated { group_id: GroupId, name: String, roles: Vec<String> },
    GroupUpdated { group_id: GroupId, changes: Vec<String> },
    GroupDeleted { group_id: GroupId, name: String },
    GroupMemberAdded { group_id: GroupId, user_id: UserId },
    GroupMemberRemoved { group_id: GroupId, user_id: UserId },
    TargetCreated { target_id: TargetId, name: String },
    TargetUpdated { target_id: TargetId, changes: Vec<String> },
    TargetDeleted { target_id: TargetId, name: String },
    AccountCreated { account_id: AccountId, target_id: TargetId, username: String },
    AccountUpdated { account_id: AccountId, changes: Vec<String> },
    AccountSecretSet { account_id: AccountId, kind: String },
    AccountDeleted { account_id: AccountId, username: String },
    ApiAccountCreated { api_account_id: ApiAccountId, name: String, scopes: Vec<String> },
    ApiAccountUpdated { api_account_id: ApiAccountId, changes: Vec<String> },
    ApiAccountSecretRotated { api_account_id: ApiAccountId },
    ApiAccountRevoked { api_account_id: ApiAccountId },
    ApiTokenIssued { api_account_id: ApiAccountId, scopes: Vec<String>, expires_at: Timestamp },
    InventoryImported { targets_created: i64, targets_updated: i64, accounts_created: i64 },
    InventoryExported { targets: i64 },
    AuditExported { events: i64, format: String },
    AuditVerified { events: i64, ok: bool },
    NotificationAbandoned { webhook: String, audit_seq: i64, attempts: i64 },
    Access(AccessEvent),
}

impl AuditEvent {
    /// The stable type name, used for filtering and in exports.
    pub const fn kind(&self) -> &'static str {
        use AuditEvent as E;
        match self {
            E::VaultInitialized { .. } => "vault.initialized",
            E::VaultUnsealed => "vault.unsealed",
            E::VaultUnsealFailed { .. } => "vault.unseal_failed",
            E::VaultSealed => "vault.sealed",
            E::RootKeyRotationStarted { .. } => "vault.root_key_rotation_started",
            E::RootKeyRotationCompleted { .. } => "vault.root_key_rotation_completed",
            E::LoginSucceeded { .. } => "auth.login_succeeded",
            E::LoginFailed { .. } => "auth.login_failed",
            E::IdentityLocked { .. } => "auth.identity_locked",
            E::Logout => "auth.logout",
            E::SessionRevoked { .. } => "auth.sessions_revoked",
            E::PasswordChanged { .. } => "user.password_changed",
            E::TotpEnrolled { .. } => "user.totp_enrolled",
            E::TotpReset { .. } => "user.totp_reset",
            E::UserCreated { .. } => "user.created",
            E::UserUpdated { .. } => "user.updated",
            E::UserDisabled { .. } => "user.disabled",
            E::UserEnabled { .. } => "user.enabled",
            E::UserUnlocked { .. } => "user.unlocked",
            E::UserDeleted { .. } => "user.deleted",
            E::UserSshKeyAdded { .. } => "user.ssh_key_added",
            E::UserSshKeyRemoved { .. } => "user.ssh_key_removed",
            E::GroupCreated { .. } => "group.created",
            E::GroupUpdated { .. } => "group.updated",
            E::GroupDeleted { .. } => "group.deleted",
            E::GroupMemberAdded { .. } => "group.member_added",
            E::GroupMemberRemoved { .. } => "group.member_removed",
            E::TargetCreated { .. } => "target.created",
            E::TargetUpdated { .. } => "target.updated",
            E::TargetDeleted { .. } => "target.deleted",
            E::AccountCreated { .. } => "account.created",
            E::AccountUpdated { .. } => "account.updated",
            E::AccountSecretSet { .. } => "account.secret_set",
            E::AccountDeleted { .. } => "account.deleted",
            E::ApiAccountCreated { .. } => "api_account.created",
            E::ApiAccountUpdated { .. } => "api_account.updated",
            E::ApiAccountSecretRotated { .. } => "api_account.secret_rotated",
            E::ApiAccountRevoked { .. } => "api_account.revoked",
            E::ApiTokenIssued { .. } => "api_account.token_issued",
            E::InventoryImported { .. } => "inventory.imported",
            E::InventoryExported { .. } => "inventory.exported",
            E::AuditExported { .. } => "audit.exported",
            E::AuditVerified { .. } => "audit.verified",
            E::NotificationAbandoned { .. } => "notification.abandoned",
            E::Access(event) => event.kind(),
        }
    }

    /// The event's details as ordered name/value pairs.
    pub fn fields(&self) -> Vec<(&'static str, AuditValue)> {
        use AuditEvent as E;
        let s = |v: &dyn ToString| AuditValue::Text(v.to_string());
        match self {
            E::VaultInitialized { mode } => vec![("mode", s(mode))],
            E::VaultUnsealed | E::VaultSealed | E::Logout => vec![],
            E::VaultUnsealFailed { attempts } => vec![("attempts", (*attempts).into())],
            E::RootKeyRotationStarted { new_key_id } => vec![("new_key_id", s(new_key_id))],
            E::RootKeyRotationCompleted { new_key_id, rewrapped } => {
                vec![("new_key_id", s(new_key_id)), ("rewrapped", (*rewrapped).into())]
            }
            E::LoginSucceeded { method, session_kind } => {
                vec![("method", method.as_str().into()), ("session_kind", s(session_kind))]
            }
            E::LoginFailed { username, method, reason } => {
                vec![("username", s(username)), ("method", method.as_str().into()), ("reason", s(reason))]
            }
            E::IdentityLocked { username, until } => {
                vec![("username", s(username)), ("until", until.as_millis().into())]
            }
            E::SessionRevoked { user_id, sessions } => vec![("user_id", s(user_id)), ("sessions", (*sessions).into())],
            E::PasswordChanged { user_id, by_admin } => vec![("user_id", s(user_id)), ("by_admin", (*by_admin).into())],
            E::TotpEnrolled { user_id }
            | E::TotpReset { user_id }
            | E::UserEnabled { user_id }
            | E::UserUnlocked { user_id } => {
                vec![("user_id", s(user_id))]
            }
            E::UserCreated { user_id, username, roles } => {
                vec![("user_id", s(user_id)), ("username", s(username)), ("roles", roles.clone().into())]
            }
            E::UserUpdated { user_id, changes } => vec![("user_id", s(user_id)), ("changes", changes.clone().into())],
            E::UserDisabled { user_id, sessions_ended } => {
                vec![("user_id", s(user_id)), ("sessions_ended", (*sessions_ended).into())]
            }
            E::UserDeleted { user_id, username } => vec![("user_id", s(user_id)), ("username", s(username))],
            E::UserSshKeyAdded { user_id, key_id, fingerprint }
            | E::UserSshKeyRemoved { user_id, key_id, fingerprint } => {
                vec![("user_id", s(user_id)), ("key_id", s(key_id)), ("fingerprint", s(fingerprint))]
            }
            E::GroupCreated { group_id, name, roles } => {
                vec![("group_id", s(group_id)), ("name", s(name)), ("roles", roles.clone().into())]
            }
            E::GroupUpdated { group_id, changes } => {
                vec![("group_id", s(group_id)), ("changes", changes.clone().into())]
            }
            E::GroupDeleted { group_id, name } => vec![("group_id", s(group_id)), ("name", s(name))],
            E::GroupMemberAdded { group_id, user_id } | E::GroupMemberRemoved { group_id, user_id } => {
                vec![("group_id", s(group_id)), ("user_id", s(user_id))]
            }
            E::TargetCreated { target_id, name } | E::TargetDeleted { target_id, name } => {
                vec![("target_id", s(target_id)), ("name", s(name))]
            }
            E::TargetUpdated { target_id, changes } => {
                vec![("target_id", s(target_id)), ("changes", changes.clone().into())]
            }
            E::AccountCreated { account_id, target_id, username } => {
                vec![("account_id", s(account_id)), ("target_id", s(target_id)), ("username", s(username))]
            }
            E::AccountUpdated { account_id, changes } => {
                vec![("account_id", s(account_id)), ("changes", changes.clone().into())]
            }
            E::AccountSecretSet { account_id, kind } => vec![("account_id", s(account_id)), ("kind", s(kind))],
            E::AccountDeleted { account_id, username } => {
                vec![("account_id", s(account_id)), ("username", s(username))]
            }
            E::ApiAccountCreated { api_account_id, name, scopes } => {
                vec![("api_account_id", s(api_account_id)), ("name", s(name)), ("scopes", scopes.clone().into())]
            }
            E::ApiAccountUpdated { api_account_id, changes } => {
                vec![("api_account_id", s(api_account_id)), ("changes", changes.clone().into())]
            }
            E::ApiAccountSecretRotated { api_account_id } | E::ApiAccountRevoked { api_account_id } => {
                vec![("api_account_id", s(api_account_id))]
            }
            E::ApiTokenIssued { api_account_id, scopes, expires_at } => vec![
                ("api_account_id", s(api_account_id)),
                ("scopes", scopes.clone().into()),
                ("expires_at", expires_at.as_millis().into()),
            ],
            E::InventoryImported { targets_created, targets_updated, accounts_created } => vec![
                ("targets_created", (*targets_created).into()),
                ("targets_updated", (*targets_updated).into()),
                ("accounts_created", (*accounts_created).into()),
            ],
            E::InventoryExported { targets } => vec![("targets", (*targets).into())],
            E::AuditExported { events, format } => vec![("events", (*events).into()), ("format", s(format))],
            E::AuditVerified { events, ok } => vec![("events", (*events).into()), ("ok", (*ok).into())],
            E::NotificationAbandoned { webhook, audit_seq, attempts } => {
                vec![("webhook", s(webhook)), ("audit_seq", (*audit_seq).into()), ("attempts", (*attempts).into())]
            }
            E::Access(event) => event.fields(),
        }
    }
}

/// A keyed link function for the audit hash chain.
pub trait ChainMac: Send + Sync {
    /// The link of a record after `prev`: changes when any byte of either changes.
    fn link(&self, prev: &[u8; 32], record: &[u8]) -> [u8; 32];
}

/// The link before the first record.
pub const GENESIS_LINK: [u8; 32] = [0u8; 32];

/// The fields of a stored audit record that the chain covers.
#[derive(Debug, Clone, Copy)]
pub struct ChainedRecord<'a> {
    pub seq: i64,
    pub at: Timestamp,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor_name: &'a str,
    pub source: Option<&'a str>,
    pub kind: &'a str,
    pub details_json: &'a str,
}

impl ChainedRecord<'_> {
    /// The canonical bytes, unambiguous thanks to length prefixes.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128 + self.details_json.len());
        out.extend_from_slice(b"latch-audit-v1");
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.at.as_millis().to_be_bytes());
        let parts = [
            Some(self.actor_kind),
            self.actor_id,
            Some(self.actor_name),
            self.source,
            Some(self.kind),
            Some(self.details_json),
        ];
        for part in parts {
            match part {
                None => out.push(0),
                Some(text) => {
                    out.push(1);
                    out.extend_from_slice(&(text.len() as u64).to_be_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
            }
        }
        out
    }

    /// This record's link after `prev`.
    pub fn link(&self, mac: &dyn ChainMac, prev: &[u8; 32]) -> [u8; 32] {
        mac.link(prev, &self.canonical_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_record_is_unambiguous() {
        let base = ChainedRecord {
            seq: 1,
            at: Timestamp::from_millis(5),
            actor_kind: "user",
            actor_id: Some("ab"),
            actor_name: "c",
            source: None,
            kind: "k",
            details_json: "{}",
        };
        let a = base.canonical_bytes();
        assert_ne!(a, ChainedRecord { actor_id: Some("a"), actor_name: "bc", ..base }.canonical_bytes());
        assert_ne!(a, ChainedRecord { source: Some(""), ..base }.canonical_bytes());
        assert_ne!(a, ChainedRecord { seq: 2, ..base }.canonical_bytes());
    }

    #[test]
    fn kinds_are_unique() {
        let events = [
            AuditEvent::VaultUnsealed,
            AuditEvent::VaultSealed,
            AuditEvent::Logout,
            AuditEvent::VaultInitialized { mode: String::new() },
            AuditEvent::VaultUnsealFailed { attempts: 1 },
        ];
        let mut kinds: Vec<_> = events.iter().map(AuditEvent::kind).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), events.len());
    }
}
