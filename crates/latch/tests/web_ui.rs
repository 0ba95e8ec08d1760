//! The web UI end to end: the real `latch serve`, set up with the CLI, driven in headless Chromium through
//! chromedriver. Screenshots of the main pages land in TARGET/web-screenshots/ (build output, not committed).
//!
//! Without chromedriver and Chromium the tests skip, unless LATCH_REQUIRE_BROWSER=1 (CI) makes that a failure.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "web/browser.rs"]
mod browser;
#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;
#[path = "incidents/system.rs"]
#[expect(dead_code, reason = "the incident system serves two test binaries; this one uses part of it")]
mod system;

use browser::Browser;
use harness::{ADMIN_PASSWORD, Cli, Server};
use latch_testkit::browser::fantoccini::key::Key;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PASSWORD: &str = "web-tests-pass-12345";

fn create_user(admin: &Cli, username: &str, roles: &[&str]) {
    let mut args = vec!["users", "create", username, "--password-stdin"];
    for role in roles {
        args.extend(["--role", role]);
    }
    admin.run_with_stdin(&args, &format!("{PASSWORD}\n")).success();
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Enrols TOTP for `username` with the CLI and returns the authenticator.
fn enrol_totp(server: &Server, username: &str) -> totp_rs::Totp {
    let cli = server.client();
    cli.login_with_stdin(username, &format!("{PASSWORD}\n")).success();
    let mut enroll = cli.spawn(&["totp", "enroll"]);
    let uri = enroll.read_line_where(|line| line.starts_with("otpauth://"));
    let totp = totp_rs::Totp::from_url(&uri).unwrap();
    enroll.answer(&totp.generate_current().to_string());
    assert_eq!(enroll.finish(), 0);
    totp
}

/// db01 (tag prod) with the account root, and a policy letting alice request it with one approval.
fn inventory_and_policy(server: &Server, admin: &Cli) {
    let args = ["targets", "add", "db01", "--address", "10.0.0.5", "--protocol", "ssh", "--tag", "prod"];
    admin.run(&args).success();
    admin.run(&["targets", "add", "web01", "--address", "10.0.0.6", "--protocol", "ssh", "--tag", "stage"]).success();
    admin.run_with_stdin(&["accounts", "add", "db01", "root", "--secret-stdin"], "target-secret-1\n").success();
    admin.run_with_stdin(&["accounts", "add", "web01", "deploy", "--secret-stdin"], "target-secret-2\n").success();
    let policy = serde_json::json!({
        "name": "db-ops", "users": ["alice"], "targets": [{"tag": "prod"}, {"tag": "stage"}],
        "mode": "on_request", "approvals_required": 1, "max_duration_minutes": 120
    });
    let path = server.data_dir().parent().unwrap().join("policy.json");
    std::fs::write(&path, serde_json::to_string(&policy).unwrap()).unwrap();
    admin.run(&["policies", "create", "--file", path.to_str().unwrap()]).success();
    // logs01: standing access for alice, nothing to request.
    admin.run(&["targets", "add", "logs01", "--address", "10.0.0.7", "--protocol", "ssh", "--tag", "logs"]).success();
    admin.run_with_stdin(&["accounts", "add", "logs01", "reader", "--secret-stdin"], "target-secret-3\n").success();
    let standing = serde_json::json!({
        "name": "logs-read", "users": ["alice"], "targets": [{"name": "logs01"}], "mode": "standing",
        "max_duration_minutes": 480, "reveal_allowed": true
    });
    std::fs::write(&path, serde_json::to_string(&standing).unwrap()).unwrap();
    admin.run(&["policies", "create", "--file", path.to_str().unwrap()]).success();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_request_and_approve_in_the_browser() {
    harness_crypto();
    let Some(driver) = latch_testkit::browser::start_or_skip().unwrap() else { return };
    let server = Server::start();
    let admin = server.admin();
    create_user(&admin, "alice", &["user"]);
    create_user(&admin, "bob", &["approver"]);
    let totp = enrol_totp(&server, "alice");
    inventory_and_policy(&server, &admin);

    let alice = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    // Pages need a session: the browser is sent to the sign-in page.
    alice.goto("/requests").await;
    alice.wait_for_path("/login").await;
    alice.screenshot("sign-in").await;

    // Password, then the TOTP code (of the next step: the enrolment used the current one).
    alice.goto("/login").await;
    alice.fill("#username", "alice").await;
    alice.fill("#password", PASSWORD).await;
    alice.click("#sign-in").await;
    alice.find("#code").await;
    alice.screenshot("sign-in-totp").await;
    alice.fill("#code", &totp.generate(now() + 30).to_string()).await;
    alice.click("#verify").await;
    alice.wait_for_path("/").await;
    assert_eq!(alice.text("main h1").await, "My access");

    // My access lists both targets; searching narrows it.
    let db01 = alice.text(r#"[data-target="db01"]"#).await;
    assert!(db01.contains("root") && db01.contains("10.0.0.5:22") && db01.contains("db-ops"), "{db01}");
    alice.find(r#"[data-target="web01"]"#).await;
    let standing = alice.text(r#"[data-target="logs01"] [data-account="reader"]"#).await;
    assert!(standing.contains("active · standing") && !standing.contains("Request"), "{standing}");
    alice.screenshot("my-access").await;
    alice.client.set_window_size(820, 1180).await.unwrap();
    alice.screenshot("my-access-tablet").await;
    let (width, height) = latch_testkit::browser::WINDOW_SIZE;
    alice.client.set_window_size(width, height).await.unwrap();
    alice.goto("/?q=&tag=prod&protocol=").await;
    alice.find(r#"[data-target="db01"]"#).await;
    alice.wait_until_gone(r#"[data-target="web01"]"#).await;
    // Typing in the search field narrows the list in place (htmx), and the address follows.
    alice.goto("/").await;
    alice.find("#q").await.send_keys("10.0.0.6").await.unwrap();
    alice.wait_until_gone(r#"[data-target="db01"]"#).await;
    alice.find(r#"[data-target="web01"]"#).await;
    let address = alice.client.current_url().await.unwrap();
    assert!(address.query().is_some_and(|q| q.contains("q=10.0.0.6")), "{address}");
    alice.goto("/").await;

    // Check out the standing account's password: seen once, then checked in.
    alice.click(r#"[data-target="logs01"] [data-account="reader"] a.checkout"#).await;
    alice.wait_for_path("/checkouts/new").await;
    alice.fill("#reason", "read the rotated logs by hand").await;
    alice.screenshot("checkout").await;
    alice.click("#submit-checkout").await;
    alice.wait_for_path("/checkouts").await;
    let row = alice.text("#checkouts tbody tr").await;
    assert!(row.contains("logs01") && row.contains("reader") && row.contains("open"), "{row}");
    alice.click("#checkouts tbody tr button.reveal").await;
    let secret = alice.find(".secret-value").await.prop("value").await.unwrap();
    assert_eq!(secret.as_deref(), Some("target-secret-3"));
    alice.screenshot("checkout-revealed").await;
    alice.goto("/checkouts").await;
    assert!(!alice.client.source().await.unwrap().contains("target-secret-3"), "the secret is shown once");
    alice.wait_until_gone("#checkouts button.reveal").await;
    assert!(alice.text("#checkouts tbody tr").await.contains("revealed"));
    alice.click("#checkouts tbody tr button.check-in").await;
    alice.wait_until_gone("#checkouts button.check-in").await;
    assert!(alice.text("#checkouts tbody tr").await.contains("checked in"));
    let revealed = admin.run(&["audit", "list", "--kind", "credential.revealed", "--json"]).success().json();
    assert_eq!(revealed["records"].as_array().map(Vec::len), Some(1), "{revealed}");
    alice.goto("/").await;

    // Request access to root on db01.
    alice.click(r#"[data-target="db01"] [data-account="root"] a.button"#).await;
    alice.wait_for_path("/requests/new").await;
    let chosen = alice.find("#access option:checked").await.attr("value").await.unwrap();
    assert_eq!(chosen.as_deref(), Some("root@db01"));
    alice.fill("#reason", "disk full on /var").await;
    alice.fill("#ticket", "INC-42").await;
    alice.screenshot("request-access").await;
    alice.click("#submit-request").await;
    alice.find("#request-created").await;
    let row = alice.text("#my-requests tbody tr").await;
    assert!(row.contains("db01") && row.contains("pending") && row.contains("disk full on /var"), "{row}");
    alice.screenshot("my-requests").await;

    // A state change without the CSRF token is refused, with a wrong one too; with the page's token it passes
    // the check (and then fails validation, as the form is incomplete).
    let form = "access=root%40db01&duration_minutes=60&reason=again";
    assert_eq!(alice.post_from_page("/requests", form, serde_json::json!({})).await, 403);
    let wrong = serde_json::json!({"X-CSRF-Token": "not-the-token"});
    assert_eq!(alice.post_from_page("/requests", form, wrong).await, 403);
    let token = alice.csrf_token().await;
    let right = serde_json::json!({"X-CSRF-Token": token});
    assert_eq!(alice.post_from_page("/requests", "reason=incomplete", right).await, 422);
    assert_eq!(alice.post_from_page(&format!("/logout?csrf={token}"), "", serde_json::json!({})).await, 403);

    // Bob, an approver, approves it in his own browser; htmx swaps the row in place.
    let bob = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    // By keyboard only: the username field has the focus, Tab moves on, Enter submits.
    bob.goto("/login").await;
    let focused = bob.client.active_element().await.unwrap();
    assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("username"));
    focused.send_keys(&format!("bob{}{PASSWORD}{}", char::from(Key::Tab), char::from(Key::Enter))).await.unwrap();
    bob.wait_for_path("/").await;
    assert_eq!(bob.text("main h1").await, "My access");
    bob.goto("/approvals").await;
    let pending = bob.text("#approvals tbody tr").await;
    assert!(pending.contains("alice") && pending.contains("db01") && pending.contains("INC-42"), "{pending}");
    bob.fill("#approvals tbody tr input[name=comment]", "go ahead").await;
    bob.screenshot("approvals").await;
    // From the comment field, Tab reaches Approve and Enter presses it.
    let comment = bob.find("#approvals tbody tr input[name=comment]").await;
    comment.send_keys(&char::from(Key::Tab).to_string()).await.unwrap();
    let approve = bob.client.active_element().await.unwrap();
    assert_eq!(approve.attr("value").await.unwrap().as_deref(), Some("approve"));
    approve.send_keys(&char::from(Key::Enter).to_string()).await.unwrap();
    let outcome = bob.text(".decision-outcome").await;
    assert!(outcome.contains("Approved"), "{outcome}");
    assert_eq!(bob.path().await, "/approvals", "htmx kept the page");
    bob.goto("/approvals").await;
    bob.find("#no-approvals").await;

    // Alice now has access: active with a countdown on My access, approved in My requests.
    alice.goto("/").await;
    let active = alice.text("#active-grants tbody tr").await;
    assert!(active.contains("db01") && active.contains("root"), "{active}");
    let countdown = alice.text("#active-grants time[data-countdown]").await;
    let about_an_hour = countdown.starts_with("59m") || countdown.starts_with("1h 00m");
    assert!(countdown.ends_with("left") && about_an_hour, "{countdown}");
    let badge = alice.text(r#"[data-target="db01"] [data-account="root"] .badge.active"#).await;
    assert!(badge.starts_with("active"), "{badge}");
    alice.screenshot("my-access-active").await;
    alice.goto("/requests").await;
    let row = alice.text("#my-requests tbody tr").await;
    assert!(row.contains("approved") && row.contains("go ahead"), "{row}");

    // A second request is denied with a comment, a third cancelled by alice herself.
    // This one starts in two hours (the field is in UTC).
    alice.goto("/requests/new?target=web01&account=deploy").await;
    let later = (now() + 2 * 3600) / 60 * 60;
    let later_text = time::OffsetDateTime::from_unix_timestamp(i64::try_from(later).unwrap()).unwrap();
    let field = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        later_text.year(),
        u8::from(later_text.month()),
        later_text.day(),
        later_text.hour(),
        later_text.minute()
    );
    let set_start = "document.getElementById('starts_at').value = arguments[0];";
    alice.client.execute(set_start, vec![serde_json::json!(field)]).await.unwrap();
    alice.fill("#reason", "deploy a hotfix").await;
    alice.click("#submit-request").await;
    alice.find("#request-created").await;
    let row = alice.text("#my-requests tbody tr:first-child").await;
    assert!(row.contains(&field.replace('T', " ")), "{row} does not start at {field}");
    bob.goto("/approvals").await;
    bob.fill("#approvals tbody tr input[name=comment]", "use the pipeline").await;
    bob.click(r#"#approvals tbody tr button[value="deny"]"#).await;
    assert!(bob.text(".decision-outcome").await.contains("Denied"));
    alice.goto("/requests/new?target=web01&account=deploy").await;
    alice.fill("#reason", "deploy a hotfix after all").await;
    alice.click("#submit-request").await;
    alice.wait_for_path("/requests").await;
    alice.click("#my-requests tbody tr:first-child button").await;
    alice.find("#my-requests tbody tr:first-child .badge.cancelled").await;
    let rows = alice.text("#my-requests tbody").await;
    let lines: Vec<&str> = rows.lines().filter(|l| l.contains("cancelled") || l.contains("denied")).collect();
    assert!(rows.contains("cancelled") && rows.contains("denied") && rows.contains("use the pipeline"), "{rows}");
    assert!(lines.len() >= 2, "{rows}");
    alice.screenshot("my-requests-decided").await;

    // Signing out ends the session: the pages send the browser to sign in again.
    alice.click(".who button").await;
    alice.wait_for_path("/login").await;
    alice.goto("/").await;
    alice.wait_for_path("/login").await;

    alice.close().await;
    bob.close().await;
}

/// db01 is the throwaway sshd, with its account, and alice has standing access with an SSH key: her key's path.
fn gateway_target(server: &Server, admin: &Cli, sshd: &latch_testkit::sshd::TestSshd) -> std::path::PathBuf {
    let dir = server.data_dir().parent().unwrap().to_owned();
    let key = admin.add_user_key("alice", &dir);
    admin.add_ssh_target("db01", sshd.port(), &sshd.user().name, &sshd.user().password);
    let policy = serde_json::json!({ "name": "db", "users": ["alice"], "targets": [{"name": "db01"}],
        "mode": "standing", "max_duration_minutes": 60, "record_input": true });
    admin.create_policy(&policy, &dir);
    key
}

/// Alice's real `ssh` through the gateway to db01 with a terminal (`-tt`), running `command`.
fn alice_ssh(server: &Server, key: &std::path::Path, command: &str) -> Command {
    let mut ssh = Command::new("ssh");
    ssh.args(["-F", "/dev/null", "-tt", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"])
        .arg("-i")
        .arg(key)
        .args(["-p", &server.ssh_port().to_string(), "alice@db01@127.0.0.1", command])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    ssh
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auditors_find_replay_and_terminate_sessions_and_see_the_dashboard() {
    harness_crypto();
    let Some(driver) = latch_testkit::browser::start_or_skip().unwrap() else { return };
    let Some(sshd) = latch_testkit::sshd::start_or_skip(&[]).unwrap() else { return };
    let server = Server::start();
    let admin = server.admin();
    create_user(&admin, "alice", &["user"]);
    create_user(&admin, "carol", &["auditor"]);
    let key = gateway_target(&server, &admin, &sshd);

    // A recorded session: a command in a terminal.
    let output = alice_ssh(&server, &key, "echo replay-$((6*7)); sleep 1; echo second-line").output().unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("replay-42") && printed.contains("second-line"), "{output:?}");
    let sessions = admin.run(&["sessions", "--json"]).success().json();
    let first = sessions["sessions"][0]["id"].as_str().unwrap().to_owned();

    // Carol, an auditor, finds it in the list, filtered by user and protocol.
    let carol = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    carol.sign_in("carol", PASSWORD, None).await;
    carol.goto("/sessions?user=alice&protocol=ssh").await;
    let row = carol.text(&format!(r#"[data-session="{first}"]"#)).await;
    assert!(row.contains("alice") && row.contains("db01") && row.contains("closed"), "{row}");
    carol.screenshot("sessions").await;
    carol.goto("/sessions?user=nobody").await;
    carol.find("#no-sessions").await;
    carol.goto("/sessions?from=not-a-date").await;
    assert!(carol.text(".alert.error").await.contains("from"));

    // The session page replays its recording, with its events beside it; an event seeks the player.
    carol.goto("/sessions").await;
    carol.click(&format!(r#"[data-session="{first}"] a"#)).await;
    carol.wait_for_path(&format!("/sessions/{first}")).await;
    carol.find(r#".cast-player[data-ready="true"] .ap-player"#).await;
    let events = carol.text("#events").await;
    assert!(events.contains("echo replay-$((6*7))"), "{events}");
    carol.click("#events button.event").await;
    carol.find(".cast-player[data-position]").await;
    carol.screenshot("session-replay").await;
    let files = carol.text("#recording-files").await;
    assert!(files.contains("events.jsonl") && files.contains(".cast"), "{files}");
    // Every read of the recording is audited.
    let reads = admin.run(&["audit", "list", "--kind", "recording.read", "--json"]).success().json();
    let read_by_carol = reads["records"].as_array().unwrap().iter().any(|record| record["actor_name"] == "carol");
    assert!(read_by_carol, "{reads}");

    // A live session: carol watches it as it happens, then terminates it from its page, and alice's ssh ends.
    let ticking = "for i in $(seq 1 120); do echo tick-$i; sleep 0.5; done";
    let mut live = alice_ssh(&server, &key, ticking).spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let second = loop {
        let sessions = admin.run(&["sessions", "--json", "--live"]).success().json();
        if let Some(id) = sessions["sessions"][0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "no live session: {sessions}");
        std::thread::sleep(Duration::from_millis(100));
    };
    carol.goto("/sessions?status=live").await;
    assert!(carol.text(&format!(r#"[data-session="{second}"]"#)).await.contains("live"));
    carol.goto(&format!("/sessions/{second}")).await;
    carol.find("#recording-note").await;
    carol.find(r#".live-player[data-ready="true"] .ap-player"#).await;
    // The page's live stream carries what the terminal prints now (read here from the page, with its session).
    let read_live = r#"
        const [url, done] = arguments;
        fetch(url).then(function (response) {
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            let text = "";
            function pump() {
                return reader.read().then(function (chunk) {
                    if (chunk.done) { return done(text); }
                    text += decoder.decode(chunk.value);
                    if (text.includes("tick-")) { reader.cancel(); return done(text); }
                    return pump();
                });
            }
            return pump();
        }, function (error) { done("failed: " + error); });
    "#;
    let url = serde_json::json!(format!("/sessions/{second}/live"));
    let stream = carol.client.execute_async(read_live, vec![url.clone()]).await.unwrap();
    let stream = stream.as_str().unwrap_or_default().to_owned();
    let header = stream.lines().next().unwrap_or_default();
    assert!(header.starts_with("data: {") && header.contains(r#""version":2"#), "{stream}");
    assert!(stream.contains(r#""o","tick-"#), "{stream}");
    let watched = admin.run(&["audit", "list", "--kind", "session.watched", "--json"]).success().json();
    let by_carol = watched["records"].as_array().unwrap().iter().filter(|r| r["actor_name"] == "carol").count();
    assert!(by_carol >= 2, "the player's watch and this one are audited: {watched}");
    carol.screenshot("session-live").await;
    carol.click("#terminate").await;
    carol.find("#terminated").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while carol.text("#session-status").await != "terminated" {
        assert!(std::time::Instant::now() < deadline, "the session page does not say terminated");
        tokio::time::sleep(Duration::from_millis(200)).await;
        carol.goto(&format!("/sessions/{second}")).await;
    }
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(status) = live.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("alice's ssh ended when the session was terminated");
    assert!(!ended.success());

    // The dashboard counts both sessions.
    carol.goto("/dashboard?days=7").await;
    assert_eq!(carol.text("#stat-live .number").await, "0");
    let chart = carol.text("#sessions-chart h2").await;
    assert!(chart.contains("2 in all"), "{chart}");
    assert!(carol.text("#top-targets").await.contains("db01"));
    assert!(carol.text("#top-users").await.contains("alice"));
    carol.screenshot("dashboard").await;

    // The audit log: filtered by kind, and exported as CSV (the export itself audited).
    carol.goto("/audit?kind=session.").await;
    let records = carol.text("#audit tbody").await;
    assert!(records.contains("session.started") && records.contains("session.terminated"), "{records}");
    assert!(!records.contains("recording.read"), "the kind prefix filters");
    carol.screenshot("audit-log").await;
    let export = carol.find("#export").await.attr("href").await.unwrap().unwrap();
    assert_eq!(export, "/audit/export.csv?kind=session.");
    let fetch_text = "return fetch(arguments[0]).then(function (r) { return r.text().then(function (t) { return r.status + '\\n' + r.headers.get('content-type') + '\\n' + t; }); });";
    let csv = carol.client.execute(fetch_text, vec![serde_json::json!(export)]).await.unwrap();
    let csv = csv.as_str().unwrap_or_default().to_owned();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("200"), "{csv}");
    assert!(lines.next().unwrap_or_default().starts_with("text/csv"), "{csv}");
    assert_eq!(lines.next(), Some("seq,at,actor_kind,actor_id,actor_name,source,kind,details,link"), "{csv}");
    assert!(csv.contains(",session.started,") && csv.contains(",session.terminated,"), "{csv}");
    let exported = admin.run(&["audit", "list", "--kind", "audit.exported", "--json"]).success().json();
    assert_eq!(exported["records"][0]["actor_name"], "carol", "{exported}");

    // Alice sees her own sessions, not the dashboard, and cannot read recordings.
    let alice = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    alice.sign_in("alice", PASSWORD, None).await;
    alice.goto("/sessions").await;
    alice.find(&format!(r#"[data-session="{first}"]"#)).await;
    alice.wait_until_gone(r#"a[href="/dashboard"]"#).await;
    alice.goto("/dashboard").await;
    assert!(alice.text("main h1").await.contains("Not allowed"));
    alice.goto("/audit").await;
    assert!(alice.text("main h1").await.contains("Not allowed"));
    alice.goto(&format!("/sessions/{first}")).await;
    assert!(alice.text("#recording-note").await.contains("recordings:read"));
    let status = alice.client.execute(
        "return fetch(arguments[0]).then(function (r) { return r.status; });",
        vec![serde_json::json!(format!("/sessions/{first}/files/events.jsonl"))],
    );
    assert_eq!(status.await.unwrap(), serde_json::json!(403));
    let status = alice.client.execute(
        "return fetch(arguments[0]).then(function (r) { return r.status; });",
        vec![serde_json::json!(format!("/sessions/{first}/live"))],
    );
    assert_eq!(status.await.unwrap(), serde_json::json!(403), "only auditors watch");

    carol.close().await;
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_lookup_lists_its_tasks_and_the_chosen_task_caps_the_window() {
    harness_crypto();
    let Some(driver) = latch_testkit::browser::start_or_skip().unwrap() else { return };
    let expires = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap() + time::Duration::minutes(30);
    let expires = expires.format(&time::format_description::well_known::Rfc3339).unwrap();
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(3);
    let later = later.format(&time::format_description::well_known::Rfc3339).unwrap();
    let tasks = std::collections::HashMap::from([(
        "INC1".to_owned(),
        serde_json::json!([
            {"id": "T1", "title": "Restart the primary", "expires_at": expires},
            {"id": "T2", "title": "Check replication", "expires_at": later},
        ]),
    )]);
    let incidents = system::IncidentSystem::start(tasks);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with_config(&incidents.config("itsm", dir.path()));
    let admin = server.admin();
    create_user(&admin, "alice", &["user"]);
    admin.run(&["targets", "add", "db01", "--address", "10.0.0.5"]).success();
    admin.run_with_stdin(&["accounts", "add", "db01", "root", "--secret-stdin"], "target-secret\n").success();
    let policy = serde_json::json!({ "name": "incident-root", "users": ["alice"], "targets": [{"name": "db01"}],
        "mode": "on_request", "approvals_required": 0, "max_duration_minutes": 240, "ticket_required": true,
        "integration": "itsm" });
    admin.create_policy(&policy, dir.path());

    let alice = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    alice.sign_in("alice", PASSWORD, None).await;
    alice.goto("/requests/new?target=db01&account=root").await;
    // A ticket without tasks says so; INC1 lists its two tasks, the first chosen.
    alice.fill("#ticket", "INC404").await;
    alice.click("#lookup").await;
    assert!(alice.text("#tasks-error").await.contains("no open tasks"));
    alice.fill("#ticket", "INC1").await;
    alice.click("#lookup").await;
    let listed = alice.text("#task-list").await;
    assert!(listed.contains("Restart the primary") && listed.contains("Check replication"), "{listed}");
    assert_eq!(incidents.lookups().last().unwrap().body["ticket"], "INC1");
    alice.fill("#reason", "the primary is down").await;
    alice.screenshot("request-incident-tasks").await;
    alice.client.execute("document.getElementById('duration').value = '120';", vec![]).await.unwrap();
    alice.click("#submit-request").await;
    alice.find("#request-created").await;
    // Approved at once (no approval needed), the two hours asked for capped at the task's end.
    let row = alice.text("#my-requests tbody tr").await;
    assert!(row.contains("approved") && row.contains("INC1"), "{row}");
    assert!(row.contains("29 min") || row.contains("30 min"), "{row}");
    alice.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_users_in_the_browser() {
    harness_crypto();
    let Some(driver) = latch_testkit::browser::start_or_skip().unwrap() else { return };
    let server = Server::start();
    let admin = server.admin();
    create_user(&admin, "dave", &["user"]);

    // A plain user has no user administration.
    let dave = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    dave.sign_in("dave", PASSWORD, None).await;
    dave.wait_until_gone(r#"a[href="/admin/users"]"#).await;
    dave.goto("/admin/users").await;
    assert!(dave.text("main h1").await.contains("Not allowed"));

    let browser = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    browser.sign_in("admin", ADMIN_PASSWORD, None).await;
    browser.click(r#"a[href="/admin/users"]"#).await;
    browser.wait_for_path("/admin/users").await;
    assert!(browser.text(r#"[data-user="dave"]"#).await.contains("user"));

    // No role: refused with a clear message, the form kept.
    browser.fill("#new-username", "erin").await;
    browser.click(r#"input[name="role"][value="user"]"#).await;
    browser.click("#create-user").await;
    assert!(browser.text("#user-error").await.contains("at least one role"));
    let kept = browser.find("#new-username").await.prop("value").await.unwrap();
    assert_eq!(kept.as_deref(), Some("erin"));

    // Erin, an auditor and approver, with a one-time password shown once.
    browser.fill("#new-display-name", "Erin Example").await;
    browser.click(r#"input[name="role"][value="auditor"]"#).await;
    browser.click(r#"input[name="role"][value="approver"]"#).await;
    browser.click("#create-user").await;
    assert!(browser.text("#user-notice").await.contains("erin"));
    let one_time = browser.find("#otp-value").await.prop("value").await.unwrap().unwrap();
    assert!(one_time.len() >= 12, "{one_time}");
    let erin = browser.text(r#"[data-user="erin"]"#).await;
    assert!(erin.contains("one-time password"), "{erin}");
    assert_eq!(browser.text(r#"[data-user="erin"] td:nth-child(2)"#).await, "auditor, approver");
    browser.screenshot("users").await;
    browser.goto("/admin/users").await;
    assert!(!browser.client.source().await.unwrap().contains(&one_time), "shown once");
    // The one-time password signs erin in to the password change.
    let erin_browser = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;
    erin_browser.sign_in("erin", &one_time, None).await;
    erin_browser.wait_for_path("/password").await;

    // Disabling dave ends his sessions: his next page sends him to sign in; enabling him again works.
    browser.click(r#"[data-user="dave"] button.disable"#).await;
    browser.find(r#"[data-user="dave"] button.enable"#).await;
    assert!(browser.text(r#"[data-user="dave"]"#).await.contains("disabled"));
    dave.goto("/").await;
    dave.wait_for_path("/login").await;
    browser.click(r#"[data-user="dave"] button.enable"#).await;
    browser.find(r#"[data-user="dave"] button.disable"#).await;
    let audit = admin.run(&["audit", "list", "--kind", "user.", "--json"]).success().json();
    let kinds: Vec<&str> = audit["records"].as_array().unwrap().iter().filter_map(|r| r["kind"].as_str()).collect();
    assert!(kinds.contains(&"user.created") && kinds.contains(&"user.disabled"), "{kinds:?}");

    dave.close().await;
    erin_browser.close().await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_changes_the_one_time_password_and_lockout_is_explained() {
    harness_crypto();
    let Some(driver) = latch_testkit::browser::start_or_skip().unwrap() else { return };
    let server = Server::start();
    let browser = Browser::open(&driver, &server.url, server.data_dir().parent().unwrap()).await;

    // The one-time password leads to the password change, and nothing else opens before it.
    browser.sign_in("admin", &server.admin_one_time_password, None).await;
    browser.wait_for_path("/password").await;
    browser.goto("/").await;
    browser.wait_for_path("/password").await;
    browser.find(".alert.info").await;
    browser.screenshot("change-one-time-password").await;
    browser.fill("#current", &server.admin_one_time_password).await;
    browser.fill("#new", ADMIN_PASSWORD).await;
    browser.fill("#confirm", ADMIN_PASSWORD).await;
    browser.click("#change-password").await;
    browser.wait_for_path("/").await;
    assert_eq!(browser.text("main h1").await, "My access");
    // The account page (behind the name in the header) leads to authenticator setup too.
    browser.click(".who a").await;
    browser.wait_for_path("/password").await;
    browser.click("#manage-totp").await;
    browser.wait_for_path("/totp").await;
    browser.find("#start-totp").await;
    browser.click(".who button").await;
    browser.wait_for_path("/login").await;

    // Wrong passwords: a clear message each time, then the lockout with its end.
    let mut message = String::new();
    for _ in 0..10 {
        browser.goto("/login").await;
        browser.fill("#username", "admin").await;
        browser.fill("#password", "not-the-password-at-all").await;
        browser.click("#sign-in").await;
        message = browser.text("#login-error").await;
        if message.contains("locked") {
            break;
        }
        assert!(message.contains("username or password is wrong"), "{message}");
    }
    assert!(message.contains("locked until") && message.contains("UTC"), "{message}");
    // The right password does not help while locked.
    browser.sign_in("admin", ADMIN_PASSWORD, None).await;
    assert!(browser.text("#login-error").await.contains("locked until"));
    browser.screenshot("sign-in-locked").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn totp_is_enrolled_with_a_qr_code_at_the_first_sign_in_when_required() {
    harness_crypto();
    let Some(driver) = latch_testkit::browser::start_or_skip().unwrap() else { return };
    let server = Server::start();
    let admin = server.admin();
    let args = ["users", "create", "tara", "--totp-required", "--password-stdin"];
    admin.run_with_stdin(&args, &format!("{PASSWORD}\n")).success();
    let logs = server.data_dir().parent().unwrap().to_owned();
    let browser = Browser::open(&driver, &server.url, &logs).await;

    // The password is right, but nothing opens before an authenticator is set up.
    browser.sign_in("tara", PASSWORD, None).await;
    browser.wait_for_path("/totp").await;
    browser.goto("/requests").await;
    browser.wait_for_path("/totp").await;
    browser.click("#start-totp").await;
    let qr = browser.find(r#"img[src^="data:image/png;base64,"]"#).await;
    assert!(qr.attr("src").await.unwrap().unwrap().len() > 200);
    browser.screenshot("totp-enrolment").await;
    let first_uri = browser.find("details .mono").await.prop("textContent").await.unwrap().unwrap();
    assert!(first_uri.trim().starts_with("otpauth://totp/"), "{first_uri}");

    // A wrong code is refused with a message; the right one finishes the login.
    browser.fill("#code", "000000").await;
    browser.click("#confirm-totp").await;
    assert!(browser.text(".alert.error").await.contains("does not match"));
    browser.click("#start-totp").await;
    let uri = browser.find("details .mono").await.prop("textContent").await.unwrap().unwrap();
    let totp_again = totp_rs::Totp::from_url(uri.trim()).unwrap();
    assert_ne!(first_uri, uri, "a new start makes a new seed");
    browser.fill("#code", &totp_again.generate_current().to_string()).await;
    browser.click("#confirm-totp").await;
    browser.wait_for_path("/").await;
    assert_eq!(browser.text("main h1").await, "My access");
    let shown = admin.run(&["users", "show", "tara", "--json"]).success().json();
    assert_eq!(shown["totp_enrolled"], true);

    // From now on signing in asks for the code.
    browser.click(".who button").await;
    browser.wait_for_path("/login").await;
    browser.sign_in("tara", PASSWORD, Some(totp_again.generate(now() + 30).to_string())).await;
    assert_eq!(browser.text("main h1").await, "My access");
    browser.close().await;
}

fn harness_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
