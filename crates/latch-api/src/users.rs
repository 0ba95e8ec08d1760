use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    /// Roles given directly; group roles add to these.
    pub roles: Vec<String>,
    pub disabled: bool,
    pub must_change_password: bool,
    pub totp_enrolled: bool,
    pub totp_required: bool,
    pub failed_logins: u32,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub last_login_at: Option<String>,
}

#[derive(Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub totp_required: bool,
    /// Leave out to get a one-time password the user must change at first login.
    pub password: Option<String>,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateUserResponse {
    pub user: UserView,
    /// Present when no password was given; shown once.
    pub one_time_password: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub display_name: Option<String>,
    /// An empty string clears the address.
    pub email: Option<String>,
    pub roles: Option<Vec<String>>,
    pub totp_required: Option<bool>,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct PasswordResetView {
    /// Shown once; the user must change it at next login.
    pub one_time_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserListView {
    pub users: Vec<UserView>,
}

crate::redact::redacted_debug!(CreateUserRequest { username, display_name, email, roles, totp_required } hides { password });

crate::redact::redacted_debug!(CreateUserResponse { user } hides { one_time_password });

crate::redact::redacted_debug!(PasswordResetView {  } hides { one_time_password });
