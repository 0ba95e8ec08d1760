//! A real `latch serve` on free loopback ports, and the real `latch` binary as a client of it,
//! each client with its own config directory.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub const LATCH: &str = env!("CARGO_BIN_EXE_latch");
/// The password the first admin chooses in every test.
pub const ADMIN_PASSWORD: &str = "first-operator-passphrase-2025";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables that would leak the developer's own settings into a test.
const ISOLATED_ENV: [&str; 12] = [
    "LATCH_SERVER",
    "LATCH_TOKEN",
    "LATCH_CA_CERT",
    "LATCH_FINGERPRINT",
    "LATCH_CONFIG_DIR",
    "LATCH_DATA_DIR",
    "LATCH_DATABASE_URL",
    "LATCH_UNSEAL_KEY_FILE",
    "LATCH_UNSEAL_PASSPHRASE_FILE",
    "LATCH_UNSEAL_PASSPHRASE",
    "RUST_LOG",
    "XDG_CONFIG_HOME",
];

/// Two distinct free ports (both held while choosing, so they differ).
fn free_ports() -> (u16, u16) {
    let first = TcpListener::bind("127.0.0.1:0").unwrap();
    let second = TcpListener::bind("127.0.0.1:0").unwrap();
    (first.local_addr().unwrap().port(), second.local_addr().unwrap().port())
}

fn isolated(command: &mut Command) -> &mut Command {
    for name in ISOLATED_ENV {
        command.env_remove(name);
    }
    command
}

/// A running `latch serve` with its own data directory; killed when dropped.
pub struct Server {
    dir: TempDir,
    pub url: String,
    http_port: u16,
    ssh_port: u16,
    child: Option<Child>,
    /// A command (with its arguments) that `latch serve` is started by: it ends by running the rest of its
    /// command line. Empty: `latch serve` is started directly.
    launcher: Vec<String>,
    /// The first admin's one-time password, printed once on first start.
    pub admin_one_time_password: String,
}

impl Server {
    /// Starts a server on a new data directory. A port taken by someone else between choosing
    /// and binding it makes `latch serve` exit at once: then it tries again on other ports.
    pub fn start() -> Server {
        Server::start_with_config("")
    }

    /// Like [`start`](Self::start), with `toml` as the config file (`--config`).
    pub fn start_with_config(toml: &str) -> Server {
        Server::start_launched(toml, &[])
    }

    /// Like [`start_with_config`](Self::start_with_config), with `latch serve` started by `launcher` (such as
    /// `unshare` with a private mount), which must end by running the rest of its command line in its process.
    pub fn start_launched(toml: &str, launcher: &[String]) -> Server {
        for _attempt in 0..3 {
            let (http_port, ssh_port) = free_ports();
            let mut server = Server {
                dir: tempfile::tempdir().unwrap(),
                url: format!("https://localhost:{http_port}"),
                http_port,
                ssh_port,
                child: None,
                launcher: launcher.to_vec(),
                admin_one_time_password: String::new(),
            };
            std::fs::write(server.dir.path().join("latch.toml"), toml).unwrap();
            server.spawn();
            let Some(password) = server.wait_for_one_time_password() else { continue };
            server.admin_one_time_password = password;
            server.wait_until_ready();
            return server;
        }
        panic!("latch serve could not start three times in a row");
    }

    /// The port of the SSH gateway on 127.0.0.1.
    pub fn ssh_port(&self) -> u16 {
        self.ssh_port
    }

    /// The process id of the running server (its launcher's, which became it).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn cert(&self) -> PathBuf {
        self.data_dir().join("tls").join("cert.pem")
    }

    pub fn database(&self) -> PathBuf {
        self.data_dir().join("latch.db")
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        let read = |name| std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
        format!("{}{}", read("serve.stdout"), read("serve.stderr"))
    }

    fn spawn(&mut self) {
        let append = |path: PathBuf| OpenOptions::new().create(true).append(true).open(path).unwrap();
        let mut command = match self.launcher.split_first() {
            Some((program, arguments)) => {
                let mut command = Command::new(program);
                command.args(arguments).arg(LATCH);
                command
            }
            None => Command::new(LATCH),
        };
        isolated(&mut command)
            .args(["serve", "--data-dir"])
            .arg(self.data_dir())
            .arg("--config")
            .arg(self.dir.path().join("latch.toml"))
            .env("LATCH_HTTP_LISTEN", format!("127.0.0.1:{}", self.http_port))
            .env("LATCH_SSH_LISTEN", format!("127.0.0.1:{}", self.ssh_port))
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(append(self.log_path("serve.stdout")))
            .stderr(append(self.log_path("serve.stderr")));
        self.child = Some(command.spawn().unwrap());
    }

    /// The one-time password from stdout; `None` when the server exited because a port was taken.
    fn wait_for_one_time_password(&mut self) -> Option<String> {
        let started = Instant::now();
        loop {
            let stdout = std::fs::read_to_string(self.log_path("serve.stdout")).unwrap_or_default();
            if let Some(line) = stdout.lines().find(|line| line.contains("One-time password:")) {
                return Some(line.split_whitespace().last().unwrap().to_owned());
            }
            if self.exited() && self.logs().contains("cannot listen") {
                return None;
            }
            self.assert_running(started);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn exited(&mut self) -> bool {
        self.child.as_mut().is_none_or(|child| child.try_wait().unwrap().is_some())
    }

    fn wait_until_ready(&mut self) {
        let started = Instant::now();
        loop {
            if self.cert().exists() {
                let output = Command::new(LATCH)
                    .args(["status", "--server", &self.url, "--ca-cert"])
                    .arg(self.cert())
                    .env("LATCH_CONFIG_DIR", self.dir.path().join("probe"))
                    .output()
                    .unwrap();
                if matches!(output.status.code(), Some(0 | 3)) {
                    return;
                }
            }
            self.assert_running(started);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn assert_running(&mut self, started: Instant) {
        let child = self.child.as_mut().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            panic!("latch serve exited with {status}:\n{}", self.logs());
        }
        assert!(started.elapsed() < READY_TIMEOUT, "latch serve did not get ready:\n{}", self.logs());
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server and starts it again on the same ports and data directory; it unseals
    /// itself with DATA_DIR/unseal.key.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
        self.wait_until_ready();
    }

    /// A client with its own (empty) config directory.
    pub fn client(&self) -> Cli {
        Cli { config_dir: tempfile::tempdir().unwrap(), url: self.url.clone(), cert: self.cert() }
    }

    /// A client logged in as the first admin, who has changed the one-time password.
    pub fn admin(&self) -> Cli {
        let admin = self.client();
        let stdin = format!("{}\n{ADMIN_PASSWORD}\n", self.admin_one_time_password);
        admin.login_with_stdin("admin", &stdin).success();
        admin
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `latch` binary as a client, with its own `LATCH_CONFIG_DIR`.
pub struct Cli {
    config_dir: TempDir,
    pub url: String,
    pub cert: PathBuf,
}

/// What one run of `latch` did.
#[derive(Debug, Clone)]
pub struct Run {
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit code 0.
    #[track_caller]
    pub fn success(self) -> Run {
        self.code(0)
    }

    /// Asserts exit code `expected`.
    #[track_caller]
    pub fn code(self, expected: i32) -> Run {
        assert_eq!(
            self.code, expected,
            "`{}` exited with {} instead of {expected}\nstdout:\n{}\nstderr:\n{}",
            self.command, self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("`{}` printed no JSON ({err}):\n{}", self.command, self.stdout))
    }

    /// stdout and stderr together.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Cli {
    pub fn config_dir(&self) -> &Path {
        self.config_dir.path()
    }

    /// Adds target `name` at an SSH server on 127.0.0.1:`port`, pins the host key it presents, and stores the
    /// password of its `account` (as an admin).
    pub fn add_ssh_target(&self, name: &str, port: u16, account: &str, password: &str) {
        let port = port.to_string();
        self.run(&["targets", "add", name, "--address", "127.0.0.1", "--port", &port]).success();
        self.run(&["targets", "fetch-host-key", name, "--yes"]).success();
        self.run_with_stdin(&["accounts", "add", name, account, "--secret-stdin"], &format!("{password}\n")).success();
    }

    /// Makes an Ed25519 key pair in `dir` and registers its public key for `user`; the private key's path.
    pub fn add_user_key(&self, user: &str, dir: &Path) -> PathBuf {
        let key = dir.join(format!("{user}_ed25519"));
        let made = Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&key).output().unwrap();
        assert!(made.status.success(), "{made:?}");
        self.run(&["ssh-keys", "add", key.with_extension("pub").to_str().unwrap(), "--user", user]).success();
        key
    }

    /// Creates `policy` (the API's JSON) through a file in `dir`.
    pub fn create_policy(&self, policy: &serde_json::Value, dir: &Path) {
        let file = dir.join(format!("policy-{}.json", policy["name"].as_str().unwrap_or("unnamed")));
        std::fs::write(&file, policy.to_string()).unwrap();
        self.run(&["policies", "create", "--file", file.to_str().unwrap()]).success();
    }

    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(LATCH);
        isolated(&mut command).args(args).env("LATCH_CONFIG_DIR", self.config_dir.path());
        for (name, value) in env {
            command.env(name, value);
        }
        command
    }

    /// Runs `latch ARGS` with `stdin` (empty when `None`) and extra environment variables.
    pub fn exec(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut child = self
            .command(args, env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
        drop(input);
        let output = child.wait_with_output().unwrap();
        Run {
            command: format!("latch {}", args.join(" ")),
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.exec(args, None, &[])
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.exec(args, Some(stdin), &[])
    }

    /// `latch login` with the server's CA certificate and the password (and more lines) on stdin.
    pub fn login_with_stdin(&self, username: &str, stdin: &str) -> Run {
        let cert = self.cert.to_str().unwrap().to_owned();
        let args = ["login", "--server", &self.url, "--ca-cert", &cert, "--username", username, "--password-stdin"];
        self.run_with_stdin(&args, stdin)
    }

    /// Starts `latch ARGS` with piped stdin and stdout, for a conversation.
    pub fn spawn(&self, args: &[&str]) -> Conversation {
        let mut child = self
            .command(args, &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Conversation { child, stdin: Some(stdin), stdout }
    }
}

/// A running `latch` to read lines from and answer.
pub struct Conversation {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Conversation {
    /// Reads stdout lines until one satisfies `wanted`, and returns it.
    pub fn read_line_where(&mut self, wanted: impl Fn(&str) -> bool) -> String {
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.stdout.read_line(&mut line).unwrap();
            assert!(read > 0, "stdout ended before the expected line");
            if wanted(line.trim_end()) {
                return line.trim_end().to_owned();
            }
        }
    }

    pub fn answer(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{text}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Closes stdin and waits for the exit code.
    pub fn finish(mut self) -> i32 {
        drop(self.stdin.take());
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.stdout, &mut rest);
        self.child.wait().unwrap().code().unwrap_or(-1)
    }
}

/// Creates `file` with `text`, for documents the tests import.
pub fn write_file(path: &Path, text: &str) {
    File::create(path).unwrap().write_all(text.as_bytes()).unwrap();
}
