//! The SSH gateway of a real `latch serve`, set up only through the `latch` client, between a real OpenSSH
//! client and a real throwaway sshd: pinning the target's host key on first use, a just-in-time grant, the
//! session through the gateway, and the grant's expiry ending a live session and refusing new ones, also after a
//! restart.

#![expect(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{Cli, Server};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "gateway-tests-pass-12345";

#[test]
fn grant_through_the_gateway_from_first_use_to_expiry() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let mut server = Server::start();
    let admin = server.admin();
    let keys = tempfile::tempdir().unwrap();
    let alice_key = person_key(keys.path());
    let alice = user(&server, &admin, "alice");
    admin.run(&["ssh-keys", "add", pub_path(&alice_key).to_str().unwrap(), "--user", "alice"]).success();

    // The target, its host key pinned on first use through the server, and the account's password.
    let port = sshd.port().to_string();
    admin.run(&["targets", "add", "db01", "--address", "127.0.0.1", "--port", &port]).success();
    let fetched = admin.run(&["targets", "fetch-host-key", "db01", "--yes", "--json"]).success().json();
    assert_eq!(fetched["host_key_pin"], sshd.host_key_fingerprint());
    let secret = format!("{}\n", sshd.user().password);
    admin.run_with_stdin(&["accounts", "add", "db01", &sshd.user().name, "--secret-stdin"], &secret).success();

    // No policy yet: the same refusal as for a target that does not exist.
    let refused = ssh(&server, &alice_key, "alice@db01", "true");
    let unknown = ssh(&server, &alice_key, "alice@nosuch", "true");
    assert_eq!(refused.status.code(), Some(255));
    assert_eq!(refused.status.code(), unknown.status.code());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("Permission denied"));

    let policy = json!({
        "name": "db-self-service", "users": ["alice"], "targets": [{"name": "db01"}],
        "mode": "on_request", "approvals_required": 0, "max_duration_minutes": 60
    });
    let file = keys.path().join("policy.json");
    std::fs::write(&file, serde_json::to_string(&policy).unwrap()).unwrap();
    admin.run(&["policies", "create", "--file", file.to_str().unwrap()]).success();

    // A grant ending in a few seconds; connect, then keep a command running past the end.
    let until = rfc3339_in(Duration::from_secs(12));
    let granted = alice.run(&["request", "db01", "--reason", "restart the replica", "--until", &until, "--json"]);
    let granted = granted.success().json();
    assert_eq!(granted["request"]["status"], "approved", "{granted}");
    let ran = ssh(&server, &alice_key, "alice@db01", "echo through-latch; exit 3");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "through-latch\n", "{}", describe(&ran));
    assert_eq!(ran.status.code(), Some(3));

    // `latch ssh-config` makes a plain `ssh ACCOUNT@TARGET` go through the gateway.
    let gateway = format!("127.0.0.1:{}", server.ssh_port());
    let block = alice.run(&["ssh-config", "--gateway", &gateway, "db01"]).success().stdout;
    let config = keys.path().join("ssh_config");
    std::fs::write(&config, &block).unwrap();
    let account_login = format!("{}@db01", sshd.user().name);
    let plain = Command::new("ssh")
        .arg("-F")
        .arg(&config)
        .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-i"])
        .arg(&alice_key)
        .args([account_login.as_str(), "echo via-ssh-config"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&plain.stdout), "via-ssh-config\n", "{block}\n{}", describe(&plain));

    let ends_at = parse_time(granted["grant"]["ends_at"].as_str().unwrap());
    let started = Instant::now();
    let running = ssh(&server, &alice_key, "alice@db01", "sleep 60");
    let ended_after_grant = system_time_now().duration_since(ends_at).unwrap_or_default();
    assert!(started.elapsed() < Duration::from_secs(30), "the session outlived its grant");
    assert!(ended_after_grant < Duration::from_millis(1500), "ended {ended_after_grant:?} after the grant's end");
    assert!(String::from_utf8_lossy(&running.stderr).contains("expired"), "{}\n{}", describe(&running), server.logs());

    let sessions = admin.run(&["sessions", "--json"]).success().json();
    let reasons: Vec<&str> =
        sessions["sessions"].as_array().unwrap().iter().filter_map(|s| s["end_reason"].as_str()).collect();
    assert!(reasons.contains(&"grant_expired"), "{sessions}");
    wait_for_receipt(&admin);

    // After the grant's end, and after a restart, access stays refused.
    let after = ssh(&server, &alice_key, "alice@db01", "true");
    assert_eq!(after.status.code(), Some(255), "{}", describe(&after));
    server.restart();
    let after_restart = ssh(&server, &alice_key, "alice@db01", "true");
    assert_eq!(after_restart.status.code(), Some(255), "{}", describe(&after_restart));
}

/// The sweeper writes a `grant.ended` receipt with due and enforced times.
fn wait_for_receipt(admin: &Cli) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let audit = admin.run(&["audit", "list", "--kind", "grant.ended", "--json"]).success().json();
        let events = audit["records"].as_array().cloned().unwrap_or_default();
        if let Some(event) = events.first() {
            let text = event.to_string();
            assert!(text.contains("enforced_at") && text.contains("due_at"), "{text}");
            return;
        }
        assert!(Instant::now() < deadline, "no grant.ended receipt: {audit}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn user(server: &Server, admin: &Cli, username: &str) -> Cli {
    admin
        .run_with_stdin(&["users", "create", username, "--role", "user", "--password-stdin"], &format!("{PASSWORD}\n"))
        .success();
    let cli = server.client();
    cli.login_with_stdin(username, &format!("{PASSWORD}\n")).success();
    cli
}

fn person_key(dir: &Path) -> PathBuf {
    let path = dir.join("person_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "person", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", describe(&made));
    path
}

fn pub_path(key: &Path) -> PathBuf {
    key.with_extension("pub")
}

/// Runs the real `ssh` through the gateway with the person's key and no config, agent or known hosts.
fn ssh(server: &Server, key: &Path, login: &str, command: &str) -> Output {
    Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"])
        .arg("-i")
        .arg(key)
        .args(["-p", &server.ssh_port().to_string(), &format!("{login}@127.0.0.1"), command])
        .stdin(Stdio::null())
        .output()
        .expect("running ssh")
}

fn describe(output: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn system_time_now() -> std::time::SystemTime {
    std::time::SystemTime::now()
}

fn rfc3339_in(after: Duration) -> String {
    let at = time::OffsetDateTime::now_utc() + after;
    at.format(&time::format_description::well_known::Rfc3339).unwrap()
}

fn parse_time(text: &str) -> std::time::SystemTime {
    let at = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap();
    at.into()
}
