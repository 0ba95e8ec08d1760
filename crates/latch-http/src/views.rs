//! Domain values turned into wire types.

use latch_api::*;
use latch_domain::Timestamp;
use latch_domain::account::Account;
use latch_domain::api_account::ApiAccount;
use latch_domain::ssh_key::UserSshKey;
use latch_domain::target::Target;
use latch_domain::user::{Group, User};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 in UTC with milliseconds.
pub(crate) fn time(at: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.as_millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| at.as_millis().to_string())
}

/// Parses an RFC 3339 query parameter.
pub(crate) fn parse_time(field: &str, text: &str) -> Result<Timestamp, crate::error::ApiError> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        crate::error::ApiError::bad_request(format!("{field} must be an RFC 3339 time such as 2026-01-31T12:00:00Z"))
    })?;
    let millis = parsed.unix_timestamp_nanos() / 1_000_000;
    Ok(Timestamp::from_millis(i64::try_from(millis).unwrap_or(i64::MAX)))
}

pub(crate) fn user(u: &User) -> UserView {
    UserView {
        id: u.id.to_string(),
        username: u.username.to_string(),
        display_name: u.display_name.clone(),
        email: u.email.clone(),
        roles: u.roles.iter().map(ToString::to_string).collect(),
        disabled: u.disabled,
        must_change_password: u.must_change_password,
        totp_enrolled: u.totp_enrolled,
        totp_required: u.totp_required,
        failed_logins: u.lockout.failed_count,
        locked_until: u.lockout.locked_until.map(time),
        created_at: time(u.created_at),
        last_login_at: u.last_login_at.map(time),
    }
}

pub(crate) fn group(g: &Group) -> GroupView {
    GroupView {
        id: g.id.to_string(),
        name: g.name.to_string(),
        description: g.description.clone(),
        roles: g.roles.iter().map(ToString::to_string).collect(),
        created_at: time(g.created_at),
    }
}

pub(crate) fn ssh_key(k: &UserSshKey) -> SshKeyView {
    SshKeyView {
        id: k.id.to_string(),
        user_id: k.user_id.to_string(),
        name: k.name.clone(),
        algorithm: k.key.algorithm().to_owned(),
        fingerprint: k.key.fingerprint(),
        public_key: k.key.to_openssh(),
        comment: k.key.comment().to_owned(),
        created_at: time(k.created_at),
        last_used_at: k.last_used_at.map(time),
    }
}

pub(crate) fn target(t: &Target) -> TargetView {
    TargetView {
        id: t.id.to_string(),
        name: t.spec.name.to_string(),
        address: t.spec.address.to_string(),
        port: t.spec.port,
        protocols: t.spec.protocols.iter().map(|p| p.as_str().to_owned()).collect(),
        tags: t.spec.tags.iter().map(ToString::to_string).collect(),
        description: t.spec.description.clone(),
        host_key_pin: t.spec.host_key_pin.as_ref().map(|p| p.as_str().to_owned()),
        created_at: time(t.created_at),
        updated_at: time(t.updated_at),
    }
}

pub(crate) fn account(a: &Account) -> AccountView {
    AccountView {
        id: a.id.to_string(),
        target_id: a.target_id.to_string(),
        username: a.spec.username.to_string(),
        secret_kind: a.spec.secret_kind.as_str().to_owned(),
        has_secret: a.has_secret,
        api_enabled: a.spec.api_enabled,
        rotate_after_use: a.spec.rotate_after_use,
        description: a.spec.description.clone(),
        secret_updated_at: a.secret_updated_at.map(time),
        created_at: time(a.created_at),
        updated_at: time(a.updated_at),
    }
}

pub(crate) fn api_account(a: &ApiAccount) -> ApiAccountView {
    ApiAccountView {
        id: a.id.to_string(),
        name: a.name.to_string(),
        description: a.description.clone(),
        scopes: a.scopes.iter().map(|s| s.to_string()).collect(),
        allowed_sources: a.allowed_sources.iter().map(ToString::to_string).collect(),
        token_ttl_secs: a.token_ttl.as_secs(),
        revoked: a.revoked,
        locked_until: a.lockout.locked_until.map(time),
        created_at: time(a.created_at),
        secret_rotated_at: time(a.secret_rotated_at),
    }
}
