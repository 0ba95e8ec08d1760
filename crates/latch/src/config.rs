//! Configuration: the TOML file (`--config`), then environment variables, then command-line
//! flags. It is read and checked once at start-up into [`Config`], whose parts are handed to
//! whatever needs them; nothing reads settings from anywhere else later.
//!
//! Relative paths are taken relative to the working directory and made absolute here.

mod access;
mod dto;
mod integrations;
mod siem;
mod storage;
mod webhooks;

pub use integrations::IntegrationConfig;
pub use siem::{HttpUrl, SiemDestination, SiemSinkConfig, SyslogTransport};
pub use storage::StorageConfig;
pub use webhooks::WebhookConfig;

use crate::UsageError;
use latch_app::domain::TimeSpan;
use latch_app::domain::auth_session::SessionTimeouts;
use latch_app::domain::lockout::LockoutPolicy;
use latch_app::{AppConfig, SecretString};
use latch_recording::SpoolReserve;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

pub const ENV_DATA_DIR: &str = "LATCH_DATA_DIR";
pub const ENV_DATABASE_URL: &str = "LATCH_DATABASE_URL";
pub const ENV_HTTP_LISTEN: &str = "LATCH_HTTP_LISTEN";
pub const ENV_SSH_LISTEN: &str = "LATCH_SSH_LISTEN";
pub const ENV_UNSEAL_KEY_FILE: &str = "LATCH_UNSEAL_KEY_FILE";
pub const ENV_UNSEAL_PASSPHRASE_FILE: &str = "LATCH_UNSEAL_PASSPHRASE_FILE";
/// Holds the passphrase itself (for containers and service managers that inject secrets as
/// environment variables).
pub const ENV_UNSEAL_PASSPHRASE: &str = "LATCH_UNSEAL_PASSPHRASE";

const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:8443";
const DEFAULT_SSH_LISTEN: &str = "127.0.0.1:2222";
const DEFAULT_MAX_BODY_BYTES: i64 = 1024 * 1024;
const MAX_BODY_BYTES_RANGE: std::ops::RangeInclusive<i64> = 1024..=64 * 1024 * 1024;
const MAX_MINUTES: i64 = 366 * 24 * 60;
const MAX_HOURS: i64 = 366 * 24;

/// Command-line flags that choose the configuration; shared by `serve` and `init`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ConfigArgs {
    /// TOML config file. Environment variables override it, flags override both.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the database, keys, TLS files and recordings (env: LATCH_DATA_DIR).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://PATH?mode=rwc` or `postgres://…` (env: LATCH_DATABASE_URL; prefer the variable
    /// when the URL holds a password) [default: SQLite file DIR/latch.db]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

/// The validated configuration of one `latch` process.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database_url: DatabaseUrl,
    pub http: HttpConfig,
    pub ssh: SshConfig,
    pub recordings: RecordingsConfig,
    pub unseal: UnsealConfig,
    pub app: AppConfig,
    pub webhooks: Vec<WebhookConfig>,
    pub integrations: Vec<IntegrationConfig>,
    /// `[[siem]]`: where the audit stream is exported.
    pub siem: Vec<SiemSinkConfig>,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    pub tls: TlsFiles,
    pub max_body_bytes: usize,
}

/// Where the HTTPS certificate and its private key are.
#[derive(Debug, Clone)]
pub enum TlsFiles {
    /// The default place in the data directory; a self-signed pair is generated when absent.
    Default { cert: PathBuf, key: PathBuf },
    /// Configured by the operator; both files must exist.
    Configured { cert: PathBuf, key: PathBuf },
}

#[derive(Debug, Clone)]
pub struct SshConfig {
    /// Where the SSH gateway listens.
    pub listen: SocketAddr,
    /// An OpenSSH private key; an Ed25519 key is generated when absent.
    pub host_key: PathBuf,
    pub limits: latch_ssh::GatewayLimits,
}

/// The recording signing key's file name in the data directory.
pub const RECORDING_SIGNING_KEY: &str = "recording_signing_ed25519_key";

#[derive(Debug, Clone)]
pub struct RecordingsConfig {
    pub dir: PathBuf,
    /// The Ed25519 key (OpenSSH format, generated on first start) that signs every finished session's manifest;
    /// its `.pub` file next to it is what `latch recordings verify` needs.
    pub signing_key: PathBuf,
    /// The free space `dir` keeps (`min_free_mb`, default 64): below it, sessions whose policy requires their
    /// recording are refused and live ones ended; others go on unrecorded, audited.
    pub reserve: SpoolReserve,
    /// Where finished recordings are copied from `dir` (the spool); `None`: they stay in `dir`.
    pub storage: Option<StorageConfig>,
}

/// The spool's free-space reserve when the configuration names none.
pub const DEFAULT_RECORDINGS_MIN_FREE_MB: u64 = 64;

/// Where `latch serve` finds the unseal secret at start, tried in this order.
#[derive(Debug, Clone)]
pub struct UnsealConfig {
    pub key_file: KeyFileSetting,
    pub passphrase_file: Option<PathBuf>,
    /// From `LATCH_UNSEAL_PASSPHRASE`.
    pub passphrase: Option<SecretString>,
}

/// The unseal key file: used when present at the default place, required when configured.
#[derive(Debug, Clone)]
pub enum KeyFileSetting {
    Default(PathBuf),
    Configured(PathBuf),
}

impl KeyFileSetting {
    pub fn path(&self) -> &Path {
        match self {
            KeyFileSetting::Default(path) | KeyFileSetting::Configured(path) => path,
        }
    }
}

/// A database URL. `Debug` hides a password and the query string of server URLs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The full URL, for connecting only: it may contain a password.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL without password or (for server URLs) query, for logs and messages.
    pub fn redacted(&self) -> String {
        if self.0.starts_with("sqlite:") {
            return self.0.clone();
        }
        let base = self.0.split('?').next().unwrap_or_default();
        let Some((scheme, rest)) = base.split_once("://") else { return "[unparsable URL]".to_owned() };
        match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:[redacted]@{host}")
            }
            None => format!("{scheme}://{rest}"),
        }
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted()).finish()
    }
}

impl Config {
    /// Reads the config file named in `args` (if any), applies the environment as `env` tells
    /// it and then the flags, and checks everything. Every error names the setting, and where it
    /// came from, and is a [`UsageError`].
    pub fn load(args: &ConfigArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, UsageError> {
        let (file, file_name) = match &args.config {
            Some(path) => (read_config_file(path)?, Some(path.as_path())),
            None => (dto::ConfigFile::default(), None),
        };
        let mut layered = Layered::from_file(&file, file_name);
        layered.apply_env(env);
        layered.apply_flags(args);
        // The passphrase stays in the process environment: removing it needs `unsafe`
        // (`std::env::remove_var`, forbidden in this workspace) and would not clear
        // /proc/PID/environ anyway, which keeps the environment the process started with. That is
        // acceptable because only root and the service account can read that file, the same
        // principals who can read the data directory, and `latch` starts no child processes that
        // would inherit it. Operators who want less exposure use a passphrase file.
        let passphrase = env(ENV_UNSEAL_PASSPHRASE).filter(|value| !value.is_empty()).map(SecretString::from);
        resolve(&file, &FileName(file_name), layered, passphrase)
    }
}

/// Reads the process environment; what `latch` passes to [`Config::load`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn read_config_file(path: &Path) -> Result<dto::ConfigFile, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| UsageError(format!("cannot read the config file {}: {err}", path.display())))?;
    toml::from_str(&text).map_err(|err| UsageError(format!("config file {}: {err}", path.display())))
}

/// A setting given as text and where it came from (`LATCH_HTTP_LISTEN`, `--data-dir`,
/// `http.listen in /etc/latch.toml`), to name in error messages.
#[derive(Debug, Clone)]
struct Sourced<T> {
    value: T,
    origin: String,
}

/// The settings that the environment and flags can override, after applying the layers.
#[derive(Debug, Default)]
struct Layered {
    data_dir: Option<Sourced<PathBuf>>,
    database_url: Option<Sourced<DatabaseUrl>>,
    http_listen: Option<Sourced<String>>,
    ssh_listen: Option<Sourced<String>>,
    unseal_key_file: Option<Sourced<PathBuf>>,
    unseal_passphrase_file: Option<Sourced<PathBuf>>,
}

/// The config file's name, if there is one, for messages.
struct FileName<'a>(Option<&'a Path>);

impl FileName<'_> {
    fn key(&self, key: &str) -> String {
        match self.0 {
            Some(path) => format!("{key} in {}", path.display()),
            None => key.to_owned(),
        }
    }
}

impl Layered {
    fn from_file(file: &dto::ConfigFile, name: Option<&Path>) -> Layered {
        let name = FileName(name);
        let sourced = |value: Option<&PathBuf>, key: &str| {
            value.map(|value| Sourced { value: value.clone(), origin: name.key(key) })
        };
        let text = |value: Option<&String>, key: &str| {
            value.map(|value| Sourced { value: value.clone(), origin: name.key(key) })
        };
        Layered {
            data_dir: sourced(file.data_dir.as_ref(), "data_dir"),
            database_url: file
                .database_url
                .as_ref()
                .map(|value| Sourced { value: value.clone(), origin: name.key("database_url") }),
            http_listen: text(file.http.listen.as_ref(), "http.listen"),
            ssh_listen: text(file.ssh.listen.as_ref(), "ssh.listen"),
            unseal_key_file: sourced(file.unseal.key_file.as_ref(), "unseal.key_file"),
            unseal_passphrase_file: sourced(file.unseal.passphrase_file.as_ref(), "unseal.passphrase_file"),
        }
    }

    /// Empty variables count as unset.
    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        let get = |name: &str| {
            env(name).filter(|value| !value.is_empty()).map(|value| Sourced { value, origin: name.to_owned() })
        };
        let path = |name: &str| get(name).map(|s| Sourced { value: PathBuf::from(s.value), origin: s.origin });
        override_with(&mut self.data_dir, path(ENV_DATA_DIR));
        override_with(
            &mut self.database_url,
            get(ENV_DATABASE_URL).map(|s| Sourced { value: DatabaseUrl(s.value), origin: s.origin }),
        );
        override_with(&mut self.http_listen, get(ENV_HTTP_LISTEN));
        override_with(&mut self.ssh_listen, get(ENV_SSH_LISTEN));
        override_with(&mut self.unseal_key_file, path(ENV_UNSEAL_KEY_FILE));
        override_with(&mut self.unseal_passphrase_file, path(ENV_UNSEAL_PASSPHRASE_FILE));
    }

    fn apply_flags(&mut self, args: &ConfigArgs) {
        let flag = |value: Option<&PathBuf>, name: &str| {
            value.map(|value| Sourced { value: value.clone(), origin: name.to_owned() })
        };
        override_with(&mut self.data_dir, flag(args.data_dir.as_ref(), "--data-dir"));
        let url = args
            .database_url
            .as_ref()
            .map(|url| Sourced { value: DatabaseUrl(url.clone()), origin: "--database-url".to_owned() });
        override_with(&mut self.database_url, url);
    }
}

fn override_with<T>(slot: &mut Option<T>, value: Option<T>) {
    if value.is_some() {
        *slot = value;
    }
}

fn resolve(
    file: &dto::ConfigFile,
    name: &FileName<'_>,
    layered: Layered,
    passphrase: Option<SecretString>,
) -> Result<Config, UsageError> {
    let data_dir = resolve_data_dir(layered.data_dir)?;
    let database_url = resolve_database_url(layered.database_url, &data_dir)?;
    let http = HttpConfig {
        listen: resolve_listen(layered.http_listen, DEFAULT_HTTP_LISTEN)?,
        tls: resolve_tls(&file.http, name, &data_dir)?,
        max_body_bytes: resolve_body_limit(file.http.max_body_bytes, name)?,
    };
    let ssh = SshConfig {
        listen: resolve_listen(layered.ssh_listen, DEFAULT_SSH_LISTEN)?,
        host_key: absolute(file.ssh.host_key.as_deref(), || data_dir.join("ssh_host_ed25519_key"))?,
        limits: resolve_gateway_limits(&file.ssh, name)?,
    };
    if http.listen == ssh.listen && http.listen.port() != 0 {
        return Err(UsageError(format!("http.listen and ssh.listen are both {}", http.listen)));
    }
    let recordings = RecordingsConfig {
        dir: absolute(file.recordings.dir.as_deref(), || data_dir.join("recordings"))?,
        signing_key: absolute(file.recordings.signing_key.as_deref(), || data_dir.join(RECORDING_SIGNING_KEY))?,
        reserve: SpoolReserve::megabytes(file.recordings.min_free_mb.unwrap_or(DEFAULT_RECORDINGS_MIN_FREE_MB)),
        storage: storage::resolve(file.recordings.storage.as_ref())?,
    };
    let key_file = match layered.unseal_key_file {
        Some(path) => KeyFileSetting::Configured(make_absolute(&path.value)?),
        None => KeyFileSetting::Default(data_dir.join("unseal.key")),
    };
    let passphrase_file = layered.unseal_passphrase_file.map(|path| make_absolute(&path.value)).transpose()?;
    let unseal = UnsealConfig { key_file, passphrase_file, passphrase };
    let webhooks = webhooks::resolve(&file.webhooks)?;
    let mut app = resolve_app_config(&file.auth, name)?;
    app.break_glass = access::resolve(&file.access, name)?;
    app.webhooks = webhooks.iter().map(|w| w.subscription.clone()).collect();
    let integrations = integrations::resolve(&file.integrations)?;
    let siem = siem::resolve(&file.siem, &app.node_name)?;
    Ok(Config { data_dir, database_url, http, ssh, recordings, unseal, app, webhooks, integrations, siem })
}

fn resolve_data_dir(value: Option<Sourced<PathBuf>>) -> Result<PathBuf, UsageError> {
    let Some(value) = value else {
        return Err(UsageError(format!(
            "no data directory: pass --data-dir, set {ENV_DATA_DIR} or set data_dir in the config file"
        )));
    };
    if value.value.as_os_str().is_empty() {
        return Err(UsageError(format!("{}: the data directory must not be empty", value.origin)));
    }
    make_absolute(&value.value)
}

fn resolve_database_url(value: Option<Sourced<DatabaseUrl>>, data_dir: &Path) -> Result<DatabaseUrl, UsageError> {
    let Some(value) = value else {
        return Ok(DatabaseUrl(latch_store::Store::sqlite_url(&data_dir.join("latch.db"))));
    };
    let url = value.value.expose();
    let supported = ["sqlite:", "postgres://", "postgresql://"].iter().any(|scheme| url.starts_with(scheme));
    if !supported {
        return Err(UsageError(format!(
            "{}: {} is not a sqlite:// or postgres:// URL",
            value.origin,
            value.value.redacted()
        )));
    }
    Ok(value.value)
}

fn resolve_listen(value: Option<Sourced<String>>, default: &str) -> Result<SocketAddr, UsageError> {
    let Some(value) = value else {
        return default.parse().map_err(|_| UsageError(format!("bad built-in default address {default}")));
    };
    value.value.trim().parse().map_err(|_| {
        UsageError(format!(
            "{}: {:?} is not an IP address and port such as 127.0.0.1:8443 or [::1]:8443",
            value.origin, value.value
        ))
    })
}

fn resolve_tls(section: &dto::HttpSection, name: &FileName<'_>, data_dir: &Path) -> Result<TlsFiles, UsageError> {
    match (&section.tls_cert, &section.tls_key) {
        (None, None) => {
            let dir = data_dir.join("tls");
            Ok(TlsFiles::Default { cert: dir.join("cert.pem"), key: dir.join("key.pem") })
        }
        (Some(cert), Some(key)) => Ok(TlsFiles::Configured { cert: make_absolute(cert)?, key: make_absolute(key)? }),
        _ => {
            Err(UsageError(format!("{} and http.tls_key go together: set both or neither", name.key("http.tls_cert"))))
        }
    }
}

fn resolve_body_limit(value: Option<i64>, name: &FileName<'_>) -> Result<usize, UsageError> {
    let bytes = value.unwrap_or(DEFAULT_MAX_BODY_BYTES);
    if !MAX_BODY_BYTES_RANGE.contains(&bytes) {
        return Err(UsageError(format!(
            "{} must be between {} and {} bytes, not {bytes}",
            name.key("http.max_body_bytes"),
            MAX_BODY_BYTES_RANGE.start(),
            MAX_BODY_BYTES_RANGE.end()
        )));
    }
    usize::try_from(bytes).map_err(|_| UsageError(format!("{} is too large", name.key("http.max_body_bytes"))))
}

fn resolve_gateway_limits(ssh: &dto::SshSection, name: &FileName<'_>) -> Result<latch_ssh::GatewayLimits, UsageError> {
    let defaults = latch_ssh::GatewayLimits::default();
    let in_range = |value: Option<i64>, default: usize, key: &str, max: i64| -> Result<usize, UsageError> {
        let Some(value) = value else { return Ok(default) };
        if !(1..=max).contains(&value) {
            return Err(UsageError(format!("{} must be between 1 and {max}, not {value}", name.key(key))));
        }
        usize::try_from(value).map_err(|_| UsageError(format!("{} is too large", name.key(key))))
    };
    let auth_timeout = in_range(ssh.auth_timeout_seconds, 30, "ssh.auth_timeout_seconds", 600)?;
    Ok(latch_ssh::GatewayLimits {
        max_sessions_per_user: in_range(
            ssh.max_sessions_per_user,
            defaults.max_sessions_per_user,
            "ssh.max_sessions_per_user",
            100_000,
        )?,
        max_unauthenticated_connections: in_range(
            ssh.max_unauthenticated_connections,
            defaults.max_unauthenticated_connections,
            "ssh.max_unauthenticated_connections",
            100_000,
        )?,
        auth_timeout: std::time::Duration::from_secs(u64::try_from(auth_timeout).unwrap_or(30)),
        ..defaults
    })
}

fn resolve_app_config(auth: &dto::AuthSection, name: &FileName<'_>) -> Result<AppConfig, UsageError> {
    let in_range = |value: Option<i64>, default: i64, key: &str, max: i64| -> Result<i64, UsageError> {
        let value = value.unwrap_or(default);
        if !(1..=max).contains(&value) {
            return Err(UsageError(format!("{} must be between 1 and {max}, not {value}", name.key(key))));
        }
        Ok(value)
    };
    let max_failures = in_range(auth.lockout_max_failures, 5, "auth.lockout_max_failures", 1000)?;
    let lockout_minutes = in_range(auth.lockout_minutes, 15, "auth.lockout_minutes", MAX_MINUTES)?;
    let idle_minutes = in_range(auth.session_idle_minutes, 30, "auth.session_idle_minutes", MAX_MINUTES)?;
    let absolute_hours = in_range(auth.session_absolute_hours, 12, "auth.session_absolute_hours", MAX_HOURS)?;
    if idle_minutes > absolute_hours * 60 {
        return Err(UsageError(format!(
            "{} ({idle_minutes}) is longer than auth.session_absolute_hours ({absolute_hours} h)",
            name.key("auth.session_idle_minutes")
        )));
    }
    let totp_issuer = auth.totp_issuer.clone().unwrap_or_else(|| "Latch".to_owned());
    if totp_issuer.trim().is_empty() || totp_issuer.contains(':') || totp_issuer.chars().count() > 64 {
        return Err(UsageError(format!("{} must be 1 to 64 characters without ':'", name.key("auth.totp_issuer"))));
    }
    Ok(AppConfig {
        lockout: LockoutPolicy {
            max_failures: u32::try_from(max_failures).unwrap_or(u32::MAX),
            lock_for: TimeSpan::from_minutes(lockout_minutes),
        },
        session_timeouts: SessionTimeouts {
            idle: TimeSpan::from_minutes(idle_minutes),
            absolute: TimeSpan::from_hours(absolute_hours),
        },
        totp_issuer,
        fast_kdf_for_tests: false,
        node_name: "local".to_owned(),
        webhooks: Vec::new(),
        break_glass: None,
    })
}

fn absolute(configured: Option<&Path>, default: impl FnOnce() -> PathBuf) -> Result<PathBuf, UsageError> {
    match configured {
        Some(path) => make_absolute(path),
        None => Ok(default()),
    }
}

fn make_absolute(path: &Path) -> Result<PathBuf, UsageError> {
    std::path::absolute(path).map_err(|err| UsageError(format!("bad path {}: {err}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(toml: Option<&str>, env: &[(&str, &str)], args: ConfigArgs) -> Result<Config, UsageError> {
        let dir = tempfile::tempdir().unwrap();
        let mut args = args;
        if let Some(text) = toml {
            let path = dir.path().join("latch.toml");
            std::fs::write(&path, text).unwrap();
            args.config = Some(path);
        }
        let env: HashMap<String, String> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::load(&args, &|name| env.get(name).cloned())
    }

    fn error(toml: Option<&str>, env: &[(&str, &str)]) -> String {
        load(toml, env, ConfigArgs::default()).err().map(|e| e.0).unwrap_or_else(|| "no error".to_owned())
    }

    #[test]
    fn defaults_follow_the_data_dir() {
        let config = load(None, &[(ENV_DATA_DIR, "/srv/latch")], ConfigArgs::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/srv/latch"));
        assert_eq!(config.database_url.expose(), "sqlite:///srv/latch/latch.db?mode=rwc");
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.ssh.listen.to_string(), "127.0.0.1:2222");
        assert_eq!(config.http.max_body_bytes, 1024 * 1024);
        assert!(matches!(&config.http.tls, TlsFiles::Default { cert, .. } if cert.ends_with("tls/cert.pem")));
        assert_eq!(config.ssh.host_key, PathBuf::from("/srv/latch/ssh_host_ed25519_key"));
        assert_eq!(config.recordings.dir, PathBuf::from("/srv/latch/recordings"));
        assert_eq!(config.recordings.signing_key, PathBuf::from("/srv/latch/recording_signing_ed25519_key"));
        assert_eq!(config.recordings.reserve, SpoolReserve::megabytes(DEFAULT_RECORDINGS_MIN_FREE_MB));
        assert!(matches!(&config.unseal.key_file, KeyFileSetting::Default(p) if p.ends_with("unseal.key")));
        assert_eq!(config.app.lockout.max_failures, 5);
        assert_eq!(config.app.lockout.lock_for, TimeSpan::from_minutes(15));
        assert_eq!(config.app.session_timeouts.idle, TimeSpan::from_minutes(30));
        assert_eq!(config.app.session_timeouts.absolute, TimeSpan::from_hours(12));
        assert_eq!(config.app.totp_issuer, "Latch");
    }

    #[test]
    fn flags_beat_environment_beats_file() {
        let toml = "data_dir = \"/from/file\"\n[http]\nlisten = \"127.0.0.1:1\"\n[ssh]\nlisten = \"127.0.0.1:2\"\n";
        let env = [(ENV_DATA_DIR, "/from/env"), (ENV_HTTP_LISTEN, "127.0.0.1:3")];
        let flags = ConfigArgs { data_dir: Some("/from/flag".into()), ..ConfigArgs::default() };
        let config = load(Some(toml), &env, flags).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(config.http.listen.port(), 3);
        assert_eq!(config.ssh.listen.port(), 2);
        let config = load(Some(toml), &env, ConfigArgs::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/env"));
        let config = load(Some(toml), &[(ENV_DATA_DIR, "")], ConfigArgs::default()).unwrap();
        assert_eq!(config.data_dir, PathBuf::from("/from/file"));
    }

    #[test]
    fn every_section_is_read() {
        let toml = r#"
            data_dir = "/d"
            database_url = "postgres://latch:hunter2@db.example/latch?sslmode=require"
            [http]
            listen = "[::1]:9443"
            tls_cert = "/etc/latch/cert.pem"
            tls_key = "/etc/latch/key.pem"
            max_body_bytes = 2048
            [ssh]
            listen = "0.0.0.0:22"
            host_key = "/etc/latch/host_key"
            [recordings]
            dir = "/var/lib/latch-recordings"
            min_free_mb = 512
            [unseal]
            key_file = "/run/secrets/unseal.key"
            passphrase_file = "/run/secrets/passphrase"
            [auth]
            lockout_max_failures = 3
            lockout_minutes = 60
            session_idle_minutes = 10
            session_absolute_hours = 8
            totp_issuer = "ACME Latch"
        "#;
        let config =
            load(Some(toml), &[(ENV_UNSEAL_PASSPHRASE, "correct horse battery")], ConfigArgs::default()).unwrap();
        assert_eq!(config.http.listen.to_string(), "[::1]:9443");
        assert!(matches!(config.http.tls, TlsFiles::Configured { .. }));
        assert_eq!(config.http.max_body_bytes, 2048);
        assert_eq!(config.ssh.host_key, PathBuf::from("/etc/latch/host_key"));
        assert_eq!(config.recordings.dir, PathBuf::from("/var/lib/latch-recordings"));
        assert_eq!(config.recordings.reserve, SpoolReserve::megabytes(512));
        assert!(matches!(&config.unseal.key_file, KeyFileSetting::Configured(p) if p.ends_with("secrets/unseal.key")));
        assert_eq!(config.unseal.passphrase_file, Some(PathBuf::from("/run/secrets/passphrase")));
        assert_eq!(config.app.lockout.max_failures, 3);
        assert_eq!(config.app.session_timeouts.absolute, TimeSpan::from_hours(8));
        assert_eq!(config.app.totp_issuer, "ACME Latch");
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("sslmode"), "{debug}");
        assert!(!debug.contains("correct horse"), "{debug}");
        assert!(debug.contains("postgres://latch:[redacted]@db.example/latch"), "{debug}");
    }

    #[test]
    fn unknown_keys_name_the_key_and_the_file() {
        let message = error(Some("data_dir = \"/d\"\n[http]\nlisten_adress = \"127.0.0.1:1\"\n"), &[]);
        assert!(message.contains("listen_adress"), "{message}");
        assert!(message.contains("latch.toml"), "{message}");
        let message = error(Some("colour = \"blue\"\n"), &[]);
        assert!(message.contains("colour"), "{message}");
    }

    #[test]
    fn bad_values_are_explained() {
        let check = |toml: Option<&str>, env: &[(&str, &str)], expect: &str| {
            let message = error(toml, env);
            assert!(message.contains(expect), "expected {expect:?} in {message:?}");
        };
        let dir = [(ENV_DATA_DIR, "/d")];
        check(None, &[], "no data directory");
        check(None, &[(ENV_DATA_DIR, "/d"), (ENV_HTTP_LISTEN, "localhost")], "LATCH_HTTP_LISTEN: \"localhost\"");
        check(None, &[(ENV_DATA_DIR, "/d"), (ENV_SSH_LISTEN, "1.2.3.4:99999")], "LATCH_SSH_LISTEN");
        check(None, &[(ENV_DATA_DIR, "/d"), (ENV_DATABASE_URL, "mysql://u:pw@h/db")], "mysql://u:[redacted]@h/db");
        check(Some("[http]\nmax_body_bytes = 10\n"), &dir, "http.max_body_bytes in");
        check(Some("[http]\nmax_body_bytes = 1000000000\n"), &dir, "between 1024 and");
        check(Some("[http]\ntls_cert = \"/c\"\n"), &dir, "set both or neither");
        check(Some("[auth]\nlockout_minutes = 0\n"), &dir, "auth.lockout_minutes");
        check(Some("[auth]\nsession_idle_minutes = -5\n"), &dir, "auth.session_idle_minutes");
        check(Some("[auth]\nsession_idle_minutes = 600\nsession_absolute_hours = 1\n"), &dir, "longer than");
        check(Some("[auth]\ntotp_issuer = \"a:b\"\n"), &dir, "auth.totp_issuer");
        check(Some("[auth]\nlockout_max_failures = \"five\"\n"), &dir, "lockout_max_failures");
        check(Some("[http]\nlisten = \"127.0.0.1:9\"\n[ssh]\nlisten = \"127.0.0.1:9\"\n"), &dir, "both 127.0.0.1:9");
        check(Some("[ssh]\nmax_sessions_per_user = 0\n"), &dir, "ssh.max_sessions_per_user");
        check(Some("[ssh]\nauth_timeout_seconds = 601\n"), &dir, "ssh.auth_timeout_seconds");
        check(Some("[[siem]]\nname = \"a\"\nkind = \"file\"\n"), &dir, "[[siem]] #1: path is required");
        check(Some("[[siem]]\nname = \"a\"\nkind = \"file\"\npath = \"/x\"\nport = 1\n"), &dir, "port");
    }

    #[test]
    fn siem_sinks_are_read() {
        let toml = "[[siem]]\nname = \"archive\"\nkind = \"file\"\npath = \"/var/log/latch/audit.jsonl\"\n\
                    [[siem]]\nname = \"soc\"\nkind = \"syslog\"\naddress = \"127.0.0.1:514\"\ntransport = \"udp\"\n";
        let config = load(Some(toml), &[(ENV_DATA_DIR, "/d")], ConfigArgs::default()).unwrap();
        let names: Vec<&str> = config.siem.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["archive", "soc"]);
        let SiemDestination::Syslog { header, .. } = &config.siem[1].destination else { panic!("{config:?}") };
        assert_eq!(header.hostname, config.app.node_name, "the node name is the default HOSTNAME");
    }

    #[test]
    fn gateway_limits_are_read() {
        let toml =
            "[ssh]\nmax_sessions_per_user = 600\nmax_unauthenticated_connections = 200\nauth_timeout_seconds = 20\n";
        let config = load(Some(toml), &[(ENV_DATA_DIR, "/d")], ConfigArgs::default()).unwrap();
        assert_eq!(config.ssh.limits.max_sessions_per_user, 600);
        assert_eq!(config.ssh.limits.max_unauthenticated_connections, 200);
        assert_eq!(config.ssh.limits.auth_timeout, std::time::Duration::from_secs(20));
        let defaults = load(None, &[(ENV_DATA_DIR, "/d")], ConfigArgs::default()).unwrap();
        assert_eq!(defaults.ssh.limits, latch_ssh::GatewayLimits::default());
    }

    #[test]
    fn relative_paths_become_absolute() {
        let flags = ConfigArgs { data_dir: Some("relative/dir".into()), ..ConfigArgs::default() };
        let config = load(None, &[], flags).unwrap();
        assert!(config.data_dir.is_absolute());
        assert!(config.data_dir.ends_with("relative/dir"));
    }
}
