//! A throwaway OpenSSH server for tests.
//!
//! `TestSshd::start()` runs the system's `/usr/sbin/sshd` in the foreground (`-D`) on 127.0.0.1 and a free port,
//! with its own configuration, ed25519 host key, pid file and log in one temporary directory, and creates a
//! throwaway OS user `latchtest<random>` who may log in with a password or an ed25519 key. This needs root: sshd
//! can only authenticate other users as root, and `useradd`/`userdel` need it too.
//!
//! A watchdog process, started before the user or the server exists, stops the server, removes the user and deletes
//! the directory as soon as the test process is gone, however it ended. `Drop` stops the server and then lets the
//! same watchdog finish, so there is one cleanup path.

use crate::process::{Watchdog, describe_output};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use anyhow::{Context, bail};

/// sshd refuses to re-execute itself unless started with an absolute path.
const SSHD: &str = "/usr/sbin/sshd";
/// When set to "1", a machine that cannot run sshd fails `start_or_skip` instead of skipping (CI sets it).
const REQUIRE_ENV: &str = "LATCH_REQUIRE_SSHD";
/// Where the other programs are looked up; a test runner's PATH may lack the sbin directories.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const TOOLS: [&str; 8] = ["ssh", "ssh-keygen", "useradd", "chpasswd", "userdel", "pkill", "setsid", "getent"];
const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_GRACE: Duration = Duration::from_secs(2);
const PORT_ATTEMPTS: usize = 5;
/// useradd, chpasswd and userdel fail while another process holds the lock on /etc/passwd or /etc/shadow.
const ACCOUNT_ATTEMPTS: usize = 10;
const PASSWORD_LENGTH: usize = 20;

const CONFIG_FILE: &str = "sshd_config";
const LOG_FILE: &str = "sshd.log";
const PID_FILE: &str = "sshd.pid";
const HOST_KEY_FILE: &str = "host_ed25519_key";
const USER_KEY_FILE: &str = "user_ed25519_key";
const KNOWN_HOSTS_FILE: &str = "known_hosts";
const ASKPASS_FILE: &str = "askpass.sh";

/// The throwaway OS user of one `TestSshd`.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// `latchtest` and 8 random hex digits.
    pub name: String,
    /// 20 random letters and digits.
    pub password: String,
    /// An ed25519 private key in OpenSSH format, mode 0600, without a passphrase.
    pub private_key_path: PathBuf,
    /// Its `ssh-ed25519 AAAA… comment` line, as found in the user's `~/.ssh/authorized_keys`.
    pub public_key: String,
}

/// A running sshd and its user; the server is stopped, the user deleted and the directory removed on drop.
#[derive(Debug)]
pub struct TestSshd {
    sshd: Child,
    port: u16,
    user: TestUser,
    host_key_fingerprint: String,
    host_public_key: String,
    known_hosts: PathBuf,
    watchdog: Watchdog,
    root: tempfile::TempDir,
}

impl TestSshd {
    /// Starts a fresh sshd on 127.0.0.1 and a free port with password, keyboard-interactive and public-key logins
    /// for a new throwaway user only, and returns once it accepts connections (bounded by 15 s).
    pub fn start() -> anyhow::Result<TestSshd> {
        TestSshd::start_with(&[])
    }

    /// Like `start`, with `extra_config` lines appended to sshd_config (e.g. `TrustedUserCAKeys /path`). sshd keeps
    /// the first value it reads for a keyword, so these lines can add keywords or `Match` blocks, not override ours.
    pub fn start_with(extra_config: &[&str]) -> anyhow::Result<TestSshd> {
        check_prerequisites()?;
        let root = tempfile::Builder::new().prefix("latch-sshd-").tempdir_in("/tmp").context("creating a temp dir")?;
        let user_name = format!("latchtest{}", hex(&random_bytes(4)?));
        // From here on, whatever happens to this process, the watchdog removes the user, the server and the files.
        let watchdog = spawn_watchdog(root.path(), &user_name)?;
        let user = create_user(root.path(), user_name)?;
        let (host_public_key, host_key_fingerprint) = generate_host_key(root.path())?;
        write_askpass(root.path(), &user.password)?;
        fs::create_dir_all("/run/sshd").context("creating /run/sshd, sshd's privilege separation directory")?;

        let (sshd, port) = start_on_free_port(root.path(), &user.name, extra_config)?;
        let known_hosts = root.path().join(KNOWN_HOSTS_FILE);
        let server = TestSshd { sshd, port, user, host_key_fingerprint, host_public_key, known_hosts, watchdog, root };
        let known_hosts_line = format!("[127.0.0.1]:{port} {}\n", server.host_public_key);
        fs::write(&server.known_hosts, known_hosts_line).context("writing known_hosts")?;
        Ok(server)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The only user this server lets in.
    pub fn user(&self) -> &TestUser {
        &self.user
    }

    /// The host key's `SHA256:…` fingerprint as `ssh-keygen -lf` prints it, for pinning.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.host_key_fingerprint
    }

    /// The host public key as `ssh-ed25519 AAAA…` (no comment), for a known_hosts line.
    pub fn host_public_key(&self) -> &str {
        &self.host_public_key
    }

    /// A known_hosts file with the one line `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts_path(&self) -> &Path {
        &self.known_hosts
    }

    /// The server's log so far (LogLevel VERBOSE, and anything sshd wrote to stderr).
    pub fn log(&self) -> String {
        read_log(self.root.path())
    }

    /// Runs the real `ssh` client as the test user with the key (`BatchMode=yes`, `StrictHostKeyChecking=yes`
    /// against `known_hosts_path()`, no config files, no agent) and returns its output once it exits.
    pub fn ssh_with_key(&self, command: &str) -> anyhow::Result<Output> {
        let mut ssh = system_command("ssh");
        ssh.args(self.common_ssh_options())
            .arg("-i")
            .arg(&self.user.private_key_path)
            .args(["-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no"])
            .args(["127.0.0.1", "--", command]);
        ssh.output().context("running ssh")
    }

    /// Runs the real `ssh` client as the test user with the password, typed by an `SSH_ASKPASS` script, under
    /// `setsid -w` so that ssh finds no terminal; public-key authentication is off.
    pub fn ssh_with_password(&self, command: &str) -> anyhow::Result<Output> {
        let mut ssh = system_command("setsid");
        ssh.args(["-w", "ssh"])
            .args(self.common_ssh_options())
            .args(["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"])
            .args(["-o", "NumberOfPasswordPrompts=1"])
            .args(["127.0.0.1", "--", command])
            .env("SSH_ASKPASS", self.root.path().join(ASKPASS_FILE))
            .env("SSH_ASKPASS_REQUIRE", "force");
        ssh.output().context("running setsid -w ssh")
    }

    fn common_ssh_options(&self) -> Vec<OsString> {
        let mut known_hosts = OsString::from("UserKnownHostsFile=");
        known_hosts.push(&self.known_hosts);
        let options = [
            "StrictHostKeyChecking=yes",
            "GlobalKnownHostsFile=/dev/null",
            "UpdateHostKeys=no",
            "IdentityAgent=none",
            "ConnectTimeout=10",
        ];
        let mut arguments: Vec<OsString> = vec!["-F".into(), "none".into(), "-p".into(), self.port.to_string().into()];
        arguments.extend(["-l".into(), self.user.name.clone().into(), "-o".into(), known_hosts]);
        for option in options {
            arguments.extend(["-o".into(), option.into()]);
        }
        arguments
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        stop(&mut self.sshd);
        // The watchdog must not signal a PID that may since have been reused.
        let _ = fs::remove_file(self.root.path().join(PID_FILE));
        // Kills the user's processes, deletes the user and the directory; `root` (TempDir) then finds nothing left.
        self.watchdog.finish();
    }
}

/// Whether this process can run `TestSshd`: root, `/usr/sbin/sshd` and the OpenSSH client and account tools.
pub fn available() -> bool {
    check_prerequisites().is_ok()
}

/// `TestSshd::start_with(extra_config)`, or `Ok(None)` (saying why on stderr) when this machine cannot run it,
/// unless the environment variable `LATCH_REQUIRE_SSHD` is `1`: then that is an error.
pub fn start_or_skip(extra_config: &[&str]) -> anyhow::Result<Option<TestSshd>> {
    let required = env::var(REQUIRE_ENV).is_ok_and(|value| value == "1");
    if !required && let Err(missing) = check_prerequisites() {
        eprintln!("latch-testkit: skipping sshd test: {missing:#} (set {REQUIRE_ENV}=1 to fail instead)");
        return Ok(None);
    }
    TestSshd::start_with(extra_config).map(Some)
}

fn check_prerequisites() -> anyhow::Result<()> {
    // /proc/self is owned by the process's effective uid.
    let euid = fs::metadata("/proc/self").context("reading /proc/self")?.uid();
    if euid != 0 {
        bail!("TestSshd must run as root (sshd authenticates other users, useradd creates them), not uid {euid}");
    }
    if !is_executable(Path::new(SSHD)) {
        bail!("{SSHD} is missing (scripts/install-test-deps.sh installs openssh-server)");
    }
    let missing: Vec<&str> = TOOLS.into_iter().filter(|tool| find_tool(tool).is_none()).collect();
    if !missing.is_empty() {
        bail!("missing programs for TestSshd: {} (looked in {SYSTEM_PATH})", missing.join(", "));
    }
    Ok(())
}

/// A `sh` running as root in its own process group (Ctrl-C on the test run must not kill it first) that waits for
/// EOF on its stdin, then stops sshd by its pid file, kills the user's processes, deletes the user (retrying while
/// userdel finds processes or a locked /etc/passwd) and removes the directory. This process holds the only write end
/// of the pipe, so the EOF comes from `finish` or from this process ending in any way.
fn spawn_watchdog(root: &Path, user_name: &str) -> anyhow::Result<Watchdog> {
    const SCRIPT: &str = r#"cat >/dev/null
if [ -s "$1" ]; then
    pid=$(cat "$1"); kill -TERM "$pid"; i=0
    while kill -0 "$pid" && [ $i -lt 20 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid"
fi
i=0
while id -u "$2" && [ $i -lt 20 ]; do
    pkill -KILL -u "$2"; userdel -r "$2" || sleep 0.2; i=$((i + 1))
done
rm -rf "$3""#;
    let pid_file = root.join(PID_FILE);
    let args = [pid_file.as_os_str(), std::ffi::OsStr::new(user_name), root.as_os_str()];
    Watchdog::spawn(system_command("sh"), "latch-sshd-watchdog", SCRIPT, &args)
}

/// `useradd -m`, a random password via `chpasswd`, and a fresh ed25519 key in `~/.ssh/authorized_keys`.
fn create_user(root: &Path, name: String) -> anyhow::Result<TestUser> {
    run_account_tool(system_command("useradd").args(["-m", "-s", "/bin/bash"]).arg(&name), None)?;
    let password = random_password()?;
    run_account_tool(&mut system_command("chpasswd"), Some(&format!("{name}:{password}\n")))?;

    let private_key_path = root.join(USER_KEY_FILE);
    ssh_keygen(&private_key_path, "latch-test-user")?;
    let public_key = read_public_key(&private_key_path)?;

    let passwd = run(system_command("getent").args(["passwd", &name]), None)?;
    let passwd = String::from_utf8_lossy(&passwd.stdout);
    let home = passwd.trim().split(':').nth(5).with_context(|| format!("no home directory in {passwd:?}"))?;
    let ssh_dir = Path::new(home).join(".ssh");
    fs::create_dir_all(&ssh_dir).with_context(|| format!("creating {}", ssh_dir.display()))?;
    fs::set_permissions(&ssh_dir, fs::Permissions::from_mode(0o700))?;
    let authorized_keys = ssh_dir.join("authorized_keys");
    fs::write(&authorized_keys, format!("{public_key}\n"))?;
    fs::set_permissions(&authorized_keys, fs::Permissions::from_mode(0o600))?;
    run(system_command("chown").args(["-R", &format!("{name}:")]).arg(&ssh_dir), None)?;
    Ok(TestUser { name, password, private_key_path, public_key })
}

/// Returns the host public key (`ssh-ed25519 AAAA…`) and its `SHA256:…` fingerprint.
fn generate_host_key(root: &Path) -> anyhow::Result<(String, String)> {
    let host_key = root.join(HOST_KEY_FILE);
    ssh_keygen(&host_key, "latch-test-host")?;
    let public_line = read_public_key(&host_key)?;
    let public_key = public_line.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let listing = run(system_command("ssh-keygen").arg("-lf").arg(host_key.with_extension("pub")), None)?;
    let listing = String::from_utf8_lossy(&listing.stdout);
    let fingerprint = listing
        .split_whitespace()
        .find(|field| field.starts_with("SHA256:"))
        .with_context(|| format!("no SHA256 fingerprint in ssh-keygen -lf output {listing:?}"))?;
    Ok((public_key, fingerprint.to_owned()))
}

fn ssh_keygen(path: &Path, comment: &str) -> anyhow::Result<()> {
    run(system_command("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"]).arg(path), None)?;
    Ok(())
}

fn read_public_key(private_key: &Path) -> anyhow::Result<String> {
    let path = private_key.with_extension("pub");
    let line = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(line.trim().to_owned())
}

/// The password contains only letters and digits, so single quotes are enough.
fn write_askpass(root: &Path, password: &str) -> anyhow::Result<()> {
    let path = root.join(ASKPASS_FILE);
    fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' '{password}'\n")).context("writing the askpass script")?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Picks a free port (bind 127.0.0.1:0, release it) and starts sshd there; another process may take the port in
/// between, so a server that cannot bind is retried with another port.
fn start_on_free_port(root: &Path, user_name: &str, extra_config: &[&str]) -> anyhow::Result<(Child, u16)> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut failures = Vec::new();
    for _ in 0..PORT_ATTEMPTS {
        let port = free_loopback_port()?;
        fs::write(root.join(CONFIG_FILE), sshd_config(root, port, user_name, extra_config))?;
        let _ = fs::remove_file(root.join(LOG_FILE));
        let log = fs::OpenOptions::new().create(true).append(true).open(root.join(LOG_FILE))?;
        let mut sshd = Command::new(SSHD)
            .arg("-D")
            .arg("-f")
            .arg(root.join(CONFIG_FILE))
            .arg("-E")
            .arg(root.join(LOG_FILE))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting sshd")?;
        if wait_until_listening(&mut sshd, root, port, deadline)? {
            return Ok((sshd, port));
        }
        let log = read_log(root);
        if !(log.contains("Address already in use") || log.contains("Cannot bind any address")) {
            bail!("sshd exited on start:\n{log}");
        }
        failures.push(format!("port {port}:\n{log}"));
    }
    bail!("sshd could not bind a port {PORT_ATTEMPTS} times:\n{}", failures.join("\n"))
}

/// True once this sshd logged that it listens and the port accepts a connection; false if it exited first.
fn wait_until_listening(sshd: &mut Child, root: &Path, port: u16, deadline: Instant) -> anyhow::Result<bool> {
    let listening = format!("Server listening on 127.0.0.1 port {port}");
    loop {
        if sshd.try_wait()?.is_some() {
            return Ok(false);
        }
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        if read_log(root).contains(&listening)
            && TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
        {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            stop(sshd);
            bail!("sshd on port {port} did not accept connections within {START_TIMEOUT:?}:\n{}", read_log(root));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn sshd_config(root: &Path, port: u16, user_name: &str, extra_config: &[&str]) -> String {
    let host_key = root.join(HOST_KEY_FILE);
    let pid_file = root.join(PID_FILE);
    let mut config = format!(
        "# Written by latch-testkit for one test server.\n\
         ListenAddress 127.0.0.1:{port}\n\
         HostKey {}\n\
         PidFile {}\n\
         LogLevel VERBOSE\n\
         UsePAM yes\n\
         PasswordAuthentication yes\n\
         KbdInteractiveAuthentication yes\n\
         PubkeyAuthentication yes\n\
         AuthorizedKeysFile .ssh/authorized_keys\n\
         AllowUsers {user_name}\n\
         PermitRootLogin no\n\
         AllowTcpForwarding yes\n\
         Subsystem sftp internal-sftp\n\
         StrictModes no\n\
         UseDNS no\n\
         PrintMotd no\n\
         PrintLastLog no\n",
        host_key.display(),
        pid_file.display(),
    );
    for line in extra_config {
        config.push_str(line);
        config.push('\n');
    }
    config
}

/// SIGTERM, then SIGKILL after a grace period; always reaps the child.
fn stop(sshd: &mut Child) {
    if let Ok(None) = sshd.try_wait() {
        let _ = system_command("kill").args(["-TERM", &sshd.id().to_string()]).status();
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && matches!(sshd.try_wait(), Ok(None)) {
            thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = sshd.kill();
    let _ = sshd.wait();
}

/// Runs an account tool, retrying while it fails (a concurrent useradd/userdel holds the lock on /etc/passwd).
fn run_account_tool(command: &mut Command, input: Option<&str>) -> anyhow::Result<Output> {
    let mut last_error = None;
    for _ in 0..ACCOUNT_ATTEMPTS {
        match run(command, input) {
            Ok(output) => return Ok(output),
            Err(error) => last_error = Some(error),
        }
        thread::sleep(Duration::from_millis(200));
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("{command:?} was never run")))
}

/// Runs `command` with `input` on stdin and fails unless it exits successfully.
fn run(command: &mut Command, input: Option<&str>) -> anyhow::Result<Output> {
    let mut child = command
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).with_context(|| format!("writing to {command:?}"))?;
    }
    let output = child.wait_with_output().with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!("{command:?} failed: {}", describe_output(&output));
    }
    Ok(output)
}

fn system_command(program: &str) -> Command {
    let mut command = Command::new(find_tool(program).unwrap_or_else(|| PathBuf::from(program)));
    command.env("PATH", SYSTEM_PATH);
    command
}

fn find_tool(program: &str) -> Option<PathBuf> {
    env::split_paths(SYSTEM_PATH).map(|dir| dir.join(program)).find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|metadata| metadata.is_file() && metadata.mode() & 0o111 != 0)
}

fn free_loopback_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    Ok(port)
}

fn random_bytes(count: usize) -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0; count];
    fs::File::open("/dev/urandom").and_then(|mut file| file.read_exact(&mut bytes)).context("reading /dev/urandom")?;
    Ok(bytes)
}

fn random_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut password = String::with_capacity(PASSWORD_LENGTH);
    while password.len() < PASSWORD_LENGTH {
        // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
        for byte in random_bytes(32)?.into_iter().filter(|byte| *byte < 248) {
            if password.len() < PASSWORD_LENGTH {
                password.push(char::from(ALPHABET[usize::from(byte) % ALPHABET.len()]));
            }
        }
    }
    Ok(password)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn read_log(root: &Path) -> String {
    fs::read(root.join(LOG_FILE)).map(|log| String::from_utf8_lossy(&log).into_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_long_alphanumeric_and_random() {
        let first = random_password().unwrap();
        assert_eq!(first.len(), PASSWORD_LENGTH);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric()), "{first}");
        assert_ne!(first, random_password().unwrap());
    }

    #[test]
    fn extra_config_lines_come_last() {
        let config = sshd_config(Path::new("/tmp/x"), 2222, "latchtest00", &["TrustedUserCAKeys /tmp/x/ca.pub"]);
        assert!(config.contains("ListenAddress 127.0.0.1:2222\n"), "{config}");
        assert!(config.contains("AllowUsers latchtest00\n"), "{config}");
        assert!(config.ends_with("PrintLastLog no\nTrustedUserCAKeys /tmp/x/ca.pub\n"), "{config}");
    }
}
