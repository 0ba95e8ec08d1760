//! Who gets in: key, password and keyboard-interactive logins, the same refusal for every "no", second factors,
//! consent banners, and targets whose host key does not match the pin.

use latch_ssh::GatewayLimits;

use super::harness::{self, Gateway, standing_rules, stderr_text};
use super::harness::{OTHER_FINGERPRINT, alice_on_db01_and_db02, alice_on_db01_with};

#[tokio::test]
async fn key_login_relays_stdout_stderr_and_exit_code_with_the_vault_password() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let output = gateway.run_ssh(&key, &gateway.login("alice", "db01"), "echo hi; echo err >&2; exit 7").await;
    assert_eq!(String::from_utf8_lossy(&output.stdout), "hi\n", "{}", stderr_text(&output));
    assert!(stderr_text(&output).contains("err"), "{}", stderr_text(&output));
    assert_eq!(output.status.code(), Some(7));
    let log = gateway.sshd.log();
    assert!(
        log.contains(&format!("Accepted password for {}", gateway.sshd.user().name))
            || log.contains(&format!("Accepted keyboard-interactive/pam for {}", gateway.sshd.user().name)),
        "{log}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn key_login_reaches_an_account_with_a_private_key() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let output = gateway.run_ssh(&key, &gateway.login("alice", "db02"), "whoami; exit 3").await;
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), gateway.sshd.user().name, "{}", stderr_text(&output));
    assert_eq!(output.status.code(), Some(3));
    assert!(gateway.sshd.log().contains(&format!("Accepted publickey for {}", gateway.sshd.user().name)));
    gateway.stop().await;
}

#[tokio::test]
async fn the_account_may_be_left_out_only_when_one_is_allowed() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let output = gateway.run_ssh(&key, "alice@db01", "echo only-one").await;
    assert_eq!(String::from_utf8_lossy(&output.stdout), "only-one\n", "{}", stderr_text(&output));
    assert_eq!(output.status.code(), Some(0));
    // The ':' separator works the same.
    let output = gateway.run_ssh(&key, &format!("alice:{}:db01", gateway.sshd.user().name), "echo colon").await;
    assert_eq!(String::from_utf8_lossy(&output.stdout), "colon\n", "{}", stderr_text(&output));

    gateway.account("db01", "backup", "password", "some-other-password".to_owned()).await;
    let output = gateway.run_ssh(&key, "alice@db01", "echo should-not-run").await;
    assert_eq!(output.status.code(), Some(255));
    assert!(output.stdout.is_empty());
    assert!(stderr_text(&output).contains("Permission denied"), "{}", stderr_text(&output));
    // A person at a terminal is told why.
    let options = ["-o", "PreferredAuthentications=publickey,keyboard-interactive"];
    let mut ssh = gateway.interactive_ssh(&key, "alice@db01", &[], &options);
    let output = ssh.args(["--", "echo no"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(255));
    assert!(stderr_text(&output).contains("you may use several accounts there"), "{}", stderr_text(&output));
    // Naming the account still works.
    let output = gateway.run_ssh(&key, &gateway.login("alice", "db01"), "echo named").await;
    assert_eq!(String::from_utf8_lossy(&output.stdout), "named\n", "{}", stderr_text(&output));
    gateway.stop().await;
}

#[tokio::test]
async fn unregistered_keys_and_missing_access_are_refused_alike() {
    let Some((gateway, alice_key)) = alice_on_db01_and_db02().await else { return };
    let stranger = gateway.new_key("stranger");
    let output = gateway.run_ssh(&stranger, &gateway.login("alice", "db01"), "echo no").await;
    assert_eq!(output.status.code(), Some(255));
    assert!(output.stdout.is_empty());
    assert!(stderr_text(&output).contains("Permission denied"), "{}", stderr_text(&output));

    // bob has a registered key but no policy: refused exactly like a target that does not exist.
    let (bob_key, _) = gateway.person("bob").await;
    let no_access = gateway.run_ssh(&bob_key, &gateway.login("bob", "db01"), "echo no").await;
    let no_target = gateway.run_ssh(&bob_key, &gateway.login("bob", "nosuchtarget"), "echo no").await;
    let no_account = gateway.run_ssh(&alice_key, "alice@nosuchaccount@db01", "echo no").await;
    for output in [&no_access, &no_target, &no_account] {
        assert_eq!(output.status.code(), Some(255));
        assert!(output.stdout.is_empty());
    }
    // The client names the login it used; apart from that the answers are identical.
    let without_login = |output: &std::process::Output, login: &str| stderr_text(output).replace(login, "LOGIN");
    let no_access = without_login(&no_access, &gateway.login("bob", "db01"));
    assert!(no_access.contains("Permission denied"), "{no_access}");
    assert_eq!(no_access, without_login(&no_target, &gateway.login("bob", "nosuchtarget")));
    assert_eq!(no_access, without_login(&no_account, "alice@nosuchaccount@db01"));
    assert!(!gateway.sshd.log().contains("Accepted"), "no login reached the target");
    gateway.stop().await;
}

#[tokio::test]
async fn a_host_key_that_does_not_match_the_pin_refuses_the_session() {
    let Some(gateway) = Gateway::start(GatewayLimits::default()).await else { return };
    let (key, _) = gateway.person("alice").await;
    gateway.target("db01", Some(OTHER_FINGERPRINT)).await;
    gateway.password_account("db01").await;
    gateway.standing_policy("alice-standing", "alice", &["db01"], standing_rules()).await;

    let output = gateway.run_ssh(&key, &gateway.login("alice", "db01"), "echo should-not-run").await;
    assert_eq!(output.status.code(), Some(255));
    assert!(output.stdout.is_empty());
    let stderr = stderr_text(&output);
    assert!(
        stderr.contains("the target's host key does not match the pinned key; an administrator must check it"),
        "{stderr}"
    );

    let mismatches = gateway.audit("target.host_key_mismatch").await;
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert!(mismatches[0].details.contains(gateway.sshd.host_key_fingerprint()), "{}", mismatches[0].details);
    assert!(gateway.audit("session.started").await.is_empty());
    let log = gateway.sshd.log();
    assert!(!log.contains("Accepted") && !log.contains("Failed password"), "{log}");
    gateway.stop().await;
}

/// Enrols `who` in TOTP and returns a fresh code (the enrolment used the current step's code up).
async fn enrol_totp(gateway: &Gateway, who: &latch_app::Principal) -> totp_rs::Totp {
    let app = &gateway.test_app.app;
    let enrollment = app.begin_totp_enrollment(who).await.unwrap();
    let totp = totp_rs::Totp::from_url(enrollment.otpauth_uri.expose()).unwrap();
    let code = totp.generate(u64::try_from(app.now().as_unix_seconds()).unwrap()).to_string();
    app.confirm_totp_enrollment(who, &code, &latch_app::RequestContext::default()).await.unwrap();
    gateway.test_app.clock.advance(latch_app::domain::TimeSpan::from_secs(30));
    totp
}

fn current_code(gateway: &Gateway, totp: &totp_rs::Totp) -> String {
    totp.generate(u64::try_from(gateway.test_app.app.now().as_unix_seconds()).unwrap()).to_string()
}

#[tokio::test]
async fn keyboard_interactive_asks_for_the_password_and_then_the_code() {
    let Some((gateway, key, alice)) = alice_on_db01_with(standing_rules()).await else { return };
    let login = gateway.login("alice", "db01");
    let password = latch_testkit::app::USER_PASSWORD;

    // Without TOTP, the password method and keyboard-interactive both log in with the Latch password.
    for method in ["password", "keyboard-interactive"] {
        let preferred = format!("PreferredAuthentications={method}");
        let mut ssh =
            gateway.interactive_ssh(&key, &login, &[("assword", harness::say(password))], &["-o", &preferred]);
        let output = ssh.args(["--", "echo by-password"]).output().await.unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "by-password\n", "{method}: {}", stderr_text(&output));
    }

    let totp = enrol_totp(&gateway, &alice).await;
    let code = current_code(&gateway, &totp);
    // The password method cannot carry the code: refused.
    let answers = [("assword", harness::say(password)), ("Verification code", harness::say(&code))];
    let mut ssh = gateway.interactive_ssh(&key, &login, &answers, &["-o", "PreferredAuthentications=password"]);
    let output = ssh.args(["--", "echo no"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(255), "{}", stderr_text(&output));
    // Keyboard-interactive asks for the password, then the code.
    let mut ssh =
        gateway.interactive_ssh(&key, &login, &answers, &["-o", "PreferredAuthentications=keyboard-interactive"]);
    let output = ssh.args(["--", "echo with-code"]).output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "with-code\n", "{}", stderr_text(&output));
    // A wrong code is refused.
    let answers = [("assword", harness::say(password)), ("Verification code", harness::say("000000"))];
    let mut ssh =
        gateway.interactive_ssh(&key, &login, &answers, &["-o", "PreferredAuthentications=keyboard-interactive"]);
    let output = ssh.args(["--", "echo no"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(255), "{}", stderr_text(&output));
    assert!(output.stdout.is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn a_policy_needing_mfa_asks_for_a_code_after_the_key() {
    let mut rules = standing_rules();
    rules.mfa_to_connect = true;
    let Some((gateway, key, alice)) = alice_on_db01_with(rules).await else { return };
    let login = gateway.login("alice", "db01");
    let totp = enrol_totp(&gateway, &alice).await;

    // A key alone is not enough.
    let output = gateway.run_ssh(&key, &login, "echo no").await;
    assert_eq!(output.status.code(), Some(255), "{}", stderr_text(&output));
    let code = current_code(&gateway, &totp);
    let answers = [("Verification code", harness::say(&code))];
    let options = ["-o", "PreferredAuthentications=publickey,keyboard-interactive"];
    let output =
        gateway.interactive_ssh(&key, &login, &answers, &options).args(["--", "echo mfa"]).output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "mfa\n", "{}", stderr_text(&output));
    gateway.stop().await;
}

#[tokio::test]
async fn a_consent_banner_must_be_accepted() {
    let mut rules = standing_rules();
    rules.consent_banner = Some("Use of db01 is recorded and audited.".to_owned());
    let Some((gateway, key, _)) = alice_on_db01_with(rules).await else { return };
    let login = gateway.login("alice", "db01");
    let options = ["-o", "PreferredAuthentications=publickey,keyboard-interactive"];

    let refused = [("Type yes", harness::say("no"))];
    let output =
        gateway.interactive_ssh(&key, &login, &refused, &options).args(["--", "echo no"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(255), "{}", stderr_text(&output));
    assert!(stderr_text(&output).contains("Use of db01 is recorded and audited."), "{}", stderr_text(&output));

    let accepted = [("Type yes", harness::say("yes"))];
    let output =
        gateway.interactive_ssh(&key, &login, &accepted, &options).args(["--", "echo agreed"]).output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "agreed\n", "{}", stderr_text(&output));
    gateway.wait_for_sessions_to_end().await;
    let sessions = gateway.test_app.app.list_sessions(&gateway.admin().await, false, 10, 0).await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert!(sessions[0].consent_accepted_at.is_some());
    gateway.stop().await;
}

/// Everything logged in this test binary from the first call of [`captured_logs`] on: a global subscriber, because
/// a scoped one misses events whose callsites other tests' threads registered first.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured_logs() -> &'static CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("trace,sqlx=warn"))
            .without_time()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

#[tokio::test]
async fn secrets_never_reach_the_logs() {
    let logs = captured_logs();
    let Some((gateway, key, alice)) = alice_on_db01_with(standing_rules()).await else { return };
    let totp = enrol_totp(&gateway, &alice).await;
    let code = current_code(&gateway, &totp);
    let password = latch_testkit::app::USER_PASSWORD;
    let answers = [("assword", harness::say(password)), ("Verification code", harness::say(&code))];
    let options = ["-o", "PreferredAuthentications=keyboard-interactive"];
    let mut ssh = gateway.interactive_ssh(&key, &gateway.login("alice", "db01"), &answers, &options);
    let output = ssh.args(["--", "echo logged"]).output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "logged\n", "{}", stderr_text(&output));
    gateway.wait_for_sessions_to_end().await;

    let text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(text.contains("gateway session started"), "the capture works: {text}");
    for secret in [password, gateway.sshd.user().password.as_str()] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
    // The code is six digits: only a whole number counts (port numbers and ids hold digits too).
    let numbers: Vec<&str> = text.split(|c: char| !c.is_ascii_digit()).collect();
    assert!(!numbers.contains(&code.as_str()), "the one-time code reached the logs");
    let private_key = std::fs::read_to_string(&gateway.sshd.user().private_key_path).unwrap();
    let key_body = private_key.lines().nth(1).unwrap();
    assert!(!text.contains(key_body), "a private key reached the logs");
    gateway.stop().await;
}
