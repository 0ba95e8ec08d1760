//! The upstream SSH client against a real OpenSSH server (`latch_testkit::sshd`, a throwaway sshd and OS user on
//! 127.0.0.1). Each test starts its own server; without root or sshd they are skipped (unless LATCH_REQUIRE_SSHD=1).

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "test helpers fail the test by panicking")]

use std::time::{Duration, Instant};

use latch_domain::target::HostKeyPin;
use latch_ssh::UpstreamError;
use latch_ssh::upstream::{
    UpstreamConnection, UpstreamCredential, UpstreamLimits, UpstreamSecret, UpstreamTarget, connect, fetch_host_key,
};
use latch_testkit::sshd::{TestSshd, start_or_skip};
use latch_vault::SecretString;
use russh::ChannelMsg;
use russh::client::Msg;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A fingerprint of some other ed25519 key.
const OTHER_FINGERPRINT: &str = "SHA256:h+IWFkRQ416rlcs6Z1H78lCd6+C7YnHhBfidD65yNpE";

fn start_sshd() -> Option<TestSshd> {
    start_or_skip(&[]).expect("starting the test sshd")
}

fn target(sshd: &TestSshd, pin: Option<&str>) -> UpstreamTarget {
    UpstreamTarget {
        address: sshd.address().ip().to_string(),
        port: sshd.port(),
        host_key_pin: pin.map(|pin| HostKeyPin::parse(pin).expect("a valid pin")),
    }
}

fn pinned(sshd: &TestSshd) -> UpstreamTarget {
    target(sshd, Some(sshd.host_key_fingerprint()))
}

fn password(sshd: &TestSshd) -> UpstreamCredential {
    password_credential(sshd, &sshd.user().password)
}

fn password_credential(sshd: &TestSshd, password: &str) -> UpstreamCredential {
    UpstreamCredential {
        username: sshd.user().name.clone(),
        secret: UpstreamSecret::Password(SecretString::from(password.to_owned())),
    }
}

fn private_key(sshd: &TestSshd) -> UpstreamCredential {
    let text = std::fs::read_to_string(&sshd.user().private_key_path).expect("reading the user's private key");
    UpstreamCredential { username: sshd.user().name.clone(), secret: UpstreamSecret::PrivateKey(text.into()) }
}

/// Runs `command` on a session channel; returns its stdout and exit status.
async fn exec(connection: &UpstreamConnection, command: &str) -> (String, Option<u32>) {
    let mut channel = connection.open_session().await.unwrap();
    channel.exec(true, command).await.unwrap();
    let mut stdout = Vec::new();
    let mut exit_status = None;
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => stdout.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status: status } => exit_status = Some(status),
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    (String::from_utf8(stdout).unwrap(), exit_status)
}

/// Reads a channel's data until the other side sends EOF or closes.
async fn read_to_end(channel: &mut russh::Channel<Msg>) -> Vec<u8> {
    let mut received = Vec::new();
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => received.extend_from_slice(&data),
            ChannelMsg::Eof | ChannelMsg::Close => break,
            _ => {}
        }
    }
    received
}

#[tokio::test]
async fn password_login_runs_a_command() {
    let Some(sshd) = start_sshd() else { return };
    let connection = connect(&pinned(&sshd), &password(&sshd), &UpstreamLimits::default()).await.unwrap();
    let (stdout, exit_status) = exec(&connection, "echo hello; exit 3").await;
    assert_eq!(stdout, "hello\n");
    assert_eq!(exit_status, Some(3));
    connection.disconnect().await.unwrap();
}

#[tokio::test]
async fn keyboard_interactive_is_used_when_password_authentication_is_off() {
    let Some(sshd) = start_or_skip(&["Match User *", "    PasswordAuthentication no"]).unwrap() else { return };
    let connection = connect(&pinned(&sshd), &password(&sshd), &UpstreamLimits::default()).await.unwrap();
    let (stdout, exit_status) = exec(&connection, "whoami").await;
    assert_eq!(stdout.trim(), sshd.user().name);
    assert_eq!(exit_status, Some(0));
    let log = sshd.log();
    assert!(log.contains("Accepted keyboard-interactive/pam"), "{log}");
}

#[tokio::test]
async fn private_key_login_runs_a_command() {
    let Some(sshd) = start_sshd() else { return };
    let connection = connect(&pinned(&sshd), &private_key(&sshd), &UpstreamLimits::default()).await.unwrap();
    let (stdout, exit_status) = exec(&connection, "whoami").await;
    assert_eq!(stdout.trim(), sshd.user().name);
    assert_eq!(exit_status, Some(0));
    let log = sshd.log();
    assert!(log.contains("Accepted publickey"), "{log}");
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let Some(sshd) = start_sshd() else { return };
    let wrong = password_credential(&sshd, "wrong-password-123");
    let error = connect(&pinned(&sshd), &wrong, &UpstreamLimits::default()).await.unwrap_err();
    assert!(matches!(error, UpstreamError::AuthenticationFailed), "{error:?}");
    assert!(!error.to_string().contains("wrong-password-123"));
}

#[tokio::test]
async fn unparseable_private_key_is_refused_without_echoing_it() {
    let Some(sshd) = start_sshd() else { return };
    let garbage = UpstreamCredential {
        username: sshd.user().name.clone(),
        secret: UpstreamSecret::PrivateKey("not-a-key-but-secret-material".to_owned().into()),
    };
    let error = connect(&pinned(&sshd), &garbage, &UpstreamLimits::default()).await.unwrap_err();
    assert!(matches!(error, UpstreamError::InvalidPrivateKey { .. }), "{error:?}");
    assert!(!format!("{error} {error:?}").contains("secret-material"));
}

#[tokio::test]
async fn wrong_pin_is_a_mismatch_and_no_pin_is_refused() {
    let Some(sshd) = start_sshd() else { return };
    let limits = UpstreamLimits::default();

    let error = connect(&target(&sshd, Some(OTHER_FINGERPRINT)), &password(&sshd), &limits).await.unwrap_err();
    match &error {
        UpstreamError::HostKeyMismatch { expected, presented } => {
            assert_eq!(expected, OTHER_FINGERPRINT);
            assert_eq!(presented, sshd.host_key_fingerprint());
        }
        other => panic!("expected a host key mismatch, got {other:?}"),
    }
    assert!(error.is_host_key_problem());

    let error = connect(&target(&sshd, None), &password(&sshd), &limits).await.unwrap_err();
    match &error {
        UpstreamError::HostKeyNotPinned { presented } => assert_eq!(presented, sshd.host_key_fingerprint()),
        other => panic!("expected an unpinned host key, got {other:?}"),
    }
    assert!(error.is_host_key_problem());

    // Refused before authentication: the server never saw a login attempt.
    let log = sshd.log();
    assert!(!log.contains("Accepted") && !log.contains("Failed password"), "{log}");
}

#[tokio::test]
async fn fetch_host_key_returns_the_servers_key() {
    let Some(sshd) = start_sshd() else { return };
    let host_key = fetch_host_key("127.0.0.1", sshd.port(), Duration::from_secs(10)).await.unwrap();
    assert_eq!(host_key.fingerprint, sshd.host_key_fingerprint());
    assert_eq!(host_key.algorithm, "ssh-ed25519");
    assert!(host_key.openssh.starts_with("ssh-ed25519 "), "{}", host_key.openssh);
    assert_eq!(host_key.openssh, sshd.host_public_key());
}

#[tokio::test]
async fn direct_tcpip_reaches_a_service_behind_the_target() {
    let Some(sshd) = start_sshd() else { return };
    let service = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_port = service.local_addr().unwrap().port();
    let service_task = tokio::spawn(async move {
        let (mut socket, _) = service.accept().await.unwrap();
        let mut request = [0u8; 4];
        socket.read_exact(&mut request).await.unwrap();
        socket.write_all(b"pong").await.unwrap();
        socket.shutdown().await.unwrap();
        request
    });

    let connection = connect(&pinned(&sshd), &password(&sshd), &UpstreamLimits::default()).await.unwrap();
    let mut channel =
        connection.open_direct_tcpip("127.0.0.1", u32::from(service_port), "127.0.0.1", 40000).await.unwrap();
    channel.data_bytes(&b"ping"[..]).await.unwrap();
    assert_eq!(read_to_end(&mut channel).await, b"pong");
    assert_eq!(&service_task.await.unwrap(), b"ping");
}

#[tokio::test]
async fn remote_forwarding_delivers_forwarded_channels() {
    let Some(sshd) = start_sshd() else { return };
    let mut connection = connect(&pinned(&sshd), &password(&sshd), &UpstreamLimits::default()).await.unwrap();
    let mut forwarded = connection.take_forwarded_tcpip().unwrap();
    assert!(connection.take_forwarded_tcpip().is_none());
    let port = connection.request_tcpip_forward("127.0.0.1", 0).await.unwrap();
    assert_ne!(port, 0);

    let mut client = TcpStream::connect(("127.0.0.1", u16::try_from(port).unwrap())).await.unwrap();
    client.write_all(b"hello").await.unwrap();
    client.shutdown().await.unwrap();

    let mut incoming = tokio::time::timeout(Duration::from_secs(10), forwarded.recv()).await.unwrap().unwrap();
    assert_eq!(incoming.connected_address, "127.0.0.1");
    assert_eq!(incoming.connected_port, port);
    assert_eq!(incoming.originator_address, "127.0.0.1");
    assert_eq!(read_to_end(&mut incoming.channel).await, b"hello");
    incoming.channel.data_bytes(&b"world"[..]).await.unwrap();
    incoming.channel.eof().await.unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"world");

    connection.cancel_tcpip_forward("127.0.0.1", port).await.unwrap();
}

#[tokio::test]
async fn closed_port_fails_quickly() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let target = UpstreamTarget { address: "127.0.0.1".to_owned(), port, host_key_pin: None };
    let credential = UpstreamCredential {
        username: "nobody".to_owned(),
        secret: UpstreamSecret::Password("unused".to_owned().into()),
    };
    let started = Instant::now();
    let error = connect(&target, &credential, &UpstreamLimits::default()).await.unwrap_err();
    assert!(matches!(&error, UpstreamError::Connect { address, .. } if *address == format!("127.0.0.1:{port}")));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // The kernel completes the TCP handshake for the backlog; nobody ever reads or writes.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let target = UpstreamTarget { address: "127.0.0.1".to_owned(), port, host_key_pin: None };
    let credential = UpstreamCredential {
        username: "nobody".to_owned(),
        secret: UpstreamSecret::Password("unused".to_owned().into()),
    };
    let limits = UpstreamLimits { auth_timeout: Duration::from_secs(1), ..UpstreamLimits::default() };
    let started = Instant::now();
    let error = connect(&target, &credential, &limits).await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(error, UpstreamError::Timeout { stage: latch_ssh::UpstreamStage::Handshake, limit, .. }
            if limit == Duration::from_secs(1)),
        "{error:?}"
    );
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3), "{elapsed:?}");

    let error = fetch_host_key("127.0.0.1", port, Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Timeout { .. }), "{error:?}");
    drop(silent);
}
