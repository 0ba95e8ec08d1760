use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An SSH public key registered to a user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct SshKeyView {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub algorithm: String,
    /// `SHA256:…`, as `ssh-keygen -lf` prints it.
    pub fingerprint: String,
    /// `TYPE BASE64`.
    pub public_key: String,
    pub comment: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SshKeyListView {
    pub keys: Vec<SshKeyView>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddSshKeyRequest {
    /// One line of a .pub file: `TYPE BASE64 [COMMENT]`.
    pub public_key: String,
    /// At most 100 characters; the key's comment when empty.
    #[serde(default)]
    pub name: String,
}
