//! `latch serve`: prepare the data directory, open (or, the first time, initialize) the vault,
//! serve HTTPS and run the background tasks until Ctrl-C or SIGTERM.

use crate::config::{self, Config, ConfigArgs, KeyFileSetting, UnsealConfig};
use crate::incidents::HttpIncidentDirectory;
use crate::recorded_events::RecordingsOnDisk;
use crate::recording_files::StoredRecordings;
use crate::recording_retention::RecordingDirectories;
use crate::recording_upload::{RecordingUpload, SharedStorage};
use crate::siem::SiemExport;
use crate::tasks::{AccessSweeper, ExpirySweeper, RetentionSweeper, Tasks};
use crate::tls::ServerTls;
use crate::webhooks::WebhookDelivery;
use crate::{UsageError, host_key, init, output, tls};
use anyhow::Context;
use latch_app::domain::names::Username;
use latch_app::{App, AppError, InitOutcome, RequestContext, SecretString, SystemClock};
use latch_store::Store;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long open connections and tasks get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The first administrator `latch serve` creates on an empty data directory.
const FIRST_ADMIN: &str = "admin";

/// `latch serve`
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Environment (overrides the config file; flags override both):
  LATCH_DATA_DIR, LATCH_DATABASE_URL
  LATCH_HTTP_LISTEN              [default: 127.0.0.1:8443]
  LATCH_SSH_LISTEN               [default: 127.0.0.1:2222]
  LATCH_UNSEAL_KEY_FILE          [default: DATA_DIR/unseal.key, used when present]
  LATCH_UNSEAL_PASSPHRASE_FILE   a file whose first line is the passphrase
  LATCH_UNSEAL_PASSPHRASE        the passphrase itself

At start the vault is unsealed with the first of: the key file, the passphrase file,
LATCH_UNSEAL_PASSPHRASE. With none, it starts sealed until `latch unseal`.

Exit codes: 0 stopped cleanly, 1 failure, 2 usage or configuration error (including an
unseal key or passphrase that does not open the vault).")]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config, &config::process_env)?;
    init::create_private_dir(&config.data_dir)?;
    init::create_private_dir(&config.recordings.dir)?;
    let tls = tls::load_or_generate(&config.http.tls, config.http.listen)?;
    tracing::info!(sha256 = tls.fingerprint.colon_hex(), pin = tls.fingerprint.pin(), "TLS certificate");
    let host_key = host_key::load_or_generate(&config.ssh.host_key)?;
    tracing::info!(
        fingerprint = host_key.fingerprint,
        generated = host_key.generated,
        path = %config.ssh.host_key.display(),
        "SSH host key"
    );
    let recording_key = host_key::load_or_generate_recording_key(&config.recordings.signing_key)?;
    tracing::info!(
        fingerprint = recording_key.fingerprint,
        generated = recording_key.generated,
        path = %config.recordings.signing_key.display(),
        "recording signing key"
    );
    // Bind before touching the vault, so that a busy port stops us before a one-time password
    // is generated and lost.
    let listener = TcpListener::bind(config.http.listen)
        .with_context(|| format!("cannot listen on {} (http.listen)", config.http.listen))?;
    let store = init::connect_store(&config).await?;
    let keys = GatewayKeys { host: host_key.key, recording: recording_key.key };
    let result = serve_with_store(&config, &store, tls, listener, keys).await;
    store.close().await;
    result
}

/// The gateway's host key and the node's recording signing key.
struct GatewayKeys {
    host: russh::keys::PrivateKey,
    recording: russh::keys::PrivateKey,
}

async fn serve_with_store(
    config: &Config,
    store: &Store,
    tls: ServerTls,
    listener: TcpListener,
    keys: GatewayKeys,
) -> anyhow::Result<ExitCode> {
    let app = App::new(store.clone(), Arc::new(SystemClock), config.app.clone());
    app.install_host_key_probe(Arc::new(SshHostKeyProbe));
    let recording_key = Arc::new(keys.recording.clone());
    app.install_recorded_events(Arc::new(RecordingsOnDisk { dir: config.recordings.dir.clone(), key: recording_key }));
    if let Some(storage) = &config.recordings.storage {
        app.install_recording_storage(storage.backend.kind());
    }
    let shared_storage = config.recordings.storage.as_ref().map(|_| SharedStorage::default());
    app.install_recording_deleter(Arc::new(RecordingDirectories {
        dir: config.recordings.dir.clone(),
        storage: shared_storage.clone(),
    }));
    app.install_recording_files(Arc::new(StoredRecordings {
        dir: config.recordings.dir.clone(),
        storage: shared_storage.clone(),
    }));
    app.install_incident_directory(Arc::new(HttpIncidentDirectory::new(config.integrations.clone())?));
    let gateway_config = latch_ssh::GatewayConfig {
        listen: config.ssh.listen,
        host_key: keys.host,
        recording_key: keys.recording,
        recordings_dir: config.recordings.dir.clone(),
        recordings_reserve: config.recordings.reserve,
        limits: config.ssh.limits.clone(),
    };
    let gateway = latch_ssh::GatewayServer::bind(app.clone(), gateway_config)
        .await
        .with_context(|| format!("cannot listen on {} (ssh.listen)", config.ssh.listen))?;
    let ssh_address = gateway.local_addr()?;
    let local = listener.local_addr().context("the HTTPS listener has no address")?;
    let url = browser_url(local);
    match start_vault(&app, config).await? {
        VaultStart::Initialized(outcome) => {
            let block = first_start_block(&outcome, &url, config.unseal.key_file.path(), &tls);
            if let Err(err) = output::line(&block) {
                tracing::error!(%err, "cannot print the first-start details (one-time password) to stdout");
            }
        }
        VaultStart::Unsealed { from } => tracing::info!(from, "vault unsealed at start"),
        VaultStart::Sealed => {
            tracing::warn!("the vault is sealed: no unseal key or passphrase is configured; run `latch unseal`")
        }
    }
    let shutdown = CancellationToken::new();
    let mut tasks = Tasks::new(shutdown.clone());
    tasks.spawn(ExpirySweeper { app: app.clone(), every: ExpirySweeper::DEFAULT_INTERVAL });
    tasks.spawn(AccessSweeper { app: app.clone() });
    tasks.spawn(RetentionSweeper { app: app.clone() });
    if let (Some(storage), Some(shared)) = (&config.recordings.storage, shared_storage) {
        let spool = config.recordings.dir.clone();
        tasks.spawn(RecordingUpload { app: app.clone(), spool, storage: storage.clone(), shared });
    }
    tasks.spawn(WebhookDelivery { app: app.clone(), webhooks: config.webhooks.clone() });
    for sink in &config.siem {
        for stream in &sink.streams {
            tasks.spawn(SiemExport { app: app.clone(), sink: sink.clone(), stream: *stream });
        }
    }
    tracing::info!(listen = %ssh_address, "serving the SSH gateway");
    let gateway_stop = shutdown.child_token();
    let gateway_task = tokio::spawn(gateway.run(gateway_stop.clone()));
    let served = serve_https(app, config, tls, listener, &url).await;
    gateway_stop.cancel();
    match tokio::time::timeout(SHUTDOWN_GRACE, gateway_task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(err))) => tracing::error!(error = %err, "the SSH gateway failed"),
        Ok(Err(err)) => tracing::error!(error = %err, "the SSH gateway task panicked"),
        Err(_) => tracing::warn!("the SSH gateway did not stop in time"),
    }
    tasks.shutdown(SHUTDOWN_GRACE).await;
    served?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Fetches host keys for `latch targets fetch-host-key` with the gateway's SSH client.
#[derive(Debug)]
struct SshHostKeyProbe;

impl latch_app::HostKeyProbe for SshHostKeyProbe {
    fn fetch<'a>(
        &'a self,
        address: &'a str,
        port: u16,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<latch_app::ProbedHostKey, String>> + Send + 'a>>
    {
        Box::pin(async move {
            let key = latch_ssh::upstream::fetch_host_key(address, port, HOST_KEY_FETCH_TIMEOUT)
                .await
                .map_err(|err| err.to_string())?;
            Ok(latch_app::ProbedHostKey {
                fingerprint: key.fingerprint,
                algorithm: key.algorithm,
                openssh: key.openssh,
            })
        })
    }
}

const HOST_KEY_FETCH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves until a shutdown signal, then lets open connections finish for [`SHUTDOWN_GRACE`].
async fn serve_https(
    app: App,
    config: &Config,
    tls: ServerTls,
    listener: TcpListener,
    url: &str,
) -> anyhow::Result<()> {
    let options = latch_http::HttpOptions { secure_cookies: true, max_body_bytes: config.http.max_body_bytes };
    let router = latch_http::router(app, options);
    let handle = axum_server::Handle::new();
    let rustls = axum_server::tls_rustls::RustlsConfig::from_config(tls.config);
    let server = axum_server::from_tcp_rustls(listener, rustls).context("cannot serve on the HTTPS listener")?;
    let serving = server.handle(handle.clone()).serve(router.into_make_service_with_connect_info::<SocketAddr>());
    tokio::pin!(serving);
    tracing::info!(listen = %config.http.listen, url, "serving HTTPS");
    tokio::select! {
        result = &mut serving => result.context("the HTTPS server stopped")?,
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing open requests");
            handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
            serving.await.context("the HTTPS server failed while shutting down")?;
        }
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops latch");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if let Err(err) = result {
                tracing::warn!(%err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
        () = terminate => {}
    }
}

/// What happened to the vault at start.
enum VaultStart {
    /// The database was empty: a vault and its first admin were created.
    Initialized(InitOutcome),
    Unsealed {
        from: &'static str,
    },
    Sealed,
}

async fn start_vault(app: &App, config: &Config) -> anyhow::Result<VaultStart> {
    if !app.is_initialized().await? {
        let key_file = config.unseal.key_file.path();
        if key_file.exists() {
            return Err(UsageError(format!(
                "{} exists but the database {} holds no vault yet: that key belongs to another database; \
                 move it away to start afresh, or set database_url to its database",
                key_file.display(),
                config.database_url.redacted()
            ))
            .into());
        }
        let admin = Username::parse(FIRST_ADMIN).map_err(|err| anyhow::anyhow!("bad first admin name: {err}"))?;
        match init::initialize_with_key_file(app, key_file, &admin).await {
            Ok(outcome) => return Ok(VaultStart::Initialized(outcome)),
            // Another node sharing the database may have won the race; then unseal as usual.
            Err(err) if app.is_initialized().await.unwrap_or(false) => {
                tracing::info!(error = format!("{err:#}"), "the vault was initialized concurrently by another node");
            }
            Err(err) => return Err(err),
        }
    }
    unseal_at_start(app, &config.unseal).await
}

/// Unseals with the first configured secret: the key file, a passphrase file, then
/// `LATCH_UNSEAL_PASSPHRASE`. A secret that does not open the vault is an error: serving with a
/// wrong key configured would only hide the mistake.
async fn unseal_at_start(app: &App, unseal: &UnsealConfig) -> anyhow::Result<VaultStart> {
    let ctx = RequestContext::default();
    let key_file = match &unseal.key_file {
        KeyFileSetting::Configured(path) => Some(path),
        KeyFileSetting::Default(path) => path.exists().then_some(path),
    };
    if let Some(path) = key_file {
        let text = read_key_file(path)?;
        let result = app.unseal_with_key_file_text(&text, &ctx).await;
        explain_unseal_failure(result, &format!("the unseal key file {}", path.display()))?;
        return Ok(VaultStart::Unsealed { from: "key file" });
    }
    if let Some(path) = &unseal.passphrase_file {
        let passphrase = init::read_passphrase_file(path)?;
        let result = app.unseal_with_passphrase(passphrase, &ctx).await;
        explain_unseal_failure(result, &format!("the passphrase in {}", path.display()))?;
        return Ok(VaultStart::Unsealed { from: "passphrase file" });
    }
    if let Some(passphrase) = &unseal.passphrase {
        let result = app.unseal_with_passphrase(passphrase.clone(), &ctx).await;
        explain_unseal_failure(result, &format!("the passphrase in {}", config::ENV_UNSEAL_PASSPHRASE))?;
        return Ok(VaultStart::Unsealed { from: config::ENV_UNSEAL_PASSPHRASE });
    }
    Ok(VaultStart::Sealed)
}

fn read_key_file(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| UsageError(format!("cannot read the unseal key file {}: {err}", path.display())))?;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the unseal key file is accessible to other users; chmod 600 it");
    }
    Ok(SecretString::new(text))
}

/// A wrong or unsuitable secret is the operator's to fix (exit 2); anything else is a failure.
fn explain_unseal_failure(result: Result<(), AppError>, what: &str) -> anyhow::Result<()> {
    match result {
        Ok(()) => Ok(()),
        Err(AppError::WrongUnsealKey) => Err(UsageError(format!("{what} does not open this vault")).into()),
        Err(err @ AppError::BadRequest(_)) => Err(UsageError(format!("{what}: {err}")).into()),
        Err(err) => Err(anyhow::Error::new(err).context(format!("cannot unseal with {what}"))),
    }
}

/// The address to open in a browser: `localhost` for loopback and wildcard listeners, which the
/// generated certificate names.
fn browser_url(local: SocketAddr) -> String {
    let ip = local.ip();
    let host = match ip {
        _ if ip.is_loopback() || ip.is_unspecified() => "localhost".to_owned(),
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    format!("https://{host}:{}/", local.port())
}

/// The text shown once on stdout after a first start.
fn first_start_block(outcome: &InitOutcome, url: &str, key_file: &Path, tls: &ServerTls) -> String {
    let rule = "=".repeat(78);
    let certificate = if tls.generated { "self-signed, generated now" } else { "from the configured files" };
    [
        rule.as_str(),
        "Latch is initialized and running. This is shown only once.",
        "",
        &format!("  Open:               {url}"),
        &format!("  Admin username:     {}", outcome.admin_username),
        &format!("  One-time password:  {}", outcome.admin_one_time_password.expose()),
        "                      (it must be changed at the first login)",
        "",
        &format!("  Unseal key:         {}", key_file.display()),
        "    Back it up now. For production, move it off this host (and configure",
        "    unseal.key_file or use `latch init` with a passphrase or shares): anyone with",
        "    this file and the database can read every stored credential, and without it",
        "    the vault cannot be opened again.",
        "",
        &format!("  TLS certificate:    {certificate}; SHA-256 fingerprint:"),
        &format!("    {}", tls.fingerprint.colon_hex()),
        &format!("    {}", tls.fingerprint.pin()),
        rule.as_str(),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_urls_name_what_the_certificate_covers() {
        let check = |addr: &str, expect: &str| assert_eq!(browser_url(addr.parse().unwrap()), expect);
        check("127.0.0.1:8443", "https://localhost:8443/");
        check("0.0.0.0:443", "https://localhost:443/");
        check("[::1]:8443", "https://localhost:8443/");
        check("10.0.0.5:8443", "https://10.0.0.5:8443/");
        check("[fd00::5]:8443", "https://[fd00::5]:8443/");
    }
}
