use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Admin, Body, Need, SignedUser, UsersRead};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::{AddSshKeyRequest, SshKeyListView, SshKeyView};
use latch_domain::ssh_key::UserSshKey;

/// Lists the caller's own SSH public keys.
#[utoipa::path(get, path = "/api/v1/auth/ssh-keys", tag = "auth", responses((status = 200, body = SshKeyListView)))]
pub(crate) async fn list_own(
    State(state): State<HttpState>,
    need: Need<SignedUser>,
) -> ApiResult<Json<SshKeyListView>> {
    Ok(Json(list_view(&state.app.list_ssh_keys(&need.principal, None).await?)))
}

/// Registers an SSH public key to the caller.
#[utoipa::path(post, path = "/api/v1/auth/ssh-keys", tag = "auth", request_body = AddSshKeyRequest,
    responses((status = 201, body = SshKeyView)))]
pub(crate) async fn add_own(
    State(state): State<HttpState>,
    need: Need<SignedUser>,
    Body(request): Body<AddSshKeyRequest>,
) -> ApiResult<(StatusCode, Json<SshKeyView>)> {
    let key = state.app.add_ssh_key(&need.principal, None, &request.public_key, &request.name, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(views::ssh_key(&key))))
}

/// Removes one of the caller's SSH public keys.
#[utoipa::path(delete, path = "/api/v1/auth/ssh-keys/{key}", tag = "auth", params(("key" = String, Path, description = "key id")),
    responses((status = 204)))]
pub(crate) async fn remove_own(
    State(state): State<HttpState>,
    need: Need<SignedUser>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.remove_ssh_key(&need.principal, None, &key, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lists a user's SSH public keys.
#[utoipa::path(get, path = "/api/v1/users/{user}/ssh-keys", tag = "users", params(("user" = String, Path, description = "id or username")),
    responses((status = 200, body = SshKeyListView)))]
pub(crate) async fn list_for_user(
    State(state): State<HttpState>,
    need: Need<UsersRead>,
    Path(user): Path<String>,
) -> ApiResult<Json<SshKeyListView>> {
    Ok(Json(list_view(&state.app.list_ssh_keys(&need.principal, Some(&user)).await?)))
}

/// Registers an SSH public key to a user.
#[utoipa::path(post, path = "/api/v1/users/{user}/ssh-keys", tag = "users", params(("user" = String, Path)),
    request_body = AddSshKeyRequest, responses((status = 201, body = SshKeyView)))]
pub(crate) async fn add_for_user(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(user): Path<String>,
    Body(request): Body<AddSshKeyRequest>,
) -> ApiResult<(StatusCode, Json<SshKeyView>)> {
    let key =
        state.app.add_ssh_key(&need.principal, Some(&user), &request.public_key, &request.name, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(views::ssh_key(&key))))
}

/// Removes one of a user's SSH public keys.
#[utoipa::path(delete, path = "/api/v1/users/{user}/ssh-keys/{key}", tag = "users",
    params(("user" = String, Path), ("key" = String, Path, description = "key id")), responses((status = 204)))]
pub(crate) async fn remove_for_user(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path((user, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.app.remove_ssh_key(&need.principal, Some(&user), &key, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn list_view(keys: &[UserSshKey]) -> SshKeyListView {
    SshKeyListView { keys: keys.iter().map(views::ssh_key).collect() }
}
