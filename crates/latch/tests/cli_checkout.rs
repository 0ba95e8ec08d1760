//! Credential check-outs through the `latch` client against a real `latch serve`: check out and see the secret
//! once (only the secret on stdout), exclusive and shared accounts, check-in.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{Cli, Server};
use serde_json::json;

const EXIT_FORBIDDEN: i32 = 5;
const EXIT_CONFLICT: i32 = 7;
const PASSWORD: &str = "checkout-tests-pass-12345";
const SECRET: &str = "Db-Admin-Secret-9f3!";

/// Creates `username` with [`PASSWORD`] and the user role, as the admin, and logs them in.
fn user(server: &Server, admin: &Cli, username: &str) -> Cli {
    let args = ["users", "create", username, "--password-stdin", "--role", "user"];
    admin.run_with_stdin(&args, &format!("{PASSWORD}\n")).success();
    let cli = server.client();
    cli.login_with_stdin(username, &format!("{PASSWORD}\n")).success();
    cli
}

#[test]
fn a_checked_out_secret_is_printed_once_and_checked_in() {
    let server = Server::start();
    let admin = server.admin();
    let alice = user(&server, &admin, "alice");
    let bob = user(&server, &admin, "bob");
    let dave = user(&server, &admin, "dave");
    admin.run(&["targets", "add", "db-1", "--address", "10.0.0.1"]).success();
    let account = admin
        .run_with_stdin(&["accounts", "add", "db-1", "postgres", "--secret-stdin", "--json"], &format!("{SECRET}\n"))
        .success()
        .json();
    assert_eq!(account["exclusive_checkout"], true);
    let account_id = account["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let policy = json!({
        "name": "db-reveal", "users": ["alice", "bob"], "targets": [{"name": "db-1"}], "mode": "standing",
        "max_duration_minutes": 60, "reveal_allowed": true
    });
    let file = dir.path().join("db-reveal.json");
    harness::write_file(&file, &policy.to_string());
    admin.run(&["policies", "create", "--file", file.to_str().unwrap()]).success();

    // Only the secret goes to stdout; what was checked out goes to stderr.
    let checkout = ["checkout", "db-1", "--account", "postgres", "--reason", "vacuum", "--duration", "30m"];
    let out = alice.run(&checkout).success();
    assert_eq!(out.stdout, format!("{SECRET}\n"));
    assert!(out.stderr.contains("Checked out postgres on db-1"), "{}", out.stderr);
    let open = alice.run(&["checkouts", "--open", "--json"]).success().json();
    let first = open["checkouts"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(open["checkouts"].as_array().unwrap().len(), 1, "{open}");
    assert!(out.stderr.contains(&first), "{}", out.stderr);

    // Once per check-out; exclusive, so nobody else meanwhile.
    let again = alice.run(&["checkouts", "reveal", &first]).code(EXIT_CONFLICT);
    assert!(again.stderr.contains("already revealed") && !again.all().contains(SECRET), "{}", again.all());
    let taken = bob.run(&checkout).code(EXIT_CONFLICT);
    assert!(taken.stderr.contains("exclusively") && !taken.all().contains(SECRET), "{}", taken.all());
    dave.run(&checkout).code(EXIT_FORBIDDEN);

    let back = alice.run(&["checkin", &first]).success();
    assert!(back.stdout.contains(&format!("Checked in {first}")), "{}", back.stdout);
    alice.run(&["checkin", &first]).code(EXIT_CONFLICT);
    let shown = alice.run(&["checkouts", "show", &first, "--json"]).success().json();
    assert_eq!((shown["state"].as_str(), shown["check_in_reason"].as_str()), (Some("checked_in"), Some("returned")));
    let table = alice.run(&["checkouts"]).success();
    assert!(table.stdout.contains(&first) && table.stdout.contains("checked_in"), "{}", table.stdout);

    // Check out now, reveal later; a shared account lets two people hold it.
    let held = bob.run(&["checkout", "db-1", "--reason", "report", "--no-reveal", "--json"]).success().json();
    assert_eq!(held["state"], "open");
    assert!(!held.to_string().contains(SECRET));
    let held = held["id"].as_str().unwrap().to_owned();
    admin.run(&["accounts", "update", &account_id, "--shared-checkout", "true"]).success();
    let shown = admin.run(&["accounts", "show", &account_id, "--json"]).success().json();
    assert_eq!(shown["exclusive_checkout"], false);
    alice.run(&checkout).code(EXIT_CONFLICT);
    bob.run(&["checkin", &held]).success();
    let shared = bob.run(&["checkout", "db-1", "--reason", "report", "--no-reveal", "--json"]).success().json();
    let shared = shared["id"].as_str().unwrap().to_owned();
    assert_eq!(alice.run(&checkout).success().stdout, format!("{SECRET}\n"));
    assert_eq!(bob.run(&["checkouts", "reveal", &shared]).success().stdout, format!("{SECRET}\n"));
    let everyone = admin.run(&["checkouts", "--all", "--open", "--json"]).success().json();
    assert_eq!(everyone["checkouts"].as_array().unwrap().len(), 2, "{everyone}");
    bob.run(&["checkouts", "--all"]).code(EXIT_FORBIDDEN);
}
