//! Break-glass through the `latch` client against a real `latch serve` configured with an `[access]` section:
//! a member switches it on, lists it and switches it off; others are refused; each switch is audited.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{Cli, Server};

const EXIT_INVALID: i32 = 1;
const EXIT_FORBIDDEN: i32 = 5;
const EXIT_CONFLICT: i32 = 7;
const PASSWORD: &str = "break-glass-tests-pass-12345";
const CONFIG: &str = "[access]\nbreak_glass_group = \"oncall\"\nbreak_glass_max_minutes = 60\n";

/// Creates `username` with [`PASSWORD`] and the user role, as the admin, and logs them in.
fn user(server: &Server, admin: &Cli, username: &str) -> Cli {
    let args = ["users", "create", username, "--password-stdin", "--role", "user"];
    admin.run_with_stdin(&args, &format!("{PASSWORD}\n")).success();
    let cli = server.client();
    cli.login_with_stdin(username, &format!("{PASSWORD}\n")).success();
    cli
}

#[test]
fn members_switch_break_glass_on_and_off() {
    let server = Server::start_with_config(CONFIG);
    let admin = server.admin();
    let bob = user(&server, &admin, "bob");
    let alice = user(&server, &admin, "alice");
    for target in ["db01", "db02"] {
        admin.run(&["targets", "add", target, "--address", "10.0.0.1"]).success();
    }
    admin.run(&["groups", "create", "oncall"]).success();
    admin.run(&["groups", "add-member", "oncall", "bob"]).success();

    let on = ["break-glass", "on", "--target", "db01", "--target", "db02", "--reason", "primary down, INC0042"];
    let refused = alice.run(&on).code(EXIT_FORBIDDEN);
    assert!(refused.stderr.contains("not allowed"), "{}", refused.all());
    let too_long = bob.run(&[&on[..], &["--duration", "2h"]].concat()).code(EXIT_INVALID);
    assert!(too_long.stderr.contains("configured maximum of 1h"), "{}", too_long.all());
    let unknown = bob.run(&["break-glass", "on", "--target", "nope", "--reason", "x"]).code(EXIT_INVALID);
    assert!(unknown.stderr.contains("no target named nope"), "{}", unknown.all());

    let glass = bob.run(&[&on[..], &["--duration", "30m", "--json"]].concat()).success().json();
    assert_eq!(glass["state"], "active");
    assert_eq!(glass["targets"], serde_json::json!(["db01", "db02"]));
    assert_eq!(glass["reason"], "primary down, INC0042");
    let id = glass["id"].as_str().unwrap().to_owned();
    let shown = bob.run(&["break-glass", "list"]).success();
    assert!(shown.stdout.contains(&id) && shown.stdout.contains("active"), "{}", shown.stdout);
    assert!(shown.stdout.contains("db01,db02"), "{}", shown.stdout);
    let theirs = alice.run(&["break-glass", "list", "--json"]).success().json();
    assert_eq!(theirs["break_glass"].as_array().unwrap().len(), 0, "others see only their own: {theirs}");
    let all = admin.run(&["break-glass", "list", "--active", "--json"]).success().json();
    assert_eq!(all["break_glass"][0]["id"].as_str(), Some(id.as_str()));

    alice.run(&["break-glass", "off", &id]).code(EXIT_FORBIDDEN);
    let off = bob.run(&["break-glass", "off", &id]).success();
    assert!(off.stdout.contains(&format!("Switched off break-glass {id}.")), "{}", off.stdout);
    let again = bob.run(&["break-glass", "off", &id]).code(EXIT_CONFLICT);
    assert!(again.stderr.contains("already ended"), "{}", again.all());
    let active = bob.run(&["break-glass", "list", "--active", "--json"]).success().json();
    assert_eq!(active["break_glass"].as_array().unwrap().len(), 0, "{active}");
    let ended = bob.run(&["break-glass", "list", "--json"]).success().json();
    assert_eq!(
        (ended["break_glass"][0]["state"].as_str(), ended["break_glass"][0]["ended_by"].as_str()),
        (Some("ended"), Some("bob"))
    );

    let audit = admin.run(&["audit", "list", "--kind", "break_glass.", "--json"]).success();
    assert!(audit.stdout.contains("break_glass.activated"), "{}", audit.stdout);
    assert!(audit.stdout.contains("break_glass.ended") && audit.stdout.contains("manual"), "{}", audit.stdout);
}

#[test]
fn without_an_access_section_nobody_may_switch_it_on() {
    let server = Server::start();
    let admin = server.admin();
    let bob = user(&server, &admin, "bob");
    admin.run(&["targets", "add", "db01", "--address", "10.0.0.1"]).success();
    admin.run(&["groups", "create", "oncall"]).success();
    admin.run(&["groups", "add-member", "oncall", "bob"]).success();
    bob.run(&["break-glass", "on", "--target", "db01", "--reason", "outage"]).code(EXIT_FORBIDDEN);
    admin.run(&["break-glass", "on", "--target", "db01", "--reason", "outage"]).code(EXIT_FORBIDDEN);
}
