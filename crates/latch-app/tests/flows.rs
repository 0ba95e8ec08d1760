//! Use cases end to end on a real store (SQLite, and PostgreSQL when available), with a manual clock.

#![expect(clippy::expect_used, reason = "test helpers fail the test by panicking")]

use latch_app::{
    AppError, InitMode, LoginRequest, NewAccount, NewTarget, RequestContext, SecretString, UnsealProgress,
};
use latch_domain::TimeSpan;
use latch_domain::auth_session::AuthSessionKind;
use latch_domain::permission::Role;
use latch_testkit::app::{TestApp, USER_PASSWORD, login};

fn ctx() -> RequestContext {
    RequestContext::default()
}

fn secret(text: &str) -> SecretString {
    SecretString::new(text.to_owned())
}

async fn try_login(t: &TestApp, user: &str, password: &str, code: Option<String>) -> Result<String, AppError> {
    let request = LoginRequest {
        username: user.to_owned(),
        password: secret(password),
        totp_code: code,
        kind: AuthSessionKind::Api,
    };
    t.app.login(request, &ctx()).await.map(|o| o.token.expose().clone())
}

/// Generates a `sqlite` and a `postgres` test from one async check.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(latch_testkit::app::TestApp::sqlite().await.expect("app")).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() {
                match latch_testkit::app::TestApp::postgres(stringify!($name)).await.expect("postgres app") {
                    Some(t) => super::$name(t).await,
                    None => eprintln!("skipped: PostgreSQL is not available"),
                }
            })*
        }
    };
}

on_both!(
    lockout_is_shared_and_expires,
    totp_codes_work_once,
    sessions_time_out,
    disabling_ends_sessions,
    audit_refuses_when_unwritable,
    rotation_keeps_secrets_readable,
    ssh_keys_belong_to_one_user_and_are_audited
);

async fn lockout_is_shared_and_expires(t: TestApp) {
    t.user_with_roles("bob", &[Role::User]).await.expect("bob");
    for _ in 0..3 {
        assert!(matches!(try_login(&t, "bob", "wrong password!", None).await, Err(AppError::InvalidCredentials)));
    }
    // A failed password check through another path (password change) counts toward the same lock.
    let bob =
        t.app.authenticate(&login(&t.app, "bob", USER_PASSWORD).await.expect("login"), &ctx()).await.expect("auth");
    let wrong_current =
        t.app.change_own_password(&bob, secret("not my password"), secret("a brand new password 1"), &ctx()).await;
    assert!(matches!(wrong_current, Err(AppError::InvalidCredentials)), "{wrong_current:?}");
    // The login above reset the counter to 0 and the password change made it 1: four more lock.
    for attempt in 1..=5 {
        let result = try_login(&t, "bob", "wrong password!", None).await;
        if attempt < 4 {
            assert!(matches!(result, Err(AppError::InvalidCredentials)), "attempt {attempt}: {result:?}");
        } else {
            assert!(matches!(result, Err(AppError::Locked { .. })), "attempt {attempt}: {result:?}");
        }
    }
    assert!(
        matches!(try_login(&t, "bob", USER_PASSWORD, None).await, Err(AppError::Locked { .. })),
        "right password while locked"
    );
    t.clock.advance(TimeSpan::from_minutes(16));
    assert!(try_login(&t, "bob", USER_PASSWORD, None).await.is_ok(), "lock expired");
}

async fn totp_codes_work_once(t: TestApp) {
    let token = t.user_with_roles("carol", &[Role::User]).await.expect("carol");
    let carol = t.app.authenticate(&token, &ctx()).await.expect("auth");
    let enrollment = t.app.begin_totp_enrollment(&carol).await.expect("enroll");
    let totp = totp_rs::Totp::from_url(enrollment.otpauth_uri.expose()).expect("otpauth uri");
    let now = |t: &TestApp| u64::try_from(t.app.now().as_unix_seconds()).expect("positive");
    let wrong = t.app.confirm_totp_enrollment(&carol, "000000", &ctx()).await;
    assert!(wrong.is_err() || totp.generate(now(&t)).to_string() == "000000");
    t.app.confirm_totp_enrollment(&carol, &totp.generate(now(&t)).to_string(), &ctx()).await.expect("confirm");
    assert!(matches!(try_login(&t, "carol", USER_PASSWORD, None).await, Err(AppError::TotpRequired)));
    // The confirming code's step is used up: the next step's code works once.
    t.clock.advance(TimeSpan::from_secs(30));
    let code = totp.generate(now(&t)).to_string();
    try_login(&t, "carol", USER_PASSWORD, Some(code.clone())).await.expect("first use of the code");
    let again = try_login(&t, "carol", USER_PASSWORD, Some(code)).await;
    assert!(matches!(again, Err(AppError::InvalidCredentials)), "second use: {again:?}");
}

async fn sessions_time_out(t: TestApp) {
    let token = t.user_with_roles("dave", &[Role::Auditor]).await.expect("dave");
    t.clock.advance(TimeSpan::from_minutes(29));
    assert!(t.app.authenticate(&token, &ctx()).await.is_ok(), "within idle timeout");
    t.clock.advance(TimeSpan::from_minutes(29));
    assert!(t.app.authenticate(&token, &ctx()).await.is_ok(), "activity moved the idle timeout");
    t.clock.advance(TimeSpan::from_minutes(31));
    assert!(matches!(t.app.authenticate(&token, &ctx()).await, Err(AppError::Unauthenticated)), "idle");
    let token = login(&t.app, "dave", USER_PASSWORD).await.expect("login");
    for _ in 0..(12 * 4) {
        t.clock.advance(TimeSpan::from_minutes(15));
        if t.app.authenticate(&token, &ctx()).await.is_err() {
            break;
        }
    }
    assert!(t.app.authenticate(&token, &ctx()).await.is_err(), "absolute timeout");
}

async fn disabling_ends_sessions(t: TestApp) {
    let token = t.user_with_roles("erin", &[Role::Approver]).await.expect("erin");
    let admin = t.admin().await.expect("admin");
    t.app.set_user_disabled(&admin, "erin", true, &ctx()).await.expect("disable");
    assert!(matches!(t.app.authenticate(&token, &ctx()).await, Err(AppError::Unauthenticated)));
    assert!(matches!(try_login(&t, "erin", USER_PASSWORD, None).await, Err(AppError::Disabled)));
    assert!(matches!(try_login(&t, "erin", "wrong password!", None).await, Err(AppError::InvalidCredentials)));
    // Admins cannot disable themselves (and so never the last admin by accident).
    let self_disable = t.app.set_user_disabled(&admin, "admin", true, &ctx()).await;
    assert!(matches!(self_disable, Err(AppError::BadRequest(_))));
}

async fn audit_refuses_when_unwritable(t: TestApp) {
    let admin = t.admin().await.expect("admin");
    let trigger = match t.store.backend() {
        latch_store::Backend::Sqlite => {
            vec!["CREATE TRIGGER audit_full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk full'); END"]
        }
        latch_store::Backend::Postgres => vec![
            "CREATE FUNCTION audit_full() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER audit_full BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_full()",
        ],
    };
    for sql in trigger {
        t.store.execute_raw_for_tests(sql).await.expect("install trigger");
    }
    let new = NewTarget { name: "db01".into(), address: "10.0.0.5".into(), ..NewTarget::default() };
    let refused = t.app.create_target(&admin, new.clone(), &ctx()).await;
    assert!(matches!(refused, Err(AppError::AuditUnavailable(_))), "{refused:?}");
    t.store.execute_raw_for_tests("DROP TRIGGER audit_full ON audit_events").await.ok();
    t.store.execute_raw_for_tests("DROP TRIGGER audit_full").await.ok();
    let admin_now = t.admin().await.expect("admin");
    assert!(
        matches!(t.app.get_target(&admin_now, "db01").await, Err(AppError::NotFound(_))),
        "the change was rolled back"
    );
    t.app.create_target(&admin_now, new, &ctx()).await.expect("works again");
    let report = t.app.verify_audit(&admin_now, 0, 10_000, &ctx()).await.expect("verify");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// A syntactically valid ed25519 key line whose key bytes are all `fill`.
fn ed25519_line(fill: u8, comment: &str) -> String {
    use base64::Engine;
    let mut blob = Vec::new();
    for part in [&b"ssh-ed25519"[..], &[fill; 32][..]] {
        blob.extend_from_slice(&u32::try_from(part.len()).expect("short").to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!("ssh-ed25519 {} {comment}", base64::engine::general_purpose::STANDARD.encode(blob))
}

async fn ssh_keys_belong_to_one_user_and_are_audited(t: TestApp) {
    let admin = t.admin().await.expect("admin");
    let sam_token = t.user_with_roles("sam", &[Role::User]).await.expect("sam");
    let sam = t.app.authenticate(&sam_token, &ctx()).await.expect("sam principal");
    t.user_with_roles("uma", &[Role::Auditor]).await.expect("uma");

    // Users manage their own keys; naming themselves is the same as naming nobody.
    let own = t.app.add_ssh_key(&sam, None, &ed25519_line(1, "sam@laptop"), "", &ctx()).await.expect("own key");
    assert_eq!(own.name, "sam@laptop");
    let by_name = t.app.list_ssh_keys(&sam, Some("sam")).await.expect("own list by name");
    assert_eq!(by_name, vec![own.clone()]);
    // Others' keys need users:read to see and admin to change.
    let refused = t.app.list_ssh_keys(&sam, Some("uma")).await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let refused = t.app.add_ssh_key(&sam, Some("uma"), &ed25519_line(2, ""), "x", &ctx()).await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let refused = t.app.remove_ssh_key(&sam, Some("admin"), &own.id.to_string(), &ctx()).await;
    assert!(matches!(refused, Err(AppError::Forbidden)), "{refused:?}");
    let uma_key =
        t.app.add_ssh_key(&admin, Some("uma"), &ed25519_line(2, ""), "token", &ctx()).await.expect("admin adds");
    assert_eq!(t.app.list_ssh_keys(&admin, Some("uma")).await.expect("admin lists"), vec![uma_key.clone()]);
    // One key, one user; and a key id of another user is not found.
    let taken = t.app.add_ssh_key(&sam, None, &ed25519_line(2, ""), "mine", &ctx()).await;
    assert!(matches!(taken, Err(AppError::Conflict("ssh key"))), "{taken:?}");
    let other = t.app.remove_ssh_key(&sam, None, &uma_key.id.to_string(), &ctx()).await;
    assert!(matches!(other, Err(AppError::NotFound("ssh key"))), "{other:?}");
    let weak = t.app.add_ssh_key(&sam, None, "ssh-dss AAAAB3NzaC1kc3M=", "", &ctx()).await;
    assert!(matches!(weak, Err(AppError::Invalid(_))), "{weak:?}");

    // At most 50 keys per user.
    for fill in 3..=51 {
        t.app.add_ssh_key(&sam, None, &ed25519_line(fill, ""), "", &ctx()).await.expect("below the limit");
    }
    let full = t.app.add_ssh_key(&sam, None, &ed25519_line(52, ""), "", &ctx()).await;
    assert!(matches!(&full, Err(AppError::BadRequest(m)) if m.contains("at most 50")), "{full:?}");

    t.app.remove_ssh_key(&sam, None, &own.id.to_string(), &ctx()).await.expect("remove own");
    let query = |kind: &str| latch_app::AuditQuery { kind: Some(kind.to_owned()), limit: 100, ..Default::default() };
    let added = t.app.list_audit(&admin, query("user.ssh_key_added")).await.expect("audit");
    assert_eq!(added.records.len(), 51);
    let removed = t.app.list_audit(&admin, query("user.ssh_key_removed")).await.expect("audit");
    assert_eq!(removed.records.len(), 1);
    assert!(removed.records[0].details.contains(&own.key.fingerprint()), "{}", removed.records[0].details);
}

async fn rotation_keeps_secrets_readable(t: TestApp) {
    let admin = t.admin().await.expect("admin");
    let target = NewTarget { name: "web01".into(), address: "web01.example.com".into(), ..NewTarget::default() };
    t.app.create_target(&admin, target, &ctx()).await.expect("target");
    for name in ["root", "deploy", "backup"] {
        let account = NewAccount {
            username: name.into(),
            secret_kind: "password".into(),
            secret: Some(secret("s3cret-value-for-test")),
            api_enabled: false,
            rotate_after_use: false,
            exclusive_checkout: true,
            description: String::new(),
        };
        t.app.create_account(&admin, "web01", account, &ctx()).await.expect("account");
    }
    let token = t.user_with_roles("frank", &[Role::User]).await.expect("frank");
    let frank = t.app.authenticate(&token, &ctx()).await.expect("auth");
    let enrollment = t.app.begin_totp_enrollment(&frank).await.expect("enroll");
    let totp = totp_rs::Totp::from_url(enrollment.otpauth_uri.expose()).expect("uri");
    let secs = |t: &TestApp| u64::try_from(t.app.now().as_unix_seconds()).expect("positive");
    t.app.confirm_totp_enrollment(&frank, &totp.generate(secs(&t)).to_string(), &ctx()).await.expect("confirm");
    let report = t.app.rotate_root_key(&admin, &ctx()).await.expect("rotate");
    // 3 account secrets, 1 TOTP seed, 1 audit chain key.
    assert_eq!(report.rewrapped, 5);
    assert_eq!(report.retired_root_keys, 1);
    // A fresh process on the same database unseals with the same key and reads the re-wrapped secrets.
    let reopened = latch_app::App::new(t.store.clone(), t.clock.clone(), t.app.config().clone());
    reopened.unseal_with_key_file_text(&t.key_file_text, &ctx()).await.expect("unseal after rotation");
    t.clock.advance(TimeSpan::from_secs(30));
    let request = LoginRequest {
        username: "frank".into(),
        password: secret(USER_PASSWORD),
        totp_code: Some(totp.generate(secs(&t)).to_string()),
        kind: AuthSessionKind::Api,
    };
    reopened.login(request, &ctx()).await.expect("TOTP seed decrypts after rotation");
    let admin2 = reopened.authenticate(&t.admin_token, &ctx()).await.expect("admin");
    let verify = reopened.verify_audit(&admin2, 0, 10_000, &ctx()).await.expect("verify");
    assert!(verify.problems.is_empty(), "{:?}", verify.problems);
}

#[tokio::test]
async fn interrupted_rotation_still_unseals_and_finishes() {
    let t = TestApp::sqlite().await.expect("app");
    // Simulate a crash right after the new root key became active, before any data key moved.
    let kek = latch_vault::UnsealKey::from_key_file_text(t.key_file_text.expose()).expect("key");
    let id = latch_vault::RootKeyId::new(uuid::Uuid::new_v4());
    let new_root = latch_vault::RootKey::generate(id);
    let wrapped = latch_vault::wrap_root_key(&kek, &new_root);
    let sql_id = id.as_uuid().to_string();
    let hex: String = wrapped.iter().map(|b| format!("{b:02x}")).collect();
    t.store
        .execute_raw_for_tests(&format!(
            "INSERT INTO vault_root_keys (id, wrapped, created_at) VALUES ('{sql_id}', X'{hex}', 0)"
        ))
        .await
        .expect("insert root key");
    t.store
        .execute_raw_for_tests(&format!("UPDATE vault_meta SET active_root_key_id = '{sql_id}' WHERE id = 1"))
        .await
        .expect("activate");
    let reopened = latch_app::App::new(t.store.clone(), t.clock.clone(), t.app.config().clone());
    reopened.unseal_with_key_file_text(&t.key_file_text, &ctx()).await.expect("unseals with old and new root keys");
    let admin = reopened.authenticate(&t.admin_token, &ctx()).await.expect("admin");
    let report = reopened.rotate_root_key(&admin, &ctx()).await.expect("rotation finishes");
    assert_eq!(report.retired_root_keys, 2, "both older keys retired");
    let again = latch_app::App::new(t.store.clone(), t.clock.clone(), t.app.config().clone());
    again.unseal_with_key_file_text(&t.key_file_text, &ctx()).await.expect("unseal after completing");
}

#[tokio::test]
async fn passphrase_and_shamir_unseal() {
    let dir = tempfile::tempdir().expect("dir");
    let store =
        latch_store::Store::connect(&latch_store::Store::sqlite_url(&dir.path().join("p.db"))).await.expect("store");
    let clock =
        std::sync::Arc::new(latch_app::ManualClock::new(latch_domain::Timestamp::from_millis(1_800_000_000_000)));
    let config = latch_app::AppConfig { fast_kdf_for_tests: true, ..latch_app::AppConfig::default() };
    let admin = latch_domain::names::Username::parse("root-admin").expect("name");
    let app = latch_app::App::new(store.clone(), clock.clone(), config.clone());
    let short = app.initialize(InitMode::Passphrase(secret("short")), &admin).await;
    assert!(matches!(short, Err(AppError::BadRequest(_))));
    app.initialize(InitMode::Passphrase(secret("a long operator passphrase")), &admin).await.expect("init");
    assert!(matches!(app.initialize(InitMode::KeyFile, &admin).await, Err(AppError::AlreadyInitialized)));
    let fresh = latch_app::App::new(store.clone(), clock.clone(), config.clone());
    assert!(matches!(
        fresh.unseal_with_passphrase(secret("the wrong passphrase!"), &ctx()).await,
        Err(AppError::WrongUnsealKey)
    ));
    assert!(fresh.is_sealed());
    fresh.unseal_with_passphrase(secret("a long operator passphrase"), &ctx()).await.expect("unseal");
    assert!(!fresh.is_sealed());

    let dir2 = tempfile::tempdir().expect("dir");
    let store2 =
        latch_store::Store::connect(&latch_store::Store::sqlite_url(&dir2.path().join("s.db"))).await.expect("store");
    let app2 = latch_app::App::new(store2.clone(), clock.clone(), config.clone());
    let outcome = app2.initialize(InitMode::Shamir { threshold: 2, shares: 3 }, &admin).await.expect("init");
    assert_eq!(outcome.shares.len(), 3);
    let sealed = latch_app::App::new(store2.clone(), clock.clone(), config.clone());
    let first = sealed.submit_unseal_share(&outcome.shares[2], &ctx()).await.expect("share");
    assert_eq!(first, UnsealProgress::NeedMoreShares { received: 1, threshold: 2 });
    assert!(sealed.submit_unseal_share(&outcome.shares[2], &ctx()).await.is_err(), "same share twice");
    let done = sealed.submit_unseal_share(&outcome.shares[0], &ctx()).await.expect("share");
    assert_eq!(done, UnsealProgress::Unsealed);
    assert!(!sealed.is_sealed());
}
