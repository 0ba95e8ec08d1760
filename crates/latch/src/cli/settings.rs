//! The client's own settings: `$LATCH_CONFIG_DIR/cli.toml` (by default `$XDG_CONFIG_HOME/latch`
//! or `~/.config/latch`), holding the server URL, the session token and how to trust the
//! server's certificate; written with mode 0600, atomically. Scripts override it with
//! `LATCH_SERVER`, `LATCH_TOKEN`, `LATCH_CA_CERT` and `LATCH_FINGERPRINT`.

use crate::UsageError;
use anyhow::Context;
use latch_api::client::Fingerprint;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const ENV_CONFIG_DIR: &str = "LATCH_CONFIG_DIR";
pub const ENV_SERVER: &str = "LATCH_SERVER";
pub const ENV_TOKEN: &str = "LATCH_TOKEN";
pub const ENV_CA_CERT: &str = "LATCH_CA_CERT";
pub const ENV_FINGERPRINT: &str = "LATCH_FINGERPRINT";

const FILE_NAME: &str = "cli.toml";

/// The file's shape.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsFile {
    pub server: Option<String>,
    pub token: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub fingerprint: Option<String>,
}

/// How to trust the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustSetting {
    /// The system's roots.
    System,
    CaCert(PathBuf),
    Fingerprint(Fingerprint),
}

/// The settings in effect: the file with the environment applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub server: Option<String>,
    pub token: Option<String>,
    pub trust: TrustSetting,
}

impl SettingsFile {
    /// The trust the file names.
    pub fn trust(&self) -> Result<TrustSetting, UsageError> {
        trust_from(self.ca_cert.clone(), self.fingerprint.as_deref(), "cli.toml")
    }

    /// Records `trust` (replacing what was there).
    pub fn set_trust(&mut self, trust: &TrustSetting) {
        (self.ca_cert, self.fingerprint) = match trust {
            TrustSetting::System => (None, None),
            TrustSetting::CaCert(path) => (Some(path.clone()), None),
            TrustSetting::Fingerprint(pin) => (None, Some(pin.to_string())),
        };
    }
}

/// The directory of `cli.toml`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, UsageError> {
    if let Some(dir) = env(ENV_CONFIG_DIR).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = env("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("latch"));
    }
    match env("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("latch")),
        None => Err(UsageError(format!("cannot find a place for {FILE_NAME}: set {ENV_CONFIG_DIR} or HOME"))),
    }
}

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The path of `cli.toml`.
pub fn file_path() -> Result<PathBuf, UsageError> {
    Ok(config_dir(&process_env)?.join(FILE_NAME))
}

/// Reads `cli.toml`; a missing file is an empty one.
pub fn load_file(path: &Path) -> anyhow::Result<SettingsFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(SettingsFile::default()),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    toml::from_str(&text).map_err(|err| UsageError(format!("{}: {err}", path.display())).into())
}

/// Writes `cli.toml` with mode 0600 (its directory 0700): a new file renamed over the old one.
pub fn save_file(path: &Path, settings: &SettingsFile) -> anyhow::Result<()> {
    let dir = path.parent().context("the settings file has no directory")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let text = toml::to_string(settings).context("cannot write the settings as TOML")?;
    let temporary = dir.join(format!(".{FILE_NAME}.{}.tmp", std::process::id()));
    let written = write_private(&temporary, text.as_bytes())
        .and_then(|()| std::fs::rename(&temporary, path).with_context(|| format!("cannot replace {}", path.display())));
    if written.is_err() {
        let _ignored = std::fs::remove_file(&temporary);
    }
    written
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", path.display()))
}

/// The settings in effect: `file`, overridden by the environment. A `LATCH_SERVER` naming another
/// server than the file's drops the file's token and trust, which belong to that other server.
pub fn resolve(file: &SettingsFile, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, UsageError> {
    let env = |name: &str| env(name).filter(|value| !value.is_empty());
    let env_server = env(ENV_SERVER);
    let same_server = match (&env_server, &file.server) {
        (Some(from_env), Some(saved)) => same_url(from_env, saved),
        (Some(_), None) => false,
        (None, _) => true,
    };
    let (mut token, mut trust) =
        if same_server { (file.token.clone(), file.trust()?) } else { (None, TrustSetting::System) };
    if let Some(from_env) = env(ENV_TOKEN) {
        token = Some(from_env);
    }
    if let Some(from_env) = env_trust(&env)? {
        trust = from_env;
    }
    Ok(Settings { server: env_server.or_else(|| file.server.clone()), token, trust })
}

/// The trust `LATCH_CA_CERT` or `LATCH_FINGERPRINT` names, if either is set.
pub fn env_trust(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<TrustSetting>, UsageError> {
    let env_ca = env(ENV_CA_CERT).filter(|value| !value.is_empty()).map(PathBuf::from);
    let env_pin = env(ENV_FINGERPRINT).filter(|value| !value.is_empty());
    if env_ca.is_none() && env_pin.is_none() {
        return Ok(None);
    }
    trust_from(env_ca, env_pin.as_deref(), "the environment").map(Some)
}

fn trust_from(ca_cert: Option<PathBuf>, fingerprint: Option<&str>, origin: &str) -> Result<TrustSetting, UsageError> {
    match (ca_cert, fingerprint) {
        (Some(_), Some(_)) => {
            Err(UsageError(format!("{origin} names both a CA certificate and a fingerprint: keep one")))
        }
        (Some(path), None) => Ok(TrustSetting::CaCert(path)),
        (None, Some(pin)) => {
            Fingerprint::parse(pin).map(TrustSetting::Fingerprint).map_err(|err| UsageError(format!("{origin}: {err}")))
        }
        (None, None) => Ok(TrustSetting::System),
    }
}

/// Whether two server URLs name the same server (ignoring a trailing slash and case of the host).
pub fn same_url(a: &str, b: &str) -> bool {
    let normal = |url: &str| url.trim().trim_end_matches('/').to_ascii_lowercase();
    normal(a) == normal(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const PIN: &str = "sha256/0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    fn saved() -> SettingsFile {
        SettingsFile {
            server: Some("https://latch.example:8443".to_owned()),
            token: Some("lsess_saved".to_owned()),
            ca_cert: None,
            fingerprint: Some(PIN.to_owned()),
        }
    }

    #[test]
    fn the_file_applies_without_environment() {
        let settings = resolve(&saved(), &env_of(&[])).unwrap();
        assert_eq!(settings.server.as_deref(), Some("https://latch.example:8443"));
        assert_eq!(settings.token.as_deref(), Some("lsess_saved"));
        assert!(matches!(settings.trust, TrustSetting::Fingerprint(pin) if pin.to_string() == PIN));
    }

    #[test]
    fn another_server_in_the_environment_does_not_get_the_saved_token() {
        let settings = resolve(&saved(), &env_of(&[(ENV_SERVER, "https://other:8443")])).unwrap();
        assert_eq!(settings.server.as_deref(), Some("https://other:8443"));
        assert_eq!(settings.token, None);
        assert_eq!(settings.trust, TrustSetting::System);
        let same = resolve(&saved(), &env_of(&[(ENV_SERVER, "https://LATCH.example:8443/")])).unwrap();
        assert_eq!(same.token.as_deref(), Some("lsess_saved"));
    }

    #[test]
    fn environment_overrides_token_and_trust() {
        let env = env_of(&[(ENV_TOKEN, "lapi_script"), (ENV_CA_CERT, "/etc/latch/ca.pem")]);
        let settings = resolve(&saved(), &env).unwrap();
        assert_eq!(settings.token.as_deref(), Some("lapi_script"));
        assert_eq!(settings.trust, TrustSetting::CaCert(PathBuf::from("/etc/latch/ca.pem")));
        let both = env_of(&[(ENV_CA_CERT, "/ca.pem"), (ENV_FINGERPRINT, PIN)]);
        assert!(resolve(&SettingsFile::default(), &both).is_err());
        assert!(resolve(&SettingsFile::default(), &env_of(&[(ENV_FINGERPRINT, "nope")])).is_err());
    }

    #[test]
    fn config_dir_follows_xdg() {
        assert_eq!(config_dir(&env_of(&[(ENV_CONFIG_DIR, "/c"), ("HOME", "/h")])).unwrap(), PathBuf::from("/c"));
        assert_eq!(
            config_dir(&env_of(&[("XDG_CONFIG_HOME", "/x"), ("HOME", "/h")])).unwrap(),
            PathBuf::from("/x/latch")
        );
        assert_eq!(config_dir(&env_of(&[("HOME", "/h")])).unwrap(), PathBuf::from("/h/.config/latch"));
        assert!(config_dir(&env_of(&[])).is_err());
    }

    #[test]
    fn saved_files_are_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join(FILE_NAME);
        assert_eq!(load_file(&path).unwrap(), SettingsFile::default());
        save_file(&path, &saved()).unwrap();
        assert_eq!(load_file(&path).unwrap(), saved());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
        let mut changed = saved();
        changed.set_trust(&TrustSetting::CaCert(PathBuf::from("/ca.pem")));
        save_file(&path, &changed).unwrap();
        assert_eq!(load_file(&path).unwrap().trust().unwrap(), TrustSetting::CaCert(PathBuf::from("/ca.pem")));
        assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file is left");
    }
}
