//! The shape of the TOML config file, exactly as written. Every field is optional; defaults and
//! checks live in [`super::Config`]. Unknown keys are an error so that a typo never silently
//! falls back to a default.

use super::DatabaseUrl;
use serde::Deserialize;
use std::path::PathBuf;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<DatabaseUrl>,
    #[serde(default)]
    pub http: HttpSection,
    #[serde(default)]
    pub ssh: SshSection,
    #[serde(default)]
    pub recordings: RecordingsSection,
    #[serde(default)]
    pub unseal: UnsealSection,
    #[serde(default)]
    pub auth: AuthSection,
}

/// `[http]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    pub listen: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_body_bytes: Option<i64>,
}

/// `[ssh]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SshSection {
    pub listen: Option<String>,
    pub host_key: Option<PathBuf>,
    pub max_sessions_per_user: Option<i64>,
    pub max_unauthenticated_connections: Option<i64>,
    pub auth_timeout_seconds: Option<i64>,
}

/// `[recordings]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingsSection {
    pub dir: Option<PathBuf>,
}

/// `[unseal]`: where the unseal secret is read from at start. The secret itself never goes in
/// the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnsealSection {
    pub key_file: Option<PathBuf>,
    pub passphrase_file: Option<PathBuf>,
}

/// `[auth]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    pub lockout_max_failures: Option<i64>,
    pub lockout_minutes: Option<i64>,
    pub session_idle_minutes: Option<i64>,
    pub session_absolute_hours: Option<i64>,
    pub totp_issuer: Option<String>,
}
