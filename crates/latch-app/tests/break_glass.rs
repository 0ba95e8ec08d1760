//! Break-glass end to end on a real store (SQLite, and PostgreSQL when available), with a manual clock: who may
//! switch it on, connecting without a request while it is on (one audited grant per person and account), sessions
//! ended when it is switched off by hand or expires, no check-out under it, and reconciliation when a member leaves
//! the group.

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

#[path = "access/fixture.rs"]
#[macro_use]
#[expect(dead_code, reason = "the fixture serves the access tests too; this suite uses part of it")]
mod fixture;

use fixture::{
    admin, audit, audit_about, authorize, ctx, gateway_login, int_field, inventory, person, run_session, text_field,
};
use latch_app::domain::break_glass::BreakGlass;
use latch_app::domain::gateway_session::SessionEndReason;
use latch_app::domain::grant::GrantOrigin;
use latch_app::domain::names::GroupName;
use latch_app::domain::permission::Role;
use latch_app::domain::policy::ForwardingRules;
use latch_app::domain::target::Protocol;
use latch_app::domain::{GrantId, TimeSpan};
use latch_app::{App, AppConfig, AppError, BreakGlassConfig, GrantScope, NewCheckout, NewGroup, Principal};
use latch_testkit::app::TestApp;
use std::time::{Duration, Instant};

on_both!(
    only_members_of_the_configured_group_switch_it_on,
    members_connect_without_a_request_while_it_is_on,
    switching_it_off_ends_its_sessions,
    expiry_ends_its_sessions,
    it_never_allows_a_check_out,
    leaving_the_group_ends_the_session,
);

fn minutes(n: i64) -> TimeSpan {
    TimeSpan::from_minutes(n)
}

/// A second application on the same store and clock, with break-glass for the group `oncall` (at most 4 hours).
async fn with_break_glass(t: &TestApp) -> App {
    let break_glass = BreakGlassConfig {
        group: GroupName::parse("oncall").expect("group name"),
        max_duration: TimeSpan::from_hours(4),
    };
    let config = AppConfig { fast_kdf_for_tests: true, break_glass: Some(break_glass), ..AppConfig::default() };
    let app = App::new(t.store.clone(), t.clock.clone(), config);
    app.unseal_with_key_file_text(&t.key_file_text, &ctx()).await.expect("unseal");
    app
}

/// Creates the group `oncall` with `members`.
async fn oncall(t: &TestApp, members: &[&str]) {
    let admin = admin(t).await;
    let group = NewGroup { name: "oncall".into(), description: String::new(), roles: Vec::new() };
    t.app.create_group(&admin, group, &ctx()).await.expect("group");
    for member in members {
        t.app.set_group_member(&admin, "oncall", member, true, &ctx()).await.expect("member");
    }
}

async fn switch_on(app: &App, who: &Principal, targets: &[&str], minutes: i64) -> Result<BreakGlass, AppError> {
    let targets: Vec<String> = targets.iter().map(|t| (*t).to_owned()).collect();
    app.activate_break_glass(
        who,
        &targets,
        "primary database down, INC0042",
        Some(TimeSpan::from_minutes(minutes)),
        &ctx(),
    )
    .await
}

async fn break_glass_grants(t: &TestApp, glass: &BreakGlass) -> Vec<GrantId> {
    let all = t.app.list_grants(&admin(t).await, GrantScope::All, false, 500, 0).await.expect("list grants");
    all.iter().filter(|g| g.break_glass_id == Some(glass.id)).map(|g| g.id).collect()
}

// 1. Refused when not configured, for non-members and for bad input; members, auditors and admins list it.
async fn only_members_of_the_configured_group_switch_it_on(t: TestApp) {
    inventory(&t, "db01", &["root"]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let audrey = person(&t, "audrey", &[Role::Auditor]).await;
    oncall(&t, &["bob"]).await;

    let unconfigured = switch_on(&t.app, &bob, &["db01"], 60).await;
    assert!(matches!(unconfigured, Err(AppError::Forbidden)), "{unconfigured:?}");
    let app = with_break_glass(&t).await;
    let outsider = switch_on(&app, &alice, &["db01"], 60).await;
    assert!(matches!(outsider, Err(AppError::Forbidden)), "{outsider:?}");
    let unknown = switch_on(&app, &bob, &["db01", "nope"], 60).await;
    assert!(matches!(&unknown, Err(AppError::BadRequest(m)) if m.contains("no target named nope")), "{unknown:?}");
    let too_long = switch_on(&app, &bob, &["db01"], 241).await;
    assert!(matches!(&too_long, Err(AppError::Invalid(e)) if e.to_string().contains("4h")), "{too_long:?}");
    let no_reason = app.activate_break_glass(&bob, &["db01".to_owned()], "  ", None, &ctx()).await;
    assert!(matches!(no_reason, Err(AppError::Invalid(_))), "{no_reason:?}");
    assert!(audit(&t, "break_glass.activated").await.is_empty(), "nothing refused is recorded as on");

    let reason = "primary database down, INC0042";
    let glass = app.activate_break_glass(&bob, &["db01".to_owned()], reason, None, &ctx()).await;
    let glass = glass.expect("a member switches it on");
    assert_eq!(glass.ends_at, t.app.now().plus(minutes(240)), "for the configured maximum by default");
    let on = audit_about(&t, "break_glass.activated", &glass.id).await;
    assert_eq!(on.len(), 1);
    assert_eq!(on[0].actor_name, "bob");
    assert_eq!(text_field(&on[0].details, "reason"), "primary database down, INC0042");
    for reader in [&bob, &audrey, &admin(&t).await] {
        let listed = app.list_break_glass(reader, true, 100, 0).await.expect("list");
        assert_eq!(listed, vec![glass.clone()]);
    }
    assert!(app.list_break_glass(&alice, false, 100, 0).await.expect("list").is_empty(), "not hers");
    let ended = app.end_break_glass(&alice, &glass.id.to_string(), &ctx()).await;
    assert!(matches!(ended, Err(AppError::Forbidden)), "{ended:?}");
    let ended = app.end_break_glass(&admin(&t).await, &glass.id.to_string(), &ctx()).await.expect("admins end it");
    assert_eq!(ended.ended_by.as_deref(), Some("admin"));
    let again = app.end_break_glass(&bob, &glass.id.to_string(), &ctx()).await;
    assert!(matches!(&again, Err(AppError::StateConflict(m)) if m.contains("already ended")), "{again:?}");
    assert!(app.list_break_glass(&bob, true, 100, 0).await.expect("list").is_empty());
}

// 2. While on: connections without a request, one grant per person and account, only the named targets.
async fn members_connect_without_a_request_while_it_is_on(t: TestApp) {
    inventory(&t, "db01", &["root", "nosecret"]).await;
    inventory(&t, "db02", &["root"]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    person(&t, "alice", &[Role::User]).await;
    oncall(&t, &["bob"]).await;
    let app = with_break_glass(&t).await;
    let who = gateway_login(&app, "bob").await;
    let before = authorize(&app, &who, "db01", "root").await;
    assert!(matches!(before, Err(AppError::Forbidden)), "{before:?}");

    let glass = switch_on(&app, &bob, &["db01"], 60).await.expect("on");
    let first = authorize(&app, &who, "db01", "root").await.expect("break-glass lets bob in");
    let grant = first.grant().expect("a break-glass grant").clone();
    assert_eq!((grant.origin, grant.break_glass_id, grant.policy_id), (GrantOrigin::BreakGlass, Some(glass.id), None));
    assert_eq!((grant.starts_at, grant.ends_at), (t.app.now(), glass.ends_at));
    assert_eq!(first.valid_until(), Some(glass.ends_at));
    assert!(first.record_input(), "every session under break-glass records input");
    assert_eq!(first.forwarding(), ForwardingRules::default());
    assert_eq!(first.consent_banner(), None);
    let second = authorize(&app, &who, "db01", "root").await.expect("again");
    assert_eq!(second.grant().map(|g| g.id), Some(grant.id), "the grant is reused");
    let unnamed = app.authorize_connection(&who, "db01", None, Protocol::Ssh, &ctx()).await;
    assert_eq!(unnamed.expect("the only account with a secret").grant().map(|g| g.id), Some(grant.id));
    assert_eq!(break_glass_grants(&t, &glass).await, vec![grant.id], "exactly one grant");
    for (target, account) in [("db02", "root"), ("db01", "nosecret")] {
        let refused = authorize(&app, &who, target, account).await;
        assert!(matches!(refused, Err(AppError::Forbidden)), "{target} {account}: {refused:?}");
    }
    let alice = gateway_login(&app, "alice").await;
    let outsider = authorize(&app, &alice, "db01", "root").await;
    assert!(matches!(outsider, Err(AppError::Forbidden)), "not in the group: {outsider:?}");
    let unconfigured = authorize(&t.app, &who, "db01", "root").await;
    assert!(matches!(unconfigured, Err(AppError::Forbidden)), "break-glass off in the config: {unconfigured:?}");

    let created = audit_about(&t, "grant.created", &grant.id).await;
    assert_eq!(created.len(), 1);
    assert_eq!(text_field(&created[0].details, "origin"), "break_glass");
    assert_eq!(created[0].actor_name, "bob");
    let session = run_session(&app, &first).await;
    let started = audit_about(&t, "session.started", &session.id).await;
    assert_eq!(started.len(), 1);
    assert_eq!(text_field(&started[0].details, "grant_id"), grant.id.to_string());
    let row = app.get_session(&admin(&t).await, &session.id).await.expect("session row");
    assert_eq!(row.grant_id, Some(grant.id));

    // Connections racing for their first use still make one grant.
    t.app.set_group_member(&admin(&t).await, "oncall", "alice", true, &ctx()).await.expect("member");
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (app, alice) = (app.clone(), alice.clone());
            tokio::spawn(async move { authorize(&app, &alice, "db01", "root").await.map(|c| c.grant().map(|g| g.id)) })
        })
        .collect();
    let mut granted = Vec::new();
    for racer in racers {
        granted.push(racer.await.expect("task").expect("authorized").expect("grant"));
    }
    granted.dedup();
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert_eq!(break_glass_grants(&t, &glass).await.len(), 2, "bob's and alice's");
}

// 3. Switched off by hand: its grants are revoked and the live session ends within a second.
async fn switching_it_off_ends_its_sessions(t: TestApp) {
    inventory(&t, "db01", &["root"]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    let carol = person(&t, "carol", &[Role::User]).await;
    oncall(&t, &["bob", "carol"]).await;
    let app = with_break_glass(&t).await;
    let glass = switch_on(&app, &bob, &["db01"], 60).await.expect("on");
    let who = gateway_login(&app, "bob").await;
    let connection = authorize(&app, &who, "db01", "root").await.expect("authorized");
    let mut session = run_session(&app, &connection).await;

    let started = Instant::now();
    let ended = app.end_break_glass(&carol, &glass.id.to_string(), &ctx()).await.expect("another member ends it");
    let (reason, observed) = session.closed().await;
    assert_eq!(reason, SessionEndReason::GrantRevoked);
    assert!(observed.duration_since(started) < Duration::from_secs(1), "took {:?}", observed.duration_since(started));
    assert_eq!((ended.ended_at, ended.ended_by.as_deref()), (Some(t.app.now()), Some("carol")));
    let records = audit_about(&t, "break_glass.ended", &glass.id).await;
    assert_eq!(records.len(), 1);
    assert_eq!(text_field(&records[0].details, "reason"), "manual");
    assert_eq!(int_field(&records[0].details, "sessions_ended"), 1);
    assert_eq!(records[0].actor_name, "carol");
    let grant = connection.grant().expect("grant").id;
    assert_eq!(audit_about(&t, "grant.ended", &grant).await.len(), 1, "the grant's end has its receipt");
    let after = authorize(&app, &who, "db01", "root").await;
    assert!(matches!(after, Err(AppError::Forbidden)), "{after:?}");
    assert_eq!(app.end_expired_break_glass().await.expect("sweep"), 0, "it was ended already");
}

// 4. Expired: the sweep switches it off and ends the session; once.
async fn expiry_ends_its_sessions(t: TestApp) {
    inventory(&t, "db01", &["root"]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    oncall(&t, &["bob"]).await;
    let app = with_break_glass(&t).await;
    let glass = switch_on(&app, &bob, &["db01"], 30).await.expect("on");
    let who = gateway_login(&app, "bob").await;
    let connection = authorize(&app, &who, "db01", "root").await.expect("authorized");
    let mut session = run_session(&app, &connection).await;
    assert_eq!(app.end_expired_break_glass().await.expect("sweep"), 0, "not yet");
    assert!(session.is_running());

    t.clock.advance(minutes(31));
    assert_eq!(app.end_expired_break_glass().await.expect("sweep"), 1);
    let (reason, _) = session.closed().await;
    assert_eq!(reason, SessionEndReason::GrantExpired);
    let records = audit_about(&t, "break_glass.ended", &glass.id).await;
    assert_eq!(records.len(), 1);
    assert_eq!(text_field(&records[0].details, "reason"), "expired");
    assert_eq!(int_field(&records[0].details, "sessions_ended"), 1);
    assert_eq!(records[0].actor_kind, "system");
    assert_eq!(app.end_expired_break_glass().await.expect("sweep"), 0, "each ends once");
    let listed = app.list_break_glass(&bob, false, 10, 0).await.expect("list");
    assert_eq!(listed.iter().map(|g| g.ended_by.as_deref()).collect::<Vec<_>>(), vec![Some("system")]);
    let after = authorize(&app, &who, "db01", "root").await;
    assert!(matches!(after, Err(AppError::Forbidden)), "{after:?}");
}

// 5. Break-glass gives gateway sessions only: no check-out, so no reveal.
async fn it_never_allows_a_check_out(t: TestApp) {
    inventory(&t, "db01", &["root"]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    oncall(&t, &["bob"]).await;
    let app = with_break_glass(&t).await;
    switch_on(&app, &bob, &["db01"], 60).await.expect("on");
    let who = gateway_login(&app, "bob").await;
    authorize(&app, &who, "db01", "root").await.expect("a break-glass grant exists now");
    let new = NewCheckout {
        target: "db01".into(),
        account: Some("root".into()),
        duration: minutes(10),
        reason: "need the password".into(),
    };
    let refused = app.check_out(&bob, new, &ctx()).await;
    assert!(matches!(&refused, Err(AppError::Refused(m)) if m.contains("break-glass")), "{refused:?}");
    assert!(audit(&t, "credential.checked_out").await.is_empty());
    assert!(audit(&t, "credential.revealed").await.is_empty());
}

// 6. A member who leaves the group loses the session at the next reconciliation.
async fn leaving_the_group_ends_the_session(t: TestApp) {
    inventory(&t, "db01", &["root"]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    oncall(&t, &["bob"]).await;
    let app = with_break_glass(&t).await;
    switch_on(&app, &bob, &["db01"], 60).await.expect("on");
    let who = gateway_login(&app, "bob").await;
    let connection = authorize(&app, &who, "db01", "root").await.expect("authorized");
    let mut session = run_session(&app, &connection).await;
    assert_eq!(app.reconcile_live_sessions().await.expect("reconcile"), 0, "still allowed");

    t.app.set_group_member(&admin(&t).await, "oncall", "bob", false, &ctx()).await.expect("remove");
    assert_eq!(app.reconcile_live_sessions().await.expect("reconcile"), 1);
    assert_eq!(session.closed().await.0, SessionEndReason::Reconciled);
    let after = authorize(&app, &who, "db01", "root").await;
    assert!(matches!(after, Err(AppError::Forbidden)), "{after:?}");
}
