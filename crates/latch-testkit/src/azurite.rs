//! A throwaway Azure Blob server for tests: Azurite's blob service.
//!
//! `AzuriteServer::start()` runs `azurite-blob` from `scripts/test-peers/node_modules` (installed by
//! scripts/install-test-deps.sh) on 127.0.0.1 and a free port, with its data in a temporary directory, and creates
//! one container with a real Create Container request signed with Shared Key. Azurite knows one account,
//! `devstoreaccount1`, with a well-known key. `stop()` and `restart()` take the server away and bring it back on the
//! same port and data, to inject an outage. A watchdog stops it and removes its directory when the test process is
//! gone; `Drop` does the same at once.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::s3::{PeerProcess, PeerRoot, is_executable, required};

/// When set to "1", a missing Azurite fails `start_or_skip` instead of skipping (CI sets it).
const REQUIRE_ENV: &str = "LATCH_REQUIRE_AZURITE";
/// Azurite's one account and its well-known key (public, documented by Microsoft; it protects nothing).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const CONTAINER: &str = "latch-recordings";
const DATA_DIR: &str = "data";
const API_VERSION: &str = "2021-08-06";
const CREATE_TIMEOUT: Duration = Duration::from_secs(15);

/// A running Azurite blob service with one container; stopped and its directory removed on drop.
#[derive(Debug)]
pub struct AzuriteServer {
    process: PeerProcess,
    data_dir: PathBuf,
}

impl AzuriteServer {
    /// Starts `azurite-blob` on 127.0.0.1 and a free port, creates the container and returns (bounded by about
    /// 30 s).
    pub fn start() -> anyhow::Result<AzuriteServer> {
        let program = azurite_blob()?;
        let root = PeerRoot::create("latch-azurite-")?;
        let data_dir = root.path().join(DATA_DIR);
        std::fs::create_dir_all(&data_dir).context("creating the Azurite data directory")?;
        let arguments = {
            let data_dir = data_dir.clone();
            move |port: u16| -> Vec<OsString> {
                let mut arguments: Vec<OsString> =
                    ["--blobHost", "127.0.0.1", "--blobPort"].map(OsString::from).to_vec();
                arguments.push(port.to_string().into());
                arguments.push("--location".into());
                arguments.push(data_dir.clone().into_os_string());
                arguments.extend(["--skipApiVersionCheck", "--loose", "--silent"].map(OsString::from));
                arguments
            }
        };
        let process = PeerProcess::start("azurite-blob", program, root, Box::new(arguments))?;
        let server = AzuriteServer { process, data_dir };
        server.create_container(CONTAINER)?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT/devstoreaccount1`, the account's blob endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.process.port())
    }

    /// The TCP port on 127.0.0.1; the same after `restart`.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// `devstoreaccount1`.
    pub fn account(&self) -> &str {
        ACCOUNT
    }

    /// The well-known Azurite account key (base64).
    pub fn account_key(&self) -> &str {
        ACCOUNT_KEY
    }

    /// The one container, created at start.
    pub fn container(&self) -> &str {
        CONTAINER
    }

    /// Azurite's `--location`: its metadata database and blob extents.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What the server wrote to stdout and stderr so far (little: it runs with `--silent`).
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Stops the server (SIGTERM, so that Azurite saves its metadata, then SIGKILL); the data stays.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts the server again on the same port with the same data.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.process.restart()
    }

    /// Creates a container with `PUT /devstoreaccount1/NAME?restype=container`, signed with Shared Key.
    pub fn create_container(&self, name: &str) -> anyhow::Result<()> {
        let url = format!("{}/{name}?restype=container", self.endpoint());
        let resource = format!("/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container");
        // reqwest's async client needs a runtime; a thread of its own works inside a test's runtime as well.
        let joined = std::thread::scope(|scope| {
            scope
                .spawn(|| -> anyhow::Result<()> {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    runtime.block_on(put_signed(&url, &resource))
                })
                .join()
        });
        match joined {
            Ok(created) => created,
            Err(_) => bail!("the thread creating the container panicked"),
        }
    }
}

/// `AzuriteServer::start()`, or `Ok(None)` (saying why on stderr) when Azurite is not installed in
/// `scripts/test-peers/node_modules`, unless the environment variable `LATCH_REQUIRE_AZURITE` is `1`: then that is
/// an error.
pub fn start_or_skip() -> anyhow::Result<Option<AzuriteServer>> {
    if !required(REQUIRE_ENV)
        && let Err(missing) = azurite_blob()
    {
        eprintln!("latch-testkit: skipping Azure Blob test: {missing:#} (set {REQUIRE_ENV}=1 to fail instead)");
        return Ok(None);
    }
    AzuriteServer::start().map(Some)
}

/// `<repo root>/scripts/test-peers/node_modules/.bin/azurite-blob`.
fn azurite_blob() -> anyhow::Result<PathBuf> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo_root = manifest_dir.parent().and_then(Path::parent).context("no repository root above latch-testkit")?;
    let program = repo_root.join("scripts/test-peers/node_modules/.bin/azurite-blob");
    if !is_executable(&program) {
        bail!("{} is missing (scripts/install-test-deps.sh installs Azurite)", program.display());
    }
    Ok(program)
}

/// Sends an empty, Shared Key signed `PUT` to `url`, retrying while the server is not answering yet; a refusal
/// (any status but 201 Created) is an error at once.
async fn put_signed(url: &str, canonical_resource: &str) -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build()?;
    let deadline = Instant::now() + CREATE_TIMEOUT;
    loop {
        let date = http_date(time::OffsetDateTime::now_utc())?;
        let authorization = shared_key_authorization(ACCOUNT_KEY, "PUT", &date, canonical_resource)?;
        let sent = client
            .put(url)
            .header("x-ms-date", &date)
            .header("x-ms-version", API_VERSION)
            .header("content-length", "0")
            .header("authorization", authorization)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == reqwest::StatusCode::CREATED => return Ok(()),
            Ok(response) => {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                bail!("creating the container failed: {status}: {body}");
            }
            Err(error) if Instant::now() >= deadline => {
                return Err(anyhow::Error::new(error).context("creating the container: no answer"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// `SharedKey ACCOUNT:SIGNATURE` for a request without a body, whose only `x-ms-*` headers are `x-ms-date` and
/// `x-ms-version` (see "Authorize with Shared Key": the string to sign is the verb, eleven standard header values,
/// the canonicalized `x-ms-*` headers and the canonicalized resource; an empty body's length is signed as "").
fn shared_key_authorization(key: &str, verb: &str, date: &str, canonical_resource: &str) -> anyhow::Result<String> {
    let standard_headers = ["", "", "", "", "", "", "", "", "", "", ""];
    let string_to_sign = format!(
        "{verb}\n{}\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n{canonical_resource}",
        standard_headers.join("\n")
    );
    let key = BASE64.decode(key).context("the account key is not base64")?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).context("the account key")?;
    mac.update(string_to_sign.as_bytes());
    let signature = BASE64.encode(mac.finalize().into_bytes());
    Ok(format!("SharedKey {ACCOUNT}:{signature}"))
}

/// RFC 1123 in GMT, e.g. `Mon, 23 Nov 2026 19:04:47 GMT`.
fn http_date(now: time::OffsetDateTime) -> anyhow::Result<String> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    Ok(now.to_offset(time::UtcOffset::UTC).format(&format)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_rfc_1123() {
        let at = time::macros::datetime!(2026-11-03 07:04:05 +01:00);
        assert_eq!(http_date(at).unwrap_or_default(), "Tue, 03 Nov 2026 06:04:05 GMT");
    }

    #[test]
    fn the_string_to_sign_has_eleven_empty_headers_then_ours() {
        // Signed independently: `openssl dgst -sha256 -mac HMAC` over the same string (the verb, twelve newlines, the
        // two x-ms headers and the resource) with the decoded key.
        let authorization =
            shared_key_authorization(ACCOUNT_KEY, "PUT", "Tue, 03 Nov 2026 06:04:05 GMT", "/a/a/c\nrestype:container")
                .unwrap_or_default();
        assert_eq!(authorization, "SharedKey devstoreaccount1:t4r3CpyqoHTzWqCI0k6lyZxbn+shot1huS5XAIvgUoI=");
    }
}
