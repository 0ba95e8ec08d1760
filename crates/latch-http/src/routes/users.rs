use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Admin, Body, Need, Params, Signed, UsersRead};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::{
    CreateUserRequest, CreateUserResponse, ErrorBody, PasswordResetView, UpdateUserRequest, UserListView, UserView,
};
use latch_app::{NewUser, SecretString, UserChange};
use latch_domain::permission::Role;
use serde::Deserialize;
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Page {
    limit: Option<i64>,
    offset: Option<i64>,
}

pub(crate) fn roles(names: &[String]) -> Result<Vec<Role>, latch_app::AppError> {
    names.iter().map(|n| Role::parse(n).map_err(latch_app::AppError::from)).collect()
}

/// Lists users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(Page), responses((status = 200, body = UserListView)))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    need: Need<UsersRead>,
    Params(page): Params<Page>,
) -> ApiResult<Json<UserListView>> {
    let users = state.app.list_users(&need.principal, page.limit.unwrap_or(200), page.offset.unwrap_or(0)).await?;
    Ok(Json(UserListView { users: users.iter().map(views::user).collect() }))
}

/// Creates a local user; without a password a one-time password is returned once.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses((status = 201, body = CreateUserResponse), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Body(request): Body<CreateUserRequest>,
) -> ApiResult<(StatusCode, Json<CreateUserResponse>)> {
    let new = NewUser {
        username: request.username,
        display_name: request.display_name,
        email: request.email,
        roles: roles(&request.roles)?,
        totp_required: request.totp_required,
        password: request.password.map(SecretString::new),
    };
    let (user, otp) = state.app.create_user(&need.principal, new, &need.ctx).await?;
    let body = CreateUserResponse { user: views::user(&user), one_time_password: otp.map(|p| p.expose().clone()) };
    Ok((StatusCode::CREATED, Json(body)))
}

/// A user by id or username; anyone may read themselves.
#[utoipa::path(get, path = "/api/v1/users/{user}", tag = "users", params(("user" = String, Path, description = "id or username")),
    responses((status = 200, body = UserView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<HttpState>,
    need: Need<Signed>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(views::user(&state.app.get_user(&need.principal, &key).await?)))
}

/// Changes a user's profile, roles or TOTP requirement.
#[utoipa::path(patch, path = "/api/v1/users/{user}", tag = "users", params(("user" = String, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = UserView)))]
pub(crate) async fn update(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
    Body(request): Body<UpdateUserRequest>,
) -> ApiResult<Json<UserView>> {
    let change = UserChange {
        display_name: request.display_name,
        email: request.email.map(|e| Some(e).filter(|e| !e.is_empty())),
        roles: request.roles.as_deref().map(roles).transpose()?,
        totp_required: request.totp_required,
    };
    Ok(Json(views::user(&state.app.update_user(&need.principal, &key, change, &need.ctx).await?)))
}

/// Deletes a user.
#[utoipa::path(delete, path = "/api/v1/users/{user}", tag = "users", params(("user" = String, Path)), responses((status = 204)))]
pub(crate) async fn delete(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.delete_user(&need.principal, &key, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables a user: their sessions and tokens end at once.
#[utoipa::path(post, path = "/api/v1/users/{user}/disable", tag = "users", params(("user" = String, Path)), responses((status = 200, body = UserView)))]
pub(crate) async fn disable(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(views::user(&state.app.set_user_disabled(&need.principal, &key, true, &need.ctx).await?)))
}

/// Enables a disabled user.
#[utoipa::path(post, path = "/api/v1/users/{user}/enable", tag = "users", params(("user" = String, Path)), responses((status = 200, body = UserView)))]
pub(crate) async fn enable(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(views::user(&state.app.set_user_disabled(&need.principal, &key, false, &need.ctx).await?)))
}

/// Clears a user's failed-login counter and lock.
#[utoipa::path(post, path = "/api/v1/users/{user}/unlock", tag = "users", params(("user" = String, Path)), responses((status = 200, body = UserView)))]
pub(crate) async fn unlock(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(views::user(&state.app.unlock_user(&need.principal, &key, &need.ctx).await?)))
}

/// Sets a one-time password, returned once; the user's sessions end.
#[utoipa::path(post, path = "/api/v1/users/{user}/reset-password", tag = "users", params(("user" = String, Path)),
    responses((status = 200, body = PasswordResetView)))]
pub(crate) async fn reset_password(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<PasswordResetView>> {
    let password = state.app.reset_user_password(&need.principal, &key, &need.ctx).await?;
    Ok(Json(PasswordResetView { one_time_password: password.expose().clone() }))
}

/// Removes a user's TOTP enrolment.
#[utoipa::path(post, path = "/api/v1/users/{user}/reset-totp", tag = "users", params(("user" = String, Path)), responses((status = 200, body = UserView)))]
pub(crate) async fn reset_totp(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(views::user(&state.app.reset_user_totp(&need.principal, &key, &need.ctx).await?)))
}
