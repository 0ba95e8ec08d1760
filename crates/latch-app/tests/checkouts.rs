//! Credential check-outs end to end on a real store (SQLite, and PostgreSQL when available), with a manual clock:
//! who may check out, exclusive and shared check-outs (also racing), reveal once with its audit record, check-in
//! early, at the end of the release period and at the end of the grant, the rotation queue, and API accounts.

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

#[path = "access/fixture.rs"]
#[macro_use]
#[expect(dead_code, reason = "the fixture serves the access tests too; this suite uses part of it")]
mod fixture;

use fixture::{admin, ask, audit, audit_about, create_policy, ctx, draft, on_request, person, rules, text_field};
use latch_app::domain::checkout::{CheckInReason, Checkout, CheckoutState, RotationState};
use latch_app::domain::permission::Role;
use latch_app::domain::policy::{AccessMode, PolicyRules};
use latch_app::domain::{TimeSpan, Timestamp};
use latch_app::{
    AccountChange, AppError, AuditQuery, CheckoutScope, NewAccount, NewApiAccount, NewCheckout, NewTarget, Principal,
    SecretString,
};
use latch_testkit::app::TestApp;
use std::sync::Arc;
use tokio::sync::Barrier;

on_both!(
    only_policies_that_allow_reveal_let_people_check_out,
    exclusive_and_shared_check_outs_exclude_each_other,
    racing_exclusive_check_outs_have_one_winner,
    the_secret_is_revealed_once_and_audited_without_it,
    holders_check_in_early_and_approvers_force_it,
    check_outs_end_with_their_release_period,
    check_outs_end_with_their_grant,
    rotate_after_use_queues_one_rotation_per_check_in,
    api_accounts_check_out_api_enabled_accounts_for_an_hour_at_most,
);

const SECRET: &str = "s3cret-Checkout-Password!";

fn minutes(n: i64) -> TimeSpan {
    TimeSpan::from_minutes(n)
}

/// How an account is set up.
#[derive(Debug, Clone, Copy, Default)]
struct Flags {
    shared: bool,
    api_enabled: bool,
    rotate_after_use: bool,
}

/// Creates `target` with one account per name, each with [`SECRET`] and `flags`.
async fn inventory(t: &TestApp, target: &str, accounts: &[&str], flags: Flags) {
    let admin = admin(t).await;
    let new = NewTarget { name: target.into(), address: "10.0.0.9".into(), ..NewTarget::default() };
    t.app.create_target(&admin, new, &ctx()).await.expect("create target");
    for name in accounts {
        let account = NewAccount {
            username: (*name).into(),
            secret_kind: "password".into(),
            secret: Some(SecretString::new(SECRET.to_owned())),
            api_enabled: flags.api_enabled,
            rotate_after_use: flags.rotate_after_use,
            exclusive_checkout: !flags.shared,
            description: String::new(),
        };
        t.app.create_account(&admin, target, account, &ctx()).await.expect("create account");
    }
}

/// Makes the account `name` on `target` exclusive or shared.
async fn set_shared(t: &TestApp, target: &str, name: &str, shared: bool) {
    let admin = admin(t).await;
    let details = t.app.get_target(&admin, target).await.expect("target");
    let account = details.1.iter().find(|a| a.spec.username.as_str() == name).expect("account");
    let change = AccountChange { exclusive_checkout: Some(!shared), ..AccountChange::default() };
    t.app.update_account(&admin, &account.id.to_string(), change, &ctx()).await.expect("update account");
}

/// Rules that allow reveal, with windows of at most an hour.
fn revealing(mode: AccessMode) -> PolicyRules {
    PolicyRules { reveal_allowed: true, ..rules(mode) }
}

/// Standing access with reveal for `users` to every account on `target`.
async fn standing_reveal(t: &TestApp, name: &str, users: &[&str], target: &str) {
    create_policy(t, draft(name, users, target, &[], revealing(AccessMode::Standing))).await;
}

fn asking(target: &str, account: &str, minutes: i64) -> NewCheckout {
    NewCheckout {
        target: target.into(),
        account: Some(account.into()),
        duration: TimeSpan::from_minutes(minutes),
        reason: "restore the backup by hand".into(),
    }
}

async fn check_out(t: &TestApp, who: &Principal, target: &str, account: &str) -> Result<Checkout, AppError> {
    t.app.check_out(who, asking(target, account, 30), &ctx()).await
}

async fn reveal(t: &TestApp, who: &Principal, checkout: &Checkout) -> Result<String, AppError> {
    t.app.reveal_checkout(who, &checkout.id.to_string(), &ctx()).await.map(|s| s.expose().clone())
}

async fn stored(t: &TestApp, checkout: &Checkout) -> Checkout {
    t.app.get_checkout(&admin(t).await, &checkout.id.to_string()).await.expect("get checkout")
}

fn refused(result: &Result<Checkout, AppError>, needle: &str) -> bool {
    matches!(result, Err(AppError::Refused(message)) if message.contains(needle))
}

fn conflict<T>(result: &Result<T, AppError>, needle: &str) -> bool {
    matches!(result, Err(AppError::StateConflict(message)) if message.contains(needle))
}

async fn api_principal(t: &TestApp, name: &str, scopes: &[&str]) -> Principal {
    let admin = admin(t).await;
    let new = NewApiAccount {
        name: name.into(),
        description: String::new(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        allowed_sources: vec![],
        token_ttl_secs: None,
    };
    let issued = t.app.create_api_account(&admin, new, &ctx()).await.expect("api account");
    let token =
        t.app.issue_client_credentials_token(name, &issued.client_secret, None, &ctx()).await.expect("api token");
    t.app.authenticate(token.access_token.expose(), &ctx()).await.expect("api principal")
}

async fn rotations(t: &TestApp, checkout: &Checkout) -> Vec<RotationState> {
    let queue = t.app.list_rotation_queue(&admin(t).await, None, 500, 0).await.expect("rotation queue");
    queue.iter().filter(|r| r.checkout_id == Some(checkout.id)).map(|r| r.state).collect()
}

// 1. Only policies with reveal allowed let people check out; nothing tells an outsider what exists.
async fn only_policies_that_allow_reveal_let_people_check_out(t: TestApp) {
    inventory(&t, "db01", &["root", "app"], Flags::default()).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let dave = person(&t, "dave", &[Role::User]).await;
    let auditor = person(&t, "audrey", &[Role::Auditor]).await;
    create_policy(&t, draft("db01-ssh", &["alice"], "db01", &["root"], rules(AccessMode::Standing))).await;

    let no_reveal = check_out(&t, &alice, "db01", "root").await;
    assert!(refused(&no_reveal, "does not allow check-out"), "{no_reveal:?}");
    for (target, account) in [("db01", "app"), ("db01", "nobody"), ("nowhere", "root")] {
        let outsider = check_out(&t, &dave, target, account).await;
        assert!(refused(&outsider, "no standing access or valid grant"), "{target} {account}: {outsider:?}");
    }
    let not_a_requester = check_out(&t, &auditor, "db01", "root").await;
    assert!(matches!(not_a_requester, Err(AppError::Forbidden)), "{not_a_requester:?}");

    standing_reveal(&t, "db01-reveal", &["alice"], "db01").await;
    let checkout = check_out(&t, &alice, "db01", "root").await.expect("check out");
    let now = t.app.now();
    assert_eq!((checkout.checked_out_at, checkout.release_until), (now, now.plus(minutes(30))));
    assert!(checkout.exclusive && checkout.grant_id.is_none() && checkout.policy_id.is_some());
    assert_eq!(stored(&t, &checkout).await, checkout);
    // Without naming the account: the one alice may check out... there are two, so she must name one.
    let unnamed = t.app.check_out(&alice, NewCheckout { account: None, ..asking("db01", "", 30) }, &ctx()).await;
    assert!(matches!(&unnamed, Err(AppError::BadRequest(m)) if m.contains("name one")), "{unnamed:?}");
    let checked_out = audit_about(&t, "credential.checked_out", &checkout.id).await;
    assert_eq!(checked_out.len(), 1);
    assert_eq!(text_field(&checked_out[0].details, "reason"), "restore the backup by hand");
}

// 2. An exclusive check-out blocks every other; shared ones coexist but never next to an exclusive one.
async fn exclusive_and_shared_check_outs_exclude_each_other(t: TestApp) {
    inventory(&t, "web01", &["deploy"], Flags::default()).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    let carol = person(&t, "carol", &[Role::User]).await;
    standing_reveal(&t, "web01-reveal", &["alice", "bob", "carol"], "web01").await;

    let exclusive = check_out(&t, &alice, "web01", "deploy").await.expect("alice checks out");
    let second = check_out(&t, &bob, "web01", "deploy").await;
    assert!(conflict(&second, "exclusively"), "{second:?}");
    set_shared(&t, "web01", "deploy", true).await;
    let shared_next_to_exclusive = check_out(&t, &bob, "web01", "deploy").await;
    assert!(conflict(&shared_next_to_exclusive, "exclusively"), "{shared_next_to_exclusive:?}");
    t.app.check_in(&alice, &exclusive.id.to_string(), &ctx()).await.expect("check in");

    let a = check_out(&t, &alice, "web01", "deploy").await.expect("shared a");
    let b = check_out(&t, &bob, "web01", "deploy").await.expect("shared b");
    assert!(!a.exclusive && !b.exclusive);
    assert_eq!(reveal(&t, &alice, &a).await.expect("reveal a"), SECRET);
    assert_eq!(reveal(&t, &bob, &b).await.expect("reveal b"), SECRET);
    set_shared(&t, "web01", "deploy", false).await;
    let exclusive_next_to_shared = check_out(&t, &carol, "web01", "deploy").await;
    assert!(conflict(&exclusive_next_to_shared, "exclusive check-outs wait"), "{exclusive_next_to_shared:?}");
    let open = t.app.list_checkouts(&admin(&t).await, CheckoutScope::All, true, 100, 0).await.expect("list");
    assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>().len(), 2);
}

// 3. Many people racing for one exclusive account: exactly one wins, the others are told it is held.
async fn racing_exclusive_check_outs_have_one_winner(t: TestApp) {
    inventory(&t, "vault01", &["root"], Flags::default()).await;
    let names = ["p1", "p2", "p3", "p4", "p5", "p6"];
    let mut people = Vec::new();
    for name in names {
        people.push(person(&t, name, &[Role::User]).await);
    }
    standing_reveal(&t, "vault01-reveal", &names, "vault01").await;
    for round in 0..3 {
        let barrier = Arc::new(Barrier::new(people.len()));
        let handles: Vec<_> = people
            .iter()
            .map(|who| {
                let (app, who, barrier) = (t.app.clone(), who.clone(), Arc::clone(&barrier));
                tokio::spawn(async move {
                    barrier.wait().await;
                    app.check_out(&who, asking("vault01", "root", 30), &ctx()).await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for handle in handles {
            match handle.await.expect("task") {
                Ok(checkout) => winners.push(checkout),
                Err(err) => assert!(conflict::<()>(&Err(err), "exclusively"), "round {round}: a loser"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}");
        let open = t.app.list_checkouts(&admin(&t).await, CheckoutScope::All, true, 100, 0).await.expect("list");
        assert_eq!(open.len(), 1, "round {round}");
        t.app.check_in(&admin(&t).await, &winners[0].id.to_string(), &ctx()).await.expect("forced check-in");
    }
}

// 4. The secret is shown once per check-out, only to its holder, after an audit record that does not contain it.
async fn the_secret_is_revealed_once_and_audited_without_it(t: TestApp) {
    inventory(&t, "db02", &["postgres"], Flags::default()).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    standing_reveal(&t, "db02-reveal", &["alice", "bob"], "db02").await;
    let checkout = check_out(&t, &alice, "db02", "postgres").await.expect("check out");

    let by_someone_else = reveal(&t, &bob, &checkout).await;
    assert!(matches!(by_someone_else, Err(AppError::NotFound(_))), "{by_someone_else:?}");
    assert!(audit(&t, "credential.revealed").await.is_empty());
    // No audit record, no secret: the reveal is not even marked.
    t.store.execute_raw_for_tests("ALTER TABLE audit_events RENAME TO audit_events_away").await.expect("break audit");
    let unaudited = reveal(&t, &alice, &checkout).await;
    t.store.execute_raw_for_tests("ALTER TABLE audit_events_away RENAME TO audit_events").await.expect("mend audit");
    assert!(matches!(unaudited, Err(AppError::AuditUnavailable(_))), "{unaudited:?}");
    assert_eq!(stored(&t, &checkout).await.revealed_at, None);
    assert_eq!(reveal(&t, &alice, &checkout).await.expect("reveal"), SECRET);
    let again = reveal(&t, &alice, &checkout).await;
    assert!(conflict(&again, "already revealed"), "{again:?}");
    let revealed = audit_about(&t, "credential.revealed", &checkout.id).await;
    assert_eq!(revealed.len(), 1);
    assert_eq!(revealed[0].actor_name, "alice");
    assert_eq!(stored(&t, &checkout).await.revealed_at, Some(t.app.now()));

    let query = AuditQuery { limit: 1000, ..AuditQuery::default() };
    let everything = t.app.list_audit(&admin(&t).await, query).await.expect("audit").records;
    assert!(everything.len() > 5);
    for record in &everything {
        assert!(!format!("{record:?}").contains(SECRET), "the secret is in {record:?}");
    }
}

// 5. The holder checks in early (no reveal after that); approvers may check anyone's in.
async fn holders_check_in_early_and_approvers_force_it(t: TestApp) {
    inventory(&t, "app01", &["svc"], Flags::default()).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    let bob = person(&t, "bob", &[Role::User]).await;
    let approver = person(&t, "ann", &[Role::Approver]).await;
    standing_reveal(&t, "app01-reveal", &["alice"], "app01").await;

    let checkout = check_out(&t, &alice, "app01", "svc").await.expect("check out");
    let not_theirs = t.app.check_in(&bob, &checkout.id.to_string(), &ctx()).await;
    assert!(matches!(not_theirs, Err(AppError::NotFound(_))), "{not_theirs:?}");
    t.clock.advance(minutes(5));
    let returned = t.app.check_in(&alice, &checkout.id.to_string(), &ctx()).await.expect("check in");
    assert_eq!((returned.checked_in_at, returned.check_in_reason), (Some(t.app.now()), Some(CheckInReason::Returned)));
    assert_eq!(stored(&t, &checkout).await, returned);
    assert_eq!(returned.state(t.app.now()), CheckoutState::CheckedIn);
    let late = reveal(&t, &alice, &checkout).await;
    assert!(conflict(&late, "checked in"), "{late:?}");
    let twice = t.app.check_in(&alice, &checkout.id.to_string(), &ctx()).await;
    assert!(conflict(&twice, "checked in"), "{twice:?}");
    let checked_in = audit_about(&t, "credential.checked_in", &checkout.id).await;
    assert_eq!(checked_in.len(), 1);
    assert_eq!(text_field(&checked_in[0].details, "reason"), "returned");

    let next = check_out(&t, &alice, "app01", "svc").await.expect("check out again");
    let forced = t.app.check_in(&approver, &next.id.to_string(), &ctx()).await.expect("forced");
    assert_eq!(forced.check_in_reason, Some(CheckInReason::Forced));
    let mine = t.app.list_checkouts(&alice, CheckoutScope::Mine, false, 100, 0).await.expect("mine");
    assert_eq!(mine.iter().map(|c| c.id).collect::<Vec<_>>(), [next.id, checkout.id]);
    let everyone = t.app.list_checkouts(&bob, CheckoutScope::All, false, 100, 0).await;
    assert!(matches!(everyone, Err(AppError::Forbidden)), "{everyone:?}");
}

// 6. The release period is capped by the policy and ends by itself: the sweep checks it in.
async fn check_outs_end_with_their_release_period(t: TestApp) {
    inventory(&t, "srv02", &["root"], Flags::default()).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    standing_reveal(&t, "srv02-reveal", &["alice"], "srv02").await;

    let start = t.app.now();
    let long = t.app.check_out(&alice, asking("srv02", "root", 600), &ctx()).await.expect("check out");
    assert_eq!(long.release_until, start.plus(minutes(60)), "capped by the policy's longest window");
    t.clock.advance(minutes(59));
    assert_eq!(t.app.check_in_expired().await.expect("sweep"), 0);
    t.clock.advance(minutes(1));
    let overdue = reveal(&t, &alice, &long).await;
    assert!(conflict(&overdue, "release period has ended"), "{overdue:?}");
    assert_eq!(t.app.check_in_expired().await.expect("sweep"), 1);
    assert_eq!(t.app.check_in_expired().await.expect("sweep"), 0);
    let ended = stored(&t, &long).await;
    assert_eq!((ended.checked_in_at, ended.check_in_reason), (Some(t.app.now()), Some(CheckInReason::Expired)));
    let checked_in = audit_about(&t, "credential.checked_in", &long.id).await;
    assert_eq!((checked_in.len(), checked_in[0].actor_kind.as_str()), (1, "system"));
    let short = t.app.check_out(&alice, asking("srv02", "root", 0), &ctx()).await;
    assert!(matches!(short, Err(AppError::BadRequest(_))), "{short:?}");
}

// 7. A check-out under a grant ends with the grant: capped at its end, checked in when it is revoked or expires.
async fn check_outs_end_with_their_grant(t: TestApp) {
    inventory(&t, "srv03", &["root", "backup"], Flags::default()).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    create_policy(&t, draft("srv03-auto", &["alice"], "srv03", &[], revealing(on_request(0, None)))).await;
    let admin = admin(&t).await;
    let refused_without_grant = check_out(&t, &alice, "srv03", "root").await;
    assert!(refused(&refused_without_grant, "no standing access"), "{refused_without_grant:?}");

    let grant = t.app.request_access(&alice, ask("srv03", "root", 20), &ctx()).await.expect("request").grant;
    let grant = grant.expect("grant");
    let checkout = check_out(&t, &alice, "srv03", "root").await.expect("check out");
    assert_eq!((checkout.grant_id, checkout.release_until), (Some(grant.id), grant.ends_at), "capped at the grant");
    t.app.revoke_grant(&admin, &grant.id.to_string(), "incident closed", &ctx()).await.expect("revoke");
    let ended = stored(&t, &checkout).await;
    assert_eq!(ended.check_in_reason, Some(CheckInReason::GrantRevoked));
    assert!(conflict(&reveal(&t, &alice, &checkout).await, "checked in"));

    let grant = t.app.request_access(&alice, ask("srv03", "backup", 10), &ctx()).await.expect("request").grant;
    let grant = grant.expect("grant");
    let checkout = check_out(&t, &alice, "srv03", "backup").await.expect("check out");
    t.clock.advance(minutes(10));
    assert_eq!(t.app.enforce_grant_ends().await.expect("enforce"), 1);
    let ended = stored(&t, &checkout).await;
    assert_eq!((ended.grant_id, ended.check_in_reason), (Some(grant.id), Some(CheckInReason::GrantExpired)));
}

// 8. Every check-in of a "rotate after use" account queues exactly one pending rotation, whatever ended it.
async fn rotate_after_use_queues_one_rotation_per_check_in(t: TestApp) {
    inventory(&t, "hsm01", &["operator"], Flags { rotate_after_use: true, ..Flags::default() }).await;
    inventory(&t, "hsm02", &["operator"], Flags::default()).await;
    let alice = person(&t, "alice", &[Role::User]).await;
    standing_reveal(&t, "hsm01-reveal", &["alice"], "hsm01").await;
    standing_reveal(&t, "hsm02-reveal", &["alice"], "hsm02").await;

    let first = check_out(&t, &alice, "hsm01", "operator").await.expect("check out");
    assert_eq!(rotations(&t, &first).await, []);
    t.app.check_in(&alice, &first.id.to_string(), &ctx()).await.expect("check in");
    assert_eq!(rotations(&t, &first).await, [RotationState::Pending]);
    assert!(t.app.check_in(&alice, &first.id.to_string(), &ctx()).await.is_err());
    assert_eq!(rotations(&t, &first).await, [RotationState::Pending], "still one");
    let queued = audit_about(&t, "credential.rotation_queued", &first.id).await;
    assert_eq!(queued.len(), 1);

    let second = check_out(&t, &alice, "hsm01", "operator").await.expect("check out again");
    t.clock.advance(minutes(31));
    assert_eq!(t.app.check_in_expired().await.expect("sweep"), 1);
    assert_eq!(rotations(&t, &second).await, [RotationState::Pending]);

    let plain = check_out(&t, &alice, "hsm02", "operator").await.expect("check out plain");
    t.app.check_in(&alice, &plain.id.to_string(), &ctx()).await.expect("check in plain");
    assert_eq!(rotations(&t, &plain).await, []);
    let all = t.app.list_rotation_queue(&admin(&t).await, Some(RotationState::Pending), 100, 0).await.expect("queue");
    assert_eq!(all.len(), 2);
    let not_admin = t.app.list_rotation_queue(&alice, None, 100, 0).await;
    assert!(matches!(not_admin, Err(AppError::Forbidden)), "{not_admin:?}");
}

// 9. API accounts need the credentials:checkout scope, check out only API-enabled accounts, for at most an hour.
async fn api_accounts_check_out_api_enabled_accounts_for_an_hour_at_most(t: TestApp) {
    inventory(&t, "ci01", &["deployer"], Flags { api_enabled: true, ..Flags::default() }).await;
    inventory(&t, "ci02", &["root"], Flags::default()).await;
    let robot = api_principal(&t, "release-robot", &["credentials:checkout"]).await;
    let reader = api_principal(&t, "inventory-reader", &["inventory:read"]).await;
    let alice = person(&t, "alice", &[Role::User]).await;

    let without_scope = t.app.check_out(&reader, asking("ci01", "deployer", 30), &ctx()).await;
    assert!(matches!(without_scope, Err(AppError::Forbidden)), "{without_scope:?}");
    let not_enabled = t.app.check_out(&robot, asking("ci02", "root", 30), &ctx()).await;
    assert!(refused(&not_enabled, "not enabled for check-out through the API"), "{not_enabled:?}");

    let start: Timestamp = t.app.now();
    let unnamed = NewCheckout { account: None, ..asking("ci01", "", 180) };
    let checkout = t.app.check_out(&robot, unnamed, &ctx()).await.expect("api check out");
    assert_eq!(checkout.release_until, start.plus(minutes(60)), "at most an hour");
    assert!(checkout.policy_id.is_none() && checkout.grant_id.is_none());
    let by_a_person = reveal(&t, &alice, &checkout).await;
    assert!(matches!(by_a_person, Err(AppError::NotFound(_))), "{by_a_person:?}");
    assert_eq!(reveal(&t, &robot, &checkout).await.expect("api reveal"), SECRET);
    let revealed = audit_about(&t, "credential.revealed", &checkout.id).await;
    assert_eq!((revealed.len(), revealed[0].actor_kind.as_str()), (1, "api_account"));
    let mine = t.app.list_checkouts(&robot, CheckoutScope::Mine, true, 100, 0).await.expect("mine");
    assert_eq!(mine.iter().map(|c| c.id).collect::<Vec<_>>(), [checkout.id]);
    t.app.check_in(&robot, &checkout.id.to_string(), &ctx()).await.expect("api check in");
}
