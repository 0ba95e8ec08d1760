//! Domain values turned into wire types.

use latch_api::*;
use latch_app::PolicyDetails;
use latch_domain::Timestamp;
use latch_domain::access_request::AccessRequest;
use latch_domain::account::Account;
use latch_domain::api_account::ApiAccount;
use latch_domain::checkout::{Checkout, CheckoutHolder, Rotation};
use latch_domain::gateway_session::{GatewaySession, IndexedSessionEvent};
use latch_domain::grant::Grant;
use latch_domain::policy::{AccessMode, AccountSelector, TargetSelector};
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
        exclusive_checkout: a.spec.exclusive_checkout,
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

/// A policy, with its approver group's name (resolved by the caller).
pub(crate) fn policy(details: &PolicyDetails, approver_group: Option<String>) -> PolicyView {
    let p = &details.policy;
    let rules = &p.spec.rules;
    let (mode, approvals_required) = match rules.mode {
        AccessMode::Standing => ("standing", None),
        AccessMode::OnRequest(rule) => ("on_request", Some(rule.approvals_required)),
    };
    PolicyView {
        id: p.id.to_string(),
        name: p.spec.name.to_string(),
        description: p.spec.description.clone(),
        enabled: p.spec.enabled,
        users: details.users.clone(),
        groups: details.groups.clone(),
        targets: p
            .spec
            .targets
            .iter()
            .map(|t| match t {
                TargetSelector::Name(name) => PolicyTargetView::Name(name.to_string()),
                TargetSelector::Tag(tag) => PolicyTargetView::Tag(tag.to_string()),
            })
            .collect(),
        accounts: match &p.spec.accounts {
            AccountSelector::Any => None,
            AccountSelector::Named(names) => Some(names.iter().map(ToString::to_string).collect()),
        },
        mode: mode.to_owned(),
        approvals_required,
        approver_group,
        max_duration_minutes: rules.max_duration.as_secs() / 60,
        schedule: rules.schedule.as_ref().map(ToString::to_string),
        mfa_to_request: rules.mfa_to_request,
        mfa_to_connect: rules.mfa_to_connect,
        record_input: rules.record_input,
        reveal_allowed: rules.reveal_allowed,
        ticket_required: rules.ticket_required,
        ticket_pattern: rules.ticket_pattern.as_ref().map(|t| t.as_str().to_owned()),
        integration: rules.integration.clone(),
        allow_local_forwarding: rules.forwarding.local,
        allow_remote_forwarding: rules.forwarding.remote,
        allow_agent_forwarding: rules.forwarding.agent,
        consent_banner: rules.consent_banner.clone(),
        recording_retention_days: rules.recording_retention_days,
        recording_required: rules.recording_required,
        created_at: time(p.created_at),
        updated_at: time(p.updated_at),
    }
}

pub(crate) fn access_request(r: &AccessRequest) -> AccessRequestView {
    AccessRequestView {
        id: r.id.to_string(),
        requester_id: r.requester.to_string(),
        target_id: r.target_id.to_string(),
        account_id: r.account_id.to_string(),
        policy_id: r.policy_id.to_string(),
        starts_at: time(r.starts_at),
        ends_at: time(r.ends_at),
        reason: r.details.reason.clone(),
        ticket: r.details.ticket.clone(),
        task: r.details.task.clone(),
        status: r.status.as_str().to_owned(),
        approvals_required: r.approvals_required,
        approver_group_id: r.approver_group.map(|g| g.to_string()),
        approvals: r
            .approvals
            .iter()
            .map(|a| ApprovalView { approver_id: a.approver.to_string(), comment: a.comment.clone(), at: time(a.at) })
            .collect(),
        decided_by: r.decided_by.map(|u| u.to_string()),
        decision_comment: r.decision_comment.clone(),
        decided_at: r.decided_at.map(time),
        decide_by: time(r.decide_by),
        grant_id: r.grant_id.map(|g| g.to_string()),
        created_at: time(r.created_at),
    }
}

/// A grant, with its state at `now`.
pub(crate) fn checkout(c: &Checkout, now: Timestamp) -> CheckoutView {
    let (user_id, api_account_id) = match c.holder {
        CheckoutHolder::User(id) => (Some(id.to_string()), None),
        CheckoutHolder::ApiAccount(id) => (None, Some(id.to_string())),
    };
    CheckoutView {
        id: c.id.to_string(),
        target_id: c.target_id.to_string(),
        account_id: c.account_id.to_string(),
        user_id,
        api_account_id,
        grant_id: c.grant_id.map(|g| g.to_string()),
        policy_id: c.policy_id.map(|p| p.to_string()),
        exclusive: c.exclusive,
        reason: c.reason.clone(),
        checked_out_at: time(c.checked_out_at),
        release_until: time(c.release_until),
        state: c.state(now).as_str().to_owned(),
        revealed_at: c.revealed_at.map(time),
        checked_in_at: c.checked_in_at.map(time),
        check_in_reason: c.check_in_reason.map(|r| r.as_str().to_owned()),
    }
}

pub(crate) fn queued_rotation(r: &Rotation) -> QueuedRotationView {
    QueuedRotationView {
        id: r.id.to_string(),
        account_id: r.account_id.to_string(),
        checkout_id: r.checkout_id.map(|c| c.to_string()),
        queued_at: time(r.queued_at),
        state: r.state.as_str().to_owned(),
        attempts: r.attempts,
        last_error: r.last_error.clone(),
        updated_at: time(r.updated_at),
    }
}

pub(crate) fn grant(g: &Grant, now: Timestamp) -> GrantView {
    GrantView {
        id: g.id.to_string(),
        user_id: g.user_id.to_string(),
        target_id: g.target_id.to_string(),
        account_id: g.account_id.to_string(),
        policy_id: g.policy_id.map(|p| p.to_string()),
        request_id: g.request_id.map(|r| r.to_string()),
        origin: g.origin.as_str().to_owned(),
        starts_at: time(g.starts_at),
        ends_at: time(g.ends_at),
        state: g.state(now).as_str().to_owned(),
        revoked_at: g.revoked_at.map(time),
        revoked_by: g.revoked_by.clone(),
        revoke_reason: g.revoke_reason.clone(),
        enforced_at: g.enforced_at.map(time),
        created_at: time(g.created_at),
    }
}

pub(crate) fn session_event(event: &IndexedSessionEvent) -> SessionEventView {
    let entry = &event.entry;
    SessionEventView {
        id: event.id,
        session_id: event.session_id.to_string(),
        seq: entry.seq,
        at: time(entry.at),
        kind: entry.kind.clone(),
        channel: entry.channel,
        summary: entry.summary.clone(),
        bytes: entry.bytes,
        data: serde_json::from_str(&entry.data).unwrap_or_else(|_| serde_json::Value::String(entry.data.clone())),
    }
}

pub(crate) fn session(s: &GatewaySession) -> SessionView {
    SessionView {
        id: s.id.to_string(),
        user_id: s.user_id.to_string(),
        username: s.username.clone(),
        target_id: s.target_id.to_string(),
        target_name: s.target_name.clone(),
        account_id: s.account_id.to_string(),
        account_name: s.account_name.clone(),
        grant_id: s.grant_id.map(|g| g.to_string()),
        policy_id: s.policy_id.to_string(),
        protocol: s.protocol.as_str().to_owned(),
        source: s.source.clone(),
        started_at: time(s.started_at),
        ended_at: s.ended_at.map(time),
        end_reason: s.end_reason.map(|r| r.as_str().to_owned()),
        bytes_to_target: s.bytes_to_target,
        bytes_from_target: s.bytes_from_target,
        recorded: s.recording.is_some(),
        consent_accepted_at: s.consent_accepted_at.map(time),
        node: s.node.clone(),
        recording_retention_days: s.retention.days,
        retain_until: s.retention.retain_until.map(time),
        legal_hold_reason: s.retention.legal_hold.as_ref().map(|h| h.reason.clone()),
        legal_hold_by: s.retention.legal_hold.as_ref().map(|h| h.placed_by.clone()),
        legal_hold_at: s.retention.legal_hold.as_ref().map(|h| time(h.placed_at)),
        recording_deleted_at: s.retention.deleted_at.map(time),
    }
}
