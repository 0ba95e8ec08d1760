use crate::HttpState;
use crate::error::{ApiError, ApiResult};
use crate::guard::{Body, InventoryRead, InventoryWrite, Need, Params};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::*;
use latch_app::{AccountChange, InventoryDocument, NewAccount, NewTarget, SecretString, TargetChange};
use latch_domain::names::TagName;
use latch_domain::target::{Protocol, TargetQuery};

/// Searches targets by text (name, address, description), tag and protocol.
#[utoipa::path(get, path = "/api/v1/targets", tag = "inventory", params(TargetSearchParams), responses((status = 200, body = TargetSearchView)))]
pub(crate) async fn search_targets(
    State(state): State<HttpState>,
    need: Need<InventoryRead>,
    Params(params): Params<TargetSearchParams>,
) -> ApiResult<Json<TargetSearchView>> {
    let query = TargetQuery {
        text: params.q.filter(|q| !q.trim().is_empty()),
        tag: params.tag.as_deref().map(TagName::parse).transpose().map_err(latch_app::AppError::from)?,
        protocol: params.protocol.as_deref().map(Protocol::parse).transpose().map_err(latch_app::AppError::from)?,
    };
    let (targets, total) = state
        .app
        .search_targets(&need.principal, &query, params.limit.unwrap_or(100), params.offset.unwrap_or(0))
        .await?;
    Ok(Json(TargetSearchView { targets: targets.iter().map(views::target).collect(), total }))
}

/// Creates a target.
#[utoipa::path(post, path = "/api/v1/targets", tag = "inventory", request_body = CreateTargetRequest,
    responses((status = 201, body = TargetView), (status = 409, body = ErrorBody)))]
pub(crate) async fn create_target(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Body(request): Body<CreateTargetRequest>,
) -> ApiResult<(StatusCode, Json<TargetView>)> {
    let target = state.app.create_target(&need.principal, new_target(request), &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(views::target(&target))))
}

/// A target by id or name, with its accounts.
#[utoipa::path(get, path = "/api/v1/targets/{target}", tag = "inventory", params(("target" = String, Path, description = "id or name")),
    responses((status = 200, body = TargetDetailsView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_target(
    State(state): State<HttpState>,
    need: Need<InventoryRead>,
    Path(key): Path<String>,
) -> ApiResult<Json<TargetDetailsView>> {
    let (target, accounts) = state.app.get_target(&need.principal, &key).await?;
    Ok(Json(TargetDetailsView {
        target: views::target(&target),
        accounts: accounts.iter().map(views::account).collect(),
    }))
}

/// Changes a target.
#[utoipa::path(patch, path = "/api/v1/targets/{target}", tag = "inventory", params(("target" = String, Path)), request_body = UpdateTargetRequest,
    responses((status = 200, body = TargetView)))]
pub(crate) async fn update_target(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Path(key): Path<String>,
    Body(request): Body<UpdateTargetRequest>,
) -> ApiResult<Json<TargetView>> {
    let change = TargetChange {
        address: request.address,
        port: request.port,
        protocols: request.protocols,
        tags: request.tags,
        description: request.description,
        host_key_pin: request.host_key_pin.map(|p| Some(p).filter(|p| !p.is_empty())),
    };
    Ok(Json(views::target(&state.app.update_target(&need.principal, &key, change, &need.ctx).await?)))
}

/// Deletes a target with its accounts and their secrets.
#[utoipa::path(delete, path = "/api/v1/targets/{target}", tag = "inventory", params(("target" = String, Path)), responses((status = 204)))]
pub(crate) async fn delete_target(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.delete_target(&need.principal, &key, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds an account to a target; its secret is stored encrypted and never returned.
#[utoipa::path(post, path = "/api/v1/targets/{target}/accounts", tag = "inventory", params(("target" = String, Path)),
    request_body = CreateAccountRequest, responses((status = 201, body = AccountView), (status = 409, body = ErrorBody)))]
pub(crate) async fn create_account(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Path(key): Path<String>,
    Body(request): Body<CreateAccountRequest>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let account = state.app.create_account(&need.principal, &key, new_account(request), &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(views::account(&account))))
}

/// An account by id.
#[utoipa::path(get, path = "/api/v1/accounts/{account}", tag = "inventory", params(("account" = String, Path)),
    responses((status = 200, body = AccountView)))]
pub(crate) async fn get_account(
    State(state): State<HttpState>,
    need: Need<InventoryRead>,
    Path(id): Path<String>,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(views::account(&state.app.get_account(&need.principal, &id).await?)))
}

/// Changes an account's flags, description or secret.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}", tag = "inventory", params(("account" = String, Path)),
    request_body = UpdateAccountRequest, responses((status = 200, body = AccountView)))]
pub(crate) async fn update_account(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Path(id): Path<String>,
    Body(request): Body<UpdateAccountRequest>,
) -> ApiResult<Json<AccountView>> {
    let change = AccountChange {
        api_enabled: request.api_enabled,
        rotate_after_use: request.rotate_after_use,
        exclusive_checkout: request.exclusive_checkout,
        description: request.description,
        secret: request.secret.map(SecretString::new),
    };
    Ok(Json(views::account(&state.app.update_account(&need.principal, &id, change, &need.ctx).await?)))
}

/// Deletes an account and its secret.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}", tag = "inventory", params(("account" = String, Path)), responses((status = 204)))]
pub(crate) async fn delete_account(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.delete_account(&need.principal, &id, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The whole inventory as a document, without secrets.
#[utoipa::path(get, path = "/api/v1/inventory/export", tag = "inventory", responses((status = 200, body = InventoryDocumentView)))]
pub(crate) async fn export(
    State(state): State<HttpState>,
    need: Need<InventoryRead>,
) -> ApiResult<Json<InventoryDocumentView>> {
    let all = state.app.export_inventory(&need.principal, &need.ctx).await?;
    let targets = all
        .iter()
        .map(|(target, accounts)| InventoryTargetView {
            name: target.spec.name.to_string(),
            address: target.spec.address.to_string(),
            port: Some(target.spec.port),
            protocols: target.spec.protocols.iter().map(|p| p.as_str().to_owned()).collect(),
            tags: target.spec.tags.iter().map(ToString::to_string).collect(),
            description: target.spec.description.clone(),
            host_key_pin: target.spec.host_key_pin.as_ref().map(|p| p.as_str().to_owned()),
            accounts: accounts
                .iter()
                .map(|a| CreateAccountRequest {
                    username: a.spec.username.to_string(),
                    secret_kind: a.spec.secret_kind.as_str().to_owned(),
                    secret: None,
                    api_enabled: a.spec.api_enabled,
                    rotate_after_use: a.spec.rotate_after_use,
                    exclusive_checkout: Some(a.spec.exclusive_checkout),
                    description: a.spec.description.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Json(InventoryDocumentView { version: 1, targets }))
}

/// Imports a document: creates or updates by name, never deletes; all or nothing.
#[utoipa::path(post, path = "/api/v1/inventory/import", tag = "inventory", request_body = InventoryDocumentView,
    responses((status = 200, body = ImportReportView), (status = 400, body = ErrorBody)))]
pub(crate) async fn import(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Body(document): Body<InventoryDocumentView>,
) -> ApiResult<Json<ImportReportView>> {
    if document.version != 1 {
        return Err(ApiError::bad_request(format!(
            "unsupported inventory document version {}; expected 1",
            document.version
        )));
    }
    let targets = document
        .targets
        .into_iter()
        .map(|t| {
            let accounts = t.accounts.into_iter().map(new_account).collect();
            let target = NewTarget {
                name: t.name,
                address: t.address,
                port: t.port,
                protocols: t.protocols,
                tags: t.tags,
                description: t.description,
                host_key_pin: t.host_key_pin,
            };
            (target, accounts)
        })
        .collect();
    let report = state.app.import_inventory(&need.principal, InventoryDocument { targets }, &need.ctx).await?;
    Ok(Json(ImportReportView {
        targets_created: report.targets_created,
        targets_updated: report.targets_updated,
        accounts_created: report.accounts_created,
        accounts_updated: report.accounts_updated,
    }))
}

fn new_target(request: CreateTargetRequest) -> NewTarget {
    NewTarget {
        name: request.name,
        address: request.address,
        port: request.port,
        protocols: request.protocols,
        tags: request.tags,
        description: request.description,
        host_key_pin: request.host_key_pin,
    }
}

fn new_account(request: CreateAccountRequest) -> NewAccount {
    NewAccount {
        username: request.username,
        secret_kind: request.secret_kind,
        secret: request.secret.map(SecretString::new),
        api_enabled: request.api_enabled,
        rotate_after_use: request.rotate_after_use,
        exclusive_checkout: request.exclusive_checkout.unwrap_or(true),
        description: request.description,
    }
}

/// Connects to the target and returns the SSH host key it presents, for an administrator to confirm before
/// pinning it. Nothing is trusted by this call.
#[utoipa::path(post, path = "/api/v1/targets/{target}/host-key/fetch", tag = "inventory", params(("target" = String, Path)),
    responses((status = 200, body = PresentedHostKeyView), (status = 400, body = ErrorBody)))]
pub(crate) async fn fetch_host_key(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Path(key): Path<String>,
) -> ApiResult<Json<PresentedHostKeyView>> {
    let key = state.app.fetch_target_host_key(&need.principal, &key).await?;
    Ok(Json(PresentedHostKeyView { fingerprint: key.fingerprint, algorithm: key.algorithm, openssh: key.openssh }))
}

/// Pins the target's SSH host key to the fingerprint given (as confirmed by an administrator).
#[utoipa::path(put, path = "/api/v1/targets/{target}/host-key", tag = "inventory", params(("target" = String, Path)),
    request_body = PinHostKeyRequest, responses((status = 200, body = TargetView)))]
pub(crate) async fn pin_host_key(
    State(state): State<HttpState>,
    need: Need<InventoryWrite>,
    Path(key): Path<String>,
    Body(request): Body<PinHostKeyRequest>,
) -> ApiResult<Json<TargetView>> {
    let target = state.app.pin_target_host_key(&need.principal, &key, &request.fingerprint, &need.ctx).await?;
    Ok(Json(views::target(&target)))
}
