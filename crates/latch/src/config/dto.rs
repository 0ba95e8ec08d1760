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
    #[serde(default)]
    pub access: AccessSection,
    #[serde(default)]
    pub webhooks: Vec<WebhookSection>,
    #[serde(default)]
    pub integrations: Vec<IntegrationSection>,
    #[serde(default)]
    pub siem: Vec<SiemSection>,
}

/// `[[siem]]`: one SIEM sink the audit stream (and, if asked, session events) is exported to. Which keys apply depends on `kind`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiemSection {
    pub name: Option<String>,
    /// `file`, `syslog` or `http`.
    pub kind: Option<String>,
    /// file: the JSON Lines file to append to.
    pub path: Option<PathBuf>,
    /// syslog: `host:port` of the receiver.
    pub address: Option<String>,
    /// syslog: `tcp` (octet-counted frames) or `udp` (one message per datagram).
    pub transport: Option<String>,
    /// syslog: APP-NAME (default `latch`).
    pub app_name: Option<String>,
    /// syslog: HOSTNAME (default the node name).
    pub hostname: Option<String>,
    /// syslog: `auth`, `authpriv` (default) or `local0` to `local7`.
    pub facility: Option<String>,
    /// syslog over UDP: the largest datagram (default 2048); longer records have their details cut.
    pub max_message_bytes: Option<i64>,
    /// http: where batches are POSTed (https, or http to a loopback address).
    pub url: Option<String>,
    /// http: a file holding the bearer token.
    pub token_file: Option<PathBuf>,
    /// How long one delivery attempt may take (default 10, at most 300).
    pub timeout_seconds: Option<i64>,
    /// Records per delivery (default 500, at most 5000).
    pub batch_size: Option<i64>,
    /// The first wait after a failed delivery (default 500 ms); it doubles with each failure.
    pub retry_initial_ms: Option<i64>,
    /// The longest wait between attempts (default 60 s).
    pub retry_max_seconds: Option<i64>,
    /// What the sink gets: `audit` and/or `session_events` (default `["audit"]`).
    pub streams: Option<Vec<String>>,
}

/// `[[integrations]]`: one incident integration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntegrationSection {
    pub name: Option<String>,
    /// Where Latch asks for a ticket's open tasks (`POST`, JSON).
    pub url: Option<String>,
    /// A file holding the bearer token Latch sends to the incident system.
    pub secret_file: Option<PathBuf>,
    /// How long a lookup may take (default 5, at most 30); a slower one refuses the request.
    pub timeout_seconds: Option<i64>,
    /// A file holding the bearer token the incident system sends when it reports an incident closed.
    pub inbound_secret_file: Option<PathBuf>,
}

/// `[[webhooks]]`: one outgoing webhook.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSection {
    pub name: Option<String>,
    pub url: Option<String>,
    /// A file holding the HMAC-SHA256 signing secret.
    pub secret_file: Option<PathBuf>,
    /// Audit event kinds: `*`, a prefix such as `request.`, or exact kinds.
    pub events: Option<Vec<String>>,
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
    pub signing_key: Option<PathBuf>,
    /// The free space (MiB) the recordings directory keeps; 0 turns the check off.
    pub min_free_mb: Option<u64>,
    pub storage: Option<super::storage::StorageSection>,
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

/// `[access]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSection {
    /// The group whose members may switch break-glass (emergency access) on; none means no break-glass.
    pub break_glass_group: Option<String>,
    /// How long break-glass stays on at most, 1 to 1440 (default 240).
    pub break_glass_max_minutes: Option<i64>,
}
