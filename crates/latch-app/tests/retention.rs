//! Recording retention through the use cases, on a real store (SQLite, and PostgreSQL when available) with a manual
//! clock: a session keeps the retention of the policy it started under, counted from its end (also when a restart
//! closes it as abandoned); legal holds need `sessions:hold`, are audited and conflict when they cannot apply.
//! The sweep itself deletes files, so it is tested with the binary's deleter (`crates/latch/src/recording_retention.rs`).

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

#[path = "access/fixture.rs"]
#[macro_use]
#[expect(dead_code, reason = "the fixture serves the access tests too; this suite uses part of it")]
mod fixture;

use fixture::{admin, audit_about, authorize, create_policy, ctx, draft, gateway_login, inventory, person, rules};
use latch_app::domain::TimeSpan;
use latch_app::domain::gateway_session::{GatewaySession, LegalHold, RecordingRetention, SessionEndReason};
use latch_app::domain::permission::Role;
use latch_app::domain::policy::{AccessMode, PolicyRules};
use latch_app::{App, AppError, LiveSession, Principal, SessionStart, SessionTraffic};
use latch_testkit::app::TestApp;

on_both!(
    sessions_keep_the_retention_of_the_policy_they_started_under,
    legal_holds_need_sessions_hold_and_are_audited,
    the_sweep_refuses_to_run_without_a_deleter,
);

fn keeping(days: Option<u32>) -> PolicyRules {
    PolicyRules { recording_retention_days: days, ..rules(AccessMode::Standing) }
}

/// db01 with `root`, alice (returned), and a standing policy for her keeping recordings for `days`.
async fn setup(t: &TestApp, days: Option<u32>) -> Principal {
    let alice = person(t, "alice", &[Role::User]).await;
    inventory(t, "db01", &["root"]).await;
    create_policy(t, draft("db-standing", &["alice"], "db01", &["root"], keeping(days))).await;
    alice
}

/// alice's session on root@db01, recorded in the directory named after it, as the SSH gateway starts it.
async fn start(app: &App) -> LiveSession {
    let alice = gateway_login(app, "alice").await;
    let grant = authorize(app, &alice, "db01", "root").await.expect("authorized");
    let start = SessionStart { recording: Some(grant.session_id().to_string()), consent_accepted_at: None };
    app.start_gateway_session(&grant, start, &ctx()).await.expect("start")
}

async fn end(app: &App, live: LiveSession) {
    app.end_gateway_session(live, SessionEndReason::ClientClosed, SessionTraffic::default(), Vec::new())
        .await
        .expect("end");
}

async fn session(t: &TestApp, id: &str) -> GatewaySession {
    t.app.get_session(&admin(t).await, id).await.expect("session")
}

async fn sessions_keep_the_retention_of_the_policy_they_started_under(t: TestApp) {
    setup(&t, Some(30)).await;
    let live = start(&t.app).await;
    let id = live.key().session_id.to_string();
    assert_eq!(session(&t, &id).await.retention, RecordingRetention::keeping_for(Some(30)), "due only once ended");

    // The policy now keeps recordings a week; the running session keeps its 30 days, counted from its end.
    let week = draft("db-standing", &["alice"], "db01", &["root"], keeping(Some(7)));
    t.app.update_policy(&admin(&t).await, "db-standing", week, &ctx()).await.expect("update policy");
    t.clock.advance(TimeSpan::from_hours(3));
    let ended_at = t.app.now();
    end(&t.app, live).await;
    let ended = session(&t, &id).await;
    assert_eq!(ended.ended_at, Some(ended_at));
    assert_eq!(ended.retention.retain_until, Some(RecordingRetention::due_at(ended_at, 30)));
    assert_eq!(ended.retention.days, Some(30));

    // A session the node lost (closed as abandoned at the restart) is due the policy's days after that.
    let lost = start(&t.app).await;
    let lost_id = lost.key().session_id.to_string();
    t.clock.advance(TimeSpan::from_minutes(5));
    let restarted_at = t.app.now();
    assert_eq!(t.app.close_abandoned_sessions().await.expect("close abandoned"), 1);
    let abandoned = session(&t, &lost_id).await;
    assert_eq!(abandoned.end_reason, Some(SessionEndReason::Abandoned));
    assert_eq!(abandoned.retention.retain_until, Some(RecordingRetention::due_at(restarted_at, 7)));
    drop(lost);

    // Without a retention, recordings are kept forever; zero days is refused.
    let forever = draft("db-forever", &["alice"], "db01", &["root"], keeping(None));
    let forever = create_policy(&t, forever).await;
    assert_eq!(forever.policy.spec.rules.recording_retention_days, None);
    let zero = draft("db-zero", &["alice"], "db01", &["root"], keeping(Some(0)));
    let refused = t.app.create_policy(&admin(&t).await, zero, &ctx()).await;
    assert!(matches!(refused, Err(AppError::Invalid(_))), "{refused:?}");
}

async fn legal_holds_need_sessions_hold_and_are_audited(t: TestApp) {
    let alice = setup(&t, Some(30)).await;
    let approver = person(&t, "approver1", &[Role::Approver]).await;
    let auditor = person(&t, "auditor1", &[Role::Auditor]).await;
    let live = start(&t.app).await;
    let id = live.key().session_id.to_string();
    end(&t.app, live).await;

    for refused in [&alice, &approver] {
        let held = t.app.place_legal_hold(refused, &id, "case 17", &ctx()).await;
        assert!(matches!(held, Err(AppError::Forbidden)), "{held:?}");
        let released = t.app.release_legal_hold(refused, &id, &ctx()).await;
        assert!(matches!(released, Err(AppError::Forbidden)), "{released:?}");
    }
    let blank = t.app.place_legal_hold(&auditor, &id, "  ", &ctx()).await;
    assert!(matches!(blank, Err(AppError::Invalid(_))), "{blank:?}");
    let unknown = t.app.place_legal_hold(&auditor, "00000000-0000-0000-0000-000000000000", "case 17", &ctx()).await;
    assert!(matches!(unknown, Err(AppError::NotFound("session"))), "{unknown:?}");
    let malformed = t.app.place_legal_hold(&auditor, "not-an-id", "case 17", &ctx()).await;
    assert!(matches!(malformed, Err(AppError::NotFound("session"))), "{malformed:?}");
    let not_held = t.app.release_legal_hold(&auditor, &id, &ctx()).await;
    assert!(matches!(not_held, Err(AppError::StateConflict(_))), "{not_held:?}");

    t.clock.advance(TimeSpan::from_minutes(1));
    let placed_at = t.app.now();
    let held = t.app.place_legal_hold(&auditor, &id, " case 17 ", &ctx()).await.expect("hold");
    let hold = LegalHold { reason: "case 17".to_owned(), placed_by: "auditor1".to_owned(), placed_at };
    assert_eq!(held.retention.legal_hold, Some(hold.clone()));
    assert_eq!(session(&t, &id).await.retention.legal_hold, Some(hold), "stored");
    let again = t.app.place_legal_hold(&admin(&t).await, &id, "case 18", &ctx()).await;
    assert!(matches!(&again, Err(AppError::StateConflict(m)) if m.contains("case 17")), "{again:?}");
    let placed = audit_about(&t, "session.legal_hold_placed", &id).await;
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0].actor_name, "auditor1");
    assert!(placed[0].details.contains(r#""reason":"case 17""#), "{}", placed[0].details);

    let released = t.app.release_legal_hold(&admin(&t).await, &id, &ctx()).await.expect("release");
    assert_eq!(released.retention.legal_hold, None);
    assert_eq!(released.retention.retain_until, session(&t, &id).await.retention.retain_until, "retention unchanged");
    let again = t.app.release_legal_hold(&auditor, &id, &ctx()).await;
    assert!(matches!(again, Err(AppError::StateConflict(_))), "{again:?}");
    let receipts = audit_about(&t, "session.legal_hold_released", &id).await;
    assert_eq!(receipts.len(), 1, "{receipts:?}");
    assert_eq!(receipts[0].actor_name, "admin");
    let details = &receipts[0].details;
    assert!(
        details.contains(r#""hold_reason":"case 17""#) && details.contains(r#""placed_by":"auditor1""#),
        "{details}"
    );
    assert!(details.contains(&format!(r#""placed_at":{}"#, placed_at.as_millis())), "{details}");
}

async fn the_sweep_refuses_to_run_without_a_deleter(t: TestApp) {
    // Nothing could be deleted, so the sweep says so instead of reporting an empty success.
    let swept = t.app.sweep_recordings().await;
    assert!(matches!(swept, Err(AppError::Internal(_))), "{swept:?}");
}
