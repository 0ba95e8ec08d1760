//! A throwaway S3 server for tests: `s3s-fs`, a real S3 API over a directory.
//!
//! `S3Server::start()` runs `s3s-fs` on 127.0.0.1 and a free port with a random access key and secret, keeps its
//! data directory and log in one temporary directory, and creates one bucket (s3s-fs keeps a bucket as a directory
//! of the same name under its data directory, so creating that directory creates the bucket). `stop()` and
//! `restart()` take the server away and bring it back on the same port, data and keys, to inject an outage.
//!
//! A watchdog process, started before the server, stops the server and removes the directory as soon as the test
//! process is gone, however it ended. `Drop` stops the server and lets the same watchdog finish.
//!
//! This module also holds [`PeerProcess`], the child-process handling shared with [`crate::azurite`].

use std::ffi::OsString;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use std::{env, fs, thread};

use anyhow::{Context, bail};

use crate::process::Watchdog;

/// When set to "1", a missing `s3s-fs` fails `start_or_skip` instead of skipping (CI sets it).
const REQUIRE_ENV: &str = "LATCH_REQUIRE_S3";
const PROGRAM: &str = "s3s-fs";
const REGION: &str = "us-east-1";
const BUCKET: &str = "latch-recordings";
const DATA_DIR: &str = "data";

/// A running `s3s-fs` with one bucket; stopped and its directory removed on drop.
#[derive(Debug)]
pub struct S3Server {
    process: PeerProcess,
    access_key_id: String,
    secret_access_key: String,
    data_dir: PathBuf,
}

impl S3Server {
    /// Starts `s3s-fs` on 127.0.0.1 and a free port with fresh random keys and an empty bucket, and returns once the
    /// port accepts connections (bounded by 15 s).
    pub fn start() -> anyhow::Result<S3Server> {
        let program = find_s3s_fs()?;
        let root = PeerRoot::create("latch-s3-")?;
        let data_dir = root.path().join(DATA_DIR);
        fs::create_dir_all(data_dir.join(BUCKET)).context("creating the bucket directory")?;
        // Letters and digits only: both appear on the command line and in SigV4 signing keys.
        let access_key_id = format!("LATCHTEST{}", hex(&random_bytes(8)?).to_ascii_uppercase());
        let secret_access_key = hex(&random_bytes(20)?);
        let arguments = {
            let (access_key_id, secret_access_key, data_dir) =
                (access_key_id.clone(), secret_access_key.clone(), data_dir.clone());
            move |port: u16| -> Vec<OsString> {
                let mut arguments: Vec<OsString> = ["--host", "127.0.0.1", "--port"].map(OsString::from).to_vec();
                arguments.push(port.to_string().into());
                arguments.extend(["--access-key".into(), access_key_id.clone().into()]);
                arguments.extend(["--secret-key".into(), secret_access_key.clone().into()]);
                arguments.push(data_dir.clone().into_os_string());
                arguments
            }
        };
        let process = PeerProcess::start(PROGRAM, program, root, Box::new(arguments))?;
        Ok(S3Server { process, access_key_id, secret_access_key, data_dir })
    }

    /// `http://127.0.0.1:PORT` (path-style requests).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.process.port())
    }

    /// The TCP port on 127.0.0.1; the same after `restart`.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The one bucket, created at start.
    pub fn bucket(&self) -> &str {
        BUCKET
    }

    /// `us-east-1`.
    pub fn region(&self) -> &str {
        REGION
    }

    /// A random access key id, `LATCHTEST` and 16 hex digits.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// A random secret access key (40 hex digits), for this test server only.
    pub fn secret_access_key(&self) -> &str {
        &self.secret_access_key
    }

    /// The directory s3s-fs stores into: object `KEY` of the bucket is the file `data_dir()/BUCKET/KEY`.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Stops the server (SIGTERM, then SIGKILL); the data stays. Requests now fail to connect.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts the server again on the same port with the same data and keys (after `stop`, or to bounce it).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.process.restart()
    }
}

/// `S3Server::start()`, or `Ok(None)` (saying why on stderr) when `s3s-fs` is not installed, unless the environment
/// variable `LATCH_REQUIRE_S3` is `1`: then that is an error.
pub fn start_or_skip() -> anyhow::Result<Option<S3Server>> {
    if !required(REQUIRE_ENV)
        && let Err(missing) = find_s3s_fs()
    {
        eprintln!("latch-testkit: skipping S3 test: {missing:#} (set {REQUIRE_ENV}=1 to fail instead)");
        return Ok(None);
    }
    S3Server::start().map(Some)
}

/// `s3s-fs` on PATH, else in `$CARGO_HOME/bin`, else in `~/.cargo/bin`.
fn find_s3s_fs() -> anyhow::Result<PathBuf> {
    let on_path = env::var_os("PATH").into_iter().flat_map(|path| env::split_paths(&path).collect::<Vec<_>>());
    let cargo_home = env::var_os("CARGO_HOME").map(|home| PathBuf::from(home).join("bin"));
    let home = env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo").join("bin"));
    on_path
        .chain(cargo_home)
        .chain(home)
        .map(|dir| dir.join(PROGRAM))
        .find(|candidate| is_executable(candidate))
        .context(
            "s3s-fs is neither on PATH nor in $CARGO_HOME/bin or ~/.cargo/bin \
             (scripts/install-test-deps.sh installs it)",
        )
}

pub(crate) fn required(variable: &str) -> bool {
    env::var(variable).is_ok_and(|value| value == "1")
}

/// The arguments of a server for a given port.
pub(crate) type Arguments = Box<dyn Fn(u16) -> Vec<OsString> + Send + Sync>;

const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_GRACE: Duration = Duration::from_secs(5);
const PORT_ATTEMPTS: usize = 5;
const LOG_FILE: &str = "server.log";
const PID_FILE: &str = "server.pid";

/// A temporary directory for one peer: its data, its log and the pid file its watchdog reads.
#[derive(Debug)]
pub(crate) struct PeerRoot(tempfile::TempDir);

impl PeerRoot {
    pub(crate) fn create(prefix: &str) -> anyhow::Result<PeerRoot> {
        let root = tempfile::Builder::new().prefix(prefix).tempdir().context("creating a temp dir")?;
        Ok(PeerRoot(root))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }
}

/// A server program run as a child of the test process on a loopback port, restartable on the same port with the
/// same arguments, and guarded by a watchdog.
pub(crate) struct PeerProcess {
    name: &'static str,
    program: PathBuf,
    arguments: Arguments,
    port: u16,
    /// `None` while stopped.
    child: Option<Child>,
    watchdog: Watchdog,
    /// Dropped last: the watchdog has removed the directory by then.
    root: PeerRoot,
}

impl std::fmt::Debug for PeerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerProcess")
            .field("name", &self.name)
            .field("program", &self.program)
            .field("port", &self.port)
            .field("running", &self.child.is_some())
            .field("root", &self.root.path())
            .finish_non_exhaustive()
    }
}

impl PeerProcess {
    /// Starts `program` with `arguments(port)` on a free port (retrying another port if it exits at start, say
    /// because another process took the port), and returns once the port accepts connections.
    pub(crate) fn start(
        name: &'static str,
        program: PathBuf,
        root: PeerRoot,
        arguments: Arguments,
    ) -> anyhow::Result<PeerProcess> {
        // From here on, whatever happens to this process, the watchdog stops the server and removes the files.
        let watchdog = spawn_watchdog(root.path())?;
        let mut process = PeerProcess { name, program, arguments, port: 0, child: None, watchdog, root };
        let mut failures = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            process.port = free_loopback_port()?;
            match process.spawn_and_wait() {
                Ok(()) => return Ok(process),
                Err(error) => failures.push(format!("port {}: {error:#}", process.port)),
            }
        }
        bail!("{name} did not start {PORT_ATTEMPTS} times:\n{}", failures.join("\n"))
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn log(&self) -> String {
        fs::read(self.root.path().join(LOG_FILE))
            .map(|log| String::from_utf8_lossy(&log).into_owned())
            .unwrap_or_default()
    }

    /// SIGTERM, then SIGKILL after a grace period; reaps the child. Does nothing when stopped already.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        if let Ok(None) = child.try_wait() {
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).stderr(Stdio::null()).status();
        }
        // The process is at most a zombie until reaped below, so its pid cannot have been reused yet.
        let _ = fs::remove_file(self.root.path().join(PID_FILE));
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts the program again on the same port; stops it first if it is running.
    pub(crate) fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        // A listening socket can take a moment to be released; the port is ours, so try it for a while.
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match self.spawn_and_wait() {
                Ok(()) => return Ok(()),
                Err(error) if Instant::now() >= deadline => {
                    return Err(error.context(format!("restarting {} on port {}", self.name, self.port)));
                }
                Err(_) => thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    fn spawn_and_wait(&mut self) -> anyhow::Result<()> {
        let log_path = self.root.path().join(LOG_FILE);
        let log = fs::OpenOptions::new().create(true).append(true).open(&log_path).context("opening the server log")?;
        let child = Command::new(&self.program)
            .args((self.arguments)(self.port))
            .current_dir(self.root.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.program.display()))?;
        fs::write(self.root.path().join(PID_FILE), child.id().to_string()).context("writing the pid file")?;
        self.child = Some(child);
        if let Err(error) = self.wait_until_listening() {
            self.stop();
            return Err(error.context(format!("{} log:\n{}", self.name, log_tail(&self.log()))));
        }
        Ok(())
    }

    fn wait_until_listening(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            let Some(child) = self.child.as_mut() else { bail!("{} is not running", self.name) };
            if let Some(status) = child.try_wait()? {
                bail!("{} exited at start with {status}", self.name);
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("{} did not accept connections on port {} within {START_TIMEOUT:?}", self.name, self.port);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        self.stop();
        // Removes the directory; `root` (TempDir) then finds nothing left.
        self.watchdog.finish();
    }
}

/// A `sh` in its own process group (Ctrl-C on the test run must not kill it first) that waits for EOF on its stdin,
/// then stops the server named by the pid file, if any, and removes the directory. This process holds the only
/// write end of the pipe, so the EOF comes from `finish` or from this process ending in any way.
fn spawn_watchdog(root: &Path) -> anyhow::Result<Watchdog> {
    const SCRIPT: &str = r#"cat >/dev/null
if [ -s "$1" ]; then
    pid=$(cat "$1"); kill -TERM "$pid"; i=0
    while kill -0 "$pid" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    kill -KILL "$pid"
fi
rm -rf "$2""#;
    let pid_file = root.join(PID_FILE);
    Watchdog::spawn(Command::new("sh"), "latch-peer-watchdog", SCRIPT, &[pid_file.as_os_str(), root.as_os_str()])
}

pub(crate) fn is_executable(path: &Path) -> bool {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn log_tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random() {
        assert_eq!(hex(&[0, 0xab, 0x10]), "00ab10");
        assert_ne!(random_bytes(16).unwrap_or_default(), random_bytes(16).unwrap_or_default());
    }
}
