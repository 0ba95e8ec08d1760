use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ApiAccountView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    /// CIDR ranges; empty means any source.
    pub allowed_sources: Vec<String>,
    pub token_ttl_secs: i64,
    pub revoked: bool,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub secret_rotated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiAccountListView {
    pub api_accounts: Vec<ApiAccountView>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiAccountRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub scopes: Vec<String>,
    #[serde(default)]
    pub allowed_sources: Vec<String>,
    pub token_ttl_secs: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateApiAccountRequest {
    pub description: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allowed_sources: Option<Vec<String>>,
    pub token_ttl_secs: Option<i64>,
}

/// An API account with its client secret, which is shown only here.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiAccountSecretView {
    pub api_account: ApiAccountView,
    /// The `client_id` for `/oauth/token` is the account's name or id.
    pub client_secret: String,
}

/// The form of `POST /oauth/token` (RFC 6749 §4.4); client credentials may also come by HTTP Basic.
#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct TokenRequest {
    pub grant_type: String,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
}

/// RFC 6749 §5.1.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub scope: String,
}

/// RFC 6749 §5.2.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OAuthErrorBody {
    pub error: String,
    pub error_description: String,
}

crate::redact::redacted_debug!(ApiAccountSecretView { api_account } hides { client_secret });

crate::redact::redacted_debug!(TokenRequest { grant_type, client_id, scope } hides { client_secret });

crate::redact::redacted_debug!(TokenResponse { token_type, expires_in, scope } hides { access_token });
