//! File transfers and file operations in the event log: what the real `sftp` and `scp` clients did through the
//! gateway, seen by the relay's SFTP and SCP observers.

use latch_recording::{FileOperationKind, FileProtocol, SessionEvent, TransferDirection};

use super::harness::{self, Gateway, alice_on_db01_and_db02, stderr_text};

fn transfers(events: &[SessionEvent]) -> Vec<(TransferDirection, String, u64)> {
    transfers_over(FileProtocol::Sftp, events)
}

fn operations(events: &[SessionEvent]) -> Vec<(FileOperationKind, String, Option<String>)> {
    operations_over(FileProtocol::Sftp, events)
}

fn transfers_over(wanted: FileProtocol, events: &[SessionEvent]) -> Vec<(TransferDirection, String, u64)> {
    events
        .iter()
        .filter_map(|event| match event {
            SessionEvent::FileTransfer { protocol, direction, path, bytes, .. } if *protocol == wanted => {
                Some((*direction, path.clone(), *bytes))
            }
            _ => None,
        })
        .collect()
}

fn operations_over(wanted: FileProtocol, events: &[SessionEvent]) -> Vec<(FileOperationKind, String, Option<String>)> {
    events
        .iter()
        .filter_map(|event| match event {
            SessionEvent::FileOperation { protocol, operation, path, target, .. } if *protocol == wanted => {
                Some((*operation, path.clone(), target.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The sftp subsystem was started on the channel every file event names.
fn assert_one_sftp_channel(events: &[SessionEvent]) {
    let started: Vec<u32> = events
        .iter()
        .filter_map(|event| match event {
            SessionEvent::SubsystemStarted { channel, name } if name == "sftp" => Some(*channel),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{events:?}");
    for event in events {
        if let SessionEvent::FileTransfer { channel, .. } | SessionEvent::FileOperation { channel, .. } = event {
            assert_eq!(*channel, started[0], "{events:?}");
        }
    }
    assert!(!events.iter().any(|event| matches!(event, SessionEvent::Exec { .. })), "{events:?}");
}

fn home_path(gateway: &Gateway, name: &str) -> String {
    gateway.target_home().join(name).display().to_string()
}

#[tokio::test]
async fn an_sftp_session_logs_its_transfers_and_file_operations() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let original = gateway.files.path().join("one-megabyte.bin");
    harness::random_file(&original, 1);
    let downloaded = gateway.files.path().join("downloaded.bin");
    let batch = gateway.files.path().join("batch");
    let commands = format!(
        "put {} upload.bin\nget upload.bin {}\nrename upload.bin renamed.bin\nchmod 600 renamed.bin\n\
         -rm no-such-file\nrm renamed.bin\nmkdir new-dir\nrmdir new-dir\n",
        original.display(),
        downloaded.display()
    );
    std::fs::write(&batch, commands).unwrap();
    let mut sftp = gateway.file_client("sftp", &key, &gateway.login("alice", "db01"));
    sftp.arg("-b").arg(&batch).arg("127.0.0.1");
    let output = sftp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    assert_eq!(harness::sha256_of(&downloaded), harness::sha256_of(&original));
    assert!(!gateway.target_home().join("renamed.bin").exists());
    gateway.wait_for_sessions_to_end().await;

    let events = gateway.session_events().await;
    assert_one_sftp_channel(&events);
    let upload = home_path(&gateway, "upload.bin");
    assert_eq!(
        transfers(&events),
        [(TransferDirection::Upload, upload.clone(), 1 << 20), (TransferDirection::Download, upload.clone(), 1 << 20)],
        "{events:?}"
    );
    let renamed = home_path(&gateway, "renamed.bin");
    assert_eq!(
        operations(&events),
        [
            (FileOperationKind::Rename, upload, Some(renamed.clone())),
            (FileOperationKind::Setstat, renamed.clone(), None),
            (FileOperationKind::Remove, renamed, None),
            (FileOperationKind::Mkdir, home_path(&gateway, "new-dir"), None),
            (FileOperationKind::Rmdir, home_path(&gateway, "new-dir"), None),
        ],
        "the refused rm of a missing file is not logged: {events:?}"
    );
    assert!(matches!(events.last(), Some(SessionEvent::SessionEnded { .. })), "{events:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn an_scp_upload_is_logged_as_an_sftp_transfer() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let original = gateway.files.path().join("scp.bin");
    harness::random_file(&original, 1);
    let mut scp = gateway.file_client("scp", &key, &gateway.login("alice", "db01"));
    scp.arg(&original).arg("127.0.0.1:scp-upload.bin");
    let output = scp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    assert_eq!(harness::sha256_of(&gateway.target_home().join("scp-upload.bin")), harness::sha256_of(&original));
    gateway.wait_for_sessions_to_end().await;

    // OpenSSH's scp speaks SFTP since 9.0; it names files as given (relative to the login directory) and sets
    // the mode of the file it wrote.
    let events = gateway.session_events().await;
    assert_one_sftp_channel(&events);
    assert_eq!(transfers(&events), [(TransferDirection::Upload, "scp-upload.bin".to_owned(), 1 << 20)], "{events:?}");
    assert_eq!(operations(&events), [(FileOperationKind::Setstat, "scp-upload.bin".to_owned(), None)], "{events:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn a_legacy_scp_upload_of_a_tree_is_logged_file_by_file() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let tree = gateway.files.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    harness::random_file(&tree.join("a.bin"), 1);
    std::fs::write(tree.join("sub").join("b.txt"), b"twelve bytes").unwrap();
    let mut scp = gateway.file_client("scp", &key, &gateway.login("alice", "db01"));
    scp.args(["-O", "-r"]).arg(&tree).arg("127.0.0.1:tree");
    let output = scp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    let uploaded = gateway.target_home().join("tree");
    assert_eq!(harness::sha256_of(&uploaded.join("a.bin")), harness::sha256_of(&tree.join("a.bin")));
    gateway.wait_for_sessions_to_end().await;

    let events = gateway.session_events().await;
    assert!(
        events.iter().any(|event| matches!(event,
            SessionEvent::Exec { command } if command.starts_with("scp ") && command.contains(" -t ")
                && command.ends_with("tree"))),
        "{events:?}"
    );
    let mut transfers = transfers_over(FileProtocol::Scp, &events);
    transfers.sort_by(|a, b| a.1.cmp(&b.1));
    let expected = [
        (TransferDirection::Upload, "tree/a.bin".to_owned(), 1 << 20),
        (TransferDirection::Upload, "tree/sub/b.txt".to_owned(), 12),
    ];
    assert_eq!(transfers, expected, "{events:?}");
    let mut directories = operations_over(FileProtocol::Scp, &events);
    directories.sort_by(|a, b| a.1.cmp(&b.1));
    let expected =
        [(FileOperationKind::Mkdir, "tree".to_owned(), None), (FileOperationKind::Mkdir, "tree/sub".to_owned(), None)];
    assert_eq!(directories, expected, "{events:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn a_legacy_scp_download_is_logged_with_its_size() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let on_target = gateway.target_home().join("report.bin");
    harness::random_file(&on_target, 2);
    let downloaded = gateway.files.path().join("report-copy.bin");
    let mut scp = gateway.file_client("scp", &key, &gateway.login("alice", "db01"));
    scp.arg("-O").arg("127.0.0.1:report.bin").arg(&downloaded);
    let output = scp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    assert_eq!(harness::sha256_of(&downloaded), harness::sha256_of(&on_target));
    gateway.wait_for_sessions_to_end().await;

    let events = gateway.session_events().await;
    let expected = [(TransferDirection::Download, "report.bin".to_owned(), 2 << 20)];
    assert_eq!(transfers_over(FileProtocol::Scp, &events), expected, "{events:?}");
    assert!(transfers(&events).is_empty(), "not SFTP: {events:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn an_sftp_server_run_as_a_command_is_observed_too() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let original = gateway.files.path().join("small.txt");
    std::fs::write(&original, b"twelve bytes").unwrap();
    let batch = gateway.files.path().join("batch");
    std::fs::write(&batch, format!("put {} small.txt\n", original.display())).unwrap();
    let mut sftp = gateway.file_client("sftp", &key, &gateway.login("alice", "db01"));
    sftp.args(["-s", "/usr/lib/openssh/sftp-server", "-b"]).arg(&batch).arg("127.0.0.1");
    let output = sftp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    gateway.wait_for_sessions_to_end().await;

    let events = gateway.session_events().await;
    assert!(
        events.iter().any(|event| matches!(event, SessionEvent::Exec { command } if command.ends_with("sftp-server"))),
        "{events:?}"
    );
    assert_eq!(transfers(&events), [(TransferDirection::Upload, home_path(&gateway, "small.txt"), 12)], "{events:?}");
    gateway.stop().await;
}
