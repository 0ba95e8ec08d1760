use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct TargetView {
    pub id: String,
    pub name: String,
    pub address: String,
    pub port: u16,
    pub protocols: Vec<String>,
    pub tags: Vec<String>,
    pub description: String,
    pub host_key_pin: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccountView {
    pub id: String,
    pub target_id: String,
    pub username: String,
    /// `password` or `ssh_private_key`.
    pub secret_kind: String,
    pub has_secret: bool,
    pub api_enabled: bool,
    pub rotate_after_use: bool,
    /// Check-outs are exclusive (one holder at a time) rather than shared.
    #[serde(default = "exclusive_by_default")]
    pub exclusive_checkout: bool,
    pub description: String,
    pub secret_updated_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TargetDetailsView {
    pub target: TargetView,
    pub accounts: Vec<AccountView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TargetSearchView {
    pub targets: Vec<TargetView>,
    pub total: i64,
}

/// Search parameters: every given one must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TargetSearchParams {
    /// Case-insensitive text in name, address or description.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub protocol: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTargetRequest {
    pub name: String,
    pub address: String,
    /// Defaults to the first protocol's standard port.
    pub port: Option<u16>,
    /// `ssh`, `telnet`, `rdp`, `postgres`; defaults to `ssh`.
    #[serde(default)]
    pub protocols: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// `SHA256:…` (SSH host key) or `sha256/<hex>` (TLS certificate).
    pub host_key_pin: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTargetRequest {
    pub address: Option<String>,
    pub port: Option<u16>,
    pub protocols: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub description: Option<String>,
    /// An empty string removes the pin.
    pub host_key_pin: Option<String>,
}

#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub username: String,
    /// `password` (default) or `ssh_private_key`.
    #[serde(default = "default_secret_kind")]
    pub secret_kind: String,
    /// Stored encrypted, never returned.
    pub secret: Option<String>,
    #[serde(default)]
    pub api_enabled: bool,
    #[serde(default)]
    pub rotate_after_use: bool,
    /// Check-outs are exclusive (one holder at a time; the default) or shared (`false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_checkout: Option<bool>,
    #[serde(default)]
    pub description: String,
}

fn default_secret_kind() -> String {
    "password".to_owned()
}

fn exclusive_by_default() -> bool {
    true
}

#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    pub api_enabled: Option<bool>,
    pub rotate_after_use: Option<bool>,
    pub exclusive_checkout: Option<bool>,
    pub description: Option<String>,
    /// A new secret; stored encrypted, never returned.
    pub secret: Option<String>,
}

/// The inventory as a document: exported without secrets, imported with optional secrets.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryDocumentView {
    /// Format version, currently 1.
    pub version: u32,
    pub targets: Vec<InventoryTargetView>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InventoryTargetView {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    #[serde(default)]
    pub protocols: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub host_key_pin: Option<String>,
    #[serde(default)]
    pub accounts: Vec<CreateAccountRequest>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ImportReportView {
    pub targets_created: i64,
    pub targets_updated: i64,
    pub accounts_created: i64,
    pub accounts_updated: i64,
}

crate::redact::redacted_debug!(CreateAccountRequest { username, secret_kind, api_enabled, rotate_after_use, exclusive_checkout, description } hides { secret });

crate::redact::redacted_debug!(UpdateAccountRequest { api_enabled, rotate_after_use, exclusive_checkout, description } hides { secret });

/// The SSH host key a target presented when Latch connected to it (not yet trusted).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct PresentedHostKeyView {
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    pub algorithm: String,
    /// `ssh-ed25519 AAAA…`
    pub openssh: String,
}

/// Pins the host key fingerprint an administrator confirmed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PinHostKeyRequest {
    pub fingerprint: String,
}
