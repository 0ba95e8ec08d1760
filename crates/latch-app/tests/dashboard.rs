//! The dashboard's numbers from a real store (SQLite, and PostgreSQL when available): sessions per day and the
//! busiest targets and users, failed logins, live sessions, grants in force and requests waiting.

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

#[path = "access/fixture.rs"]
#[macro_use]
#[expect(dead_code, reason = "the fixture serves the access tests too; this suite uses part of it")]
mod fixture;

use fixture::{admin, ask, authorize, create_policy, ctx, draft, gateway_login, inventory, on_request, person, rules};
use latch_app::domain::TimeSpan;
use latch_app::domain::gateway_session::SessionEndReason;
use latch_app::domain::permission::Role;
use latch_app::domain::policy::AccessMode;
use latch_app::{AppError, SessionStart, SessionTraffic};
use latch_testkit::app::{TestApp, login};

on_both!(the_dashboard_counts_what_happened_and_what_is_live);

async fn the_dashboard_counts_what_happened_and_what_is_live(t: TestApp) {
    let alice = person(&t, "alice", &[Role::User]).await;
    person(&t, "bob", &[Role::User]).await;
    inventory(&t, "db01", &["root"]).await;
    inventory(&t, "web01", &["root"]).await;
    inventory(&t, "lab01", &["root"]).await;
    create_policy(&t, draft("standing", &["alice", "bob"], "db01", &["root"], rules(AccessMode::Standing))).await;
    create_policy(&t, draft("web", &["alice"], "web01", &["root"], rules(AccessMode::Standing))).await;
    create_policy(&t, draft("lab", &["alice"], "lab01", &["root"], rules(on_request(1, None)))).await;

    // Yesterday: alice twice on db01. Today: bob once on db01, alice once on web01 (still running).
    let run = |who: &'static str, target: &'static str, end: bool| {
        let app = t.app.clone();
        async move {
            let identity = gateway_login(&app, who).await;
            let grant = authorize(&app, &identity, target, "root").await.expect("authorized");
            let live = app.start_gateway_session(&grant, SessionStart::default(), &ctx()).await.expect("start");
            if end {
                app.end_gateway_session(live, SessionEndReason::ClientClosed, SessionTraffic::default(), Vec::new())
                    .await
                    .expect("end");
            } else {
                std::mem::forget(live);
            }
        }
    };
    run("alice", "db01", true).await;
    run("alice", "db01", true).await;
    t.clock.advance(TimeSpan::from_hours(24));
    run("bob", "db01", true).await;
    run("alice", "web01", false).await;
    assert!(login(&t.app, "bob", "wrong-password-123").await.is_err());
    t.app.request_access(&alice, ask("lab01", "root", 30), &ctx()).await.expect("request");

    let admin = admin(&t).await;
    let dashboard = t.app.dashboard(&admin, 7).await.expect("dashboard");
    assert_eq!(dashboard.sessions_per_day.len(), 7);
    let per_day: Vec<i64> = dashboard.sessions_per_day.iter().map(|day| day.count).collect();
    assert_eq!(per_day, [0, 0, 0, 0, 0, 2, 2], "oldest first, zero-filled");
    assert_eq!(dashboard.failed_logins_per_day.last().map(|day| day.count), Some(1));
    let targets: Vec<(&str, i64)> = dashboard.top_targets.iter().map(|t| (t.name.as_str(), t.count)).collect();
    assert_eq!(targets, [("db01", 3), ("web01", 1)]);
    let users: Vec<(&str, i64)> = dashboard.top_users.iter().map(|u| (u.name.as_str(), u.count)).collect();
    assert_eq!(users, [("alice", 3), ("bob", 1)]);
    assert_eq!((dashboard.live_sessions, dashboard.pending_requests, dashboard.active_grants), (1, 1, 0));

    let one_day = t.app.dashboard(&admin, 1).await.expect("dashboard");
    assert_eq!(one_day.sessions_per_day.iter().map(|day| day.count).collect::<Vec<_>>(), [2]);
    assert!(matches!(t.app.dashboard(&admin, 0).await, Err(AppError::BadRequest(_))));
    assert!(matches!(t.app.dashboard(&admin, 91).await, Err(AppError::BadRequest(_))));
    assert!(matches!(t.app.dashboard(&alice, 7).await, Err(AppError::Forbidden)), "users do not see the dashboard");
}
