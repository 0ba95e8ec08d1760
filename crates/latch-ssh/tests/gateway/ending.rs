//! How sessions end: when Latch terminates them, and when their grant expires.

use latch_ssh::GatewayLimits;

use super::harness::alice_on_db01_and_db02;
use super::harness::{self, Gateway, standing_rules, stderr_text};

/// Waits for a spawned client to exit; returns its output and how long after `since` it exited.
async fn exited(
    client: tokio::process::Child,
    since: std::time::Instant,
) -> (std::process::Output, std::time::Duration) {
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), client.wait_with_output())
        .await
        .expect("the client exited")
        .unwrap();
    (output, since.elapsed())
}

#[tokio::test]
async fn disabling_the_user_ends_exec_shell_and_sftp_within_a_second() {
    use tokio::io::AsyncWriteExt;
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let login = gateway.login("alice", "db01");

    let mut exec = gateway.ssh(&key, &login, &[]);
    exec.args(["--", "sleep 30"]);
    let exec = exec.spawn().unwrap();

    let mut shell = gateway.ssh(&key, &login, &["-tt"]);
    shell.stdin(std::process::Stdio::piped());
    let mut shell = shell.spawn().unwrap();
    let mut shell_input = shell.stdin.take().unwrap();
    shell_input.write_all(b"echo shell-is-up\n").await.unwrap();

    let original = gateway.files.path().join("slow.bin");
    harness::random_file(&original, 50);
    let batch = gateway.files.path().join("batch");
    std::fs::write(&batch, format!("put {} slow-upload.bin\n", original.display())).unwrap();
    let mut sftp = gateway.file_client("sftp", &key, &login);
    // 40000 kbit/s: the 50 MiB upload would take about 10 s. (A slower limit makes sftp sleep between writes,
    // and it notices the end only after such a sleep.)
    sftp.args(["-l", "40000", "-b"]).arg(&batch).arg("127.0.0.1");
    let sftp = sftp.spawn().unwrap();

    gateway.wait_for_live_sessions(3).await;
    let uploaded = gateway.target_home().join("slow-upload.bin");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::metadata(&uploaded).map(|metadata| metadata.len()).unwrap_or(0) == 0 {
        assert!(std::time::Instant::now() < deadline, "the sftp upload never started");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let started = std::time::Instant::now();
    let admin = gateway.admin().await;
    let ctx = latch_app::RequestContext::default();
    gateway.test_app.app.set_user_disabled(&admin, "alice", true, &ctx).await.unwrap();
    let (exec, exec_after) = exited(exec, started).await;
    let (shell, shell_after) = exited(shell, started).await;
    let (sftp, sftp_after) = exited(sftp, started).await;
    drop(shell_input);
    for (name, output, after) in
        [("exec", &exec, exec_after), ("shell", &shell, shell_after), ("sftp", &sftp, sftp_after)]
    {
        eprintln!("{name} ended {after:?} after the user was disabled");
        assert!(after < std::time::Duration::from_secs(1), "{name} ended after {after:?}: {}", stderr_text(output));
        assert!(!output.status.success(), "{name} must not end successfully");
    }
    assert!(stderr_text(&exec).contains("your Latch account was disabled"), "{}", stderr_text(&exec));
    assert!(std::fs::metadata(&uploaded).unwrap().len() < 50 << 20, "the upload was cut short");

    gateway.wait_for_sessions_to_end().await;
    let sessions = gateway.test_app.app.list_sessions(&admin, false, 10, 0).await.unwrap();
    assert_eq!(sessions.len(), 3);
    for session in &sessions {
        assert_eq!(
            session.end_reason,
            Some(latch_app::domain::gateway_session::SessionEndReason::UserDisabled),
            "{session:?}"
        );
    }
    assert_eq!(gateway.audit("session.ended").await.len(), 3);
    gateway.stop().await;
}

#[tokio::test]
async fn a_session_ends_by_itself_when_its_grant_expires() {
    let Some(gateway) = Gateway::start(GatewayLimits::default()).await else { return };
    let (key, alice) = gateway.person("alice").await;
    gateway.target("db01", None).await;
    gateway.password_account("db01").await;
    let mut rules = standing_rules();
    rules.mode = latch_app::domain::policy::AccessMode::OnRequest(latch_app::domain::policy::ApprovalRule {
        approvals_required: 0,
        approver_group: None,
    });
    gateway.standing_policy("alice-on-request", "alice", &["db01"], rules).await;
    // Without a grant there is no access.
    let refused = gateway.run_ssh(&key, &gateway.login("alice", "db01"), "echo no").await;
    assert_eq!(refused.status.code(), Some(255));

    let request = latch_app::NewAccessRequest {
        target: "db01".to_owned(),
        duration: Some(latch_app::domain::TimeSpan::from_secs(3)),
        reason: "checking the expiry of gateway sessions".to_owned(),
        ..latch_app::NewAccessRequest::default()
    };
    let outcome =
        gateway.test_app.app.request_access(&alice, request, &latch_app::RequestContext::default()).await.unwrap();
    assert!(outcome.grant.is_some(), "approved at once");

    let started = std::time::Instant::now();
    let output = gateway.run_ssh(&key, &gateway.login("alice", "db01"), "sleep 30").await;
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_secs(2) && elapsed < std::time::Duration::from_secs(5),
        "{elapsed:?}: {}",
        stderr_text(&output)
    );
    assert!(stderr_text(&output).contains("your access to this account has expired"), "{}", stderr_text(&output));
    gateway.wait_for_sessions_to_end().await;
    let sessions = gateway.test_app.app.list_sessions(&gateway.admin().await, false, 10, 0).await.unwrap();
    assert_eq!(sessions[0].end_reason, Some(latch_app::domain::gateway_session::SessionEndReason::GrantExpired));
    gateway.stop().await;
}

#[tokio::test]
async fn shutting_the_gateway_down_ends_its_sessions() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let mut ssh = gateway.ssh(&key, &gateway.login("alice", "db01"), &[]);
    ssh.args(["--", "sleep 30"]);
    let client = ssh.spawn().unwrap();
    gateway.wait_for_live_sessions(1).await;
    let app = gateway.test_app.app.clone();
    let admin = gateway.admin().await;
    let started = std::time::Instant::now();
    gateway.stop().await;
    let (output, after) = exited(client, started).await;
    assert!(after < std::time::Duration::from_secs(2), "{after:?}");
    assert!(stderr_text(&output).contains("the gateway is shutting down"), "{}", stderr_text(&output));
    let sessions = app.list_sessions(&admin, false, 10, 0).await.unwrap();
    assert_eq!(sessions[0].end_reason, Some(latch_app::domain::gateway_session::SessionEndReason::Shutdown));
}
