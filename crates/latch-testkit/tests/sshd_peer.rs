//! The throwaway OpenSSH server: real `ssh` logs in with a key and with a password, host keys are really checked,
//! and nothing (server, user, directory) outlives it.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use latch_testkit::sshd::start_or_skip;

fn describe(output: &Output) -> String {
    format!(
        "{} stdout: {:?} stderr: {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn user_exists(name: &str) -> anyhow::Result<bool> {
    Ok(Command::new("id").arg(name).output()?.status.success())
}

fn port_is_closed(address: SocketAddr) -> bool {
    TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err()
}

#[test]
fn key_login_runs_the_command_and_returns_its_exit_code() -> anyhow::Result<()> {
    let Some(sshd) = start_or_skip(&[])? else {
        return Ok(());
    };
    let output = sshd.ssh_with_key("echo hello; exit 3")?;
    ensure!(output.status.code() == Some(3), "{}\n{}", describe(&output), sshd.log());
    ensure!(String::from_utf8_lossy(&output.stdout) == "hello\n", "{}", describe(&output));
    ensure!(sshd.log().contains("Accepted publickey for"), "{}", sshd.log());

    let key = std::fs::read_to_string(&sshd.user().private_key_path)?;
    ensure!(key.starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"), "not an OpenSSH private key");
    ensure!(sshd.user().public_key.starts_with("ssh-ed25519 "), "{}", sshd.user().public_key);
    ensure!(sshd.host_key_fingerprint().starts_with("SHA256:"), "{}", sshd.host_key_fingerprint());
    Ok(())
}

#[test]
fn password_login_is_the_test_user() -> anyhow::Result<()> {
    let Some(sshd) = start_or_skip(&[])? else {
        return Ok(());
    };
    let output = sshd.ssh_with_password("id -un")?;
    ensure!(output.status.success(), "{}\n{}", describe(&output), sshd.log());
    ensure!(String::from_utf8_lossy(&output.stdout).trim() == sshd.user().name, "{}", describe(&output));
    let log = sshd.log();
    ensure!(log.contains("Accepted password for") || log.contains("Accepted keyboard-interactive"), "{log}");
    Ok(())
}

#[test]
fn a_wrong_host_key_in_known_hosts_fails_the_login() -> anyhow::Result<()> {
    let Some(sshd) = start_or_skip(&[])? else {
        return Ok(());
    };
    let other = tempfile::tempdir()?;
    let other_key = other.path().join("other_host_key");
    let keygen = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&other_key).output()?;
    ensure!(keygen.status.success(), "{}", describe(&keygen));
    let other_public = std::fs::read_to_string(other_key.with_extension("pub"))?;
    let correct = std::fs::read_to_string(sshd.known_hosts_path())?;
    std::fs::write(sshd.known_hosts_path(), format!("[127.0.0.1]:{} {other_public}", sshd.port()))?;

    let output = sshd.ssh_with_key("true")?;
    ensure!(!output.status.success(), "ssh accepted a host key not in known_hosts: {}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(stderr.contains("Host key verification failed"), "{}", describe(&output));

    std::fs::write(sshd.known_hosts_path(), correct)?;
    let output = sshd.ssh_with_key("true")?;
    ensure!(output.status.success(), "the right host key fails too: {}", describe(&output));
    Ok(())
}

#[test]
fn dropped_server_closes_its_port_and_deletes_its_user() -> anyhow::Result<()> {
    let Some(sshd) = start_or_skip(&[])? else {
        return Ok(());
    };
    let address = sshd.address();
    let user = sshd.user().name.clone();
    ensure!(user_exists(&user)?, "user {user} does not exist while the server runs");
    ensure!(!port_is_closed(address), "nothing listens on {address}");
    drop(sshd);

    ensure!(port_is_closed(address), "{address} still accepts connections after drop");
    ensure!(!user_exists(&user)?, "user {user} still exists after drop");
    ensure!(!Path::new("/home").join(&user).exists(), "the home directory of {user} is still there");
    Ok(())
}

#[test]
fn two_servers_at_once_have_their_own_port_and_user() -> anyhow::Result<()> {
    let (Some(first), Some(second)) = (start_or_skip(&[])?, start_or_skip(&[])?) else {
        return Ok(());
    };
    ensure!(first.port() != second.port(), "both on port {}", first.port());
    ensure!(first.user().name != second.user().name, "both with user {}", first.user().name);
    ensure!(first.host_key_fingerprint() != second.host_key_fingerprint(), "both with the same host key");
    for sshd in [&first, &second] {
        let output = sshd.ssh_with_key("id -un")?;
        ensure!(String::from_utf8_lossy(&output.stdout).trim() == sshd.user().name, "{}", describe(&output));
    }
    Ok(())
}

#[test]
fn extra_config_lines_take_effect() -> anyhow::Result<()> {
    let Some(sshd) = start_or_skip(&["Match User *", "    ForceCommand echo forced"])? else {
        return Ok(());
    };
    let output = sshd.ssh_with_key("echo not forced")?;
    ensure!(String::from_utf8_lossy(&output.stdout) == "forced\n", "{}", describe(&output));
    Ok(())
}

#[test]
fn watchdog_cleans_up_after_a_killed_process() -> anyhow::Result<()> {
    // Re-runs this test binary as a child that starts a server, prints what to look for, then SIGKILLs itself: no
    // destructor runs, and the server, its user and its directory must still go away.
    if std::env::var_os("LATCH_TESTKIT_SSHD_CHILD").is_some() {
        let Some(sshd) = start_or_skip(&[])? else {
            return Ok(());
        };
        let root = sshd.known_hosts_path().parent().context("known_hosts has no directory")?;
        let mut stdout = std::io::stdout();
        writeln!(stdout, "\nlatch-sshd {} {} {}", sshd.port(), sshd.user().name, root.display())?;
        stdout.flush()?;
        Command::new("kill").args(["-KILL", &std::process::id().to_string()]).status()?;
        std::process::exit(1);
    }
    if start_or_skip(&[])?.is_none() {
        return Ok(());
    }
    let output = Command::new(std::env::current_exe()?)
        .args(["--exact", "watchdog_cleans_up_after_a_killed_process", "--nocapture", "--test-threads=1"])
        .env("LATCH_TESTKIT_SSHD_CHILD", "1")
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("latch-sshd "))
        .with_context(|| format!("child printed no server: {stdout}{}", String::from_utf8_lossy(&output.stderr)))?;
    let fields: Vec<&str> = line.split(' ').collect();
    let [port, user, root] = fields[..] else {
        bail!("malformed child line {line:?}");
    };
    let address = SocketAddr::from(([127, 0, 0, 1], port.parse()?));

    // The watchdog reacts to EOF; stopping sshd takes at most 2 s, deleting the user well under a second.
    for _ in 0..100 {
        if port_is_closed(address) && !user_exists(user)? && !Path::new(root).exists() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("server on {address} for {user} in {root} outlived its killed test process")
}
