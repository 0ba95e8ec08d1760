//! What is recorded: casts of terminals, byte-exact streams of commands, the event log, and refusing what cannot be
//! recorded.

use latch_ssh::GatewayLimits;

use super::harness::{Gateway, standing_rules, stderr_text};
use super::harness::{alice_on_db01_and_db02, alice_on_db01_with};

#[tokio::test]
async fn a_pty_shell_is_recorded_with_input_when_the_policy_says_so() {
    use tokio::io::AsyncWriteExt;
    let Some(gateway) = Gateway::start(GatewayLimits::default()).await else { return };
    let (key, _) = gateway.person("alice").await;
    gateway.target("db01", None).await;
    gateway.password_account("db01").await;
    let mut rules = standing_rules();
    rules.record_input = true;
    gateway.standing_policy("alice-recorded", "alice", &["db01"], rules).await;

    let mut ssh = gateway.ssh(&key, &gateway.login("alice", "db01"), &["-tt"]);
    ssh.stdin(std::process::Stdio::piped());
    let mut client = ssh.spawn().unwrap();
    let mut stdin = client.stdin.take().unwrap();
    stdin.write_all(b"echo marker-$((6*7))\nexit\n").await.unwrap();
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), client.wait_with_output())
        .await
        .expect("the shell ended")
        .unwrap();
    drop(stdin);
    assert!(String::from_utf8_lossy(&output.stdout).contains("marker-42"), "{}", stderr_text(&output));

    gateway.wait_for_sessions_to_end().await;
    let casts = gateway.session_casts();
    assert_eq!(casts.len(), 1, "{casts:?}");
    let replay = latch_recording::replay_output(&casts[0], 10 << 20).await.unwrap();
    assert!(String::from_utf8_lossy(&replay).contains("marker-42"), "{}", String::from_utf8_lossy(&replay));
    let recording = latch_recording::read_asciicast(&casts[0], 10 << 20).await.unwrap();
    assert!(recording.header.term.is_some(), "{:?}", recording.header);
    let typed: String = recording
        .events
        .iter()
        .filter_map(|event| match &event.data {
            latch_recording::AsciicastEventData::Input(text) => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(typed.contains("echo marker-$((6*7))"), "{typed:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn an_exec_session_logs_its_command_line_and_records_its_output_byte_for_byte() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let command = r"echo recorded-$((1+1)); printf '\000\377\033[0m'; echo to-stderr >&2; read secret";
    let output = gateway.run_ssh(&key, &gateway.login("alice", "db01"), command).await;
    assert_eq!(output.stdout, b"recorded-2\n\x00\xff\x1b[0m", "{}", stderr_text(&output));
    gateway.wait_for_sessions_to_end().await;

    let events = gateway.session_events().await;
    assert!(
        events.iter().any(|event| matches!(event,
            latch_recording::SessionEvent::Exec { command: logged } if logged == command)),
        "{events:?}"
    );
    assert!(
        matches!(events.last(), Some(latch_recording::SessionEvent::SessionEnded { reason }) if reason == "client_closed"),
        "{events:?}"
    );
    assert_eq!(gateway.session_casts(), Vec::<std::path::PathBuf>::new(), "a command without a terminal is no cast");
    let streams = gateway.session_streams();
    assert_eq!(streams.len(), 1, "{streams:?}");
    let recording = latch_recording::read_byte_stream(&streams[0], 1 << 20).await.unwrap();
    assert_eq!(recording.header.title.as_deref(), Some(command));
    assert_eq!(recording.bytes(latch_recording::StreamKind::Output), output.stdout, "exactly what the person got");
    assert_eq!(recording.bytes(latch_recording::StreamKind::ErrorOutput), b"to-stderr\n");
    assert!(
        recording.bytes(latch_recording::StreamKind::Input).is_empty(),
        "input is not recorded unless the policy says so"
    );

    // Sealed: a manifest of both files, signed with the node's recording key, that the files match.
    let directory = gateway.session_directory();
    let manifest_bytes = std::fs::read(directory.join(latch_recording::MANIFEST_FILE)).unwrap();
    let manifest = latch_recording::RecordingManifest::parse(&manifest_bytes).unwrap();
    let names: Vec<&str> = manifest.files.iter().map(|file| file.name.as_str()).collect();
    let stream_name = streams[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(names, [stream_name.as_str(), "events.jsonl"]);
    assert_eq!((manifest.session.user.as_str(), manifest.session.end_reason.as_str()), ("alice", "client_closed"));
    assert_eq!(latch_recording::check_files(&directory, &manifest).await, []);
    let pem = std::fs::read_to_string(directory.join(latch_recording::MANIFEST_SIGNATURE_FILE)).unwrap();
    let signature = russh::keys::ssh_key::SshSig::from_pem(pem.as_bytes()).unwrap();
    let public = super::harness::recording_key().public_key().clone();
    public.verify(latch_recording::MANIFEST_NAMESPACE, &manifest_bytes, &signature).unwrap();
    let sessions = gateway.test_app.app.list_sessions(&gateway.admin().await, false, 10, 0).await.unwrap();
    assert_eq!(sessions.len(), 1);
    let relative = gateway.session_directory().file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(sessions[0].recording.as_deref(), Some(relative.as_str()));
    assert_eq!(sessions[0].end_reason, Some(latch_app::domain::gateway_session::SessionEndReason::ClientClosed));
    assert!(sessions[0].bytes_from_target >= 11, "{:?}", sessions[0]);
    gateway.stop().await;
}

#[tokio::test]
async fn a_session_that_cannot_be_recorded_is_refused() {
    let Some((gateway, key, _)) = alice_on_db01_with(standing_rules()).await else { return };
    // The recordings store is a file: no session directory can be created in it.
    std::fs::write(gateway.recordings.path().join("store"), b"not a directory").unwrap();
    let output = gateway.run_ssh(&key, &gateway.login("alice", "db01"), "echo should-not-run").await;
    assert_eq!(output.status.code(), Some(255));
    assert!(output.stdout.is_empty());
    assert!(stderr_text(&output).contains("the session recording could not be written"), "{}", stderr_text(&output));
    assert!(gateway.audit("session.started").await.is_empty());
    assert!(!gateway.sshd.log().contains("Accepted"), "the target never saw a login");
    gateway.stop().await;
}
