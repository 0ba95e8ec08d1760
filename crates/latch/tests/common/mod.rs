//! Running the real `latch` binary: free ports, a child process that is always killed, its
//! output collected while it runs, and an HTTPS client that trusts the data directory's
//! certificate.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server gets to start answering HTTPS.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Variables the binary reads, removed so that the caller's environment cannot leak in.
const LATCH_VARIABLES: [&str; 8] = [
    "LATCH_DATA_DIR",
    "LATCH_DATABASE_URL",
    "LATCH_HTTP_LISTEN",
    "LATCH_SSH_LISTEN",
    "LATCH_UNSEAL_KEY_FILE",
    "LATCH_UNSEAL_PASSPHRASE_FILE",
    "LATCH_UNSEAL_PASSPHRASE",
    "RUST_LOG",
];

/// rustls needs a process-wide provider when several are linked in; installing twice is fine.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// A port that was free a moment ago (bound to port 0, then released).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `latch ARGS` with a clean environment, text logs and no colours.
pub fn latch(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latch"));
    for name in LATCH_VARIABLES {
        command.env_remove(name);
    }
    command.args(["--log-level", "info", "--log-format", "text"]).args(args);
    command
}

/// Runs `command` to completion with the given standard input.
pub fn run_to_end(mut command: Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

/// A running `latch serve`, killed when dropped.
pub struct Server {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    pub port: u16,
    pub data_dir: PathBuf,
}

impl Server {
    /// Starts `latch serve --data-dir DATA_DIR` on free ports with the extra `env`, and waits
    /// until it answers HTTPS.
    pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let mut command = latch(&["serve", "--data-dir", data_dir.to_str().unwrap()]);
        command
            .env("LATCH_HTTP_LISTEN", format!("127.0.0.1:{port}"))
            .env("LATCH_SSH_LISTEN", format!("127.0.0.1:{}", free_port()))
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let mut server = Server { child, stdout, stderr, port, data_dir: data_dir.to_owned() };
        server.wait_until_serving().await;
        server
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    /// A client that trusts only DATA_DIR/tls/cert.pem and reports the peer certificate.
    pub fn client(&self) -> reqwest::Client {
        let pem = std::fs::read(self.data_dir.join("tls/cert.pem")).unwrap();
        reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
            .tls_info(true)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    }

    /// `GET /api/v1/sys/status` as JSON, asserting 200.
    pub async fn status(&self) -> serde_json::Value {
        let response = self.client().get(self.url("/api/v1/sys/status")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Waits until `text` shows up on stdout (the reader thread may lag behind the process).
    pub async fn wait_for_stdout(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stdout = self.stdout();
            if stdout.contains(text) || Instant::now() > deadline {
                return stdout;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub async fn stop(mut self) -> ExitStatus {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "latch did not stop after SIGTERM:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_until_serving(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("latch serve exited with {status} before serving:\n{}", self.stderr());
            }
            if self.data_dir.join("tls/cert.pem").exists() {
                let answer = self.client().get(self.url("/api/v1/sys/status")).send().await;
                if answer.is_ok() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "latch serve did not answer in time:\n{}", self.stderr());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `stream` to its end on a thread, into the returned buffer.
fn collect(stream: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buffer = Arc::new(Mutex::new(String::new()));
    let sink = buffer.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { return };
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    buffer
}

/// The text after `label` on the first line of `text` that contains it, trimmed.
pub fn value_after(text: &str, label: &str) -> Option<String> {
    text.lines().find_map(|line| line.split_once(label).map(|(_, value)| value.trim().to_owned()))
}
