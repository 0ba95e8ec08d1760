//! Turning the settings (and command-line overrides) into a [`Client`].

use super::exit::NotLoggedIn;
use super::settings::{self, Settings, TrustSetting};
use crate::UsageError;
use latch_api::client::{Client, Fingerprint, Trust};
use std::path::PathBuf;

/// Naming the server on the command line instead of the saved settings.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServerArgs {
    /// The server's base URL, such as https://latch.example:8443 (default: LATCH_SERVER, then
    /// the server of the last login).
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Trust the server's certificate if this CA (or this very certificate: DATA_DIR/tls/cert.pem
    /// for the self-signed one) issued it.
    #[arg(long, value_name = "FILE", conflicts_with = "fingerprint")]
    pub ca_cert: Option<PathBuf>,
    /// Trust the server's certificate if its SHA-256 fingerprint is this (`latch serve` prints it).
    #[arg(long, value_name = "sha256/HEX")]
    pub fingerprint: Option<String>,
}

impl ServerArgs {
    /// The trust named on the command line, if any.
    pub fn trust(&self) -> Result<Option<TrustSetting>, UsageError> {
        if let Some(path) = &self.ca_cert {
            let absolute =
                std::path::absolute(path).map_err(|err| UsageError(format!("--ca-cert {}: {err}", path.display())))?;
            return Ok(Some(TrustSetting::CaCert(absolute)));
        }
        match &self.fingerprint {
            Some(text) => Fingerprint::parse(text)
                .map(|pin| Some(TrustSetting::Fingerprint(pin)))
                .map_err(|err| UsageError(format!("--fingerprint: {err}"))),
            None => Ok(None),
        }
    }
}

/// The settings in effect (the file and the environment).
pub fn settings() -> anyhow::Result<Settings> {
    let file = settings::load_file(&settings::file_path()?)?;
    Ok(settings::resolve(&file, &settings::process_env)?)
}

/// A client of `server` that trusts certificates as `trust` says.
pub fn client(server: &str, trust: &TrustSetting) -> anyhow::Result<Client> {
    let trust = match trust {
        TrustSetting::System => Trust::System,
        TrustSetting::Fingerprint(pin) => Trust::Fingerprint(*pin),
        TrustSetting::CaCert(path) => Trust::CaCertificatePem(
            std::fs::read(path)
                .map_err(|err| UsageError(format!("cannot read the CA certificate {}: {err}", path.display())))?,
        ),
    };
    Ok(Client::new(server, &trust)?)
}

/// A client with the saved (or `LATCH_TOKEN`) session.
pub fn authenticated() -> anyhow::Result<Client> {
    let settings = settings()?;
    let server = settings.server.ok_or(NotLoggedIn)?;
    let token = settings.token.ok_or(NotLoggedIn)?;
    Ok(client(&server, &settings.trust)?.with_token(token))
}

/// A client without credentials, for routes open to anyone: the server named by `args`, else
/// the saved one (with its token, which such routes ignore).
pub fn anonymous(args: &ServerArgs) -> anyhow::Result<Client> {
    let settings = settings()?;
    let named_trust = args.trust()?;
    let (server, saved_trust) = match (&args.server, &settings.server) {
        (Some(named), Some(saved)) if settings::same_url(named, saved) => (named.clone(), settings.trust),
        (Some(named), _) => (named.clone(), TrustSetting::System),
        (None, Some(saved)) => (saved.clone(), settings.trust),
        (None, None) => {
            return Err(UsageError(format!(
                "no server: pass --server URL, set {} or run `latch login`",
                settings::ENV_SERVER
            ))
            .into());
        }
    };
    client(&server, &named_trust.unwrap_or(saved_trust))
}
