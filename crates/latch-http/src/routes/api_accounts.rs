use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Admin, Body, Need};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::{
    ApiAccountListView, ApiAccountSecretView, ApiAccountView, CreateApiAccountRequest, ErrorBody,
    UpdateApiAccountRequest,
};
use latch_app::{ApiAccountChange, IssuedApiSecret, NewApiAccount};

fn secret_view(issued: &IssuedApiSecret) -> ApiAccountSecretView {
    ApiAccountSecretView {
        api_account: views::api_account(&issued.account),
        client_secret: issued.client_secret.expose().clone(),
    }
}

/// Lists API accounts.
#[utoipa::path(get, path = "/api/v1/api-accounts", tag = "api accounts", responses((status = 200, body = ApiAccountListView)))]
pub(crate) async fn list(State(state): State<HttpState>, need: Need<Admin>) -> ApiResult<Json<ApiAccountListView>> {
    let accounts = state.app.list_api_accounts(&need.principal).await?;
    Ok(Json(ApiAccountListView { api_accounts: accounts.iter().map(views::api_account).collect() }))
}

/// Creates an API account with scopes; the client secret is returned once.
#[utoipa::path(post, path = "/api/v1/api-accounts", tag = "api accounts", request_body = CreateApiAccountRequest,
    responses((status = 201, body = ApiAccountSecretView), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Body(request): Body<CreateApiAccountRequest>,
) -> ApiResult<(StatusCode, Json<ApiAccountSecretView>)> {
    let new = NewApiAccount {
        name: request.name,
        description: request.description,
        scopes: request.scopes,
        allowed_sources: request.allowed_sources,
        token_ttl_secs: request.token_ttl_secs,
    };
    let issued = state.app.create_api_account(&need.principal, new, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(secret_view(&issued))))
}

/// An API account by id or name.
#[utoipa::path(get, path = "/api/v1/api-accounts/{api_account}", tag = "api accounts", params(("api_account" = String, Path)),
    responses((status = 200, body = ApiAccountView)))]
pub(crate) async fn get(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<ApiAccountView>> {
    Ok(Json(views::api_account(&state.app.get_api_account(&need.principal, &key).await?)))
}

/// Changes scopes, allowed sources, token lifetime or description.
#[utoipa::path(patch, path = "/api/v1/api-accounts/{api_account}", tag = "api accounts", params(("api_account" = String, Path)),
    request_body = UpdateApiAccountRequest, responses((status = 200, body = ApiAccountView)))]
pub(crate) async fn update(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
    Body(request): Body<UpdateApiAccountRequest>,
) -> ApiResult<Json<ApiAccountView>> {
    let change = ApiAccountChange {
        description: request.description,
        scopes: request.scopes,
        allowed_sources: request.allowed_sources,
        token_ttl_secs: request.token_ttl_secs,
    };
    Ok(Json(views::api_account(&state.app.update_api_account(&need.principal, &key, change, &need.ctx).await?)))
}

/// Issues a new client secret (returned once); the old secret and its tokens stop working.
#[utoipa::path(post, path = "/api/v1/api-accounts/{api_account}/rotate-secret", tag = "api accounts",
    params(("api_account" = String, Path)), responses((status = 200, body = ApiAccountSecretView)))]
pub(crate) async fn rotate_secret(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<ApiAccountSecretView>> {
    Ok(Json(secret_view(&state.app.rotate_api_account_secret(&need.principal, &key, &need.ctx).await?)))
}

/// Revokes an API account: its tokens stop working at once.
#[utoipa::path(post, path = "/api/v1/api-accounts/{api_account}/revoke", tag = "api accounts",
    params(("api_account" = String, Path)), responses((status = 200, body = ApiAccountView)))]
pub(crate) async fn revoke(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<Json<ApiAccountView>> {
    Ok(Json(views::api_account(&state.app.revoke_api_account(&need.principal, &key, &need.ctx).await?)))
}
