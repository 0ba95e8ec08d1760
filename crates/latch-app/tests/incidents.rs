//! Incident-bound access on a real store (SQLite, and PostgreSQL when available), with a manual clock. The incident
//! system is an in-test [`IncidentDirectory`], the trait's whole contract; the real HTTP client is tested end to
//! end in the `latch` crate. Covered: listing a ticket's tasks to covered requesters only, a valid task capping the
//! window, tasks not open or expired refused, lookups failing or timing out refusing (fail closed), an incident's
//! closing revoking its grants (and ending their sessions) and cancelling its pending requests, the inbound secret,
//! and test mode creating nothing.

#![expect(clippy::expect_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "access/fixture.rs"]
#[macro_use]
#[expect(dead_code, reason = "the fixture serves the access tests too; this suite uses part of it")]
mod fixture;

use fixture::{
    admin, ask, audit, authorize, create_policy, ctx, draft, gateway_login, int_field, inventory, on_request, person,
    rules, run_session, status_of, text_field, time_field,
};
use latch_app::domain::access_request::RequestStatus;
use latch_app::domain::gateway_session::SessionEndReason;
use latch_app::domain::permission::Role;
use latch_app::domain::policy::PolicyRules;
use latch_app::domain::{TimeSpan, Timestamp};
use latch_app::{
    AppError, IncidentDirectory, IncidentLookupError, IncidentQuery, IncidentTask, IntegrationTest, NewAccessRequest,
    Principal, RequestScope, SecretString, TestVerdict,
};
use latch_testkit::app::TestApp;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

on_both!(
    requesters_see_the_open_tasks_of_their_policies_only,
    a_valid_task_grants_a_window_capped_at_its_expiry,
    tasks_not_open_or_expired_are_refused,
    failed_or_slow_lookups_refuse_the_request,
    closing_an_incident_revokes_its_grants_at_once,
    the_inbound_call_needs_the_integration_secret,
    test_mode_reports_and_creates_nothing,
);

const INTEGRATION: &str = "itsm";
const INBOUND: &str = "inbound-secret-for-itsm-0123456789";

/// How the in-test incident system answers.
#[derive(Debug, Clone)]
enum Behaviour {
    Answer,
    Fail(IncidentLookupError),
    /// Answers late, with the timeout a real directory reports when the incident system is too slow.
    Hang,
}

/// An incident system with open tasks per ticket, that records what it was asked.
#[derive(Debug)]
struct FakeIncidents {
    tasks: Mutex<HashMap<String, Vec<IncidentTask>>>,
    behaviour: Mutex<Behaviour>,
    asked: Mutex<Vec<IncidentQuery>>,
    inbound: SecretString,
}

impl FakeIncidents {
    fn new() -> Arc<FakeIncidents> {
        Arc::new(FakeIncidents {
            tasks: Mutex::new(HashMap::new()),
            behaviour: Mutex::new(Behaviour::Answer),
            asked: Mutex::new(Vec::new()),
            inbound: SecretString::new(INBOUND.to_owned()),
        })
    }

    fn open(&self, ticket: &str, id: &str, expires_at: Timestamp) {
        let task = IncidentTask { id: id.to_owned(), title: format!("work on {id}"), expires_at };
        self.tasks.lock().expect("tasks").entry(ticket.to_owned()).or_default().push(task);
    }

    fn behave(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("behaviour") = behaviour;
    }

    fn asked(&self) -> Vec<IncidentQuery> {
        self.asked.lock().expect("asked").clone()
    }
}

impl IncidentDirectory for FakeIncidents {
    fn lookup<'a>(
        &'a self,
        integration: &'a str,
        query: &'a IncidentQuery,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<IncidentTask>, IncidentLookupError>> + Send + 'a>> {
        Box::pin(async move {
            if integration != INTEGRATION {
                return Err(IncidentLookupError::Unknown(integration.to_owned()));
            }
            self.asked.lock().expect("asked").push(query.clone());
            let behaviour = self.behaviour.lock().expect("behaviour").clone();
            match behaviour {
                Behaviour::Answer => {
                    Ok(self.tasks.lock().expect("tasks").get(&query.ticket).cloned().unwrap_or_default())
                }
                Behaviour::Fail(err) => Err(err),
                Behaviour::Hang => {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    Err(IncidentLookupError::Timeout)
                }
            }
        })
    }

    fn inbound_secret(&self, integration: &str) -> Option<&SecretString> {
        (integration == INTEGRATION).then_some(&self.inbound)
    }
}

fn minutes(n: i64) -> TimeSpan {
    TimeSpan::from_minutes(n)
}

/// On-request rules (auto-approved unless `approvals`), a ticket required, validated by the integration.
fn incident_rules(approvals: u8) -> PolicyRules {
    PolicyRules {
        ticket_required: true,
        integration: Some(INTEGRATION.to_owned()),
        max_duration: TimeSpan::from_hours(4),
        ..rules(on_request(approvals, None))
    }
}

/// db01 with `root`; alice (returned) may request it under the incident policy, checked by the installed incident
/// system (returned).
async fn setup(t: &TestApp) -> (Arc<FakeIncidents>, Principal) {
    let alice = person(t, "alice", &[Role::User]).await;
    inventory(t, "db01", &["root"]).await;
    create_policy(t, draft("incident-root", &["alice"], "db01", &["root"], incident_rules(0))).await;
    let incidents = FakeIncidents::new();
    t.app.install_incident_directory(incidents.clone());
    (incidents, alice)
}

fn with_incident(mut new: NewAccessRequest, ticket: &str, task: Option<&str>) -> NewAccessRequest {
    new.ticket = Some(ticket.to_owned());
    new.task = task.map(str::to_owned);
    new
}

async fn request_count(t: &TestApp) -> usize {
    t.app.list_requests(&admin(t).await, RequestScope::All, None, 500, 0).await.expect("list").len()
}

async fn requesters_see_the_open_tasks_of_their_policies_only(t: TestApp) {
    let (incidents, alice) = setup(&t).await;
    let now = t.app.now();
    incidents.open("INC100", "T1", now.plus(minutes(30)));
    incidents.open("INC100", "T2", now.plus(minutes(90)));
    let tasks = t.app.incident_tasks(&alice, INTEGRATION, "db01", None, " INC100 ").await.expect("tasks");
    assert_eq!(tasks.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["T1", "T2"]);
    let asked = incidents.asked();
    assert_eq!(asked[0].user, "alice");
    assert_eq!(asked[0].target, "db01");
    assert_eq!(asked[0].account.as_deref(), Some("root"), "the one covered account is named");
    assert_eq!(asked[0].ticket, "INC100");

    // Someone no policy covers, or an integration the policy does not use, learns nothing.
    let bob = person(&t, "bob", &[Role::User]).await;
    let refused = t.app.incident_tasks(&bob, INTEGRATION, "db01", None, "INC100").await;
    assert!(matches!(refused, Err(AppError::NotFound(_))), "{refused:?}");
    let refused = t.app.incident_tasks(&alice, "other", "db01", None, "INC100").await;
    assert!(matches!(refused, Err(AppError::NotFound(_))), "{refused:?}");
    assert_eq!(incidents.asked().len(), 1, "refused callers never reach the incident system");
}

async fn a_valid_task_grants_a_window_capped_at_its_expiry(t: TestApp) {
    let (incidents, alice) = setup(&t).await;
    let now = t.app.now();
    incidents.open("INC200", "T-short", now.plus(minutes(30)));
    incidents.open("INC200", "T-long", now.plus(minutes(300)));

    let outcome = t
        .app
        .request_access(&alice, with_incident(ask("db01", "root", 60), "INC200", Some("T-short")), &ctx())
        .await
        .expect("request");
    let grant = outcome.grant.expect("approved at once");
    assert_eq!(grant.ends_at, now.plus(minutes(30)), "capped at the task's expiry");
    assert_eq!(outcome.request.ends_at, grant.ends_at);
    assert_eq!(outcome.request.details.ticket.as_deref(), Some("INC200"));
    assert_eq!(outcome.request.details.task.as_deref(), Some("T-short"));
    let validated = audit(&t, "request.incident_validated").await;
    assert_eq!(validated.len(), 1);
    assert_eq!(text_field(&validated[0].details, "integration"), INTEGRATION);
    assert_eq!(text_field(&validated[0].details, "task"), "T-short");
    assert_eq!(time_field(&validated[0].details, "task_expires_at"), now.plus(minutes(30)));

    // A task expiring after the window leaves it as asked.
    let outcome = t
        .app
        .request_access(&alice, with_incident(ask("db01", "root", 60), "INC200", Some("T-long")), &ctx())
        .await
        .expect("request");
    assert_eq!(outcome.grant.expect("grant").ends_at, now.plus(minutes(60)));
}

async fn tasks_not_open_or_expired_are_refused(t: TestApp) {
    let (incidents, alice) = setup(&t).await;
    let now = t.app.now();
    incidents.open("INC300", "T1", now.plus(minutes(30)));
    incidents.open("INC300", "T2", now.plus(minutes(5)));
    let refused = |result: Result<_, AppError>| match result {
        Err(AppError::BadRequest(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    };

    let message = refused(
        t.app.request_access(&alice, with_incident(ask("db01", "root", 60), "INC300", Some("T9")), &ctx()).await,
    );
    assert!(message.contains("\"T9\" is not open") && message.contains("T1, T2"), "{message}");
    let message =
        refused(t.app.request_access(&alice, with_incident(ask("db01", "root", 60), "INC300", None), &ctx()).await);
    assert!(message.contains("choose the task") && message.contains("T1, T2"), "{message}");
    let message = refused(
        t.app.request_access(&alice, with_incident(ask("db01", "root", 60), "INC999", Some("T1")), &ctx()).await,
    );
    assert!(message.contains("no tasks are open"), "{message}");
    let message = refused(t.app.request_access(&alice, ask("db01", "root", 60), &ctx()).await);
    assert!(message.contains("requires a ticket"), "{message}");

    // The incident system may still list a task whose time is up.
    t.clock.advance(minutes(10));
    let message = refused(
        t.app.request_access(&alice, with_incident(ask("db01", "root", 60), "INC300", Some("T2")), &ctx()).await,
    );
    assert!(message.contains("expired"), "{message}");
    assert_eq!(request_count(&t).await, 0, "refusals store nothing");
}

async fn failed_or_slow_lookups_refuse_the_request(t: TestApp) {
    let alice_request = || with_incident(ask("db01", "root", 60), "INC400", Some("T1"));
    let alice = person(&t, "alice", &[Role::User]).await;
    inventory(&t, "db01", &["root"]).await;
    create_policy(&t, draft("incident-root", &["alice"], "db01", &["root"], incident_rules(0))).await;

    // No incident client installed at all.
    let result = t.app.request_access(&alice, alice_request(), &ctx()).await;
    assert!(
        matches!(&result, Err(AppError::Refused(m)) if m.contains("no incident integration") && m.contains("refused")),
        "{result:?}"
    );

    let incidents = FakeIncidents::new();
    t.app.install_incident_directory(incidents.clone());
    incidents.open("INC400", "T1", t.app.now().plus(minutes(30)));
    for (behaviour, expected) in [
        (Behaviour::Hang, "did not answer in time"),
        (Behaviour::Fail(IncidentLookupError::Unavailable("HTTP 503".to_owned())), "unavailable (HTTP 503)"),
        (Behaviour::Fail(IncidentLookupError::Invalid("not JSON".to_owned())), "invalid answer"),
    ] {
        incidents.behave(behaviour);
        let started = Instant::now();
        let result = t.app.request_access(&alice, alice_request(), &ctx()).await;
        assert!(matches!(&result, Err(AppError::Refused(m)) if m.contains(expected)), "{expected}: {result:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(request_count(&t).await, 0, "fail closed: nothing was stored");
    incidents.behave(Behaviour::Answer);
    t.app.request_access(&alice, alice_request(), &ctx()).await.expect("granted once the system answers");
}

async fn closing_an_incident_revokes_its_grants_at_once(t: TestApp) {
    let (incidents, alice) = setup(&t).await;
    let carol = person(&t, "carol", &[Role::User]).await;
    create_policy(&t, draft("incident-carol", &["carol"], "db01", &["root"], incident_rules(1))).await;
    let now = t.app.now();
    incidents.open("INC500", "T1", now.plus(minutes(120)));
    incidents.open("INC501", "T1", now.plus(minutes(120)));
    let closing = t
        .app
        .request_access(&alice, with_incident(ask("db01", "root", 60), "INC500", Some("T1")), &ctx())
        .await
        .expect("request")
        .grant
        .expect("grant");
    let pending = t
        .app
        .request_access(&carol, with_incident(ask("db01", "root", 60), "INC500", Some("T1")), &ctx())
        .await
        .expect("request")
        .request;
    assert_eq!(pending.status, RequestStatus::Pending);
    let who = gateway_login(&t.app, "alice").await;
    let connection = authorize(&t.app, &who, "db01", "root").await.expect("authorized");
    let mut session = run_session(&t.app, &connection).await;
    // Another incident's grant of the same account, made after the session started under the first one.
    let other = t
        .app
        .request_access(&alice, with_incident(ask("db01", "root", 60), "INC501", Some("T1")), &ctx())
        .await
        .expect("request")
        .grant
        .expect("grant");

    let caller = t.app.authenticate_integration(INTEGRATION, &SecretString::new(INBOUND.to_owned())).expect("caller");
    let asked = Instant::now();
    let closure = t.app.close_incident(&caller, "INC500", &ctx()).await.expect("close");
    assert_eq!((closure.grants_revoked, closure.requests_cancelled), (1, 1));
    let (reason, seen) = session.closed().await;
    assert_eq!(reason, SessionEndReason::GrantRevoked);
    assert!(seen.duration_since(asked) < Duration::from_secs(1), "the session ended within 1 s");

    let admin = admin(&t).await;
    let revoked = t.app.get_grant(&admin, &closing.id.to_string()).await.expect("grant");
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.revoked_by.as_deref(), Some("integration:itsm"));
    assert!(revoked.enforced_at.is_some(), "enforced with a receipt at once");
    let untouched = t.app.get_grant(&admin, &other.id.to_string()).await.expect("grant");
    assert!(untouched.revoked_at.is_none(), "another incident's grant stays");
    assert_eq!(status_of(&t, &pending.id).await, RequestStatus::Cancelled);
    let closed = audit(&t, "incident.closed").await;
    assert_eq!(closed.len(), 1);
    assert_eq!(text_field(&closed[0].details, "ticket"), "INC500");
    assert_eq!(int_field(&closed[0].details, "grants_revoked"), 1);
    assert_eq!(int_field(&closed[0].details, "requests_cancelled"), 1);
    assert!(audit(&t, "grant.ended").await.iter().any(|r| r.details.contains(&closing.id.to_string())));

    // Closing again finds nothing left to end.
    let closure = t.app.close_incident(&caller, "INC500", &ctx()).await.expect("close again");
    assert_eq!((closure.grants_revoked, closure.requests_cancelled), (0, 0));
}

async fn the_inbound_call_needs_the_integration_secret(t: TestApp) {
    let _ = setup(&t).await;
    let secret = |text: &str| SecretString::new(text.to_owned());
    for (integration, presented) in [
        (INTEGRATION, "wrong-secret-0123456789-abcdef"),
        (INTEGRATION, ""),
        (INTEGRATION, &INBOUND[..INBOUND.len() - 1]),
        ("other", INBOUND),
    ] {
        let result = t.app.authenticate_integration(integration, &secret(presented));
        assert!(matches!(result, Err(AppError::Unauthenticated)), "{integration} {presented:?}: {result:?}");
    }
    assert_eq!(t.app.authenticate_integration(INTEGRATION, &secret(INBOUND)).expect("right secret").name(), "itsm");
}

async fn test_mode_reports_and_creates_nothing(t: TestApp) {
    let (incidents, _) = setup(&t).await;
    inventory(&t, "web01", &["deploy"]).await;
    create_policy(&t, draft("plain-web", &["alice"], "web01", &[], rules(on_request(0, None)))).await;
    let now = t.app.now();
    incidents.open("INC600", "T1", now.plus(minutes(20)));
    let admin = admin(&t).await;
    let test = |task: Option<&str>| IntegrationTest {
        user: "alice".into(),
        target: "db01".into(),
        ticket: "INC600".into(),
        task: task.map(str::to_owned),
        ..IntegrationTest::default()
    };

    let report = t.app.test_incident_integration(&admin, INTEGRATION, test(Some("T1")), &ctx()).await.expect("test");
    assert_eq!(report.verdict, TestVerdict::WouldGrant);
    assert_eq!(report.policy.as_deref(), Some("incident-root"));
    assert_eq!(report.account.as_deref(), Some("root"));
    assert_eq!(report.tasks.as_ref().map(Vec::len), Some(1));
    assert_eq!(report.window, Some((now, now.plus(minutes(20)))), "the default hour, capped at the task's expiry");
    assert!(report.capped);

    let report = t.app.test_incident_integration(&admin, INTEGRATION, test(Some("T7")), &ctx()).await.expect("test");
    assert!(matches!(&report.verdict, TestVerdict::Refused(m) if m.contains("not open")), "{report:?}");
    assert_eq!(report.tasks.as_ref().map(Vec::len), Some(1), "the tasks are shown even when the choice is wrong");

    incidents.behave(Behaviour::Fail(IncidentLookupError::Timeout));
    let report = t.app.test_incident_integration(&admin, INTEGRATION, test(Some("T1")), &ctx()).await.expect("test");
    assert!(matches!(&report.verdict, TestVerdict::Refused(m) if m.contains("in time")), "{report:?}");
    assert_eq!(report.tasks, None);
    incidents.behave(Behaviour::Answer);

    // A target whose policy does not use the integration is refused before the incident system is asked.
    let asked = incidents.asked().len();
    let web = IntegrationTest { target: "web01".into(), ..test(Some("T1")) };
    let report = t.app.test_incident_integration(&admin, INTEGRATION, web, &ctx()).await.expect("test");
    assert!(matches!(&report.verdict, TestVerdict::Refused(m) if m.contains("does not use")), "{report:?}");
    assert_eq!(incidents.asked().len(), asked);

    assert_eq!(request_count(&t).await, 0, "test mode creates no request");
    let tested = audit(&t, "integration.tested").await;
    assert_eq!(tested.len(), 4);
    assert_eq!(text_field(&tested[0].details, "verdict"), "would_grant");
    let alice = person(&t, "alice2", &[Role::User]).await;
    let forbidden = t.app.test_incident_integration(&alice, INTEGRATION, test(Some("T1")), &ctx()).await;
    assert!(matches!(forbidden, Err(AppError::Forbidden)), "{forbidden:?}");
}
