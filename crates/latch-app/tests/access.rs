//! Just-in-time access end to end on a real store (SQLite, and PostgreSQL when available), with a manual clock:
//! policies refusing requests, approvals (auto, N-of-M, concurrent), cancel and expiry of requests, the gateway's
//! authorization rule, and the enforced end of grants and sessions with their audit receipts.

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

#[path = "access/fixture.rs"]
#[macro_use]
mod fixture;

use fixture::{
    admin, ask, audit, audit_about, authorize, create_policy, ctx, draft, gateway_login, int_field, inventory,
    on_request, person, rules, run_session, status_of, text_field, ticket_pattern, time_field, user_id,
};
use latch_app::domain::access_request::{AccessRequest, Decision, RequestStatus};
use latch_app::domain::gateway_session::SessionEndReason;
use latch_app::domain::permission::Role;
use latch_app::domain::{AccessRequestId, TimeSpan};
use latch_app::{App, AppError, GrantScope, NewAccessRequest, NewGroup, Principal, RequestOutcome, RequestScope};
use latch_testkit::app::TestApp;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Barrier;
use tokio::task::JoinHandle;

on_both!(
    policy_refusals_say_why,
    auto_approval_grants_the_requested_window,
    nobody_decides_their_own_request,
    n_of_m_approvals_come_from_the_approver_group,
    concurrent_decisions_have_one_winner,
    requesters_cancel_their_own_pending_requests,
    undecided_requests_expire,
    grant_ends_are_enforced_with_receipts,
    concurrent_revocations_leave_one_receipt,
    grants_that_expired_while_latch_was_down_authorize_nothing,
    disabling_a_user_ends_their_gateway_sessions,
    grants_need_their_policy_to_still_allow_them,
);

fn minutes(n: i64) -> TimeSpan {
    TimeSpan::from_minutes(n)
}

async fn grants_of_request(t: &TestApp, id: AccessRequestId) -> usize {
    let all = t.app.list_grants(&admin(t).await, GrantScope::All, false, 500, 0).await.expect("list grants");
    all.iter().filter(|g| g.request_id == Some(id)).count()
}

/// The request a use case returned is the request as stored.
async fn assert_as_stored(t: &TestApp, returned: &AccessRequest) {
    let stored = t.app.get_request(&admin(t).await, &returned.id.to_string()).await.expect("get request");
    assert_eq!(returned, &stored, "returned vs stored");
}

fn is_bad_request(result: &Result<RequestOutcome, AppError>, needle: &str) -> bool {
    matches!(result, Err(AppError::BadRequest(message)) if message.contains(needle))
}

// 1. Refusals by policy are errors that say why.
async fn policy_refusals_say_why(t: TestApp) {
    inventory(&t, "db01", &["root", "app"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let bob = person(&t, "bob", &[Role::User]).await;

    let outside = t.app.request_access(&alice, ask("db01", "root", 30), &ctx()).await;
    assert!(is_bad_request(&outside, "no policy"), "{outside:?}");

    let mut short = rules(on_request(1, None));
    short.max_duration = minutes(30);
    create_policy(&t, draft("db01-root", &["alice"], "db01", &["root"], short)).await;
    let too_long = t.app.request_access(&alice, ask("db01", "root", 120), &ctx()).await;
    assert!(is_bad_request(&too_long, "longer than the policy allows (30m)"), "{too_long:?}");
    let fits = t.app.request_access(&alice, ask("db01", "root", 30), &ctx()).await.expect("30 minutes fit");
    assert_eq!(fits.request.status, RequestStatus::Pending);
    assert!(fits.grant.is_none());
    // The policy names neither bob nor the account "app".
    let not_named = t.app.request_access(&bob, ask("db01", "root", 30), &ctx()).await;
    assert!(is_bad_request(&not_named, "no policy"), "{not_named:?}");
    let other_account = t.app.request_access(&alice, ask("db01", "app", 30), &ctx()).await;
    assert!(is_bad_request(&other_account, "no policy"), "{other_account:?}");

    let mut ticketed = rules(on_request(1, None));
    ticketed.ticket_required = true;
    ticketed.ticket_pattern = Some(ticket_pattern(r"^(INC|CHG)\d{7,8}$"));
    create_policy(&t, draft("db01-app", &["alice"], "db01", &["app"], ticketed)).await;
    let with_ticket =
        |ticket: Option<&str>| NewAccessRequest { ticket: ticket.map(str::to_owned), ..ask("db01", "app", 30) };
    let missing = t.app.request_access(&alice, with_ticket(None), &ctx()).await;
    assert!(is_bad_request(&missing, "requires a ticket"), "{missing:?}");
    let blank = t.app.request_access(&alice, with_ticket(Some("   ")), &ctx()).await;
    assert!(is_bad_request(&blank, "requires a ticket"), "{blank:?}");
    for bad in ["INC123", "inc1234567", "CHG123456789", "PRB1234567", "INC1234567 and more", "xINC1234567"] {
        let refused = t.app.request_access(&alice, with_ticket(Some(bad)), &ctx()).await;
        assert!(
            is_bad_request(&refused, r"does not match the required pattern ^(INC|CHG)\d{7,8}$"),
            "{bad}: {refused:?}"
        );
    }
    for good in ["INC1234567", "CHG12345678"] {
        let accepted = t.app.request_access(&alice, with_ticket(Some(good)), &ctx()).await.expect(good);
        assert_eq!(accepted.request.status, RequestStatus::Pending);
        assert_eq!(accepted.request.details.ticket.as_deref(), Some(good));
    }
    let created = audit(&t, "request.created").await;
    assert_eq!(created.len(), 3, "only the accepted requests are recorded");
}

// 2. Auto-approval: the grant is the requested window, and the gateway honours exactly that window.
async fn auto_approval_grants_the_requested_window(t: TestApp) {
    inventory(&t, "web01", &["deploy", "backup", "nosecret"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    create_policy(&t, draft("web01-auto", &["alice"], "web01", &[], rules(on_request(0, None)))).await;
    let who = gateway_login(&t.app, "alice").await;
    let before = authorize(&t.app, &who, "web01", "deploy").await;
    assert!(matches!(before, Err(AppError::Forbidden)), "no grant yet: {before:?}");

    let now = t.app.now();
    let outcome = t.app.request_access(&alice, ask("web01", "deploy", 20), &ctx()).await.expect("request");
    assert_eq!(outcome.request.status, RequestStatus::Approved);
    let grant = outcome.grant.expect("approved at once with a grant");
    assert_eq!((grant.starts_at, grant.ends_at), (now, now.plus(minutes(20))));
    assert_eq!(grant.user_id, user_id(&alice));
    assert_eq!(grant.request_id, Some(outcome.request.id));
    assert_eq!(outcome.request.grant_id, Some(grant.id));
    assert_eq!(status_of(&t, &outcome.request.id).await, RequestStatus::Approved);
    assert_as_stored(&t, &outcome.request).await;
    let connection = authorize(&t.app, &who, "web01", "deploy").await.expect("the grant authorizes");
    assert_eq!(connection.grant().map(|g| g.id), Some(grant.id));
    assert_eq!(connection.valid_until(), Some(grant.ends_at));
    assert_eq!(connection.account().spec.username.as_str(), "deploy");
    assert_eq!(audit_about(&t, "request.created", &outcome.request.id).await.len(), 1);
    let approved = audit_about(&t, "request.approved", &outcome.request.id).await;
    assert_eq!(approved.len(), 1);
    assert_eq!(text_field(&approved[0].details, "grant_id"), grant.id.to_string());
    let created = audit_about(&t, "grant.created", &grant.id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(time_field(&created[0].details, "starts_at"), grant.starts_at);
    assert_eq!(time_field(&created[0].details, "ends_at"), grant.ends_at);

    // A window starting later: approved now, usable only from its start until its end.
    let later = now.plus(TimeSpan::from_hours(1));
    let future = NewAccessRequest { starts_at: Some(later), ..ask("web01", "backup", 10) };
    let outcome = t.app.request_access(&alice, future, &ctx()).await.expect("future request");
    assert_eq!(outcome.request.status, RequestStatus::Approved);
    let grant = outcome.grant.expect("grant");
    assert_eq!((grant.starts_at, grant.ends_at), (later, later.plus(minutes(10))));
    let early = authorize(&t.app, &who, "web01", "backup").await;
    assert!(matches!(early, Err(AppError::Forbidden)), "before the start: {early:?}");
    t.clock.advance(TimeSpan::from_hours(1));
    let during = authorize(&t.app, &who, "web01", "backup").await.expect("at the start");
    assert_eq!(during.grant().map(|g| g.id), Some(grant.id));
    t.clock.advance(minutes(10));
    let after = authorize(&t.app, &who, "web01", "backup").await;
    assert!(matches!(after, Err(AppError::Forbidden)), "at the end: {after:?}");

    // A grant for an account without a secret cannot be used.
    let outcome = t.app.request_access(&alice, ask("web01", "nosecret", 10), &ctx()).await.expect("request");
    assert!(outcome.grant.is_some());
    let refused = authorize(&t.app, &who, "web01", "nosecret").await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let reasons: Vec<String> =
        audit(&t, "session.refused").await.iter().map(|r| text_field(&r.details, "reason")).collect();
    assert_eq!(reasons.last().map(String::as_str), Some("account has no secret"), "{reasons:?}");
}

// 3. Nobody decides their own request, and deciding needs the approver permission.
async fn nobody_decides_their_own_request(t: TestApp) {
    inventory(&t, "db02", &["root"]).await;
    let carol = person(&t, "carol", &[Role::User, Role::Approver]).await;
    let dave = person(&t, "dave", &[Role::User]).await;
    let erin = person(&t, "erin", &[Role::Approver]).await;
    create_policy(&t, draft("db02-jit", &["carol", "dave"], "db02", &[], rules(on_request(1, None)))).await;

    let carols = t.app.request_access(&carol, ask("db02", "root", 30), &ctx()).await.expect("request").request;
    let id = carols.id.to_string();
    for decision in [Decision::Approve, Decision::Deny] {
        let own = t.app.decide_request(&carol, &id, decision, None, &ctx()).await;
        assert!(matches!(&own, Err(AppError::Refused(m)) if m.contains("your own request")), "{decision:?}: {own:?}");
        let no_role = t.app.decide_request(&dave, &id, decision, None, &ctx()).await;
        assert!(matches!(no_role, Err(AppError::Forbidden)), "{decision:?}: {no_role:?}");
    }
    let stored = t.app.get_request(&admin(&t).await, &id).await.expect("get");
    assert_eq!(stored.status, RequestStatus::Pending);
    assert!(stored.approvals.is_empty(), "{:?}", stored.approvals);

    // carol is a real approver for others, and another approver decides carol's request.
    let daves = t.app.request_access(&dave, ask("db02", "root", 30), &ctx()).await.expect("request").request;
    let own = t.app.decide_request(&dave, &daves.id.to_string(), Decision::Approve, None, &ctx()).await;
    assert!(matches!(own, Err(AppError::Forbidden)), "{own:?}");
    let decided = t.app.decide_request(&carol, &daves.id.to_string(), Decision::Approve, None, &ctx()).await;
    assert_eq!(decided.expect("carol approves dave").request.status, RequestStatus::Approved);
    let decided = t.app.decide_request(&erin, &id, Decision::Approve, None, &ctx()).await.expect("erin approves");
    assert_as_stored(&t, &decided.request).await;
    assert_eq!(decided.request.decided_by, Some(user_id(&erin)));
    assert_eq!(decided.request.status, RequestStatus::Approved);
    assert!(decided.grant.is_some_and(|g| g.user_id == user_id(&carol)));
}

// 4. N-of-M: two distinct members of the approver group.
async fn n_of_m_approvals_come_from_the_approver_group(t: TestApp) {
    inventory(&t, "db03", &["postgres"]).await;
    let admin = admin(&t).await;
    let rita = person(&t, "rita", &[Role::User]).await;
    let mike = person(&t, "mike", &[Role::Approver]).await;
    let mona = person(&t, "mona", &[Role::Approver]).await;
    let oscar = person(&t, "oscar", &[Role::Approver]).await;
    let group = NewGroup { name: "dba".into(), description: String::new(), roles: Vec::new() };
    let group = t.app.create_group(&admin, group, &ctx()).await.expect("group");
    for member in ["mike", "mona"] {
        t.app.set_group_member(&admin, "dba", member, true, &ctx()).await.expect("member");
    }
    create_policy(&t, draft("db03-two", &["rita"], "db03", &[], rules(on_request(2, Some(group.id))))).await;

    let request = t.app.request_access(&rita, ask("db03", "postgres", 30), &ctx()).await.expect("request").request;
    assert_eq!((request.approvals_required, request.approver_group), (2, Some(group.id)));
    let id = request.id.to_string();
    let to_decide = |who: Principal| {
        let app = t.app.clone();
        async move {
            let listed = app.list_requests(&who, RequestScope::ToDecide, None, 50, 0).await.expect("list");
            listed.iter().any(|r| r.id == request.id)
        }
    };
    assert!(to_decide(mike.clone()).await && to_decide(mona.clone()).await, "group members are asked");
    assert!(!to_decide(oscar.clone()).await && !to_decide(admin.clone()).await, "others are not");
    let mine = t.app.list_requests(&rita, RequestScope::Mine, None, 50, 0).await.expect("mine");
    assert_eq!(mine.iter().map(|r| r.id).collect::<Vec<_>>(), vec![request.id]);
    for outsider in [&oscar, &admin] {
        let refused = t.app.decide_request(outsider, &id, Decision::Approve, None, &ctx()).await;
        assert!(matches!(&refused, Err(AppError::Refused(m)) if m.contains("not an approver")), "{refused:?}");
    }
    let first = t.app.decide_request(&mike, &id, Decision::Approve, Some("ok".into()), &ctx()).await.expect("mike");
    assert_eq!(first.request.status, RequestStatus::Pending);
    assert_eq!(first.request.approvals.len(), 1);
    assert!(first.grant.is_none());
    assert_as_stored(&t, &first.request).await;
    let recorded = audit_about(&t, "request.approval_recorded", &id).await;
    assert_eq!(recorded.len(), 1);
    assert_eq!((int_field(&recorded[0].details, "have"), int_field(&recorded[0].details, "need")), (1, 2));
    let again = t.app.decide_request(&mike, &id, Decision::Approve, None, &ctx()).await;
    assert!(matches!(&again, Err(AppError::StateConflict(m)) if m.contains("already approved")), "{again:?}");
    let stored = t.app.get_request(&admin, &id).await.expect("get");
    assert_eq!(stored.status, RequestStatus::Pending);
    assert_eq!(stored.approvals.iter().map(|a| a.approver).collect::<Vec<_>>(), vec![user_id(&mike)]);
    assert_eq!(grants_of_request(&t, request.id).await, 0);

    t.clock.advance(minutes(1));
    let second = t.app.decide_request(&mona, &id, Decision::Approve, Some("agreed".into()), &ctx()).await;
    let second = second.expect("mona");
    assert_as_stored(&t, &second.request).await;
    assert_eq!(second.request.decided_by, Some(user_id(&mona)));
    assert_eq!(second.request.decision_comment.as_deref(), Some("agreed"));
    assert_eq!(second.request.status, RequestStatus::Approved);
    let grant = second.grant.expect("the second approval creates the grant");
    assert_eq!(grant.request_id, Some(request.id));
    let stored = t.app.get_request(&admin, &id).await.expect("get");
    assert_eq!(stored.status, RequestStatus::Approved);
    assert_eq!(stored.grant_id, Some(grant.id));
    assert_eq!(stored.approvals.len(), 2);
    assert_eq!(grants_of_request(&t, request.id).await, 1);
    let late = t.app.decide_request(&oscar, &id, Decision::Deny, None, &ctx()).await;
    assert!(matches!(late, Err(AppError::StateConflict(_))), "{late:?}");
}

fn spawn_decision(
    app: &App,
    who: &Principal,
    id: &str,
    decision: Decision,
    start: Arc<Barrier>,
) -> JoinHandle<Result<RequestOutcome, AppError>> {
    let (app, who, id) = (app.clone(), who.clone(), id.to_owned());
    tokio::spawn(async move {
        start.wait().await;
        app.decide_request(&who, &id, decision, None, &ctx()).await
    })
}

// 5. An approval and a denial racing: exactly one wins, and the stored state is the winner's.
async fn concurrent_decisions_have_one_winner(t: TestApp) {
    inventory(&t, "db04", &["root"]).await;
    let rita = person(&t, "rita", &[Role::User]).await;
    let anna = person(&t, "anna", &[Role::Approver]).await;
    let ben = person(&t, "ben", &[Role::Approver]).await;
    create_policy(&t, draft("db04-jit", &["rita"], "db04", &[], rules(on_request(1, None)))).await;
    let admin = admin(&t).await;
    let (mut approvals_won, mut denials_won) = (0, 0);
    for round in 0..30 {
        let request = t.app.request_access(&rita, ask("db04", "root", 30), &ctx()).await.expect("request").request;
        let id = request.id.to_string();
        let start = Arc::new(Barrier::new(2));
        let (approve, deny) = if round % 2 == 0 {
            let approve = spawn_decision(&t.app, &anna, &id, Decision::Approve, start.clone());
            (approve, spawn_decision(&t.app, &ben, &id, Decision::Deny, start))
        } else {
            let deny = spawn_decision(&t.app, &ben, &id, Decision::Deny, start.clone());
            (spawn_decision(&t.app, &anna, &id, Decision::Approve, start), deny)
        };
        let approved = approve.await.expect("approve task");
        let denied = deny.await.expect("deny task");
        assert!(approved.is_ok() != denied.is_ok(), "round {round}: one winner: {approved:?} / {denied:?}");
        let loser = if approved.is_ok() { denied.as_ref().err() } else { approved.as_ref().err() };
        assert!(
            matches!(loser, Some(AppError::StateConflict(_) | AppError::Conflict(_))),
            "round {round}: the loser is told of the conflict: {loser:?}"
        );
        let stored = t.app.get_request(&admin, &id).await.expect("get");
        let grants = grants_of_request(&t, request.id).await;
        let winner = approved.as_ref().or(denied.as_ref()).expect("a winner");
        assert_eq!(winner.request, stored, "round {round}: the winner's outcome is what was stored");
        if let Ok(outcome) = &approved {
            approvals_won += 1;
            let grant = outcome.grant.as_ref().expect("grant");
            assert_eq!(stored.status, RequestStatus::Approved, "round {round}");
            assert_eq!(stored.grant_id, Some(grant.id), "round {round}");
            assert_eq!(stored.approvals.len(), 1, "round {round}");
            assert_eq!(grants, 1, "round {round}: exactly one grant");
        } else {
            denials_won += 1;
            assert_eq!(stored.status, RequestStatus::Denied, "round {round}");
            assert_eq!(stored.grant_id, None, "round {round}");
            assert!(stored.approvals.is_empty(), "round {round}: the losing approval rolled back");
            assert_eq!(grants, 0, "round {round}: no grant");
        }
        let decisions =
            audit_about(&t, "request.approved", &id).await.len() + audit_about(&t, "request.denied", &id).await.len();
        assert_eq!(decisions, 1, "round {round}: one decision audited");
    }
    eprintln!("approve won {approvals_won} times, deny won {denials_won} times");
}

// 6. Only the requester cancels, and a cancelled request cannot be decided.
async fn requesters_cancel_their_own_pending_requests(t: TestApp) {
    inventory(&t, "db05", &["root"]).await;
    let rita = person(&t, "rita", &[Role::User]).await;
    let uma = person(&t, "uma", &[Role::User]).await;
    let anna = person(&t, "anna", &[Role::Approver]).await;
    create_policy(&t, draft("db05-jit", &["rita", "uma"], "db05", &[], rules(on_request(1, None)))).await;
    let request = t.app.request_access(&rita, ask("db05", "root", 30), &ctx()).await.expect("request").request;
    let id = request.id.to_string();
    for other in [&uma, &anna] {
        let refused = t.app.cancel_request(other, &id, &ctx()).await;
        assert!(matches!(refused, Err(AppError::NotFound(_) | AppError::Refused(_))), "{refused:?}");
        assert_eq!(status_of(&t, &id).await, RequestStatus::Pending);
    }
    let cancelled = t.app.cancel_request(&rita, &id, &ctx()).await.expect("cancel");
    assert_eq!(cancelled.status, RequestStatus::Cancelled);
    assert_as_stored(&t, &cancelled).await;
    assert_eq!(status_of(&t, &id).await, RequestStatus::Cancelled);
    for decision in [Decision::Approve, Decision::Deny] {
        let late = t.app.decide_request(&anna, &id, decision, None, &ctx()).await;
        assert!(matches!(late, Err(AppError::StateConflict(_))), "{decision:?}: {late:?}");
    }
    let twice = t.app.cancel_request(&rita, &id, &ctx()).await;
    assert!(matches!(twice, Err(AppError::StateConflict(_))), "{twice:?}");
    assert_eq!(status_of(&t, &id).await, RequestStatus::Cancelled);
    assert_eq!(grants_of_request(&t, request.id).await, 0);
    let records = audit_about(&t, "request.cancelled", &id).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].actor_name, "rita");
}

// 7. Requests nobody decided before their deadline expire.
async fn undecided_requests_expire(t: TestApp) {
    inventory(&t, "db06", &["root"]).await;
    let rita = person(&t, "rita", &[Role::User]).await;
    let anna = person(&t, "anna", &[Role::Approver]).await;
    create_policy(&t, draft("db06-jit", &["rita"], "db06", &[], rules(on_request(1, None)))).await;
    let now = t.app.now();
    let short = t.app.request_access(&rita, ask("db06", "root", 10), &ctx()).await.expect("short").request;
    let long = t.app.request_access(&rita, ask("db06", "root", 60), &ctx()).await.expect("long").request;
    assert_eq!(short.decide_by, now.plus(minutes(10)));
    assert_eq!(t.app.expire_overdue_requests().await.expect("expire"), 0, "nothing is overdue yet");

    t.clock.advance(minutes(11));
    assert_eq!(t.app.expire_overdue_requests().await.expect("expire"), 1);
    assert_eq!(status_of(&t, &short.id).await, RequestStatus::Expired);
    assert_eq!(status_of(&t, &long.id).await, RequestStatus::Pending);
    let expired = audit(&t, "request.expired").await;
    assert_eq!(expired.len(), 1);
    assert_eq!(text_field(&expired[0].details, "request_id"), short.id.to_string());
    assert_eq!(expired[0].actor_kind, "system");
    assert_eq!(t.app.expire_overdue_requests().await.expect("expire"), 0, "each request expires once");

    let late = t.app.decide_request(&anna, &short.id.to_string(), Decision::Approve, None, &ctx()).await;
    assert!(matches!(late, Err(AppError::StateConflict(_))), "{late:?}");
    let in_time = t.app.decide_request(&anna, &long.id.to_string(), Decision::Approve, None, &ctx()).await;
    assert_eq!(in_time.expect("still decidable").request.status, RequestStatus::Approved);
}

// 8. Revocation and expiry end the grant's live sessions, and each end leaves one receipt.
async fn grant_ends_are_enforced_with_receipts(t: TestApp) {
    inventory(&t, "srv01", &["root", "backup"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    create_policy(&t, draft("srv01-auto", &["alice"], "srv01", &[], rules(on_request(0, None)))).await;
    let admin = admin(&t).await;
    let who = gateway_login(&t.app, "alice").await;

    let grant = t.app.request_access(&alice, ask("srv01", "root", 30), &ctx()).await.expect("request").grant;
    let grant = grant.expect("grant");
    let connection = authorize(&t.app, &who, "srv01", "root").await.expect("authorized");
    let mut session = run_session(&t.app, &connection).await;
    assert_eq!(t.app.live_sessions().keys().len(), 1);

    let now = t.app.now();
    let started = Instant::now();
    let revoked = t.app.revoke_grant(&admin, &grant.id.to_string(), "incident closed", &ctx()).await.expect("revoke");
    // The front end closed and recorded the end before the revocation returned.
    let row = t.app.get_session(&admin, &session.id).await.expect("session row");
    assert_eq!(row.end_reason, Some(SessionEndReason::GrantRevoked));
    assert_eq!(row.ended_at, Some(now));
    let (reason, observed) = session.closed().await;
    assert_eq!(reason, SessionEndReason::GrantRevoked);
    assert!(observed.duration_since(started) < Duration::from_secs(1), "took {:?}", observed.duration_since(started));
    assert!(t.app.live_sessions().keys().is_empty());
    assert_eq!(revoked.revoked_at, Some(now));

    let revocations = audit_about(&t, "grant.revoked", &grant.id).await;
    assert_eq!(revocations.len(), 1);
    assert_eq!(text_field(&revocations[0].details, "reason"), "incident closed");
    let receipts = audit_about(&t, "grant.ended", &grant.id).await;
    assert_eq!(receipts.len(), 1);
    let receipt = &receipts[0].details;
    assert_eq!(text_field(receipt, "reason"), "revoked");
    assert_eq!(int_field(receipt, "sessions_ended"), 1);
    assert_eq!(time_field(receipt, "due_at"), now);
    assert!(time_field(receipt, "enforced_at") >= time_field(receipt, "due_at"), "{receipt}");
    let ended = audit_about(&t, "session.ended", &session.id).await;
    assert_eq!(ended.len(), 1);
    assert_eq!(text_field(&ended[0].details, "reason"), "grant_revoked");
    let stored = t.app.get_grant(&admin, &grant.id.to_string()).await.expect("grant");
    assert!(stored.enforced_at.is_some());
    let after = authorize(&t.app, &who, "srv01", "root").await;
    assert!(matches!(after, Err(AppError::Forbidden)), "{after:?}");
    let again = t.app.revoke_grant(&admin, &grant.id.to_string(), "again", &ctx()).await;
    assert!(matches!(again, Err(AppError::StateConflict(_))), "{again:?}");
    assert_eq!(t.app.enforce_grant_ends().await.expect("sweep"), 0, "the revocation was enforced already");

    // Expiry, enforced by the sweep.
    let grant = t.app.request_access(&alice, ask("srv01", "backup", 10), &ctx()).await.expect("request").grant;
    let grant = grant.expect("grant");
    let connection = authorize(&t.app, &who, "srv01", "backup").await.expect("authorized");
    let mut session = run_session(&t.app, &connection).await;
    assert_eq!(t.app.enforce_grant_ends().await.expect("sweep"), 0, "nothing has ended yet");
    assert!(session.is_running());
    t.clock.advance(minutes(11));
    assert_eq!(t.app.enforce_grant_ends().await.expect("sweep"), 1);
    let (reason, _) = session.closed().await;
    assert_eq!(reason, SessionEndReason::GrantExpired);
    let receipts = audit_about(&t, "grant.ended", &grant.id).await;
    assert_eq!(receipts.len(), 1);
    let receipt = &receipts[0].details;
    assert_eq!(text_field(receipt, "reason"), "expired");
    assert_eq!(time_field(receipt, "due_at"), grant.ends_at);
    assert_eq!(time_field(receipt, "enforced_at"), grant.ends_at.plus(minutes(1)));
    assert_eq!(int_field(receipt, "sessions_ended"), 1);
    let row = t.app.get_session(&admin, &session.id).await.expect("session row");
    assert_eq!(row.end_reason, Some(SessionEndReason::GrantExpired));
    assert_eq!(t.app.enforce_grant_ends().await.expect("sweep"), 0, "each end is enforced once");
    assert_eq!(audit_about(&t, "grant.ended", &grant.id).await.len(), 1);
}

// 8b. Two revocations racing: one wins, the other is told the grant is already revoked; one receipt.
async fn concurrent_revocations_leave_one_receipt(t: TestApp) {
    inventory(&t, "srv06", &["root"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let anna = person(&t, "anna", &[Role::Approver]).await;
    create_policy(&t, draft("srv06-auto", &["alice"], "srv06", &[], rules(on_request(0, None)))).await;
    let admin = admin(&t).await;
    let who = gateway_login(&t.app, "alice").await;
    for round in 0..5 {
        let grant = t.app.request_access(&alice, ask("srv06", "root", 30), &ctx()).await.expect("request").grant;
        let grant = grant.expect("grant");
        let connection = authorize(&t.app, &who, "srv06", "root").await.expect("authorized");
        let mut session = run_session(&t.app, &connection).await;
        let start = Arc::new(Barrier::new(2));
        let revokers = [(&admin, "admin"), (&anna, "anna")].map(|(principal, name)| {
            let (app, principal, id, start) = (t.app.clone(), principal.clone(), grant.id.to_string(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                app.revoke_grant(&principal, &id, &format!("revoked by {name}"), &ctx()).await
            })
        });
        let mut results = Vec::new();
        for revoker in revokers {
            results.push(revoker.await.expect("revoke task"));
        }
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "round {round}: {results:?}");
        let loser = results.iter().find_map(|r| r.as_ref().err());
        assert!(
            matches!(loser, Some(AppError::StateConflict(m)) if m.contains("already revoked")),
            "round {round}: {loser:?}"
        );
        assert_eq!(session.closed().await.0, SessionEndReason::GrantRevoked);
        assert_eq!(audit_about(&t, "grant.revoked", &grant.id).await.len(), 1, "round {round}");
        let receipts = audit_about(&t, "grant.ended", &grant.id).await;
        assert_eq!(receipts.len(), 1, "round {round}");
        assert_eq!(int_field(&receipts[0].details, "sessions_ended"), 1, "round {round}");
    }
}

// 9. A grant that expired while Latch was down authorizes nothing, and the first sweep after the start closes it.
async fn grants_that_expired_while_latch_was_down_authorize_nothing(t: TestApp) {
    inventory(&t, "srv02", &["root"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    create_policy(&t, draft("srv02-auto", &["alice"], "srv02", &[], rules(on_request(0, None)))).await;
    let grant = t.app.request_access(&alice, ask("srv02", "root", 10), &ctx()).await.expect("request").grant;
    let grant = grant.expect("grant");
    let who = gateway_login(&t.app, "alice").await;
    authorize(&t.app, &who, "srv02", "root").await.expect("authorized while the grant runs");

    // Latch is down while the window passes; then a new process starts on the same store.
    t.clock.advance(minutes(15));
    let restarted = App::new(t.store.clone(), t.clock.clone(), t.app.config().clone());
    restarted.unseal_with_key_file_text(&t.key_file_text, &ctx()).await.expect("unseal");
    let who = gateway_login(&restarted, "alice").await;
    let refused = authorize(&restarted, &who, "srv02", "root").await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let refusals = audit_about(&t, "session.refused", &user_id(&alice)).await;
    assert_eq!(refusals.len(), 1);
    assert_eq!(text_field(&refusals[0].details, "target"), "srv02");
    assert_eq!(text_field(&refusals[0].details, "reason"), "no standing access or valid grant");
    let admin = admin(&t).await;
    let stored = t.app.get_grant(&admin, &grant.id.to_string()).await.expect("grant");
    assert_eq!(stored.enforced_at, None, "nothing swept yet");
    assert!(audit_about(&t, "grant.ended", &grant.id).await.is_empty());

    assert_eq!(restarted.enforce_grant_ends().await.expect("start-up sweep"), 1);
    let receipts = audit_about(&t, "grant.ended", &grant.id).await;
    assert_eq!(receipts.len(), 1);
    let receipt = &receipts[0].details;
    assert_eq!(text_field(receipt, "reason"), "expired");
    assert_eq!(time_field(receipt, "due_at"), grant.ends_at);
    assert_eq!(time_field(receipt, "enforced_at"), restarted.now());
    assert!(time_field(receipt, "enforced_at") > grant.ends_at);
    assert_eq!(int_field(receipt, "sessions_ended"), 0);
    let stored = t.app.get_grant(&admin, &grant.id.to_string()).await.expect("grant");
    assert_eq!(stored.enforced_at, Some(restarted.now()));
    assert_eq!(t.app.enforce_grant_ends().await.expect("other node"), 0);
    assert_eq!(restarted.enforce_grant_ends().await.expect("again"), 0);
}

// 10. Disabling a user ends their live gateway sessions, and only theirs.
async fn disabling_a_user_ends_their_gateway_sessions(t: TestApp) {
    inventory(&t, "srv03", &["root"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    create_policy(&t, draft("srv03-auto", &["alice", "bob"], "srv03", &[], rules(on_request(0, None)))).await;
    let admin = admin(&t).await;
    let mut sessions = Vec::new();
    for (principal, name) in [(&alice, "alice"), (&bob, "bob")] {
        t.app.request_access(principal, ask("srv03", "root", 30), &ctx()).await.expect("request");
        let who = gateway_login(&t.app, name).await;
        let connection = authorize(&t.app, &who, "srv03", "root").await.expect("authorized");
        sessions.push((who, run_session(&t.app, &connection).await));
    }
    let (bob_who, mut bob_session) = sessions.pop().expect("bob");
    let (alice_who, mut alice_session) = sessions.pop().expect("alice");

    let requested = t.app.now();
    t.app.set_user_disabled(&admin, "alice", true, &ctx()).await.expect("disable");
    let (reason, _) = alice_session.closed().await;
    assert_eq!(reason, SessionEndReason::UserDisabled);
    let terminated = audit_about(&t, "session.terminated", &alice_session.id).await;
    assert_eq!(terminated.len(), 1);
    let details = &terminated[0].details;
    assert_eq!(time_field(details, "requested_at"), requested);
    assert!(time_field(details, "enforced_at") >= time_field(details, "requested_at"), "{details}");
    let row = t.app.get_session(&admin, &alice_session.id).await.expect("row");
    assert_eq!(row.end_reason, Some(SessionEndReason::UserDisabled));
    let refused = authorize(&t.app, &alice_who, "srv03", "root").await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let reasons: Vec<String> =
        audit(&t, "session.refused").await.iter().map(|r| text_field(&r.details, "reason")).collect();
    assert_eq!(reasons, vec!["user disabled".to_owned()]);
    let login = t
        .app
        .gateway_login_with_password(
            "alice",
            &latch_app::SecretString::new(latch_testkit::app::USER_PASSWORD.into()),
            None,
            &ctx(),
        )
        .await;
    assert!(matches!(login, Err(AppError::Disabled)), "{login:?}");

    // bob's session runs on until an auditor ends it.
    assert!(bob_session.is_running());
    assert!(audit_about(&t, "session.terminated", &bob_session.id).await.is_empty());
    authorize(&t.app, &bob_who, "srv03", "root").await.expect("bob still authorized");
    let ended = t.app.terminate_session(&admin, &bob_session.id, &ctx()).await.expect("terminate");
    assert_eq!(ended.end_reason, Some(SessionEndReason::Terminated));
    let (reason, _) = bob_session.closed().await;
    assert_eq!(reason, SessionEndReason::Terminated);
}

// 11. A grant authorizes only while its policy exists, is enabled and still covers the user.
async fn grants_need_their_policy_to_still_allow_them(t: TestApp) {
    inventory(&t, "srv04", &["root"]).await;
    inventory(&t, "srv05", &["root"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    person(&t, "bob", &[Role::User]).await;
    let auto = || rules(on_request(0, None));
    create_policy(&t, draft("srv04-auto", &["alice"], "srv04", &[], auto())).await;
    create_policy(&t, draft("srv05-auto", &["alice"], "srv05", &[], auto())).await;
    for target in ["srv04", "srv05"] {
        t.app.request_access(&alice, ask(target, "root", 60), &ctx()).await.expect("request").grant.expect("grant");
    }
    let admin = admin(&t).await;
    let who = gateway_login(&t.app, "alice").await;
    authorize(&t.app, &who, "srv04", "root").await.expect("srv04");
    authorize(&t.app, &who, "srv05", "root").await.expect("srv05");
    let refused_for = |target: &'static str| {
        let t = &t;
        async move {
            let records = audit(t, "session.refused").await;
            records.iter().filter(|r| text_field(&r.details, "target") == target).count()
        }
    };

    let disabled = draft("srv04-auto", &["alice"], "srv04", &[], auto());
    let disabled = latch_app::PolicyDraft { enabled: false, ..disabled };
    t.app.update_policy(&admin, "srv04-auto", disabled, &ctx()).await.expect("disable policy");
    let refused = authorize(&t.app, &who, "srv04", "root").await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "disabled policy: {refused:?}");
    assert_eq!(refused_for("srv04").await, 1);

    t.app.delete_policy(&admin, "srv05-auto", &ctx()).await.expect("delete policy");
    let refused = authorize(&t.app, &who, "srv05", "root").await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "deleted policy: {refused:?}");
    assert_eq!(refused_for("srv05").await, 1);
    let reasons: Vec<String> =
        audit(&t, "session.refused").await.iter().map(|r| text_field(&r.details, "reason")).collect();
    assert!(reasons.iter().all(|r| r == "no standing access or valid grant"), "{reasons:?}");

    // The grants themselves are untouched: re-enabling the policy makes srv04's usable again…
    let current = t.app.list_grants(&admin, GrantScope::All, true, 500, 0).await.expect("grants");
    assert_eq!(current.len(), 2);
    t.app
        .update_policy(&admin, "srv04-auto", draft("srv04-auto", &["alice"], "srv04", &[], auto()), &ctx())
        .await
        .expect("enable policy");
    authorize(&t.app, &who, "srv04", "root").await.expect("enabled again");
    // …until the policy stops naming alice.
    t.app
        .update_policy(&admin, "srv04-auto", draft("srv04-auto", &["bob"], "srv04", &[], auto()), &ctx())
        .await
        .expect("change subjects");
    let refused = authorize(&t.app, &who, "srv04", "root").await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "policy no longer covers alice: {refused:?}");
    assert_eq!(refused_for("srv04").await, 2);
}
