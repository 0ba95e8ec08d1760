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
    assert!(ended_after_grant < Duration::from_secs(1), "ended {ended_after_grant:?} after the grant's end");
    assert!(String::from_utf8_lossy(&running.stderr).contains("expired"), "{}\n{}", describe(&running), server.logs());

    wait_for_end_reason(&admin, "grant_expired");
    wait_for_receipt(&admin);

    // After the grant's end, and after a restart, access stays refused.
    let after = ssh(&server, &alice_key, "alice@db01", "true");
    assert_eq!(after.status.code(), Some(255), "{}", describe(&after));
    server.restart();
    let after_restart = ssh(&server, &alice_key, "alice@db01", "true");
    assert_eq!(after_restart.status.code(), Some(255), "{}", describe(&after_restart));

    // A new grant, revoked while a command runs: the session ends within a second of the revocation.
    let granted = alice.run(&["request", "db01", "--reason", "again", "--duration", "10m", "--json"]).success().json();
    let grant = granted["grant"]["id"].as_str().unwrap().to_owned();
    let running = {
        let port = server.ssh_port();
        let key = alice_key.clone();
        std::thread::spawn(move || {
            let output = ssh_port(port, &key, "alice@db01", "sleep 60");
            (output, Instant::now())
        })
    };
    wait_until_a_session_is_live(&admin);
    let revoking = Instant::now();
    admin.run(&["grants", "revoke", &grant, "--reason", "incident over"]).success();
    let (output, exited) = running.join().unwrap();
    let took = exited.saturating_duration_since(revoking);
    assert!(took < Duration::from_secs(1), "the session ended {took:?} after the revocation");
    assert!(String::from_utf8_lossy(&output.stderr).contains("revoked"), "{}", describe(&output));
    wait_for_end_reason(&admin, "grant_revoked");
}

fn wait_until_a_session_is_live(admin: &Cli) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let live = admin.run(&["sessions", "--live", "--json"]).success().json();
        if !live["sessions"].as_array().unwrap().is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "no live session");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The client may exit before the gateway has recorded the session's end: poll for it (bounded).
fn wait_for_end_reason(admin: &Cli, reason: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let sessions = admin.run(&["sessions", "--json"]).success().json();
        let ended = sessions["sessions"].as_array().unwrap().iter().any(|s| s["end_reason"] == reason);
        if ended {
            return;
        }
        assert!(Instant::now() < deadline, "no session ended with {reason}: {sessions}");
        std::thread::sleep(Duration::from_millis(200));
    }
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
    ssh_port(server.ssh_port(), key, login, command)
}

fn ssh_port(port: u16, key: &Path, login: &str, command: &str) -> Output {
    Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"])
        .arg("-i")
        .arg(key)
        .args(["-p", &port.to_string(), &format!("{login}@127.0.0.1"), command])
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

#[test]
fn an_auditor_watches_a_live_session_through_the_cli() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let server = Server::start();
    let admin = server.admin();
    let keys = tempfile::tempdir().unwrap();
    let alice_key = person_key(keys.path());
    let alice = user(&server, &admin, "alice");
    admin.run(&["ssh-keys", "add", pub_path(&alice_key).to_str().unwrap(), "--user", "alice"]).success();
    let auditor = server.client();
    let create = ["users", "create", "auditor1", "--role", "auditor", "--password-stdin"];
    admin.run_with_stdin(&create, &format!("{PASSWORD}\n")).success();
    auditor.login_with_stdin("auditor1", &format!("{PASSWORD}\n")).success();

    db01_standing_for_alice(&admin, &sshd, keys.path());

    // alice's live shell; a watchdog ends it (and with it every watch) if the test gets stuck.
    let mut shell = Command::new("ssh")
        .args(["-tt", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR", "-i"])
        .arg(&alice_key)
        .args(["-p", &server.ssh_port().to_string(), "alice@db01@127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut typing = shell.stdin.take().unwrap();
    let shell_pid = shell.id().to_string();
    let (test_done, done) = std::sync::mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(Duration::from_secs(60)) {
            let _ = Command::new("kill").arg(&shell_pid).status();
        }
    });
    let session = wait_for_live_session(&admin);

    let refused = alice.run(&["sessions", "watch", &session]);
    assert_eq!(refused.code, 5, "{}", refused.all());
    let mut terminal = auditor.spawn(&["sessions", "watch", &session]);
    let mut cast = auditor.spawn(&["sessions", "watch", &session, "--asciicast"]);
    let header: serde_json::Value = serde_json::from_str(&cast.read_line_where(|line| line.starts_with('{'))).unwrap();
    assert_eq!(header["version"], 2, "{header}");
    assert!(header["width"].as_u64().is_some_and(|width| width > 0), "{header}");
    // Both watchers are subscribed once both watches are in the audit log.
    let deadline = Instant::now() + Duration::from_secs(20);
    while audit_count(&admin, "session.watched") < 2 {
        assert!(Instant::now() < deadline, "the watches were not audited");
        std::thread::sleep(Duration::from_millis(100));
    }

    std::io::Write::write_all(&mut typing, b"echo watch-$((6*7))\n").unwrap();
    // The typed command is echoed as `watch-$((6*7))`: only the shell's output says `watch-42`.
    terminal.read_line_where(|line| line.contains("watch-42"));
    let event = cast.read_line_where(|line| line.contains("watch-42"));
    let event: serde_json::Value = serde_json::from_str(&event).unwrap();
    assert_eq!(event[1], "o", "{event}");
    assert!(event[0].as_f64().is_some(), "{event}");

    // The session's end ends both watches with success.
    std::io::Write::write_all(&mut typing, b"exit\n").unwrap();
    drop(typing);
    assert!(shell.wait().unwrap().success());
    assert_eq!(terminal.finish(), 0);
    assert_eq!(cast.finish(), 0);
    drop(test_done);
    watchdog.join().unwrap();
}

/// The id of the one live session, once there is one (bounded by 20 s).
/// Target db01 (the throwaway sshd, host key pinned), its account with the password, and a standing policy for
/// alice.
fn db01_standing_for_alice(admin: &Cli, sshd: &latch_testkit::sshd::TestSshd, dir: &Path) {
    let port = sshd.port().to_string();
    admin.run(&["targets", "add", "db01", "--address", "127.0.0.1", "--port", &port, "--tag", "pci"]).success();
    admin.run(&["targets", "fetch-host-key", "db01", "--yes"]).success();
    let secret = format!("{}\n", sshd.user().password);
    admin.run_with_stdin(&["accounts", "add", "db01", &sshd.user().name, "--secret-stdin"], &secret).success();
    let policy = json!({ "name": "db-standing", "users": ["alice"], "targets": [{"name": "db01"}],
        "mode": "standing", "max_duration_minutes": 60 });
    let file = dir.join("policy.json");
    std::fs::write(&file, serde_json::to_string(&policy).unwrap()).unwrap();
    admin.run(&["policies", "create", "--file", file.to_str().unwrap()]).success();
}

#[test]
fn finished_sessions_are_found_by_filters_and_their_events_listed_and_exported() {
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let mut server = Server::start();
    let admin = server.admin();
    let keys = tempfile::tempdir().unwrap();
    let alice_key = person_key(keys.path());
    let alice = user(&server, &admin, "alice");
    admin.run(&["ssh-keys", "add", pub_path(&alice_key).to_str().unwrap(), "--user", "alice"]).success();
    db01_standing_for_alice(&admin, &sshd, keys.path());

    let ran = ssh(&server, &alice_key, "alice@db01", "echo report-one");
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "report-one\n", "{}", describe(&ran));
    let ran = ssh(&server, &alice_key, "alice@db01", "echo report-two; exit 4");
    assert_eq!(ran.status.code(), Some(4), "{}", describe(&ran));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !admin.run(&["sessions", "--live", "--json"]).success().json()["sessions"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the sessions did not end");
        std::thread::sleep(Duration::from_millis(100));
    }

    let found = |filters: &[&str]| -> Vec<String> {
        let mut args = vec!["sessions", "--json"];
        args.extend_from_slice(filters);
        let listed = admin.run(&args).success().json();
        listed["sessions"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    };
    let both = found(&["--user", "alice", "--target", "db01", "--host", "127.0.0.1", "--tag", "pci"]);
    assert_eq!(both.len(), 2, "{both:?}");
    assert_eq!(found(&["--protocol", "ssh", "--end-reason", "client_closed"]), both);
    assert_eq!(found(&["--user", "bob"]), Vec::<String>::new());
    assert_eq!(found(&["--tag", "no-such-tag"]), Vec::<String>::new());
    assert_eq!(found(&["--from", &rfc3339_in(Duration::from_secs(60))]), Vec::<String>::new());
    let bad = admin.run(&["sessions", "--protocol", "gopher"]);
    assert_ne!(bad.code, 0);
    assert!(bad.stderr.contains("protocol"), "{}", bad.stderr);

    // The newest session's events, in order, as a table and as JSON.
    let events = admin.run(&["sessions", "events", &both[0], "--json"]).success().json();
    let kinds: Vec<&str> = events["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["exec", "session_ended"], "{events}");
    assert_eq!(events["events"][0]["summary"], "echo report-two; exit 4");
    assert_eq!(events["events"][0]["data"]["command"], "echo report-two; exit 4");
    let table = admin.run(&["sessions", "events", &both[0]]).success().stdout;
    assert!(table.contains("echo report-two; exit 4") && table.contains("client_closed"), "{table}");
    // alice sees her own session's events; an unknown session is not found.
    alice.run(&["sessions", "events", &both[1]]).success();
    admin.run(&["sessions", "events", "00000000-0000-0000-0000-000000000000"]).code(6);

    // CSV: a header and one row per session, every field.
    let csv = admin.run(&["sessions", "--user", "alice", "--csv"]).success().stdout;
    let mut rows = csv.lines();
    let header = rows.next().unwrap();
    assert!(header.starts_with("id,user_id,username,"), "{csv}");
    assert!(header.contains("end_reason") && header.contains("bytes_from_target"), "{header}");
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows.iter().all(|row| row.contains(",alice,") && row.contains("client_closed")), "{csv}");

    // Both recordings verify offline with the node's public key; one flipped byte is named, and so is a wrong key.
    let data_dir = server.data_dir();
    let data_dir = data_dir.to_str().unwrap();
    let verified = admin.run(&["recordings", "verify", "--all", "--data-dir", data_dir, "--json"]).success().json();
    assert_eq!((verified["verified"].as_u64(), verified["with_problems"].as_u64()), (Some(2), Some(0)), "{verified}");
    // The signature is an ordinary SSH signature: OpenSSH checks it with the public key too.
    let public = std::fs::read_to_string(server.data_dir().join("recording_signing_ed25519_key.pub")).unwrap();
    let signers = keys.path().join("allowed_signers");
    std::fs::write(&signers, format!("latch {public}")).unwrap();
    let sealed = server.data_dir().join("recordings").join(&both[1]);
    let openssh = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-I", "latch", "-n", "recording-manifest@latch", "-f"])
        .arg(&signers)
        .arg("-s")
        .arg(sealed.join("manifest.json.sig"))
        .stdin(std::fs::File::open(sealed.join("manifest.json")).unwrap())
        .output()
        .unwrap();
    assert!(openssh.status.success(), "{}", describe(&openssh));

    let session_dir = server.data_dir().join("recordings").join(&both[0]);
    let stream = std::fs::read_dir(&session_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|extension| extension == "stream"))
        .unwrap();
    let stream_name = stream.file_name().unwrap().to_string_lossy().into_owned();
    let mut bytes = std::fs::read(&stream).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    std::fs::write(&stream, &bytes).unwrap();
    let tampered = admin.run(&["recordings", "verify", &both[0], &both[1], "--data-dir", data_dir]).code(8);
    assert!(tampered.stdout.contains(&format!("{stream_name}: chunk 0 changed")), "{}", tampered.stdout);
    assert!(tampered.stdout.contains(&format!("ok       {}", both[1])), "{}", tampered.stdout);
    let other_key = keys.path().join("other_ed25519");
    let made =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other_key).output().unwrap();
    assert!(made.status.success());
    let other_public = pub_path(&other_key);
    let wrong =
        ["recordings", "verify", &both[1], "--data-dir", data_dir, "--public-key", other_public.to_str().unwrap()];
    assert!(admin.run(&wrong).code(8).stdout.contains("signature does not match"));

    // A session the node was killed under (kill -9) is closed as abandoned at the restart, with its events indexed
    // from what its event log held.
    let running = {
        let port = server.ssh_port();
        let key = alice_key.clone();
        std::thread::spawn(move || ssh_port(port, &key, "alice@db01", "echo before-the-crash; sleep 60"))
    };
    let live = wait_for_live_session(&admin);
    std::thread::sleep(Duration::from_millis(1500));
    server.restart();
    let _ = running.join();
    wait_for_end_reason(&admin, "abandoned");
    let events = admin.run(&["sessions", "events", &live, "--json"]).success().json();
    let commands: Vec<&str> =
        events["events"].as_array().unwrap().iter().filter_map(|e| e["data"]["command"].as_str()).collect();
    assert_eq!(commands, ["echo before-the-crash; sleep 60"], "{events}");
}

fn wait_for_live_session(admin: &Cli) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let live = admin.run(&["sessions", "--live", "--json"]).success().json();
        if let Some(id) = live["sessions"][0]["id"].as_str() {
            return id.to_owned();
        }
        assert!(Instant::now() < deadline, "no live session: {live}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn audit_count(admin: &Cli, kind: &str) -> usize {
    let audit = admin.run(&["audit", "list", "--kind", kind, "--json"]).success().json();
    audit["records"].as_array().map_or(0, Vec::len)
}
