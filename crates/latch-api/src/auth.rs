use crate::UserView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
    /// The current code of the user's authenticator app, when enrolled.
    pub totp_code: Option<String>,
}

/// A successful login. The token is also set as a cookie for browsers.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// A bearer token: send it as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// `full`, `password_change_required` or `totp_enrollment_required`.
    pub stage: String,
    pub user: UserView,
}

/// Who the caller is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MeView {
    pub user: UserView,
    pub effective_roles: Vec<String>,
    pub stage: String,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// A TOTP enrolment in progress: scan the QR code (or enter the URI), then confirm with a code.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TotpEnrollmentView {
    pub otpauth_uri: String,
    /// A PNG image, base64-encoded.
    pub qr_png_base64: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmRequest {
    pub code: String,
}

crate::redact::redacted_debug!(LoginRequest { username } hides { password, totp_code });

crate::redact::redacted_debug!(LoginResponse { stage, user } hides { token });

crate::redact::redacted_debug!(ChangePasswordRequest {  } hides { current_password, new_password });

crate::redact::redacted_debug!(TotpEnrollmentView {  } hides { otpauth_uri, qr_png_base64 });
