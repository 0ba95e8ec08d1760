//! The limits that protect the gateway: unauthenticated connections, the authentication deadline, sessions per
//! user.

use latch_ssh::GatewayLimits;

use super::harness::{self, Gateway, standing_rules, stderr_text};

#[tokio::test]
async fn a_user_beyond_the_session_limit_is_told_so() {
    let limits = GatewayLimits { max_sessions_per_user: 1, ..GatewayLimits::default() };
    let Some(gateway) = Gateway::start(limits).await else { return };
    let (key, _) = gateway.person("alice").await;
    gateway.target("db01", None).await;
    gateway.password_account("db01").await;
    gateway.standing_policy("alice-standing", "alice", &["db01"], standing_rules()).await;

    let mut first = gateway.ssh(&key, &gateway.login("alice", "db01"), &[]);
    first.args(["--", "sleep 30"]);
    let first = first.spawn().unwrap();
    gateway.wait_for_live_sessions(1).await;
    let second = gateway.run_ssh(&key, &gateway.login("alice", "db01"), "echo second").await;
    assert_eq!(second.status.code(), Some(255));
    assert!(stderr_text(&second).contains("too many open sessions"), "{}", stderr_text(&second));
    drop(first);
    gateway.stop().await;
}

#[tokio::test]
async fn a_burst_of_one_users_connections_never_passes_the_session_limit() {
    let limits = GatewayLimits { max_sessions_per_user: 2, ..GatewayLimits::default() };
    let Some(gateway) = Gateway::start(limits).await else { return };
    let (key, _) = gateway.person("alice").await;
    gateway.target("db01", None).await;
    gateway.password_account("db01").await;
    gateway.standing_policy("alice-standing", "alice", &["db01"], standing_rules()).await;

    // Six connections at once, each holding its session for a while: exactly two get in.
    let login = gateway.login("alice", "db01");
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let mut ssh = gateway.ssh(&key, &login, &[]);
        ssh.args(["--", "echo admitted; sleep 3"]);
        runs.spawn(async move { ssh.output().await.unwrap() });
    }
    let outputs = runs.join_all().await;
    let admitted = outputs.iter().filter(|output| String::from_utf8_lossy(&output.stdout).contains("admitted"));
    assert_eq!(admitted.count(), 2, "{:?}", outputs.iter().map(stderr_text).collect::<Vec<_>>());
    let refused = outputs.iter().filter(|output| stderr_text(output).contains("too many open sessions")).count();
    assert_eq!(refused, 4);
    gateway.wait_for_sessions_to_end().await;
    let again = gateway.run_ssh(&key, &login, "echo later").await;
    assert_eq!(String::from_utf8_lossy(&again.stdout), "later\n", "the slots were given back");
    gateway.stop().await;
}

/// Reads what the gateway sends first: its version line, or nothing when it closes the connection.
async fn first_line(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut received = Vec::new();
    let mut byte = [0u8; 1];
    while !received.ends_with(b"\n") {
        match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut byte)).await {
            Ok(Ok(1)) => received.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn connections_beyond_the_unauthenticated_limit_are_closed_at_once() {
    let limits = GatewayLimits { max_unauthenticated_connections: 2, ..GatewayLimits::default() };
    let Some(gateway) = Gateway::start(limits).await else { return };
    let mut first = tokio::net::TcpStream::connect(gateway.address).await.unwrap();
    assert!(first_line(&mut first).await.starts_with("SSH-2.0-"));
    let mut second = tokio::net::TcpStream::connect(gateway.address).await.unwrap();
    assert!(first_line(&mut second).await.starts_with("SSH-2.0-"));

    let started = std::time::Instant::now();
    let mut third = tokio::net::TcpStream::connect(gateway.address).await.unwrap();
    assert_eq!(first_line(&mut third).await, "", "closed without a version line");
    assert!(started.elapsed() < std::time::Duration::from_secs(1));

    // A slot frees up when an unauthenticated connection goes away.
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut next = tokio::net::TcpStream::connect(gateway.address).await.unwrap();
        if first_line(&mut next).await.starts_with("SSH-2.0-") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the slot was never released");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    gateway.stop().await;
}

#[tokio::test]
async fn a_client_that_never_authenticates_is_dropped_after_the_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = GatewayLimits { auth_timeout: std::time::Duration::from_secs(1), ..GatewayLimits::default() };
    let Some(gateway) = Gateway::start(limits).await else { return };

    // One client sends its version and then nothing; another does not even send its version.
    let started = std::time::Instant::now();
    let mut talking = tokio::net::TcpStream::connect(gateway.address).await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(gateway.address).await.unwrap();
    assert!(first_line(&mut talking).await.starts_with("SSH-2.0-"));
    talking.write_all(b"SSH-2.0-OpenSSH_9.2 silent\r\n").await.unwrap();
    for stream in [&mut talking, &mut silent] {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "the gateway kept the connection open");
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= std::time::Duration::from_millis(900) && elapsed < std::time::Duration::from_secs(3),
        "{elapsed:?}"
    );

    // A real client whose person takes too long to answer the password prompt is dropped too.
    let (key, _) = gateway.person("alice").await;
    let slow = [("assword", format!("sleep 3; {}", harness::say(latch_testkit::app::USER_PASSWORD)))];
    let mut ssh =
        gateway.interactive_ssh(&key, "alice@db01", &slow, &["-o", "PreferredAuthentications=keyboard-interactive"]);
    let output = ssh.args(["--", "echo no"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(255));
    assert!(stderr_text(&output).contains("authentication timed out"), "{}", stderr_text(&output));
    gateway.stop().await;
}

#[tokio::test]
async fn a_connection_gets_a_limited_number_of_authentication_attempts() {
    let limits = GatewayLimits {
        max_auth_attempts: 2,
        auth_rejection_delay: std::time::Duration::from_millis(50),
        ..GatewayLimits::default()
    };
    let Some(gateway) = Gateway::start(limits).await else { return };
    let (key, _) = gateway.person("alice").await;
    let asked = gateway.files.path().join("asked");
    let wrong = [("assword", format!("echo x >> {}; {}", asked.display(), harness::say("wrong password")))];
    let options = [
        "-o",
        "PreferredAuthentications=password",
        "-o",
        "NumberOfPasswordPrompts=10",
        "-o",
        "PubkeyAuthentication=no",
    ];
    let output =
        gateway.interactive_ssh(&key, "alice@db01", &wrong, &options).args(["--", "true"]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(255));
    let attempts = std::fs::read_to_string(&asked).unwrap().lines().count();
    assert!((2..=3).contains(&attempts), "{attempts} password attempts: {}", stderr_text(&output));
    gateway.stop().await;
}
