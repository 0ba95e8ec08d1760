//! Audit events of just-in-time access and the gateway: policies, requests, grants and gateway sessions.

use super::AuditValue;
use crate::{
    AccessRequestId, AccountId, BreakGlassId, CheckoutId, GatewaySessionId, GrantId, PolicyId, RotationId, TargetId,
    Timestamp, UserId,
};

/// What happened to access: who may reach what, and the sessions that used it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessEvent {
    PolicyCreated {
        policy_id: PolicyId,
        name: String,
    },
    PolicyUpdated {
        policy_id: PolicyId,
        changes: Vec<String>,
    },
    PolicyDeleted {
        policy_id: PolicyId,
        name: String,
    },
    RequestCreated {
        request_id: AccessRequestId,
        target_id: TargetId,
        account_id: AccountId,
        window: Window,
    },
    RequestApprovalRecorded {
        request_id: AccessRequestId,
        have: i64,
        need: i64,
    },
    RequestApproved {
        request_id: AccessRequestId,
        grant_id: GrantId,
    },
    RequestDenied {
        request_id: AccessRequestId,
    },
    RequestCancelled {
        request_id: AccessRequestId,
    },
    RequestExpired {
        request_id: AccessRequestId,
    },
    GrantCreated {
        grant_id: GrantId,
        user_id: UserId,
        account_id: AccountId,
        origin: String,
        window: Window,
    },
    GrantRevoked {
        grant_id: GrantId,
        reason: String,
    },
    /// The receipt of a grant's end: when it was due, when Latch enforced it and the sessions it ended.
    GrantEnded {
        grant_id: GrantId,
        reason: String,
        due_at: Timestamp,
        enforced_at: Timestamp,
        sessions_ended: i64,
    },
    SessionStarted {
        session_id: GatewaySessionId,
        target_id: TargetId,
        account_id: AccountId,
        grant_id: Option<GrantId>,
    },
    SessionEnded {
        session_id: GatewaySessionId,
        reason: String,
    },
    /// A request to end a live session and when it was carried out.
    SessionTerminated {
        session_id: GatewaySessionId,
        requested_at: Timestamp,
        enforced_at: Timestamp,
    },
    /// A session whose policy does not require its recording went on without it from here: the recording could not
    /// be created or written, or its spool fell below the free-space reserve.
    SessionRecordingLost {
        session_id: GatewaySessionId,
        cause: String,
    },
    /// An auditor started watching a live session's output.
    SessionWatched {
        session_id: GatewaySessionId,
    },
    /// A legal hold was placed on a session's recording: it is kept until the hold is released.
    LegalHoldPlaced {
        session_id: GatewaySessionId,
        reason: String,
    },
    /// The legal hold on a session's recording was released (its reason and who placed it when, for the record).
    LegalHoldReleased {
        session_id: GatewaySessionId,
        hold_reason: String,
        placed_by: String,
        placed_at: Timestamp,
    },
    /// The retention sweep deleted a session's recording, which was due at `retain_until`.
    RecordingDeleted {
        session_id: GatewaySessionId,
        recording: String,
        retain_until: Timestamp,
    },
    /// A finished session's recording was copied to the recording storage and checked there.
    RecordingStored {
        recording: String,
        storage: String,
        files: u64,
        bytes: u64,
        attempts: u32,
    },
    /// Uploading a recording failed more often than the configured retries; the spool keeps it and the uploader
    /// keeps trying with a growing interval. Subscribe a webhook or a SIEM rule to this as the alert.
    RecordingUploadFailing {
        recording: String,
        storage: String,
        attempts: u32,
        error: String,
    },
    /// Someone read a file of a session's recording (to replay it or keep a copy).
    RecordingRead {
        session_id: GatewaySessionId,
        file: String,
    },
    /// The credential of the recording storage was stored in the vault (the credential itself is never recorded).
    RecordingStorageCredentialSet {
        storage: String,
    },
    /// The gateway refused a connection; the person saw only "not allowed".
    ConnectionRefused {
        user_id: UserId,
        target: String,
        account: String,
        reason: String,
    },
    HostKeyPinned {
        target_id: TargetId,
        fingerprint: String,
    },
    HostKeyMismatch {
        target_id: TargetId,
        expected: String,
        presented: String,
    },
    /// An account's credential was checked out for a release period.
    CredentialCheckedOut {
        checkout_id: CheckoutId,
        account_id: AccountId,
        grant_id: Option<GrantId>,
        exclusive: bool,
        reason: String,
        release_until: Timestamp,
    },
    /// A checked-out secret was shown to its holder (written before the secret leaves Latch).
    CredentialRevealed {
        checkout_id: CheckoutId,
        account_id: AccountId,
    },
    CredentialCheckedIn {
        checkout_id: CheckoutId,
        account_id: AccountId,
        reason: String,
    },
    /// A rotation of the account's secret was queued because a check-out of it ended.
    RotationQueued {
        rotation_id: RotationId,
        account_id: AccountId,
        checkout_id: CheckoutId,
    },
    /// Emergency access was switched on for `targets` until `ends_at`.
    BreakGlassActivated {
        break_glass_id: BreakGlassId,
        targets: Vec<String>,
        reason: String,
        ends_at: Timestamp,
    },
    /// Emergency access was switched off: `manual` or `expired`, with the sessions still running under it then.
    BreakGlassEnded {
        break_glass_id: BreakGlassId,
        reason: String,
        sessions_ended: i64,
    },
    /// An incident integration confirmed the request's ticket and task; the window ends at the task's expiry at most.
    RequestIncidentValidated {
        request_id: AccessRequestId,
        integration: String,
        ticket: String,
        task: String,
        task_expires_at: Timestamp,
    },
    /// An admin ran an incident integration's lookup and validation in test mode; nothing was granted.
    IntegrationTested {
        integration: String,
        user_id: UserId,
        ticket: String,
        task: Option<String>,
        /// `would_grant`, `would_wait_for_approval` or `refused: …`.
        verdict: String,
    },
    /// The incident system reported a ticket closed: its grants were revoked and its pending requests cancelled.
    IncidentClosed {
        integration: String,
        ticket: String,
        grants_revoked: i64,
        requests_cancelled: i64,
    },
}

/// A time window in an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
}

impl AccessEvent {
    pub const fn kind(&self) -> &'static str {
        use AccessEvent as E;
        match self {
            E::PolicyCreated { .. } => "policy.created",
            E::PolicyUpdated { .. } => "policy.updated",
            E::PolicyDeleted { .. } => "policy.deleted",
            E::RequestCreated { .. } => "request.created",
            E::RequestApprovalRecorded { .. } => "request.approval_recorded",
            E::RequestApproved { .. } => "request.approved",
            E::RequestDenied { .. } => "request.denied",
            E::RequestCancelled { .. } => "request.cancelled",
            E::RequestExpired { .. } => "request.expired",
            E::GrantCreated { .. } => "grant.created",
            E::GrantRevoked { .. } => "grant.revoked",
            E::GrantEnded { .. } => "grant.ended",
            E::SessionStarted { .. } => "session.started",
            E::SessionEnded { .. } => "session.ended",
            E::SessionTerminated { .. } => "session.terminated",
            E::SessionWatched { .. } => "session.watched",
            E::SessionRecordingLost { .. } => "session.recording_lost",
            E::LegalHoldPlaced { .. } => "session.legal_hold_placed",
            E::LegalHoldReleased { .. } => "session.legal_hold_released",
            E::RecordingDeleted { .. } => "session.recording_deleted",
            E::RecordingStored { .. } => "recording.stored",
            E::RecordingRead { .. } => "recording.read",
            E::RecordingUploadFailing { .. } => "recording.upload_failing",
            E::RecordingStorageCredentialSet { .. } => "recording.storage_credential_set",
            E::ConnectionRefused { .. } => "session.refused",
            E::HostKeyPinned { .. } => "target.host_key_pinned",
            E::HostKeyMismatch { .. } => "target.host_key_mismatch",
            E::CredentialCheckedOut { .. } => "credential.checked_out",
            E::CredentialRevealed { .. } => "credential.revealed",
            E::CredentialCheckedIn { .. } => "credential.checked_in",
            E::RotationQueued { .. } => "credential.rotation_queued",
            E::BreakGlassActivated { .. } => "break_glass.activated",
            E::BreakGlassEnded { .. } => "break_glass.ended",
            E::RequestIncidentValidated { .. } => "request.incident_validated",
            E::IntegrationTested { .. } => "integration.tested",
            E::IncidentClosed { .. } => "incident.closed",
        }
    }

    pub fn fields(&self) -> Vec<(&'static str, AuditValue)> {
        use AccessEvent as E;
        let s = |v: &dyn ToString| AuditValue::Text(v.to_string());
        let t = |v: &Timestamp| AuditValue::Int(v.as_millis());
        let window = |w: &Window| [("starts_at", t(&w.starts_at)), ("ends_at", t(&w.ends_at))];
        match self {
            E::PolicyCreated { policy_id, name } | E::PolicyDeleted { policy_id, name } => {
                vec![("policy_id", s(policy_id)), ("name", s(name))]
            }
            E::PolicyUpdated { policy_id, changes } => {
                vec![("policy_id", s(policy_id)), ("changes", changes.clone().into())]
            }
            E::RequestCreated { request_id, target_id, account_id, window: w } => {
                let mut fields =
                    vec![("request_id", s(request_id)), ("target_id", s(target_id)), ("account_id", s(account_id))];
                fields.extend(window(w));
                fields
            }
            E::RequestApprovalRecorded { request_id, have, need } => {
                vec![("request_id", s(request_id)), ("have", (*have).into()), ("need", (*need).into())]
            }
            E::RequestApproved { request_id, grant_id } => {
                vec![("request_id", s(request_id)), ("grant_id", s(grant_id))]
            }
            E::RequestDenied { request_id } | E::RequestCancelled { request_id } | E::RequestExpired { request_id } => {
                vec![("request_id", s(request_id))]
            }
            E::GrantCreated { grant_id, user_id, account_id, origin, window: w } => {
                let mut fields = vec![
                    ("grant_id", s(grant_id)),
                    ("user_id", s(user_id)),
                    ("account_id", s(account_id)),
                    ("origin", s(origin)),
                ];
                fields.extend(window(w));
                fields
            }
            E::GrantRevoked { grant_id, reason } => vec![("grant_id", s(grant_id)), ("reason", s(reason))],
            E::GrantEnded { grant_id, reason, due_at, enforced_at, sessions_ended } => vec![
                ("grant_id", s(grant_id)),
                ("reason", s(reason)),
                ("due_at", t(due_at)),
                ("enforced_at", t(enforced_at)),
                ("sessions_ended", (*sessions_ended).into()),
            ],
            E::SessionStarted { session_id, target_id, account_id, grant_id } => vec![
                ("session_id", s(session_id)),
                ("target_id", s(target_id)),
                ("account_id", s(account_id)),
                ("grant_id", grant_id.map(|g| g.to_string()).unwrap_or_default().into()),
            ],
            E::SessionEnded { session_id, reason } => vec![("session_id", s(session_id)), ("reason", s(reason))],
            E::SessionWatched { session_id } => vec![("session_id", s(session_id))],
            E::SessionRecordingLost { session_id, cause } => vec![("session_id", s(session_id)), ("cause", s(cause))],
            E::SessionTerminated { session_id, requested_at, enforced_at } => {
                vec![("session_id", s(session_id)), ("requested_at", t(requested_at)), ("enforced_at", t(enforced_at))]
            }
            E::LegalHoldPlaced { session_id, reason } => vec![("session_id", s(session_id)), ("reason", s(reason))],
            E::LegalHoldReleased { session_id, hold_reason, placed_by, placed_at } => vec![
                ("session_id", s(session_id)),
                ("hold_reason", s(hold_reason)),
                ("placed_by", s(placed_by)),
                ("placed_at", t(placed_at)),
            ],
            E::RecordingDeleted { session_id, recording, retain_until } => {
                vec![("session_id", s(session_id)), ("recording", s(recording)), ("retain_until", t(retain_until))]
            }
            E::RecordingStored { recording, storage, files, bytes, attempts } => vec![
                ("recording", s(recording)),
                ("storage", s(storage)),
                ("files", i64::try_from(*files).unwrap_or(i64::MAX).into()),
                ("bytes", i64::try_from(*bytes).unwrap_or(i64::MAX).into()),
                ("attempts", i64::from(*attempts).into()),
            ],
            E::RecordingUploadFailing { recording, storage, attempts, error } => vec![
                ("recording", s(recording)),
                ("storage", s(storage)),
                ("attempts", i64::from(*attempts).into()),
                ("error", s(error)),
            ],
            E::RecordingRead { session_id, file } => vec![("session_id", s(session_id)), ("file", s(file))],
            E::RecordingStorageCredentialSet { storage } => vec![("storage", s(storage))],
            E::ConnectionRefused { user_id, target, account, reason } => {
                vec![("user_id", s(user_id)), ("target", s(target)), ("account", s(account)), ("reason", s(reason))]
            }
            E::HostKeyPinned { target_id, fingerprint } => {
                vec![("target_id", s(target_id)), ("fingerprint", s(fingerprint))]
            }
            E::HostKeyMismatch { target_id, expected, presented } => {
                vec![("target_id", s(target_id)), ("expected", s(expected)), ("presented", s(presented))]
            }
            E::CredentialCheckedOut { checkout_id, account_id, grant_id, exclusive, reason, release_until } => vec![
                ("checkout_id", s(checkout_id)),
                ("account_id", s(account_id)),
                ("grant_id", grant_id.map(|g| g.to_string()).unwrap_or_default().into()),
                ("exclusive", (*exclusive).into()),
                ("reason", s(reason)),
                ("release_until", t(release_until)),
            ],
            E::CredentialRevealed { checkout_id, account_id } => {
                vec![("checkout_id", s(checkout_id)), ("account_id", s(account_id))]
            }
            E::CredentialCheckedIn { checkout_id, account_id, reason } => {
                vec![("checkout_id", s(checkout_id)), ("account_id", s(account_id)), ("reason", s(reason))]
            }
            E::RotationQueued { rotation_id, account_id, checkout_id } => {
                vec![("rotation_id", s(rotation_id)), ("account_id", s(account_id)), ("checkout_id", s(checkout_id))]
            }
            E::BreakGlassActivated { break_glass_id, targets, reason, ends_at } => vec![
                ("break_glass_id", s(break_glass_id)),
                ("targets", targets.clone().into()),
                ("reason", s(reason)),
                ("ends_at", t(ends_at)),
            ],
            E::BreakGlassEnded { break_glass_id, reason, sessions_ended } => vec![
                ("break_glass_id", s(break_glass_id)),
                ("reason", s(reason)),
                ("sessions_ended", (*sessions_ended).into()),
            ],
            E::RequestIncidentValidated { request_id, integration, ticket, task, task_expires_at } => vec![
                ("request_id", s(request_id)),
                ("integration", s(integration)),
                ("ticket", s(ticket)),
                ("task", s(task)),
                ("task_expires_at", t(task_expires_at)),
            ],
            E::IntegrationTested { integration, user_id, ticket, task, verdict } => vec![
                ("integration", s(integration)),
                ("user_id", s(user_id)),
                ("ticket", s(ticket)),
                ("task", task.clone().unwrap_or_default().into()),
                ("verdict", s(verdict)),
            ],
            E::IncidentClosed { integration, ticket, grants_revoked, requests_cancelled } => vec![
                ("integration", s(integration)),
                ("ticket", s(ticket)),
                ("grants_revoked", (*grants_revoked).into()),
                ("requests_cancelled", (*requests_cancelled).into()),
            ],
        }
    }
}
