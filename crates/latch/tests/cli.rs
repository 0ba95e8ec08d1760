//! The `latch` client subcommands against a real `latch serve` on loopback: every test starts
//! its own server (a fraction of a second) so that tests run in parallel without sharing state.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

#[path = "cli/harness.rs"]
#[expect(dead_code, reason = "the harness serves several test binaries; this one uses part of it")]
mod harness;

use harness::{ADMIN_PASSWORD, Cli, Server};
use std::time::{SystemTime, UNIX_EPOCH};

const EXIT_SEALED: i32 = 3;
const EXIT_UNAUTHENTICATED: i32 = 4;
const EXIT_FORBIDDEN: i32 = 5;
const EXIT_NOT_FOUND: i32 = 6;
const EXIT_CONFLICT: i32 = 7;
const EXIT_PROBLEMS_FOUND: i32 = 8;
const EXIT_USAGE: i32 = 2;

/// Creates `username` with `password` (no change required) and `roles`, as the admin.
fn create_user(admin: &Cli, username: &str, password: &str, roles: &[&str]) {
    let mut args = vec!["users", "create", username, "--password-stdin"];
    for role in roles {
        args.extend(["--role", role]);
    }
    admin.run_with_stdin(&args, &format!("{password}\n")).success();
}

/// A client logged in as `username`.
fn logged_in(server: &Server, username: &str, password: &str) -> Cli {
    let cli = server.client();
    cli.login_with_stdin(username, &format!("{password}\n")).success();
    cli
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[test]
fn first_login_needs_trust_and_forces_a_password_change() {
    let server = Server::start();
    let cli = server.client();
    let otp = server.admin_one_time_password.clone();

    // Without a CA or fingerprint and without a terminal to ask on, the server is not trusted;
    // the refusal shows the fingerprint that `latch serve` printed.
    let untrusted = cli.run_with_stdin(
        &["login", "--server", &server.url, "--username", "admin", "--password-stdin"],
        &format!("{otp}\n"),
    );
    untrusted.clone().code(EXIT_USAGE);
    let pin = server.logs().lines().find_map(|l| l.trim().strip_prefix("sha256/").map(str::to_owned)).unwrap();
    assert!(untrusted.stderr.contains(&format!("sha256/{pin}")), "{}", untrusted.stderr);

    // The one-time password alone is not enough: a new one must be given (here missing).
    let pinned = ["login", "--server", &server.url, "--fingerprint", &format!("sha256/{pin}")];
    let missing_new =
        cli.run_with_stdin(&[&pinned[..], &["--username", "admin", "--password-stdin"]].concat(), &format!("{otp}\n"));
    missing_new.code(EXIT_USAGE);
    cli.run(&["whoami"]).code(EXIT_UNAUTHENTICATED);

    // A wrong fingerprint is refused before anything is sent.
    let wrong_pin = format!("sha256/{}", "00".repeat(32));
    let wrong =
        ["login", "--server", &server.url, "--fingerprint", &wrong_pin, "--username", "admin", "--password-stdin"];
    let refused = cli.run_with_stdin(&wrong, &format!("{otp}\n{ADMIN_PASSWORD}\n"));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("fingerprint"), "{}", refused.stderr);

    // With the pinned fingerprint, the login changes the password and saves the session.
    let login = cli.run_with_stdin(
        &[&pinned[..], &["--username", "admin", "--password-stdin"]].concat(),
        &format!("{otp}\n{ADMIN_PASSWORD}\n"),
    );
    login.success();
    let whoami = cli.run(&["whoami"]).success();
    assert!(whoami.stdout.contains("admin") && whoami.stdout.contains("full"), "{}", whoami.stdout);
    let me = cli.run(&["users", "show", "admin", "--json"]).success().json();
    assert_eq!(me["must_change_password"], false);
    let settings = std::fs::read_to_string(cli.config_dir().join("cli.toml")).unwrap();
    assert!(settings.contains(&pin) && settings.contains("token"), "{settings}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(cli.config_dir().join("cli.toml")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // The one-time password no longer works; the new one does (with the CA certificate too).
    server.client().login_with_stdin("admin", &format!("{otp}\n")).code(EXIT_UNAUTHENTICATED);
    logged_in(&server, "admin", ADMIN_PASSWORD);

    // `passwd` changes it again; the previous password stops working.
    let passwd =
        cli.run_with_stdin(&["passwd", "--password-stdin"], &format!("{ADMIN_PASSWORD}\nthird-operator-phrase-9\n"));
    passwd.success();
    server.client().login_with_stdin("admin", &format!("{ADMIN_PASSWORD}\n")).code(EXIT_UNAUTHENTICATED);
    logged_in(&server, "admin", "third-operator-phrase-9");

    cli.run(&["logout"]).success();
    cli.run(&["whoami"]).code(EXIT_UNAUTHENTICATED);
}

#[test]
fn a_user_logs_in_with_the_roles_given() {
    let server = Server::start();
    let admin = server.admin();
    let created = admin.run(&["users", "create", "ursula", "--role", "auditor", "--display-name", "Ursula", "--json"]);
    let created = created.success().json();
    assert_eq!(created["user"]["roles"], serde_json::json!(["auditor"]));
    let one_time = created["one_time_password"].as_str().unwrap().to_owned();

    let ursula = server.client();
    ursula.login_with_stdin("ursula", &format!("{one_time}\nauditor-new-passphrase-1\n")).success();
    let me = ursula.run(&["whoami", "--json"]).success().json();
    assert_eq!(me["effective_roles"], serde_json::json!(["auditor"]));
    assert_eq!(me["user"]["display_name"], "Ursula");

    // An auditor reads inventory and audit, but cannot manage users.
    ursula.run(&["targets", "list"]).success();
    ursula.run(&["audit", "list", "--limit", "5"]).success();
    let refused = ursula.run(&["users", "create", "other"]).code(EXIT_FORBIDDEN);
    assert!(refused.stderr.starts_with("error: "), "{}", refused.stderr);
    admin.run(&["users", "show", "nobody"]).code(EXIT_NOT_FOUND);
    admin.run(&["users", "create", "ursula"]).code(EXIT_CONFLICT);

    // Through a group, roles add up.
    admin.run(&["groups", "create", "approvers", "--role", "approver"]).success();
    admin.run(&["groups", "add-member", "approvers", "ursula"]).success();
    let me = ursula.run(&["whoami", "--json"]).success().json();
    assert_eq!(me["effective_roles"], serde_json::json!(["auditor", "approver"]));
    let group = admin.run(&["groups", "show", "approvers"]).success();
    assert!(group.stdout.contains("ursula"), "{}", group.stdout);
}

#[test]
fn totp_enrolment_then_each_code_works_once() {
    let server = Server::start();
    let admin = server.admin();
    create_user(&admin, "tess", "second-factor-pass-12345", &[]);
    let tess = logged_in(&server, "tess", "second-factor-pass-12345");

    let mut enroll = tess.spawn(&["totp", "enroll"]);
    let uri = enroll.read_line_where(|line| line.starts_with("otpauth://"));
    let totp = totp_rs::Totp::from_url(&uri).unwrap();
    enroll.answer(&totp.generate_current().to_string());
    assert_eq!(enroll.finish(), 0);
    let shown = admin.run(&["users", "show", "tess", "--json"]).success().json();
    assert_eq!(shown["totp_enrolled"], true);

    // The password alone is no longer enough.
    let without_code =
        server.client().login_with_stdin("tess", "second-factor-pass-12345\n").code(EXIT_UNAUTHENTICATED);
    assert!(without_code.stderr.contains("code"), "{}", without_code.stderr);

    // The code of the next step (the server accepts one step of clock skew) has not been used:
    // it logs in once, and is refused the second time.
    let code = totp.generate(now() + 30).to_string();
    let with_code = |cli: &Cli| {
        let cert = cli.cert.to_str().unwrap().to_owned();
        let args = [
            "login",
            "--server",
            &cli.url,
            "--ca-cert",
            &cert,
            "--username",
            "tess",
            "--password-stdin",
            "--totp-code",
            &code,
        ];
        cli.run_with_stdin(&args, "second-factor-pass-12345\n")
    };
    let first = server.client();
    with_code(&first).success();
    first.run(&["whoami"]).success();
    let replay = with_code(&server.client()).code(EXIT_UNAUTHENTICATED);
    assert!(replay.stderr.contains("invalid"), "{}", replay.stderr);
}

#[test]
fn a_required_second_factor_is_enrolled_during_the_first_login() {
    let server = Server::start();
    let admin = server.admin();
    let args = ["users", "create", "tara", "--totp-required", "--password-stdin"];
    admin.run_with_stdin(&args, "enrol-at-login-pass-123\n").success();

    let tara = server.client();
    let cert = tara.cert.to_str().unwrap().to_owned();
    let login = ["login", "--server", &server.url, "--ca-cert", &cert, "--username", "tara", "--password-stdin"];
    let mut conversation = tara.spawn(&login);
    conversation.answer("enrol-at-login-pass-123");
    let uri = conversation.read_line_where(|line| line.starts_with("otpauth://"));
    assert!(uri.contains("tara"), "{uri}");
    let totp = totp_rs::Totp::from_url(&uri).unwrap();
    conversation.answer(&totp.generate_current().to_string());
    assert_eq!(conversation.finish(), 0);

    let me = tara.run(&["whoami", "--json"]).success().json();
    assert_eq!((me["stage"].as_str(), me["user"]["totp_enrolled"].as_bool()), (Some("full"), Some(true)));
}

#[test]
fn wrong_passwords_lock_the_account_until_an_admin_unlocks_it() {
    let server = Server::start();
    let admin = server.admin();
    create_user(&admin, "lou", "locked-out-pass-123456", &[]);
    let lou = server.client();
    for attempt in 1..=4 {
        let run = lou.login_with_stdin("lou", "wrong-password-000\n").code(EXIT_UNAUTHENTICATED);
        assert!(run.stderr.contains("invalid username or password"), "attempt {attempt}: {}", run.stderr);
    }
    let fifth = lou.login_with_stdin("lou", "wrong-password-000\n").code(EXIT_UNAUTHENTICATED);
    assert!(fifth.stderr.contains("locked"), "{}", fifth.stderr);
    let right_but_locked = lou.login_with_stdin("lou", "locked-out-pass-123456\n").code(EXIT_UNAUTHENTICATED);
    assert!(right_but_locked.stderr.contains("locked after too many failed logins"), "{}", right_but_locked.stderr);
    let shown = admin.run(&["users", "show", "lou"]).success();
    assert!(shown.stdout.contains("locked until"), "{}", shown.stdout);

    admin.run(&["users", "unlock", "lou"]).success();
    lou.login_with_stdin("lou", "locked-out-pass-123456\n").success();
    lou.run(&["whoami"]).success();
}

#[test]
fn disabling_a_user_ends_their_session_at_once() {
    let server = Server::start();
    let admin = server.admin();
    create_user(&admin, "dana", "disabled-pass-12345", &["auditor"]);
    let dana = logged_in(&server, "dana", "disabled-pass-12345");
    dana.run(&["whoami"]).success();

    admin.run(&["users", "disable", "dana"]).success();
    dana.run(&["whoami"]).code(EXIT_UNAUTHENTICATED);
    dana.run(&["targets", "list"]).code(EXIT_UNAUTHENTICATED);
    server.client().login_with_stdin("dana", "disabled-pass-12345\n").code(EXIT_UNAUTHENTICATED);

    admin.run(&["users", "enable", "dana"]).success();
    logged_in(&server, "dana", "disabled-pass-12345").run(&["whoami"]).success();
}

#[test]
fn targets_search_show_and_the_inventory_round_trips_to_another_server() {
    let server = Server::start();
    let admin = server.admin();
    let add = |args: &[&str]| admin.run(&[&["targets", "add"], args].concat()).success();
    add(&["web-1", "--address", "10.0.0.1", "--tag", "prod", "--tag", "web", "--description", "front"]);
    add(&["web-2", "--address", "10.0.0.2", "--tag", "staging", "--tag", "web"]);
    add(&["db-1", "--address", "10.0.0.3", "--protocol", "postgres", "--tag", "prod"]);
    add(&["jump", "--address", "jump.example", "--port", "2222", "--protocol", "ssh", "--protocol", "telnet"]);
    admin.run_with_stdin(&["accounts", "add", "web-1", "deploy", "--secret-stdin"], "pw-one-1234\n").success();
    admin.run(&["accounts", "add", "db-1", "postgres", "--no-secret", "--api-enabled"]).success();

    let names = |run: harness::Run| -> Vec<String> {
        let found = run.success().json();
        found["targets"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(admin.run(&["targets", "search", "--tag", "web", "--json"])), ["web-1", "web-2"]);
    assert_eq!(names(admin.run(&["targets", "search", "--tag", "prod", "--json"])), ["db-1", "web-1"]);
    assert_eq!(names(admin.run(&["targets", "search", "--protocol", "telnet", "--json"])), ["jump"]);
    assert_eq!(names(admin.run(&["targets", "search", "front", "--json"])), ["web-1"]);
    assert_eq!(names(admin.run(&["targets", "list", "--json"])).len(), 4);
    let table = admin.run(&["targets", "search", "--tag", "web"]).success();
    assert_eq!(table.stdout.lines().count(), 3, "{}", table.stdout);

    let shown = admin.run(&["targets", "show", "web-1"]).success();
    assert!(shown.stdout.contains("10.0.0.1") && shown.stdout.contains("deploy"), "{}", shown.stdout);
    admin.run(&["targets", "update", "web-2", "--clear-tags", "--description", "spare"]).success();
    admin.run(&["targets", "add", "web-1", "--address", "x"]).code(EXIT_CONFLICT);

    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("inventory.json");
    admin.run(&["targets", "export", "--output", exported.to_str().unwrap()]).success();
    let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(document["targets"].as_array().unwrap().len(), 4);

    let other = Server::start();
    let other_admin = other.admin();
    let report = other_admin.run(&["targets", "import", exported.to_str().unwrap(), "--json"]).success().json();
    assert_eq!(report["targets_created"], 4);
    assert_eq!(report["accounts_created"], 2);
    let again = other_admin.run(&["targets", "export"]).success();
    let again: serde_json::Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(again, document);
    // Importing twice updates instead of duplicating.
    let report = other_admin.run(&["targets", "import", exported.to_str().unwrap(), "--json"]).success().json();
    assert_eq!((report["targets_created"].as_i64(), report["targets_updated"].as_i64()), (Some(0), Some(4)));
}

#[test]
fn account_secrets_never_show_in_any_output_or_log() {
    let server = Server::start();
    let admin = server.admin();
    let secret = format!("Sup3r-S3cret-{}", now());
    let mut runs = Vec::new();
    runs.push(admin.run(&["targets", "add", "vault-host", "--address", "10.1.1.1", "--tag", "secret-test"]).success());
    let added = admin
        .run_with_stdin(&["accounts", "add", "vault-host", "root", "--secret-stdin", "--json"], &format!("{secret}\n"));
    let account = added.clone().success().json();
    runs.push(added);
    let id = account["id"].as_str().unwrap().to_owned();
    assert_eq!(account["has_secret"], true);

    let secret_file = tempfile::NamedTempFile::new().unwrap();
    harness::write_file(secret_file.path(), &format!("{secret}-2\n"));
    runs.push(admin.run(&["accounts", "update", &id, "--secret-file", secret_file.path().to_str().unwrap()]).success());
    for args in [
        vec!["targets", "show", "vault-host"],
        vec!["targets", "show", "vault-host", "--json"],
        vec!["accounts", "show", &id],
        vec!["accounts", "show", &id, "--json"],
        vec!["accounts", "list", "vault-host"],
        vec!["targets", "export"],
        vec!["audit", "export", "--format", "jsonl"],
        vec!["audit", "list", "--limit", "1000"],
    ] {
        runs.push(admin.run(&args).success());
    }
    // An argument cannot carry a secret.
    runs.push(admin.run(&["accounts", "add", "vault-host", "other", "--secret", "x"]).code(EXIT_USAGE));
    for run in &runs {
        assert!(!run.all().contains(&secret), "`{}` showed the secret:\n{}", run.command, run.all());
    }
    assert!(!server.logs().contains(&secret), "the server logged the secret");
    let shown = admin.run(&["accounts", "show", &id, "--json"]).success().json();
    assert!(shown["secret_updated_at"].is_string());
}

#[test]
fn api_account_tokens_follow_scopes_and_revocation() {
    let server = Server::start();
    let admin = server.admin();
    admin.run(&["targets", "add", "api-target", "--address", "10.2.2.2"]).success();
    let created = admin.run(&["api-accounts", "create", "inventory-bot", "--scope", "inventory:read", "--json"]);
    let created = created.success().json();
    let client_secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(created["api_account"]["scopes"], serde_json::json!(["inventory:read"]));

    // The token command needs only the server (here from the environment) and the client secret.
    let script = server.client();
    let cert = server.cert();
    let script_env = [("LATCH_SERVER", server.url.as_str()), ("LATCH_CA_CERT", cert.to_str().unwrap())];
    let token = script.exec(
        &["api-accounts", "token", "--client-id", "inventory-bot", "--client-secret-stdin"],
        Some(&format!("{client_secret}\n")),
        &script_env,
    );
    let token = token.success().stdout.trim().to_owned();
    assert!(!token.is_empty() && !token.contains(' '), "{token}");
    let wrong = script.exec(
        &["api-accounts", "token", "--client-id", "inventory-bot", "--client-secret-stdin"],
        Some("nope\n"),
        &script_env,
    );
    wrong.code(EXIT_UNAUTHENTICATED);

    let with_token = [script_env[0], script_env[1], ("LATCH_TOKEN", token.as_str())];
    let listed = script.exec(&["targets", "list", "--json"], None, &with_token).success().json();
    assert_eq!(listed["total"], 1);
    script.exec(&["targets", "add", "nope", "--address", "10.9.9.9"], None, &with_token).code(EXIT_FORBIDDEN);
    script.exec(&["users", "list"], None, &with_token).code(EXIT_FORBIDDEN);

    let listed = admin.run(&["api-accounts", "list"]).success();
    assert!(listed.stdout.contains("inventory-bot") && listed.stdout.contains("active"), "{}", listed.stdout);
    admin.run(&["api-accounts", "revoke", "inventory-bot"]).success();
    let revoked = script.exec(&["targets", "list"], None, &with_token).code(EXIT_UNAUTHENTICATED);
    assert!(revoked.stderr.starts_with("error: "), "{}", revoked.stderr);
}

#[test]
fn audit_exports_every_event_and_verify_finds_tampering() {
    let mut server = Server::start();
    let admin = server.admin();
    admin.run(&["targets", "add", "audited", "--address", "10.3.3.3"]).success();
    admin.run(&["users", "create", "auditee", "--role", "user"]).success();
    server.client().login_with_stdin("auditee", "wrong-password-zzz\n").code(EXIT_UNAUTHENTICATED);

    let all = admin.run(&["audit", "list", "--limit", "1000", "--json"]).success().json();
    let listed: Vec<(i64, String)> = all["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["seq"].as_i64().unwrap(), r["kind"].as_str().unwrap().to_owned()))
        .collect();

    let jsonl = admin.run(&["audit", "export", "--format", "jsonl"]).success();
    let exported: Vec<(i64, String)> = jsonl
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .map(|r| (r["seq"].as_i64().unwrap(), r["kind"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(exported, listed);
    let seqs: Vec<i64> = exported.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let kinds: Vec<&str> = exported.iter().map(|(_, kind)| kind.as_str()).collect();
    for expected in [
        "vault.initialized",
        "user.created",
        "auth.login_succeeded",
        "user.password_changed",
        "target.created",
        "auth.login_failed",
    ] {
        assert!(kinds.contains(&expected), "{expected} missing from {kinds:?}");
    }

    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("audit.csv");
    admin.run(&["audit", "export", "--format", "csv", "--output", csv_path.to_str().unwrap()]).success();
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<(i64, String)> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[0].parse().unwrap(), r[6].to_owned())).collect();
    // The same records, then the record of the JSONL export itself.
    assert_eq!(rows[..listed.len()], listed[..]);
    let after: Vec<&str> = rows[listed.len()..].iter().map(|(_, kind)| kind.as_str()).collect();
    assert_eq!(after, ["audit.exported"], "{rows:?}");
    let filtered = admin.run(&["audit", "export", "--format", "jsonl", "--kind", "target."]).success();
    assert_eq!(filtered.stdout.lines().count(), 1, "{}", filtered.stdout);

    let verified = admin.run(&["audit", "verify"]).success();
    assert!(verified.stdout.contains("intact"), "{}", verified.stdout);

    // Change one record behind the server's back.
    server.stop();
    let altered = 3;
    tamper(&server, &format!(r#"UPDATE audit_events SET details = '{{"forged":true}}' WHERE seq = {altered}"#));
    server.restart();
    let broken = admin.run(&["audit", "verify"]).code(EXIT_PROBLEMS_FOUND);
    assert!(broken.stdout.contains(&format!("record {altered}")), "{}", broken.stdout);
    let json = admin.run(&["audit", "verify", "--json"]).code(EXIT_PROBLEMS_FOUND).json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["problems"][0]["seq"], altered);
}

/// Runs one SQL statement on the stopped server's database; returns the rows it affected.
fn tamper(server: &Server, sql: &str) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = latch_store::Store::connect(&latch_store::Store::sqlite_url(&server.database())).await.unwrap();
        let affected = store.execute_raw_for_tests(sql).await.unwrap();
        store.close().await;
        affected
    })
}

#[test]
fn root_key_rotation_survives_a_restart() {
    let mut server = Server::start();
    let admin = server.admin();
    admin.run(&["targets", "add", "rotated", "--address", "10.4.4.4"]).success();
    let mut ids = Vec::new();
    for (user, secret) in [("one", "first-secret-1"), ("two", "second-secret-2")] {
        let added = admin.run_with_stdin(&["accounts", "add", "rotated", user, "--secret-stdin", "--json"], secret);
        ids.push(added.success().json()["id"].as_str().unwrap().to_owned());
    }

    let report = admin.run(&["vault", "rotate-root-key", "--json"]).success().json();
    let rewrapped = report["rewrapped"].as_i64().unwrap();
    assert_eq!(report["retired_root_keys"], 1);

    server.stop();
    // Every stored secret (account secrets and the audit key) was re-wrapped: a no-op UPDATE
    // counts them.
    let secrets = tamper(&server, "UPDATE vault_secrets SET kind = kind");
    assert_eq!(rewrapped, i64::try_from(secrets).unwrap());
    assert!(secrets >= 3, "{secrets}");
    server.restart();

    let status = admin.run(&["status"]).success();
    assert!(status.stdout.contains("unsealed"), "{}", status.stdout);
    admin.run_with_stdin(&["accounts", "update", &ids[0], "--secret-stdin"], "replaced-secret-3").success();
    // The audit key is a vault secret too: verifying needs it decrypted under the new root key.
    admin.run(&["audit", "verify"]).success();
    let again = admin.run(&["vault", "rotate-root-key", "--json"]).success().json();
    assert_eq!(again["rewrapped"], rewrapped);
}

#[test]
fn a_sealed_vault_refuses_until_unsealed_with_the_key_file() {
    let server = Server::start();
    let admin = server.admin();
    admin.run(&["targets", "add", "sealed-host", "--address", "10.5.5.5"]).success();

    let sealed = admin.run(&["vault", "seal"]).success();
    assert!(sealed.stdout.contains("sealed"), "{}", sealed.stdout);
    let status = admin.run(&["status"]).code(EXIT_SEALED);
    assert!(status.stdout.contains("vault:") && status.stdout.contains("sealed"), "{}", status.stdout);
    assert_eq!(admin.run(&["status", "--json"]).code(EXIT_SEALED).json()["sealed"], true);
    let refused = admin.run(&["targets", "list"]).code(EXIT_SEALED);
    assert!(refused.stderr.contains("sealed"), "{}", refused.stderr);
    admin.run(&["whoami"]).code(EXIT_SEALED);
    admin.run(&["users", "list"]).code(EXIT_SEALED);
    // Without a terminal and with a key-file vault, `unseal` says what to pass.
    admin.run(&["unseal"]).code(EXIT_USAGE);

    let key_file = server.data_dir().join("unseal.key");
    let unsealed = admin.run(&["unseal", "--key-file", key_file.to_str().unwrap()]).success();
    assert!(unsealed.stdout.contains("unsealed"), "{}", unsealed.stdout);
    admin.run(&["status"]).success();
    let listed = admin.run(&["targets", "list", "--json"]).success().json();
    assert_eq!(listed["total"], 1);
}

/// Makes a key pair with `ssh-keygen` in `dir`; returns the public key file and its `ssh-keygen -lf` fingerprint.
fn ssh_keygen(dir: &std::path::Path, name: &str, kind: &[&str]) -> (std::path::PathBuf, String) {
    let private = dir.join(name);
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name])
        .args(kind)
        .arg("-f")
        .arg(&private)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let public = private.with_extension("pub");
    let listed = std::process::Command::new("ssh-keygen").arg("-lf").arg(&public).output().unwrap();
    let listed = String::from_utf8(listed.stdout).unwrap();
    let fingerprint = listed.split_whitespace().find(|f| f.starts_with("SHA256:")).unwrap().to_owned();
    (public, fingerprint)
}

#[test]
fn ssh_keys_are_added_listed_and_removed_with_ssh_keygen_fingerprints() {
    let server = Server::start();
    let admin = server.admin();
    create_user(&admin, "sam", "ssh-key-owner-pass-123", &[]);
    let sam = logged_in(&server, "sam", "ssh-key-owner-pass-123");
    let dir = tempfile::tempdir().unwrap();
    let (ed25519, fingerprint) = ssh_keygen(dir.path(), "laptop", &["-t", "ed25519"]);
    let ed25519 = ed25519.to_str().unwrap();

    let added = sam.run(&["ssh-keys", "add", ed25519, "--json"]).success().json();
    assert_eq!(added["fingerprint"], fingerprint.as_str());
    assert_eq!(added["name"], "laptop");
    let id = added["id"].as_str().unwrap().to_owned();
    let listed = sam.run(&["ssh-keys", "list"]).success();
    assert!(listed.stdout.contains(&fingerprint) && listed.stdout.contains("ssh-ed25519"), "{}", listed.stdout);
    let seen_by_admin = admin.run(&["ssh-keys", "list", "--user", "sam"]).success();
    assert!(seen_by_admin.stdout.contains(&fingerprint), "{}", seen_by_admin.stdout);

    // One key belongs to one user: registering it again, to anyone, is a conflict.
    sam.run(&["ssh-keys", "add", ed25519, "--name", "again"]).code(EXIT_CONFLICT);
    admin.run(&["ssh-keys", "add", ed25519]).code(EXIT_CONFLICT);
    // Weak keys are refused with the reason; someone else's keys are the admin's business.
    let (rsa_1024, _) = ssh_keygen(dir.path(), "old", &["-t", "rsa", "-b", "1024"]);
    let refused = sam.run(&["ssh-keys", "add", rsa_1024.to_str().unwrap()]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("RSA keys must be at least 2048 bits"), "{}", refused.stderr);
    sam.run(&["ssh-keys", "list", "--user", "admin"]).code(EXIT_FORBIDDEN);
    sam.run(&["ssh-keys", "rm", &id, "--user", "admin"]).code(EXIT_FORBIDDEN);

    sam.run(&["ssh-keys", "rm", &id]).success();
    sam.run(&["ssh-keys", "rm", &id]).code(EXIT_NOT_FOUND);
    let listed = sam.run(&["ssh-keys", "list", "--json"]).success().json();
    assert_eq!(listed["keys"], serde_json::json!([]));
}
