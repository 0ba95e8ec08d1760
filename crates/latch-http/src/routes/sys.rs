use crate::HttpState;
use crate::error::{ApiError, ApiResult};
use crate::guard::{Admin, Body, Ctx, Need};
use axum::Json;
use axum::extract::State;
use latch_api::{ErrorBody, RotationView, UnsealRequest, VaultStatusView};
use latch_app::SecretString;

/// Whether Latch is initialized and unsealed. Open to anyone, also while sealed.
#[utoipa::path(get, path = "/api/v1/sys/status", tag = "system", security(()),
    responses((status = 200, body = VaultStatusView)))]
pub(crate) async fn status(State(state): State<HttpState>) -> ApiResult<Json<VaultStatusView>> {
    let status = state.app.vault_status().await?;
    Ok(Json(VaultStatusView {
        initialized: status.initialized,
        sealed: status.sealed,
        mode: status.mode.map(str::to_owned),
        shares_received: status.shares_received,
        shares_threshold: status.shares_threshold,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }))
}

/// Unseals with a key file, a passphrase, or one Shamir share at a time.
#[utoipa::path(post, path = "/api/v1/sys/unseal", tag = "system", security(()), request_body = UnsealRequest,
    responses((status = 200, body = VaultStatusView), (status = 400, body = ErrorBody)))]
pub(crate) async fn unseal(
    State(state): State<HttpState>,
    Ctx(ctx): Ctx,
    Body(request): Body<UnsealRequest>,
) -> ApiResult<Json<VaultStatusView>> {
    match (request.key_file, request.passphrase, request.share) {
        (Some(text), None, None) => state.app.unseal_with_key_file_text(&SecretString::new(text), &ctx).await?,
        (None, Some(passphrase), None) => state.app.unseal_with_passphrase(SecretString::new(passphrase), &ctx).await?,
        (None, None, Some(share)) => {
            state.app.submit_unseal_share(&SecretString::new(share), &ctx).await?;
        }
        _ => return Err(ApiError::bad_request("give exactly one of key_file, passphrase or share")),
    }
    status(State(state)).await
}

/// Seals the vault at once: every route but status and unseal refuses until unsealed again.
#[utoipa::path(post, path = "/api/v1/sys/seal", tag = "system", responses((status = 200, body = VaultStatusView)))]
pub(crate) async fn seal(State(state): State<HttpState>, need: Need<Admin>) -> ApiResult<Json<VaultStatusView>> {
    state.app.seal(&need.principal, &need.ctx).await?;
    status(State(state)).await
}

/// Generates a new root key and re-wraps every data key under it.
#[utoipa::path(post, path = "/api/v1/sys/rotate-root-key", tag = "system", responses((status = 200, body = RotationView)))]
pub(crate) async fn rotate_root_key(
    State(state): State<HttpState>,
    need: Need<Admin>,
) -> ApiResult<Json<RotationView>> {
    let report = state.app.rotate_root_key(&need.principal, &need.ctx).await?;
    Ok(Json(RotationView {
        new_root_key_id: report.new_root_key_id.to_string(),
        rewrapped: report.rewrapped,
        retired_root_keys: report.retired_root_keys,
    }))
}
