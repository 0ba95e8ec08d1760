-- Just-in-time access: policies, requests with their approvals, grants, and gateway sessions.
-- Targets in policies are matched by name or tag (not by id), so a policy can name a target before it exists.
-- Requests, grants and sessions keep policy ids without a foreign key: deleting a policy must not erase history,
-- and the application re-checks that a grant's policy still exists before honouring it.

CREATE TABLE policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    mode TEXT NOT NULL,
    approvals_required INTEGER NOT NULL,
    approver_group_id TEXT,
    any_account INTEGER NOT NULL,
    max_duration_ms INTEGER NOT NULL,
    schedule TEXT,
    mfa_to_request INTEGER NOT NULL,
    mfa_to_connect INTEGER NOT NULL,
    record_input INTEGER NOT NULL,
    reveal_allowed INTEGER NOT NULL,
    ticket_required INTEGER NOT NULL,
    ticket_pattern TEXT,
    integration TEXT,
    allow_local_forwarding INTEGER NOT NULL,
    allow_remote_forwarding INTEGER NOT NULL,
    allow_agent_forwarding INTEGER NOT NULL,
    consent_banner TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE policy_subjects (
    policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    group_id TEXT REFERENCES user_groups (id) ON DELETE CASCADE,
    CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX policy_subjects_policy ON policy_subjects (policy_id);

CREATE TABLE policy_targets (
    policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('name', 'tag')),
    value TEXT NOT NULL,
    PRIMARY KEY (policy_id, kind, value)
);

CREATE TABLE policy_accounts (
    policy_id TEXT NOT NULL REFERENCES policies (id) ON DELETE CASCADE,
    account_name TEXT NOT NULL,
    PRIMARY KEY (policy_id, account_name)
);

CREATE TABLE access_requests (
    id TEXT PRIMARY KEY,
    requester_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    policy_id TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    ticket TEXT,
    task TEXT,
    status TEXT NOT NULL,
    approvals_required INTEGER NOT NULL,
    approver_group_id TEXT,
    decided_by TEXT,
    decision_comment TEXT,
    decided_at INTEGER,
    decide_by INTEGER NOT NULL,
    grant_id TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX access_requests_status ON access_requests (status, decide_by);
CREATE INDEX access_requests_requester ON access_requests (requester_id, created_at);

CREATE TABLE request_approvals (
    request_id TEXT NOT NULL REFERENCES access_requests (id) ON DELETE CASCADE,
    approver_id TEXT NOT NULL,
    comment TEXT,
    at INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver_id)
);

CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    policy_id TEXT,
    request_id TEXT,
    origin TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_by TEXT,
    revoke_reason TEXT,
    enforced_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX grants_user_account ON grants (user_id, account_id, ends_at);
CREATE INDEX grants_unenforced ON grants (enforced_at, ends_at);

CREATE TABLE gateway_sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    username TEXT NOT NULL,
    target_id TEXT NOT NULL,
    target_name TEXT NOT NULL,
    account_id TEXT NOT NULL,
    account_name TEXT NOT NULL,
    grant_id TEXT,
    policy_id TEXT NOT NULL,
    protocol TEXT NOT NULL,
    source TEXT,
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    end_reason TEXT,
    bytes_to_target INTEGER NOT NULL DEFAULT 0,
    bytes_from_target INTEGER NOT NULL DEFAULT 0,
    recording TEXT,
    consent_accepted_at INTEGER,
    node TEXT NOT NULL
);
CREATE INDEX gateway_sessions_started ON gateway_sessions (started_at);
CREATE INDEX gateway_sessions_live ON gateway_sessions (ended_at, node);
CREATE INDEX gateway_sessions_grant ON gateway_sessions (grant_id);
