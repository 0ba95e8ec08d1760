//! A headless Chromium for end-to-end tests of the web UI: Debian's `chromedriver` on a free loopback port,
//! driven over WebDriver with fantoccini. Each [`Chromedriver::new_session`] is a separate browser with its own
//! profile (cookies), so two people can be signed in at once. chromedriver and its browsers are killed on drop.
//!
//! Chromium never downloads anything here: it is the Debian package, started headless without network
//! services, sandbox (tests run as root) or first-run steps.

pub use fantoccini;

use anyhow::{Context, bail};
use std::env;
use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// When set to "1", a machine without chromedriver or Chromium fails `start_or_skip` instead of skipping (CI).
const REQUIRE_ENV: &str = "LATCH_REQUIRE_BROWSER";
const CHROMEDRIVER: &str = "chromedriver";
const CHROMIUM_CANDIDATES: [&str; 2] = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
const START_TIMEOUT: Duration = Duration::from_secs(20);
const PORT_ATTEMPTS: usize = 5;
/// The browser window: a laptop screen.
pub const WINDOW_SIZE: (u32, u32) = (1366, 900);

/// A running chromedriver.
#[derive(Debug)]
pub struct Chromedriver {
    child: Child,
    port: u16,
    chromium: PathBuf,
    dir: tempfile::TempDir,
}

/// `Chromedriver::start()`, or `Ok(None)` (saying why on stderr) when this machine has no chromedriver or
/// Chromium, unless the environment variable `LATCH_REQUIRE_BROWSER` is `1`: then that is an error.
pub fn start_or_skip() -> anyhow::Result<Option<Chromedriver>> {
    let required = env::var(REQUIRE_ENV).is_ok_and(|value| value == "1");
    if !required && let Err(missing) = find_chromium().and_then(|_| find_on_path(CHROMEDRIVER)) {
        eprintln!("latch-testkit: skipping browser test: {missing:#} (set {REQUIRE_ENV}=1 to fail instead)");
        return Ok(None);
    }
    Chromedriver::start().map(Some)
}

impl Chromedriver {
    /// Starts chromedriver on 127.0.0.1 and a free port, and returns once it accepts connections.
    pub fn start() -> anyhow::Result<Chromedriver> {
        let chromium = find_chromium()?;
        let driver = find_on_path(CHROMEDRIVER)?;
        let dir = tempfile::Builder::new().prefix("latch-chromedriver-").tempdir().context("creating a temp dir")?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let mut child = spawn(&driver, port, dir.path())?;
            match wait_until_listening(&mut child, port) {
                Ok(()) => return Ok(Chromedriver { child, port, chromium, dir }),
                Err(err) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = Some(err);
                }
            }
        }
        let log = std::fs::read_to_string(dir.path().join("chromedriver.log")).unwrap_or_default();
        Err(last_error
            .unwrap_or_else(|| anyhow::anyhow!("no attempt made"))
            .context(format!("chromedriver log: {log}")))
    }

    /// The WebDriver endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new headless browser that accepts the test server's self-signed certificate.
    pub async fn new_session(&self) -> anyhow::Result<fantoccini::Client> {
        let (width, height) = WINDOW_SIZE;
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-extensions".to_owned(),
            "--disable-default-apps".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--ignore-certificate-errors".to_owned(),
            format!("--window-size={width},{height}"),
        ];
        let options = serde_json::json!({ "binary": self.chromium, "args": args });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".to_owned(), serde_json::json!("chrome"));
        capabilities.insert("acceptInsecureCerts".to_owned(), serde_json::json!(true));
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let client = fantoccini::ClientBuilder::rustls()
            .context("building the WebDriver client")?
            .capabilities(capabilities)
            .connect(&self.url())
            .await
            .with_context(|| format!("starting Chromium through chromedriver ({})", self.log()))?;
        Ok(client)
    }

    /// What chromedriver logged so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chromedriver.log")).unwrap_or_default()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // chromedriver ends the browsers of its sessions when it exits; the sessions' own drop closes them first.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(driver: &Path, port: u16, dir: &Path) -> anyhow::Result<Child> {
    let log = File::create(dir.join("chromedriver.log")).context("creating the chromedriver log")?;
    let log_err = log.try_clone().context("duplicating the log file")?;
    Command::new(driver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .arg(format!("--log-path={}", dir.join("chromedriver-verbose.log").display()))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .with_context(|| format!("starting {}", driver.display()))
}

fn wait_until_listening(child: &mut Child, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().context("checking chromedriver")? {
            bail!("chromedriver exited with {status} before listening on port {port}");
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("chromedriver did not listen on port {port} within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr().context("reading the bound address")?.port())
}

fn find_chromium() -> anyhow::Result<PathBuf> {
    CHROMIUM_CANDIDATES
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file())
        .with_context(|| format!("no Chromium at {CHROMIUM_CANDIDATES:?} (Debian package `chromium`)"))
}

fn find_on_path(program: &str) -> anyhow::Result<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("`{program}` is not on PATH (Debian package `chromium-driver`)"))
}
