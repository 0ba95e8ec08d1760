use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{AnyStage, Body, Ctx, Need};
use crate::views;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use latch_api::{
    ChangePasswordRequest, ErrorBody, LoginRequest, LoginResponse, MeView, TotpConfirmRequest, TotpEnrollmentView,
};
use latch_app::{Principal, SecretString};
use latch_domain::auth_session::AuthSessionKind;

/// Logs in with username, password and (when enrolled) a TOTP code; returns a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", security(()), request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = ErrorBody), (status = 423, body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<HttpState>,
    Ctx(ctx): Ctx,
    Body(request): Body<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let outcome = state
        .app
        .login(
            latch_app::LoginRequest {
                username: request.username,
                password: SecretString::new(request.password),
                totp_code: request.totp_code,
                kind: AuthSessionKind::Api,
            },
            &ctx,
        )
        .await?;
    Ok(Json(LoginResponse {
        token: outcome.token.expose().clone(),
        stage: outcome.session.stage.as_str().to_owned(),
        user: views::user(&outcome.user),
    }))
}

/// Ends the caller's session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub(crate) async fn logout(State(state): State<HttpState>, need: Need<AnyStage>) -> ApiResult<StatusCode> {
    state.app.logout(&need.principal, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller, their effective roles and login stage.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = MeView)))]
pub(crate) async fn me(need: Need<AnyStage>) -> ApiResult<Json<MeView>> {
    let Principal::User(user) = &need.principal else { return Err(latch_app::AppError::Forbidden.into()) };
    Ok(Json(MeView {
        user: views::user(user.user()),
        effective_roles: user.roles().as_slice().iter().map(ToString::to_string).collect(),
        stage: user.stage().as_str().to_owned(),
    }))
}

/// Changes the caller's password (required first after a one-time password).
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = ErrorBody)))]
pub(crate) async fn change_password(
    State(state): State<HttpState>,
    need: Need<AnyStage>,
    Body(request): Body<ChangePasswordRequest>,
) -> ApiResult<StatusCode> {
    let current = SecretString::new(request.current_password);
    let new = SecretString::new(request.new_password);
    state.app.change_own_password(&need.principal, current, new, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts TOTP enrolment: returns the otpauth URI and a QR code.
#[utoipa::path(post, path = "/api/v1/auth/totp/enroll", tag = "auth", responses((status = 200, body = TotpEnrollmentView)))]
pub(crate) async fn begin_totp(
    State(state): State<HttpState>,
    need: Need<AnyStage>,
) -> ApiResult<Json<TotpEnrollmentView>> {
    let enrollment = state.app.begin_totp_enrollment(&need.principal).await?;
    Ok(Json(TotpEnrollmentView {
        otpauth_uri: enrollment.otpauth_uri.expose().clone(),
        qr_png_base64: enrollment.qr_png_base64.expose().clone(),
    }))
}

/// Confirms TOTP enrolment with a first code.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "auth", request_body = TotpConfirmRequest,
    responses((status = 204), (status = 400, body = ErrorBody)))]
pub(crate) async fn confirm_totp(
    State(state): State<HttpState>,
    need: Need<AnyStage>,
    Body(request): Body<TotpConfirmRequest>,
) -> ApiResult<StatusCode> {
    state.app.confirm_totp_enrollment(&need.principal, &request.code, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
