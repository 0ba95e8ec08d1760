//! `latch serve` and `latch init`, driven as a real process over real HTTPS.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers fail the test by panicking")]

mod common;

use common::{Server, install_crypto_provider, latch, run_to_end, value_after};
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;

#[tokio::test]
async fn first_start_initializes_once_and_restarts_unseal_from_the_key_file() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let server = Server::start(&data_dir, &[]).await;

    // The first-start block: who logs in with what, where the key went, which certificate.
    let stdout = server.wait_for_stdout("sha256/").await;
    assert_eq!(value_after(&stdout, "Admin username:").as_deref(), Some("admin"), "{stdout}");
    let password = value_after(&stdout, "One-time password:").unwrap();
    assert!(password.len() >= 16, "{stdout}");
    let key_file = data_dir.join("unseal.key");
    assert_eq!(value_after(&stdout, "Unseal key:"), Some(key_file.display().to_string()), "{stdout}");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&key_file).unwrap().starts_with("latch-unseal-key-v1:"));
    assert_eq!(std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777, 0o700);
    let database = data_dir.join("latch.db");
    assert_eq!(std::fs::metadata(&database).unwrap().permissions().mode() & 0o777, 0o600, "the database is private");
    assert!(data_dir.join("recordings").is_dir());
    assert!(data_dir.join("ssh_host_ed25519_key").is_file());
    assert!(!server.stderr().contains(&password), "the password must not be logged");

    // The served certificate is the one whose fingerprint was printed; connecting to
    // https://localhost with only that certificate trusted also proves its name.
    let response = server.client().get(server.url("/api/v1/sys/status")).send().await.unwrap();
    let tls_info = response.extensions().get::<reqwest::tls::TlsInfo>().unwrap();
    let served: String =
        Sha256::digest(tls_info.peer_certificate().unwrap()).iter().map(|byte| format!("{byte:02x}")).collect();
    assert_eq!(Some(served), value_after(&stdout, "sha256/"), "{stdout}");
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["initialized"], true, "{status}");
    assert_eq!(status["sealed"], false, "{status}");

    // The printed password is real and must be changed first.
    let login = serde_json::json!({ "username": "admin", "password": password, "totp_code": null });
    let response = server.client().post(server.url("/api/v1/auth/login")).json(&login).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["stage"], "password_change_required", "{body}");

    let exit = server.stop().await;
    assert!(exit.success(), "graceful shutdown exits 0, got {exit}");

    // A restart prints nothing new and unseals from DATA_DIR/unseal.key by itself.
    let server = Server::start(&data_dir, &[]).await;
    assert_eq!(server.status().await["sealed"], false);
    assert!(server.stdout().is_empty(), "{}", server.stdout());
    assert!(server.stderr().contains("vault unsealed at start"), "{}", server.stderr());
    drop(server);

    // A key that does not open the vault stops the start with a clear message.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, "latch-unseal-key-v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let mut command = latch(&["serve", "--data-dir", data_dir.to_str().unwrap()]);
    command.env("LATCH_UNSEAL_KEY_FILE", &wrong).env("LATCH_HTTP_LISTEN", "127.0.0.1:0");
    let output = run_to_end(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("does not open this vault"), "{stderr}");
}

#[test]
fn an_unknown_config_key_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("latch.toml");
    let data_dir = dir.path().join("data");
    let text = format!("data_dir = {:?}\n[http]\nlisten_adress = \"127.0.0.1:8443\"\n", data_dir.to_str().unwrap());
    std::fs::write(&config, text).unwrap();
    let output = run_to_end(latch(&["serve", "--config", config.to_str().unwrap()]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("listen_adress"), "{stderr}");
    assert!(stderr.contains("latch.toml"), "{stderr}");
    assert!(!data_dir.exists(), "nothing is created on a config error");
}

#[tokio::test]
async fn init_with_a_passphrase_then_serve_unseals_from_the_environment() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let data_arg = data_dir.to_str().unwrap();
    let passphrase_file = dir.path().join("passphrase");
    std::fs::write(&passphrase_file, "correct horse battery staple\n").unwrap();
    let init = ["init", "--data-dir", data_arg, "--passphrase-file", passphrase_file.to_str().unwrap()];

    let output = run_to_end(latch(&init));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(value_after(&stdout, "Admin username:").as_deref(), Some("admin"), "{stdout}");
    assert!(value_after(&stdout, "One-time password:").is_some_and(|p| p.len() >= 16), "{stdout}");
    assert!(!data_dir.join("unseal.key").exists());

    let again = run_to_end(latch(&init));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("already initialized"), "{stderr}");
    assert!(again.stdout.is_empty());

    let server = Server::start(&data_dir, &[("LATCH_UNSEAL_PASSPHRASE", "correct horse battery staple")]).await;
    let status = server.status().await;
    assert_eq!(status["sealed"], false, "{status}");
    assert_eq!(status["mode"], "passphrase", "{status}");
    assert!(server.stdout().is_empty(), "serve prints no password after `latch init`");
    assert!(!server.stderr().contains("correct horse"), "the passphrase must not be logged");
    drop(server);

    // Without any unseal secret it serves, sealed, and says what to do.
    let server = Server::start(&data_dir, &[]).await;
    assert_eq!(server.status().await["sealed"], true);
    assert!(server.stderr().contains("latch unseal"), "{}", server.stderr());
}

/// The same binary on PostgreSQL: selected by a `postgres://` URL, state survives a restart, and
/// no SQLite file appears in the data directory.
#[tokio::test]
async fn serve_runs_on_postgresql_when_given_its_url() {
    install_crypto_provider();
    let Some(cluster) = latch_testkit::postgres::shared_postgres().unwrap() else {
        eprintln!("skipped: PostgreSQL is not available");
        return;
    };
    let url = cluster.fresh_database("serve").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let env = [("LATCH_DATABASE_URL", url.as_str())];
    let server = Server::start(&data_dir, &env).await;
    let stdout = server.wait_for_stdout("sha256/").await;
    let password = value_after(&stdout, "One-time password:").unwrap();
    let client = server.client();
    let login = |password: &str| serde_json::json!({ "username": "admin", "password": password, "totp_code": null });
    let body: serde_json::Value = client
        .post(server.url("/api/v1/auth/login"))
        .json(&login(&password))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["token"].as_str().unwrap().to_owned();
    let change = serde_json::json!({ "current_password": password, "new_password": "a fresh operator password" });
    let response =
        client.post(server.url("/api/v1/auth/password")).bearer_auth(&token).json(&change).send().await.unwrap();
    assert_eq!(response.status(), 204);
    let target = serde_json::json!({ "name": "pg-target", "address": "10.1.2.3", "tags": ["pg"] });
    let response = client.post(server.url("/api/v1/targets")).bearer_auth(&token).json(&target).send().await.unwrap();
    assert_eq!(response.status(), 201);
    assert!(server.stop().await.success());
    assert!(!data_dir.join("latch.db").exists(), "no SQLite file when PostgreSQL is configured");

    let server = Server::start(&data_dir, &env).await;
    assert!(server.stdout().is_empty(), "already initialized: {}", server.stdout());
    let client = server.client();
    let body: serde_json::Value = client
        .post(server.url("/api/v1/auth/login"))
        .json(&login("a fresh operator password"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["token"].as_str().unwrap();
    let found: serde_json::Value =
        client.get(server.url("/api/v1/targets?tag=pg")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(found["total"], 1, "{found}");
    let verify: serde_json::Value =
        client.get(server.url("/api/v1/audit/verify")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    assert_eq!(verify["ok"], true, "{verify}");
}
