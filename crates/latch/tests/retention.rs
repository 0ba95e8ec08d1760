//! Recording retention through a real `latch serve`, the `latch` client, a real OpenSSH client and a real throwaway
//! sshd: a policy's retention validated and shown, a finished session showing when its recording becomes due, and a
//! legal hold placed and released with `latch sessions hold/release` by an auditor (refused for the session's own
//! user), shown in the session and audited, the recording untouched. Retention is counted in days, so the sweep's
//! time logic (due, held, released, failing deletions) is tested with a manual clock in `src/recording_retention.rs`.

#![expect(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{Cli, Server};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const PASSWORD: &str = "retention-tests-pass-12345";

#[test]
fn an_auditor_holds_and_releases_a_recording_through_the_cli() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let server = Server::start();
    let admin = server.admin();
    let keys = tempfile::tempdir().unwrap();
    let alice_key = person_key(keys.path());
    let alice = user(&server, &admin, "alice", "user");
    let auditor = user(&server, &admin, "auditor1", "auditor");
    admin.run(&["ssh-keys", "add", alice_key.with_extension("pub").to_str().unwrap(), "--user", "alice"]).success();
    let port = sshd.port().to_string();
    admin.run(&["targets", "add", "db01", "--address", "127.0.0.1", "--port", &port]).success();
    admin.run(&["targets", "fetch-host-key", "db01", "--yes"]).success();
    let secret = format!("{}\n", sshd.user().password);
    admin.run_with_stdin(&["accounts", "add", "db01", &sshd.user().name, "--secret-stdin"], &secret).success();

    // Zero days would delete a recording as soon as its session ends: refused. Thirty days are kept and shown.
    let policy = |days: u32| {
        json!({ "name": "db-kept", "users": ["alice"], "targets": [{"name": "db01"}], "mode": "standing",
            "max_duration_minutes": 60, "recording_retention_days": days })
    };
    let refused = create_policy(&admin, keys.path(), &policy(0));
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("recording retention"), "{}", refused.stderr);
    create_policy(&admin, keys.path(), &policy(30)).success();
    let shown = admin.run(&["policies", "show", "db-kept", "--json"]).success().json();
    assert_eq!(shown["recording_retention_days"], 30, "{shown}");
    let table = admin.run(&["policies", "show", "db-kept"]).success().stdout;
    assert!(table.lines().any(|line| line.contains("recording retention") && line.contains("30 days")), "{table}");

    // A finished session is due 30 days after it ended.
    let ran = ssh(&server, &alice_key, "alice@db01", "echo kept-for-thirty-days");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "kept-for-thirty-days\n", "{ran:?}");
    let session = wait_for_ended_session(&admin);
    let id = session["id"].as_str().unwrap().to_owned();
    assert_eq!(session["recording_retention_days"], 30, "{session}");
    let ended_at = time_of(&session["ended_at"]);
    assert_eq!(time_of(&session["retain_until"]) - ended_at, time::Duration::days(30), "{session}");
    assert_eq!((session["legal_hold_reason"].is_null(), session["recording_deleted_at"].is_null()), (true, true));
    let recording = server.data_dir().join("recordings").join(&id);
    assert!(recording.join("events.jsonl").is_file(), "{}", recording.display());

    // Holding needs sessions:hold: the session's own user may not; an auditor may, once.
    alice.run(&["sessions", "hold", &id, "--reason", "keep mine"]).code(5);
    let held = auditor.run(&["sessions", "hold", &id, "--reason", "case 17", "--json"]).success().json();
    assert_eq!(
        (held["legal_hold_reason"].as_str(), held["legal_hold_by"].as_str()),
        (Some("case 17"), Some("auditor1"))
    );
    assert!(held["legal_hold_at"].is_string(), "{held}");
    let again = auditor.run(&["sessions", "hold", &id, "--reason", "case 18"]).code(7);
    assert!(again.stderr.contains("already on legal hold (case 17)"), "{}", again.stderr);
    let table = admin.run(&["sessions", "show", &id]).success().stdout;
    assert!(table.contains("case 17 (by auditor1 at "), "{table}");
    assert!(table.lines().any(|line| line.contains("retention") && line.contains("30 days")), "{table}");
    let csv = admin.run(&["sessions", "--csv"]).success().stdout;
    let header = csv.lines().next().unwrap();
    assert!(header.contains(",retain_until,legal_hold_reason,legal_hold_by,legal_hold_at,"), "{header}");

    // Released by the auditor (not by alice); releasing twice is a conflict.
    alice.run(&["sessions", "release", &id]).code(5);
    let released = auditor.run(&["sessions", "release", &id, "--json"]).success().json();
    assert!(released["legal_hold_reason"].is_null(), "{released}");
    assert_eq!(released["retain_until"], session["retain_until"], "the retention applies again, unchanged");
    auditor.run(&["sessions", "release", &id]).code(7);

    let placed = audit(&admin, "session.legal_hold_placed");
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(
        (placed[0]["actor_name"].as_str(), placed[0]["details"]["session_id"].as_str()),
        (Some("auditor1"), Some(id.as_str()))
    );
    assert_eq!(placed[0]["details"]["reason"], "case 17");
    let lifted = audit(&admin, "session.legal_hold_released");
    assert_eq!(lifted.len(), 1, "{lifted:?}");
    assert_eq!(
        (lifted[0]["details"]["hold_reason"].as_str(), lifted[0]["details"]["placed_by"].as_str()),
        (Some("case 17"), Some("auditor1"))
    );
    assert!(audit(&admin, "session.recording_deleted").is_empty(), "nothing is due for 30 days");
    assert!(recording.join("events.jsonl").is_file(), "the recording is untouched");
}

fn user(server: &Server, admin: &Cli, username: &str, role: &str) -> Cli {
    let create = ["users", "create", username, "--role", role, "--password-stdin"];
    admin.run_with_stdin(&create, &format!("{PASSWORD}\n")).success();
    let cli = server.client();
    cli.login_with_stdin(username, &format!("{PASSWORD}\n")).success();
    cli
}

fn create_policy(admin: &Cli, dir: &Path, policy: &serde_json::Value) -> harness::Run {
    let file = dir.join("policy.json");
    std::fs::write(&file, policy.to_string()).unwrap();
    admin.run(&["policies", "create", "--file", file.to_str().unwrap()])
}

fn person_key(dir: &Path) -> PathBuf {
    let path = dir.join("person_ed25519");
    let made = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "person", "-f"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    path
}

/// The real `ssh` through the gateway with the person's key and no config, agent or known hosts.
fn ssh(server: &Server, key: &Path, login: &str, command: &str) -> std::process::Output {
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

/// The one session, once the gateway has recorded its end (the client may exit first; bounded by 10 s).
fn wait_for_ended_session(admin: &Cli) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sessions = admin.run(&["sessions", "--json"]).success().json();
        let session = &sessions["sessions"][0];
        if session["ended_at"].is_string() {
            return session.clone();
        }
        assert!(Instant::now() < deadline, "the session did not end: {sessions}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn time_of(value: &serde_json::Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().unwrap_or_else(|| panic!("not a time: {value}")), &Rfc3339).unwrap()
}

fn audit(admin: &Cli, kind: &str) -> Vec<serde_json::Value> {
    let page = admin.run(&["audit", "list", "--kind", kind, "--json"]).success().json();
    page["records"].as_array().cloned().unwrap_or_default()
}
