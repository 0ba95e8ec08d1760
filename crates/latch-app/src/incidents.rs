//! Incident-bound access: a policy may name an incident integration, which answers with the tasks open for a ticket
//! and when each expires. The requester picks a task; the request is checked again with the integration when it is
//! made, and its window ends at the task's expiry at most. A lookup that fails or times out refuses the request
//! (fail closed). Closing an incident (reported by the incident system through an authenticated inbound call)
//! revokes its grants at once and cancels its pending requests. Test mode runs the whole check for an admin without
//! granting anything.
//!
//! Asking the incident system needs an HTTP client, which lives in the binary; it installs one as an
//! [`IncidentDirectory`], so this crate stays free of protocol code. The directory also holds the inbound secrets;
//! comparing them is done here, in constant time.

use crate::access_requests::CheckedRequest;
use crate::{App, AppError, NewAccessRequest, Principal, RequestContext};
use latch_domain::access_request::{RequestDetails, RequestStatus};
use latch_domain::account::Account;
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::permission::Permission;
use latch_domain::policy::{PolicyRefusal, Requester};
use latch_domain::target::Target;
use latch_domain::user::User;
use latch_domain::{AccessRequestId, GroupId, TimeSpan, Timestamp};
use latch_store::Tx;
use latch_store::access_requests::Resolution;
use latch_store::incident_grants::IncidentBinding;
use latch_vault::SecretString;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// What Latch tells the incident system when asking for the open tasks of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentQuery {
    /// The requester's username.
    pub user: String,
    /// The target's name.
    pub target: String,
    /// The account's username on the target, when known.
    pub account: Option<String>,
    pub ticket: String,
}

/// One task open for a ticket, as the incident system describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentTask {
    pub id: String,
    pub title: String,
    /// Access for this task ends at this time at the latest.
    pub expires_at: Timestamp,
}

/// Why the incident system could not be asked. Messages never carry the integration's URL or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncidentLookupError {
    #[error("no incident integration named {0:?} is configured on this Latch")]
    Unknown(String),
    #[error("the incident system did not answer in time")]
    Timeout,
    #[error("the incident system is unavailable ({0})")]
    Unavailable(String),
    #[error("the incident system gave an invalid answer ({0})")]
    Invalid(String),
}

/// Asks incident systems for a ticket's open tasks, and knows the secrets they present on inbound calls.
pub trait IncidentDirectory: Send + Sync + Debug {
    /// The tasks open for `query.ticket` in the incident system of `integration`.
    fn lookup<'a>(
        &'a self,
        integration: &'a str,
        query: &'a IncidentQuery,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<IncidentTask>, IncidentLookupError>> + Send + 'a>>;

    /// The bearer secret the incident system of `integration` presents when it calls Latch; `None` when it may not.
    fn inbound_secret(&self, integration: &str) -> Option<&SecretString>;
}

/// What an admin's test of an integration asks: a request as `user` would make it.
#[derive(Debug, Clone, Default)]
pub struct IntegrationTest {
    /// Username or id of the user to test as.
    pub user: String,
    pub target: String,
    pub account: Option<String>,
    pub ticket: String,
    pub task: Option<String>,
    /// The window asked for (default one hour).
    pub duration: Option<TimeSpan>,
}

/// What a request would lead to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestVerdict {
    /// Approved at once.
    WouldGrant,
    /// Created and left pending for approvers.
    WouldAwaitApproval { approvals_required: u8 },
    /// Refused, with the message the requester would see.
    Refused(String),
}

impl TestVerdict {
    pub fn as_text(&self) -> String {
        match self {
            TestVerdict::WouldGrant => "would_grant".to_owned(),
            TestVerdict::WouldAwaitApproval { .. } => "would_wait_for_approval".to_owned(),
            TestVerdict::Refused(message) => format!("refused: {message}"),
        }
    }
}

/// What test mode found, step by step, and the verdict. Nothing was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationTestReport {
    pub integration: String,
    pub user: String,
    /// The policy that would decide the request, when one was found.
    pub policy: Option<String>,
    pub account: Option<String>,
    /// The open tasks the integration answered; `None` when the lookup was not reached or failed.
    pub tasks: Option<Vec<IncidentTask>>,
    pub task: Option<String>,
    /// The window a request would get (its end capped at the task's expiry), when every check passed.
    pub window: Option<(Timestamp, Timestamp)>,
    /// Whether the task's expiry cut the window short.
    pub capped: bool,
    pub verdict: TestVerdict,
}

/// An incident system that presented its integration's inbound secret. Only this crate constructs it.
#[derive(Debug, Clone)]
pub struct AuthenticatedIntegration {
    name: String,
}

impl AuthenticatedIntegration {
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What closing an incident ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IncidentClosure {
    pub grants_revoked: u64,
    pub requests_cancelled: u64,
}

/// A ticket and task an integration confirmed for a request.
#[derive(Debug, Clone)]
pub(crate) struct ValidatedIncident {
    pub(crate) integration: String,
    pub(crate) ticket: String,
    pub(crate) task: IncidentTask,
}

/// What a request check found on its way, for test mode's report.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckTrace {
    pub(crate) policy: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) tasks: Option<Vec<IncidentTask>>,
    pub(crate) window: Option<(Timestamp, Timestamp)>,
    pub(crate) capped: bool,
}

/// The request being checked with its policy's integration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IncidentCheck<'a> {
    pub(crate) integration: &'a str,
    pub(crate) requester: &'a User,
    pub(crate) target: &'a Target,
    pub(crate) account: &'a Account,
    pub(crate) starts_at: Timestamp,
    pub(crate) ends_at: Timestamp,
}

/// The most tasks an answer may list.
pub const MAX_INCIDENT_TASKS: usize = 100;
/// However the binary sets its timeout, a lookup never holds a request longer than this.
const LOOKUP_CEILING: Duration = Duration::from_secs(35);
const MAX_TASK_ID_CHARS: usize = 200;
const MAX_TASK_TITLE_CHARS: usize = 500;
const MAX_LISTED_IDS: usize = 20;
const MAX_INTEGRATION_NAME_CHARS: usize = 64;
const TEST_DURATION: TimeSpan = TimeSpan::from_hours(1);

impl App {
    /// Installs the client that asks incident systems (done once by the binary).
    pub fn install_incident_directory(&self, directory: std::sync::Arc<dyn IncidentDirectory>) {
        self.set_incident_directory(directory);
    }

    /// The tasks open for `ticket`, for the caller to pick one before requesting `target` under a policy that uses
    /// `integration`. Callers not covered by such a policy learn nothing (not found).
    pub async fn incident_tasks(
        &self,
        principal: &Principal,
        integration: &str,
        target: &str,
        account: Option<&str>,
        ticket: &str,
    ) -> Result<Vec<IncidentTask>, AppError> {
        principal.require(Permission::RequestsWrite)?;
        let me = principal.as_user()?.user();
        check_integration_name(integration)?;
        let ticket = RequestDetails::new("lookup", Some(ticket), None)?
            .ticket
            .ok_or_else(|| AppError::BadRequest(PolicyRefusal::TicketRequired.to_string()))?;
        let target = self.find_target(target).await?;
        let mut conn = self.store().read().await?;
        let groups: Vec<GroupId> = latch_store::groups::of_user(&mut conn, me.id).await?.iter().map(|g| g.id).collect();
        let policies = latch_store::policies::list(&mut conn).await?;
        let accounts = match account {
            Some(name) => {
                let name = latch_domain::names::AccountName::parse(name)?;
                let found = latch_store::accounts::find_on_target(&mut conn, target.id, &name).await?;
                vec![found.ok_or(AppError::NotFound("account"))?]
            }
            None => latch_store::accounts::list_for_target(&mut conn, target.id).await?,
        };
        drop(conn);
        let who = Requester { user_id: me.id, groups: &groups };
        let using: Vec<_> = policies
            .iter()
            .filter(|p| !p.is_standing() && p.spec.rules.integration.as_deref() == Some(integration))
            .collect();
        let covered: Vec<&Account> =
            accounts.iter().filter(|a| using.iter().any(|p| p.covers(who, &target, a))).collect();
        let [first, ..] = covered.as_slice() else { return Err(AppError::NotFound("integration")) };
        let pattern_ok = using
            .iter()
            .filter(|p| p.covers(who, &target, first))
            .any(|p| p.spec.rules.ticket_pattern.as_ref().is_none_or(|pattern| pattern.matches(&ticket)));
        if !pattern_ok {
            return Err(AppError::BadRequest("the ticket reference does not match the policy's pattern".to_owned()));
        }
        let query = IncidentQuery {
            user: me.username.to_string(),
            target: target.spec.name.to_string(),
            account: (covered.len() == 1).then(|| first.spec.username.to_string()),
            ticket,
        };
        self.lookup_incident(integration, &query).await
    }

    /// Test mode: runs the whole check of a request as `test.user` would make it under a policy using
    /// `integration` (lookup, task choice, expiry cap, approvals) and reports what would happen. Creates no request
    /// or grant; the test itself is audited.
    pub async fn test_incident_integration(
        &self,
        principal: &Principal,
        integration: &str,
        test: IntegrationTest,
        ctx: &RequestContext,
    ) -> Result<IntegrationTestReport, AppError> {
        principal.require(Permission::Admin)?;
        check_integration_name(integration)?;
        let user = self.find_user(&test.user).await?;
        let new = NewAccessRequest {
            target: test.target,
            account: test.account,
            duration: Some(test.duration.unwrap_or(TEST_DURATION)),
            reason: format!("test of the incident integration {integration}"),
            ticket: Some(test.ticket),
            task: test.task,
            ..NewAccessRequest::default()
        };
        let mut trace = CheckTrace::default();
        let checked = if user.disabled {
            Err(AppError::Disabled)
        } else {
            self.check_request(&user, &new, Some(integration), &mut trace).await
        };
        let verdict = match checked {
            Ok(CheckedRequest { rule, .. }) if rule.approvals_required == 0 => TestVerdict::WouldGrant,
            Ok(CheckedRequest { rule, .. }) => {
                TestVerdict::WouldAwaitApproval { approvals_required: rule.approvals_required }
            }
            Err(err) if err.is_internal() || matches!(err, AppError::Sealed) => return Err(err),
            Err(err) => TestVerdict::Refused(err.to_string()),
        };
        let report = IntegrationTestReport {
            integration: integration.to_owned(),
            user: user.username.to_string(),
            policy: trace.policy,
            account: trace.account,
            tasks: trace.tasks,
            task: new.task.clone(),
            window: trace.window,
            capped: trace.capped,
            verdict,
        };
        let event = AccessEvent::IntegrationTested {
            integration: integration.to_owned(),
            user_id: user.id,
            ticket: new.ticket.clone().unwrap_or_default(),
            task: new.task,
            verdict: report.verdict.as_text().chars().take(500).collect(),
        };
        let mut tx = self.store().begin().await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Authenticates an incident system calling its inbound route by the bearer secret it presents. A wrong secret,
    /// an unknown integration and one without an inbound secret all look the same (unauthenticated).
    pub fn authenticate_integration(
        &self,
        integration: &str,
        presented: &SecretString,
    ) -> Result<AuthenticatedIntegration, AppError> {
        let expected = self.incident_directory().and_then(|d| d.inbound_secret(integration));
        if !secret_matches(expected, presented) {
            return Err(AppError::Unauthenticated);
        }
        Ok(AuthenticatedIntegration { name: integration.to_owned() })
    }

    /// The incident system reports `ticket` closed: revokes every grant bound to it under this integration at once
    /// (their sessions end) and cancels its pending requests.
    pub async fn close_incident(
        &self,
        caller: &AuthenticatedIntegration,
        ticket: &str,
        ctx: &RequestContext,
    ) -> Result<IncidentClosure, AppError> {
        let integration = caller.name.as_str();
        let ticket = RequestDetails::new("close", Some(ticket), None)?
            .ticket
            .ok_or_else(|| AppError::BadRequest("give the ticket that was closed".to_owned()))?;
        let now = self.now();
        let by = format!("integration:{integration}");
        let reason = format!("incident {ticket} was closed");
        let mut closure = IncidentClosure::default();
        let mut tx = self.store().begin().await?;
        // Pending requests first: an approval racing this either ends before (its grant is found below) or finds
        // the request cancelled.
        for id in latch_store::incident_grants::pending_requests(&mut tx, integration, &ticket).await? {
            let resolution = Resolution {
                status: RequestStatus::Cancelled,
                decided_by: None,
                comment: Some(&reason),
                at: now,
                grant_id: None,
            };
            if latch_store::access_requests::resolve_pending(&mut tx, id, &resolution).await? {
                let event = AccessEvent::RequestCancelled { request_id: id };
                self.audit(&mut tx, ctx, &AuditActor::System, AuditEvent::Access(event)).await?;
                closure.requests_cancelled += 1;
            }
        }
        for id in latch_store::incident_grants::open_grants(&mut tx, integration, &ticket, now).await? {
            if latch_store::grants::revoke(&mut tx, id, now, &by, &reason).await? {
                let event = AccessEvent::GrantRevoked { grant_id: id, reason: reason.clone() };
                self.audit(&mut tx, ctx, &AuditActor::System, AuditEvent::Access(event)).await?;
                closure.grants_revoked += 1;
            }
        }
        let event = AccessEvent::IncidentClosed {
            integration: integration.to_owned(),
            ticket: ticket.clone(),
            grants_revoked: i64::try_from(closure.grants_revoked).unwrap_or(i64::MAX),
            requests_cancelled: i64::try_from(closure.requests_cancelled).unwrap_or(i64::MAX),
        };
        self.audit(&mut tx, ctx, &AuditActor::System, AuditEvent::Access(event)).await?;
        tx.commit().await?;
        tracing::info!(integration, ticket, grants_revoked = closure.grants_revoked, "incident closed");
        // End the sessions now rather than at the sweeper's next pass; the sweeper retries if this fails.
        if let Err(err) = self.enforce_grant_ends().await {
            tracing::warn!(error = %err, "cannot enforce the ends of an incident's grants yet");
        }
        Ok(closure)
    }

    /// Asks the integration for the ticket's open tasks and checks the chosen one: it must be open and not expired,
    /// and the window ends at its expiry at most. Returns the validated incident and the (capped) end.
    pub(crate) async fn check_incident(
        &self,
        check: &IncidentCheck<'_>,
        details: &RequestDetails,
        trace: &mut CheckTrace,
    ) -> Result<(ValidatedIncident, Timestamp), AppError> {
        let ticket =
            details.ticket.clone().ok_or_else(|| AppError::BadRequest(PolicyRefusal::TicketRequired.to_string()))?;
        let query = IncidentQuery {
            user: check.requester.username.to_string(),
            target: check.target.spec.name.to_string(),
            account: Some(check.account.spec.username.to_string()),
            ticket: ticket.clone(),
        };
        let tasks = self.lookup_incident(check.integration, &query).await?;
        trace.tasks = Some(tasks.clone());
        let task = choose_task(&tasks, details.task.as_deref(), &ticket, self.now(), check.starts_at)?;
        let ends_at = check.ends_at.min(task.expires_at);
        trace.capped = ends_at < check.ends_at;
        let incident = ValidatedIncident { integration: check.integration.to_owned(), ticket, task: task.clone() };
        Ok((incident, ends_at))
    }

    /// Records which integration validated the request, with its ticket and task, in `tx`.
    pub(crate) async fn bind_incident(
        &self,
        tx: &mut Tx,
        ctx: &RequestContext,
        actor: &AuditActor,
        request_id: AccessRequestId,
        incident: &ValidatedIncident,
    ) -> Result<(), AppError> {
        let binding = IncidentBinding {
            request_id,
            integration: &incident.integration,
            ticket: &incident.ticket,
            task: &incident.task.id,
            task_expires_at: incident.task.expires_at,
            validated_at: self.now(),
        };
        latch_store::incident_grants::bind(tx, &binding).await?;
        let event = AccessEvent::RequestIncidentValidated {
            request_id,
            integration: incident.integration.clone(),
            ticket: incident.ticket.clone(),
            task: incident.task.id.clone(),
            task_expires_at: incident.task.expires_at,
        };
        self.audit(tx, ctx, actor, AuditEvent::Access(event)).await
    }

    /// The integration's answer, checked; any failure refuses (fail closed) with a message saying why.
    async fn lookup_incident(&self, integration: &str, query: &IncidentQuery) -> Result<Vec<IncidentTask>, AppError> {
        let answer = match self.incident_directory() {
            Some(directory) => tokio::time::timeout(LOOKUP_CEILING, directory.lookup(integration, query))
                .await
                .unwrap_or(Err(IncidentLookupError::Timeout)),
            None => Err(IncidentLookupError::Unknown(integration.to_owned())),
        };
        answer.and_then(check_answer).map_err(|err| {
            tracing::warn!(integration, error = %err, "incident lookup failed; refusing");
            AppError::Refused(format!(
                "cannot check the ticket with the incident integration {integration:?}: {err}; access is refused \
                 until it can be checked"
            ))
        })
    }
}

/// Integration names are at most 64 characters (the binary's config allows no longer ones).
fn check_integration_name(integration: &str) -> Result<(), AppError> {
    if integration.is_empty() || integration.chars().count() > MAX_INTEGRATION_NAME_CHARS {
        return Err(AppError::NotFound("integration"));
    }
    Ok(())
}

/// Compares the presented inbound secret with the expected one in constant time (over SHA-256 digests, so the
/// lengths do not leak either); an integration without one refuses everything.
fn secret_matches(expected: Option<&SecretString>, presented: &SecretString) -> bool {
    let presented = latch_vault::sha256(presented.expose().as_bytes());
    match expected {
        Some(expected) => {
            let expected = latch_vault::sha256(expected.expose().as_bytes());
            latch_vault::constant_time_eq(&expected, &presented)
        }
        None => {
            let _ = latch_vault::constant_time_eq(&[0; 32], &presented);
            false
        }
    }
}

/// Refuses answers too large or with tasks Latch cannot show or store.
fn check_answer(tasks: Vec<IncidentTask>) -> Result<Vec<IncidentTask>, IncidentLookupError> {
    let invalid = |why: &str| Err(IncidentLookupError::Invalid(why.to_owned()));
    if tasks.len() > MAX_INCIDENT_TASKS {
        return invalid("too many tasks");
    }
    let printable = |text: &str, max: usize| text.chars().count() <= max && !text.chars().any(char::is_control);
    for (index, task) in tasks.iter().enumerate() {
        if task.id.trim().is_empty() || task.id.trim() != task.id || !printable(&task.id, MAX_TASK_ID_CHARS) {
            return invalid("a task id is empty, too long or not printable");
        }
        if !printable(&task.title, MAX_TASK_TITLE_CHARS) {
            return invalid("a task title is too long or not printable");
        }
        if tasks[..index].iter().any(|earlier| earlier.id == task.id) {
            return invalid("a task id appears twice");
        }
    }
    Ok(tasks)
}

/// The task the requester chose, if it is open, not expired and does not expire before the window starts.
fn choose_task<'t>(
    tasks: &'t [IncidentTask],
    chosen: Option<&str>,
    ticket: &str,
    now: Timestamp,
    starts_at: Timestamp,
) -> Result<&'t IncidentTask, AppError> {
    let refuse = |message: String| Err(AppError::BadRequest(message));
    if tasks.is_empty() {
        return refuse(format!("no tasks are open for the ticket {ticket}"));
    }
    let mut open: Vec<&str> = tasks.iter().take(MAX_LISTED_IDS).map(|t| t.id.as_str()).collect();
    if tasks.len() > MAX_LISTED_IDS {
        open.push("…");
    }
    let open = open.join(", ");
    let Some(chosen) = chosen else {
        return refuse(format!("choose the task you will work on; open tasks for the ticket {ticket}: {open}"));
    };
    let Some(task) = tasks.iter().find(|t| t.id == chosen) else {
        return refuse(format!("the task {chosen:?} is not open for the ticket {ticket}; open tasks: {open}"));
    };
    if task.expires_at <= now {
        return refuse(format!("the task {chosen:?} has expired"));
    }
    if task.expires_at <= starts_at {
        return refuse(format!("the task {chosen:?} expires before the window starts"));
    }
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: &str, expires_ms: i64) -> IncidentTask {
        IncidentTask {
            id: id.to_owned(),
            title: format!("title of {id}"),
            expires_at: Timestamp::from_millis(expires_ms),
        }
    }

    #[test]
    fn the_chosen_task_must_be_open_and_unexpired() {
        let tasks = [task("T1", 10_000), task("T2", 500)];
        let now = Timestamp::from_millis(1_000);
        let check = |chosen: Option<&str>, starts: i64| {
            choose_task(&tasks, chosen, "INC1", now, Timestamp::from_millis(starts))
                .map(|t| t.id.clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(check(Some("T1"), 1_000), Ok("T1".to_owned()));
        assert!(check(None, 1_000).is_err_and(|e| e.contains("T1, T2")));
        assert!(check(Some("T9"), 1_000).is_err_and(|e| e.contains("not open") && e.contains("T1, T2")));
        assert!(check(Some("T2"), 1_000).is_err_and(|e| e.contains("expired")));
        assert!(check(Some("T1"), 20_000).is_err_and(|e| e.contains("before the window starts")));
        assert!(choose_task(&[], Some("T1"), "INC1", now, now).is_err_and(|e| e.to_string().contains("no tasks")));
    }

    #[test]
    fn answers_are_bounded_and_printable() {
        assert!(check_answer(vec![task("a", 1), task("b", 1)]).is_ok());
        assert!(check_answer(vec![task("a", 1), task("a", 2)]).is_err());
        assert!(check_answer(vec![task("", 1)]).is_err());
        assert!(check_answer(vec![task(" a", 1)]).is_err());
        assert!(check_answer(vec![task("a\nb", 1)]).is_err());
        assert!(check_answer(vec![task(&"x".repeat(201), 1)]).is_err());
        assert!(check_answer((0..=MAX_INCIDENT_TASKS).map(|i| task(&i.to_string(), 1)).collect()).is_err());
    }

    #[test]
    fn inbound_secrets_compare_by_content() {
        let secret = SecretString::new("inbound-secret-0123456789".to_owned());
        assert!(secret_matches(Some(&secret), &SecretString::new("inbound-secret-0123456789".to_owned())));
        assert!(!secret_matches(Some(&secret), &SecretString::new("inbound-secret-012345678".to_owned())));
        assert!(!secret_matches(None, &SecretString::new(String::new())));
    }
}
