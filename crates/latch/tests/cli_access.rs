//! Just-in-time access through the `latch` client against a real `latch serve`: policies, requests and their
//! decisions, grants, and sessions. Every test starts its own server.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{Cli, Server};
use serde_json::{Value, json};

const EXIT_USAGE: i32 = 2;
const EXIT_FORBIDDEN: i32 = 5;
const EXIT_NOT_FOUND: i32 = 6;
const EXIT_CONFLICT: i32 = 7;
const PASSWORD: &str = "access-tests-pass-12345";

/// Creates `username` with [`PASSWORD`] and `roles`, as the admin, and logs them in.
fn user(server: &Server, admin: &Cli, username: &str, roles: &[&str]) -> Cli {
    let mut args = vec!["users", "create", username, "--password-stdin"];
    for role in roles {
        args.extend(["--role", role]);
    }
    admin.run_with_stdin(&args, &format!("{PASSWORD}\n")).success();
    let cli = server.client();
    cli.login_with_stdin(username, &format!("{PASSWORD}\n")).success();
    cli
}

/// Writes `policy` to a file in `dir` and returns its path.
fn policy_file(dir: &tempfile::TempDir, name: &str, policy: &Value) -> String {
    let path = dir.path().join(name);
    harness::write_file(&path, &serde_json::to_string_pretty(policy).unwrap());
    path.to_str().unwrap().to_owned()
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list[key].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()).collect()
}

/// A target with one account, as the admin.
fn target_with_account(admin: &Cli, target: &str, account: &str) {
    admin.run(&["targets", "add", target, "--address", "10.0.0.1"]).success();
    admin.run(&["accounts", "add", target, account, "--no-secret"]).success();
}

#[test]
fn a_request_is_decided_by_another_approver_and_its_grant_revoked() {
    let server = Server::start();
    let admin = server.admin();
    let alice = user(&server, &admin, "alice", &["user"]);
    let bob = user(&server, &admin, "bob", &["approver"]);
    let carol = user(&server, &admin, "carol", &["approver"]);
    target_with_account(&admin, "web-1", "deploy");
    let dir = tempfile::tempdir().unwrap();
    let policy = json!({
        "name": "web-ops", "users": ["alice"], "targets": [{"name": "web-1"}], "accounts": ["deploy"],
        "mode": "on_request", "approvals_required": 1, "max_duration_minutes": 120
    });
    admin.run(&["policies", "create", "--file", &policy_file(&dir, "web-ops.json", &policy)]).success();

    let asked =
        alice.run(&["request", "web-1", "--reason", "disk full", "--duration", "1h", "--json"]).success().json();
    assert_eq!(asked["request"]["status"], "pending");
    assert_eq!(asked["grant"], Value::Null);
    let first = asked["request"]["id"].as_str().unwrap().to_owned();

    // Deciding needs the approver role, and nobody decides their own request.
    let refused = alice.run(&["approve", &first]).code(EXIT_FORBIDDEN);
    assert!(refused.stderr.contains("not allowed"), "{}", refused.stderr);
    admin.run(&["users", "update", "alice", "--role", "user", "--role", "approver"]).success();
    let own = alice.run(&["approve", &first]).code(EXIT_FORBIDDEN);
    assert!(own.stderr.contains("own request"), "{}", own.stderr);
    let to_decide = bob.run(&["requests", "--to-decide", "--json"]).success().json();
    assert_eq!(ids(&to_decide, "requests"), [first.as_str()]);

    let approved = bob.run(&["approve", &first, "--comment", "go ahead"]).success();
    assert!(approved.stdout.contains("Approved request"), "{}", approved.stdout);
    let current = alice.run(&["grants", "--current", "--json"]).success().json();
    let grant = current["grants"][0].clone();
    assert_eq!(ids(&current, "grants").len(), 1, "{current}");
    assert_eq!((grant["state"].as_str(), grant["request_id"].as_str()), (Some("active"), Some(first.as_str())));
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    let table = alice.run(&["grants", "--current"]).success();
    assert!(table.stdout.contains(&grant_id) && table.stdout.contains("active"), "{}", table.stdout);
    let shown = alice.run(&["requests", "show", &first, "--json"]).success().json();
    assert_eq!((shown["status"].as_str(), shown["grant_id"].as_str()), (Some("approved"), Some(grant_id.as_str())));

    bob.run(&["grants", "revoke", &grant_id, "--reason", "work finished"]).success();
    assert_eq!(ids(&alice.run(&["grants", "--current", "--json"]).success().json(), "grants"), Vec::<String>::new());
    let revoked = alice.run(&["grants", "show", &grant_id, "--json"]).success().json();
    assert_eq!((revoked["state"].as_str(), revoked["revoked_by"].as_str()), (Some("revoked"), Some("bob")));
    bob.run(&["grants", "revoke", &grant_id, "--reason", "again"]).code(EXIT_CONFLICT);

    // A denied request stays denied.
    let again = alice.run(&["request", "web-1", "--account", "deploy", "--reason", "one more look"]).success();
    assert!(again.stdout.contains("pending") && again.stdout.contains("web-1"), "{}", again.stdout);
    let second = again.stdout.lines().find_map(|l| l.strip_prefix("request:")).unwrap().trim().to_owned();
    let denied = carol.run(&["deny", &second, "--comment", "not today"]).success();
    assert!(denied.stdout.contains("Denied"), "{}", denied.stdout);
    let late = bob.run(&["approve", &second]).code(EXIT_CONFLICT);
    assert!(late.stderr.contains("already denied"), "{}", late.stderr);
    alice.run(&["requests", "cancel", &second]).code(EXIT_CONFLICT);
    let mine = alice.run(&["requests", "--json"]).success().json();
    let statuses: Vec<&str> =
        mine["requests"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["denied", "approved"]);
    let pending = alice.run(&["requests", "--status", "pending", "--json"]).success().json();
    assert_eq!(ids(&pending, "requests"), Vec::<String>::new());

    // A pending request can be cancelled by its requester only.
    let third = alice.run(&["request", "web-1", "--reason", "third", "--duration", "30m", "--json"]).success().json();
    let third = third["request"]["id"].as_str().unwrap().to_owned();
    bob.run(&["requests", "cancel", &third]).code(EXIT_NOT_FOUND);
    alice.run(&["requests", "cancel", &third]).success();
    bob.run(&["approve", &third]).code(EXIT_CONFLICT);
}

#[test]
fn an_auto_approving_policy_grants_at_once_and_others_are_refused_with_the_reason() {
    let server = Server::start();
    let admin = server.admin();
    let alice = user(&server, &admin, "alice", &["user"]);
    let dave = user(&server, &admin, "dave", &["user"]);
    target_with_account(&admin, "db-1", "dba");
    let dir = tempfile::tempdir().unwrap();
    let policy = json!({
        "name": "db-auto", "users": ["alice"], "targets": [{"name": "db-1"}],
        "approvals_required": 0, "max_duration_minutes": 240
    });
    admin.run(&["policies", "create", "--file", &policy_file(&dir, "db-auto.json", &policy)]).success();

    let granted = alice.run(&["request", "db-1", "--reason", "migration", "--duration", "2h"]).success();
    assert!(granted.stdout.contains("approved") && granted.stdout.contains("access:"), "{}", granted.stdout);
    let current = alice.run(&["grants", "--current", "--json"]).success().json();
    assert_eq!(current["grants"][0]["state"], "active", "{current}");

    let too_long = alice.run(&["request", "db-1", "--reason", "long", "--duration", "1d"]).code(1);
    assert!(too_long.stderr.contains("longer than the policy allows"), "{}", too_long.stderr);
    let uncovered = dave.run(&["request", "db-1", "--reason", "curious"]).code(1);
    assert!(uncovered.stderr.contains("no policy"), "{}", uncovered.stderr);
    dave.run(&["request", "nowhere", "--reason", "x"]).code(EXIT_NOT_FOUND);
    // Only approvers and session readers see everyone's grants.
    dave.run(&["grants", "--all"]).code(EXIT_FORBIDDEN);
    let all = admin.run(&["grants", "--all", "--json"]).success().json();
    assert_eq!(ids(&all, "grants").len(), 1);
}

#[test]
fn policies_round_trip_through_files() {
    let server = Server::start();
    let admin = server.admin();
    let auditor = user(&server, &admin, "audrey", &["auditor"]);
    let plain = user(&server, &admin, "paul", &["user"]);
    admin.run(&["groups", "create", "oncall", "--role", "approver"]).success();
    let dir = tempfile::tempdir().unwrap();
    let written = json!({
        "name": "night-ops",
        "description": "on-call access outside office hours",
        "enabled": true,
        "users": ["paul"],
        "groups": ["oncall"],
        "targets": [{"tag": "prod"}, {"name": "web-1"}],
        "accounts": null,
        "mode": "on_request",
        "approvals_required": 2,
        "approver_group": "oncall",
        "max_duration_minutes": 90,
        "schedule": "mon-fri 08:00-18:00 +01:00",
        "mfa_to_request": false,
        "mfa_to_connect": true,
        "record_input": true,
        "reveal_allowed": false,
        "ticket_required": true,
        "ticket_pattern": "INC\\d+",
        "integration": null,
        "allow_local_forwarding": true,
        "allow_remote_forwarding": false,
        "allow_agent_forwarding": false,
        "consent_banner": "Everything you do is recorded."
    });
    let file = policy_file(&dir, "night-ops.json", &written);
    let created = admin.run(&["policies", "create", "--file", &file, "--json"]).success().json();
    let mut expected = written.clone();
    expected["targets"] = json!([{"name": "web-1"}, {"tag": "prod"}]);
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&created[field], value, "{field}");
    }
    admin.run(&["policies", "create", "--file", &file]).code(EXIT_CONFLICT);

    // What `show --json` prints can be edited and written back.
    let mut shown = auditor.run(&["policies", "show", "night-ops", "--json"]).success().json();
    assert_eq!(shown, created);
    shown["enabled"] = json!(false);
    shown["max_duration_minutes"] = json!(30);
    shown["accounts"] = json!(["root"]);
    shown["mode"] = json!("standing");
    shown["approvals_required"] = Value::Null;
    shown["approver_group"] = Value::Null;
    let id = created["id"].as_str().unwrap();
    let edited = policy_file(&dir, "edited.json", &shown);
    let updated = admin.run(&["policies", "update", id, "--file", &edited, "--json"]).success().json();
    assert_eq!((updated["id"].as_str(), updated["enabled"].as_bool()), (Some(id), Some(false)));
    assert_eq!((updated["mode"].as_str(), updated["max_duration_minutes"].as_i64()), (Some("standing"), Some(30)));
    assert_eq!(updated["accounts"], json!(["root"]));
    let table = auditor.run(&["policies", "list"]).success();
    assert!(table.stdout.contains("night-ops") && table.stdout.contains("standing"), "{}", table.stdout);
    let details = auditor.run(&["policies", "show", "night-ops"]).success();
    assert!(details.stdout.contains("tag:prod") && details.stdout.contains("30m"), "{}", details.stdout);

    // Mistakes are refused: locally for an unknown field, by the server for a bad value.
    let typo =
        policy_file(&dir, "typo.json", &json!({"name": "x", "targets": [], "max_duration_minutes": 5, "typo": 1}));
    let refused = admin.run(&["policies", "create", "--file", &typo]).code(EXIT_USAGE);
    assert!(refused.stderr.contains("typo"), "{}", refused.stderr);
    let mut bad = written.clone();
    bad["name"] = json!("bad-schedule");
    bad["schedule"] = json!("weekends");
    let invalid = admin.run(&["policies", "create", "--file", &policy_file(&dir, "bad.json", &bad)]).code(1);
    assert!(invalid.stderr.contains("schedule"), "{}", invalid.stderr);

    // Reading needs policies:read; writing needs admin.
    auditor.run(&["policies", "rm", "night-ops"]).code(EXIT_FORBIDDEN);
    plain.run(&["policies", "list"]).code(EXIT_FORBIDDEN);
    admin.run(&["policies", "delete", "night-ops"]).success();
    admin.run(&["policies", "show", "night-ops"]).code(EXIT_NOT_FOUND);
    admin.run(&["policies", "rm", id]).code(EXIT_NOT_FOUND);
    assert_eq!(admin.run(&["policies", "list", "--json"]).success().json()["policies"], json!([]));
}

#[test]
fn sessions_are_listed_for_auditors_and_unknown_ones_cannot_be_terminated() {
    let server = Server::start();
    let admin = server.admin();
    let auditor = user(&server, &admin, "audrey", &["auditor"]);
    let plain = user(&server, &admin, "paul", &["user"]);
    let listed = auditor.run(&["sessions", "--json"]).success().json();
    assert_eq!(listed["sessions"], json!([]));
    let table = auditor.run(&["sessions", "--live"]).success();
    assert_eq!(table.stdout.lines().count(), 1, "{}", table.stdout);
    let unknown = uuid::Uuid::new_v4().to_string();
    auditor.run(&["sessions", "terminate", &unknown]).code(EXIT_NOT_FOUND);
    auditor.run(&["sessions", "show", &unknown]).code(EXIT_NOT_FOUND);
    // A user sees only their own sessions and terminates none.
    assert_eq!(plain.run(&["sessions", "--json"]).success().json()["sessions"], json!([]));
    plain.run(&["sessions", "terminate", &unknown]).code(EXIT_FORBIDDEN);
}
