//! Building blocks of the access tests: people, inventory, policies, requests, gateway sessions and audit lookups.

/// Generates a `sqlite` and a `postgres` test from one async check (the suites include this file with
/// `#[macro_use]`).
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(latch_testkit::app::TestApp::sqlite().await.expect("app")).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                match latch_testkit::app::TestApp::postgres(stringify!($name)).await.expect("postgres app") {
                    Some(t) => super::$name(t).await,
                    None => eprintln!("skipped: PostgreSQL is not available"),
                }
            })*
        }
    };
}

use latch_app::domain::access_request::RequestStatus;
use latch_app::domain::gateway_session::SessionEndReason;
use latch_app::domain::names::{AccountName, TargetName};
use latch_app::domain::permission::Role;
use latch_app::domain::policy::{
    AccessMode, AccountSelector, ApprovalRule, ForwardingRules, PolicyRules, TargetSelector, TicketPattern,
};
use latch_app::domain::target::Protocol;
use latch_app::domain::{GroupId, TimeSpan, Timestamp};
use latch_app::{
    App, AppError, AuditQuery, AuditRecord, ConnectionGrant, GatewayIdentity, LiveSession, NewAccessRequest,
    NewAccount, NewTarget, PolicyDetails, PolicyDraft, Principal, RequestContext, SecretString, SessionStart,
    SessionTraffic,
};
use latch_testkit::app::{ADMIN_PASSWORD, TestApp, USER_PASSWORD, login};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

pub fn ctx() -> RequestContext {
    RequestContext::default()
}

/// The admin as a principal, logged in again when the manual clock has moved past the session's timeouts.
pub async fn admin(t: &TestApp) -> Principal {
    if let Ok(admin) = t.admin().await {
        return admin;
    }
    let token = login(&t.app, "admin", ADMIN_PASSWORD).await.expect("admin login");
    t.app.authenticate(&token, &ctx()).await.expect("admin principal")
}

/// Creates a user with `roles` and returns them logged in.
pub async fn person(t: &TestApp, name: &str, roles: &[Role]) -> Principal {
    let token = t.user_with_roles(name, roles).await.expect("create user");
    t.app.authenticate(&token, &ctx()).await.expect("authenticate")
}

/// The user behind a principal.
pub fn user_id(p: &Principal) -> latch_app::domain::UserId {
    p.as_user().expect("a user").user().id
}

/// Creates `target` (SSH) with one account per name; accounts get a password unless their name starts with
/// `nosecret`.
pub async fn inventory(t: &TestApp, target: &str, accounts: &[&str]) {
    let admin = admin(t).await;
    let new = NewTarget { name: target.into(), address: "10.0.0.7".into(), ..NewTarget::default() };
    t.app.create_target(&admin, new, &ctx()).await.expect("create target");
    for name in accounts {
        let account = NewAccount {
            username: (*name).into(),
            secret_kind: "password".into(),
            secret: (!name.starts_with("nosecret")).then(|| SecretString::new("an account password 1".to_owned())),
            api_enabled: false,
            rotate_after_use: false,
            exclusive_checkout: true,
            description: String::new(),
        };
        t.app.create_account(&admin, target, account, &ctx()).await.expect("create account");
    }
}

/// On-request access needing `approvals` approvals (from `group` when given).
pub fn on_request(approvals: u8, group: Option<GroupId>) -> AccessMode {
    AccessMode::OnRequest(ApprovalRule { approvals_required: approvals, approver_group: group })
}

/// Plain rules: `mode`, windows of at most an hour, nothing else required.
pub fn rules(mode: AccessMode) -> PolicyRules {
    PolicyRules {
        mode,
        max_duration: TimeSpan::from_hours(1),
        schedule: None,
        mfa_to_request: false,
        mfa_to_connect: false,
        record_input: false,
        reveal_allowed: false,
        ticket_required: false,
        ticket_pattern: None,
        integration: None,
        forwarding: ForwardingRules::default(),
        consent_banner: None,
        recording_retention_days: None,
        recording_required: true,
    }
}

/// A policy for `users` on the target `target`, for `accounts` (empty: any account).
pub fn draft(name: &str, users: &[&str], target: &str, accounts: &[&str], rules: PolicyRules) -> PolicyDraft {
    let accounts = if accounts.is_empty() {
        AccountSelector::Any
    } else {
        AccountSelector::Named(accounts.iter().map(|a| AccountName::parse(a).expect("account name")).collect())
    };
    PolicyDraft {
        name: name.into(),
        description: String::new(),
        enabled: true,
        users: users.iter().map(|u| (*u).to_owned()).collect(),
        groups: Vec::new(),
        targets: vec![TargetSelector::Name(TargetName::parse(target).expect("target name"))],
        accounts,
        rules,
    }
}

pub async fn create_policy(t: &TestApp, draft: PolicyDraft) -> PolicyDetails {
    t.app.create_policy(&admin(t).await, draft, &ctx()).await.expect("create policy")
}

pub fn ticket_pattern(source: &str) -> TicketPattern {
    TicketPattern::parse(source).expect("ticket pattern")
}

/// A request for `account` on `target`, starting now, lasting `minutes`.
pub fn ask(target: &str, account: &str, minutes: i64) -> NewAccessRequest {
    NewAccessRequest {
        target: target.into(),
        account: Some(account.into()),
        duration: Some(TimeSpan::from_minutes(minutes)),
        reason: "routine maintenance".into(),
        ..NewAccessRequest::default()
    }
}

/// The request's current status as stored.
pub async fn status_of(t: &TestApp, id: &impl ToString) -> RequestStatus {
    t.app.get_request(&admin(t).await, &id.to_string()).await.expect("get request").status
}

/// Logs `name` in at the gateway with their password.
pub async fn gateway_login(app: &App, name: &str) -> GatewayIdentity {
    app.gateway_login_with_password(name, &SecretString::new(USER_PASSWORD.to_owned()), None, &ctx())
        .await
        .expect("gateway login")
}

pub async fn authorize(
    app: &App,
    who: &GatewayIdentity,
    target: &str,
    account: &str,
) -> Result<ConnectionGrant, AppError> {
    app.authorize_connection(who, target, Some(account), Protocol::Ssh, &ctx()).await
}

/// A gateway session run by a front end that closes as soon as Latch asks: the task resolves with the reason and
/// the instant it was observed, after recording the end the way the SSH front end does.
#[derive(Debug)]
pub struct RunningSession {
    pub id: String,
    task: JoinHandle<(SessionEndReason, Instant)>,
}

impl RunningSession {
    /// Waits (at most 5 s, so a session Latch never ends fails the test instead of hanging it) for the front end to
    /// close the session; returns the reason Latch gave and when the front end saw it.
    pub async fn closed(&mut self) -> (SessionEndReason, Instant) {
        let waited = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        waited.expect("Latch ended the session within 5 s").expect("session task")
    }

    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

pub async fn run_session(app: &App, grant: &ConnectionGrant) -> RunningSession {
    let live: LiveSession = app.start_gateway_session(grant, SessionStart::default(), &ctx()).await.expect("start");
    let id = live.key().session_id.to_string();
    let app = app.clone();
    let task = tokio::spawn(async move {
        let reason = live.ended().await;
        let observed = Instant::now();
        app.end_gateway_session(live, reason, SessionTraffic::default(), Vec::new()).await.expect("end session");
        (reason, observed)
    });
    RunningSession { id, task }
}

/// Every audit record of `kind`, oldest first.
pub async fn audit(t: &TestApp, kind: &str) -> Vec<AuditRecord> {
    let query = AuditQuery { kind: Some(kind.to_owned()), limit: 1000, ..AuditQuery::default() };
    t.app.list_audit(&admin(t).await, query).await.expect("list audit").records
}

/// The audit records of `kind` whose details mention `id`.
pub async fn audit_about(t: &TestApp, kind: &str, id: &impl ToString) -> Vec<AuditRecord> {
    let id = id.to_string();
    audit(t, kind).await.into_iter().filter(|r| r.details.contains(&id)).collect()
}

/// A text field of an audit record's details (compact JSON with plain values).
pub fn text_field(details: &str, key: &str) -> String {
    let pattern = format!("\"{key}\":\"");
    assert!(details.contains(&pattern), "no text field {key:?} in {details}");
    let start = details.find(&pattern).expect("field") + pattern.len();
    let len = details[start..].find('"').expect("closing quote");
    details[start..start + len].to_owned()
}

/// An integer field of an audit record's details.
pub fn int_field(details: &str, key: &str) -> i64 {
    let pattern = format!("\"{key}\":");
    assert!(details.contains(&pattern), "no field {key:?} in {details}");
    let start = details.find(&pattern).expect("field") + pattern.len();
    let digits: String = details[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '-').collect();
    digits.parse().expect("an integer field")
}

/// A time field of an audit record's details.
pub fn time_field(details: &str, key: &str) -> Timestamp {
    Timestamp::from_millis(int_field(details, key))
}
