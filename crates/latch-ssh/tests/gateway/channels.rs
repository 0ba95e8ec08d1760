//! What flows through a session: scp and sftp, and port and agent forwarding as the policy allows.

use latch_ssh::GatewayLimits;

use super::harness::{self, Gateway, standing_rules, stderr_text};
use super::harness::{alice_on_db01_and_db02, alice_on_db01_with};

#[tokio::test]
async fn scp_and_sftp_move_100_mb_both_ways_unchanged() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let login = gateway.login("alice", "db01");
    let original = gateway.files.path().join("original.bin");
    harness::random_file(&original, 100);
    let original_sha = harness::sha256_of(&original);

    let mut scp = gateway.file_client("scp", &key, &login);
    scp.arg(&original).arg("127.0.0.1:scp-upload.bin");
    let output = scp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    assert_eq!(harness::sha256_of(&gateway.target_home().join("scp-upload.bin")), original_sha);

    let downloaded = gateway.files.path().join("scp-download.bin");
    let mut scp = gateway.file_client("scp", &key, &login);
    scp.arg("127.0.0.1:scp-upload.bin").arg(&downloaded);
    let output = scp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    assert_eq!(harness::sha256_of(&downloaded), original_sha);

    let sftp_downloaded = gateway.files.path().join("sftp-download.bin");
    let batch = gateway.files.path().join("batch");
    let commands =
        format!("put {} sftp-upload.bin\nget sftp-upload.bin {}\n", original.display(), sftp_downloaded.display());
    std::fs::write(&batch, commands).unwrap();
    let mut sftp = gateway.file_client("sftp", &key, &login);
    sftp.arg("-b").arg(&batch).arg("127.0.0.1");
    let output = sftp.output().await.unwrap();
    assert!(output.status.success(), "{}", stderr_text(&output));
    assert_eq!(harness::sha256_of(&gateway.target_home().join("sftp-upload.bin")), original_sha);
    assert_eq!(harness::sha256_of(&sftp_downloaded), original_sha);
    gateway.stop().await;
}

/// A local service, `ssh -N -L` through the gateway to it, and what reached it.
async fn local_forward(gateway: &Gateway, key: &harness::PersonKey) -> (Option<Vec<u8>>, Vec<u8>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_port = service.local_addr().unwrap().port();
    let local_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let forward = format!("{local_port}:127.0.0.1:{service_port}");
    let mut ssh = gateway.ssh(key, &gateway.login("alice", "db01"), &["-N", "-L", &forward]);
    let client = ssh.spawn().unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut stream = loop {
        match tokio::net::TcpStream::connect(("127.0.0.1", local_port)).await {
            Ok(stream) => break stream,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the forwarded port never opened: {error}"),
        }
    };
    stream.write_all(b"through the gateway").await.unwrap();
    stream.shutdown().await.unwrap();
    let served = tokio::time::timeout(std::time::Duration::from_secs(3), async {
        let (mut socket, _) = service.accept().await.unwrap();
        let mut request = Vec::new();
        socket.read_to_end(&mut request).await.unwrap();
        socket.write_all(b"pong").await.unwrap();
        socket.shutdown().await.unwrap();
        request
    })
    .await
    .ok();
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read_to_end(&mut reply)).await;
    let mut client = client;
    client.start_kill().unwrap();
    let output = client.wait_with_output().await.unwrap();
    (served, reply, stderr_text(&output))
}

#[tokio::test]
async fn local_forwarding_carries_bytes_when_the_policy_allows_it() {
    let Some(gateway) = Gateway::start(GatewayLimits::default()).await else { return };
    let (key, _) = gateway.person("alice").await;
    gateway.target("db01", None).await;
    gateway.password_account("db01").await;
    let mut rules = standing_rules();
    rules.forwarding.local = true;
    gateway.standing_policy("alice-forwarding", "alice", &["db01"], rules).await;

    let (served, reply, stderr) = local_forward(&gateway, &key).await;
    assert_eq!(served.as_deref(), Some(&b"through the gateway"[..]), "{stderr}");
    assert_eq!(reply, b"pong");
    gateway.wait_for_sessions_to_end().await;
    let events = gateway.session_events().await;
    assert!(
        events.iter().any(|event| matches!(event,
            latch_recording::SessionEvent::ForwardOpened { direction: latch_recording::ForwardDirection::Local, host, .. }
                if host == "127.0.0.1")),
        "{events:?}"
    );
    assert!(events.iter().any(|event| matches!(event, latch_recording::SessionEvent::ForwardClosed { .. })));
    gateway.stop().await;
}

#[tokio::test]
async fn local_forwarding_is_refused_when_the_policy_does_not_allow_it() {
    let Some((gateway, key)) = alice_on_db01_and_db02().await else { return };
    let (served, reply, stderr) = local_forward(&gateway, &key).await;
    assert_eq!(served, None, "the service must not be reached");
    assert!(reply.is_empty());
    assert!(stderr.contains("administratively prohibited"), "{stderr}");
    gateway.stop().await;
}

/// A local service, and `ssh -N -R` through the gateway so that the target's port reaches it.
async fn remote_forward(gateway: &Gateway, key: &harness::PersonKey) -> (Option<Vec<u8>>, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let service = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let service_port = service.local_addr().unwrap().port();
    let remote_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let forward = format!("127.0.0.1:{remote_port}:127.0.0.1:{service_port}");
    let options = ["-N", "-o", "ExitOnForwardFailure=yes", "-R", &forward];
    let mut client = gateway.ssh(key, &gateway.login("alice", "db01"), &options).spawn().unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut stream = loop {
        if let Ok(Some(_)) = client.try_wait() {
            let output = client.wait_with_output().await.unwrap();
            return (None, stderr_text(&output));
        }
        match tokio::net::TcpStream::connect(("127.0.0.1", remote_port)).await {
            Ok(stream) => break stream,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(error) => panic!("the target never listened: {error}"),
        }
    };
    stream.write_all(b"from the target side").await.unwrap();
    stream.shutdown().await.unwrap();
    let served = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        let (mut socket, _) = service.accept().await.unwrap();
        let mut request = Vec::new();
        socket.read_to_end(&mut request).await.unwrap();
        request
    })
    .await
    .ok();
    client.start_kill().unwrap();
    let output = client.wait_with_output().await.unwrap();
    (served, stderr_text(&output))
}

#[tokio::test]
async fn remote_forwarding_follows_the_policy() {
    let mut rules = standing_rules();
    rules.forwarding.remote = true;
    let Some((gateway, key, _)) = alice_on_db01_with(rules).await else { return };
    let (served, stderr) = remote_forward(&gateway, &key).await;
    assert_eq!(served.as_deref(), Some(&b"from the target side"[..]), "{stderr}");
    gateway.wait_for_sessions_to_end().await;
    let events = gateway.session_events().await;
    assert!(
        events.iter().any(|event| matches!(
            event,
            latch_recording::SessionEvent::ForwardOpened { direction: latch_recording::ForwardDirection::Remote, .. }
        )),
        "{events:?}"
    );
    gateway.stop().await;

    let Some((gateway, key, _)) = alice_on_db01_with(standing_rules()).await else { return };
    let (served, stderr) = remote_forward(&gateway, &key).await;
    assert_eq!(served, None);
    assert!(stderr.contains("remote port forwarding failed"), "{stderr}");
    gateway.stop().await;
}

/// A throwaway `ssh-agent` holding one new key; killed when dropped.
struct TestAgent {
    _process: tokio::process::Child,
    socket: std::path::PathBuf,
    fingerprint: String,
}

async fn agent_with_a_key(gateway: &Gateway) -> TestAgent {
    use tokio::process::Command;
    let directory = gateway.files.path().join("agent");
    std::fs::create_dir(&directory).unwrap();
    let socket = directory.join("agent.sock");
    let mut agent = Command::new("ssh-agent");
    agent.arg("-D").arg("-a").arg(&socket).stdout(std::process::Stdio::null()).kill_on_drop(true);
    let process = agent.spawn().unwrap();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !socket.exists() {
        assert!(tokio::time::Instant::now() < deadline, "ssh-agent did not create its socket");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let key = directory.join("forwarded_key");
    let generated = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "forwarded-agent-key", "-f"])
        .arg(&key)
        .status()
        .await
        .unwrap();
    assert!(generated.success());
    let added = Command::new("ssh-add").arg("-q").arg(&key).env("SSH_AUTH_SOCK", &socket).output().await.unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let listing = Command::new("ssh-keygen").arg("-lf").arg(key.with_extension("pub")).output().await.unwrap();
    let fingerprint = String::from_utf8_lossy(&listing.stdout).split_whitespace().nth(1).unwrap().to_owned();
    TestAgent { _process: process, socket, fingerprint }
}

/// `ssh -A` through the gateway, listing the forwarded agent's keys on the target; also the exit status of
/// `ssh-add -l` there (2: no agent reachable).
async fn list_forwarded_keys(gateway: &Gateway, key: &harness::PersonKey, agent: &TestAgent) -> (String, String) {
    let mut ssh = gateway.ssh_forwarding_agent(key, &gateway.login("alice", "db01"), &agent.socket);
    ssh.args(["--", "ssh-add -l; echo ssh-add-status=$?"]);
    let output =
        tokio::time::timeout(std::time::Duration::from_secs(60), ssh.output()).await.expect("ssh finished").unwrap();
    (String::from_utf8_lossy(&output.stdout).into_owned(), stderr_text(&output))
}

#[tokio::test]
async fn agent_forwarding_reaches_the_persons_agent_only_when_the_policy_allows_it() {
    let mut rules = standing_rules();
    rules.forwarding.agent = true;
    let Some((gateway, key, _)) = alice_on_db01_with(rules).await else { return };
    let agent = agent_with_a_key(&gateway).await;
    let (stdout, stderr) = list_forwarded_keys(&gateway, &key, &agent).await;
    assert!(stdout.contains(&agent.fingerprint), "the target lists the person's key: {stdout} {stderr}");
    assert!(stdout.contains("ssh-add-status=0"), "{stdout} {stderr}");
    gateway.wait_for_sessions_to_end().await;
    let events = gateway.session_events().await;
    let opened = events.iter().find_map(|event| match event {
        latch_recording::SessionEvent::AgentChannelOpened { channel } => Some(*channel),
        _ => None,
    });
    let opened = opened.unwrap_or_else(|| panic!("no agent channel recorded: {events:?}"));
    assert!(
        events.contains(&latch_recording::SessionEvent::ForwardClosed { channel: opened }),
        "the agent channel's end is recorded: {events:?}"
    );
    gateway.stop().await;

    let Some((gateway, key, _)) = alice_on_db01_with(standing_rules()).await else { return };
    let agent = agent_with_a_key(&gateway).await;
    let (stdout, stderr) = list_forwarded_keys(&gateway, &key, &agent).await;
    assert!(!stdout.contains(&agent.fingerprint), "{stdout}");
    assert!(stdout.contains("ssh-add-status=2"), "the command still runs, without an agent: {stdout} {stderr}");
    gateway.wait_for_sessions_to_end().await;
    let events = gateway.session_events().await;
    assert!(
        !events.iter().any(|event| matches!(event, latch_recording::SessionEvent::AgentChannelOpened { .. })),
        "{events:?}"
    );
    gateway.stop().await;
}
