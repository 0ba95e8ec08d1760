//! The one mapping from application errors to HTTP status codes and the error body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use latch_api::ErrorBody;
use latch_app::AppError;

/// An error as the API returns it: `{"error": code, "message": text}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_input", message)
    }
}

impl From<AppError> for ApiError {
    fn from(err: AppError) -> Self {
        if err.is_internal() {
            tracing::error!(error = %err, source = ?std::error::Error::source(&err), "request failed");
        }
        let (status, code) = match &err {
            AppError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            AppError::TotpRequired => (StatusCode::UNAUTHORIZED, "totp_required"),
            AppError::Locked { .. } => (StatusCode::LOCKED, "locked"),
            AppError::Disabled => (StatusCode::FORBIDDEN, "disabled"),
            AppError::PasswordChangeRequired => (StatusCode::FORBIDDEN, "password_change_required"),
            AppError::TotpEnrollmentRequired => (StatusCode::FORBIDDEN, "totp_enrollment_required"),
            AppError::Forbidden | AppError::Refused(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Conflict(_) | AppError::StateConflict(_) | AppError::AlreadyInitialized => {
                (StatusCode::CONFLICT, "conflict")
            }
            AppError::Invalid(_) | AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_input"),
            AppError::WrongUnsealKey => (StatusCode::BAD_REQUEST, "wrong_unseal_key"),
            AppError::Sealed => (StatusCode::SERVICE_UNAVAILABLE, "sealed"),
            AppError::NotInitialized => (StatusCode::SERVICE_UNAVAILABLE, "not_initialized"),
            AppError::AuditUnavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable"),
            AppError::Store(_) | AppError::Vault(_) | AppError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        let message = match &err {
            AppError::Locked { until } => format!("{err} (until {})", crate::views::time(*until)),
            _ => err.to_string(),
        };
        ApiError::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { error: self.code.to_owned(), message: self.message };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"latch\""),
            );
        }
        response
    }
}

/// Rejections of axum's own extractors, in the same error shape.
impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        let status = match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, "invalid_input", rejection.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;
