//! Credential check-outs: check out, reveal once, check in; and the rotation queue they feed.

use crate::HttpState;
use crate::error::{ApiError, ApiResult};
use crate::guard::{Admin, Body, CheckoutHolder, CheckoutReadOrOwn, Need, Params};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latch_api::{
    CheckoutListParams, CheckoutListView, CheckoutView, CreateCheckoutRequest, ErrorBody, QueuedRotationListParams,
    QueuedRotationListView, RevealedSecretView,
};
use latch_app::{AppError, CheckoutScope, NewCheckout, Principal};
use latch_domain::TimeSpan;
use latch_domain::checkout::RotationState;
use latch_domain::permission::Permission;

const DEFAULT_MINUTES: i64 = 30;

/// Checks out an account's credential for a release period. People need standing access or a valid grant under a
/// policy that allows reveal; API accounts need the `credentials:checkout` scope and an API-enabled account.
#[utoipa::path(post, path = "/api/v1/checkouts", tag = "checkouts", request_body = CreateCheckoutRequest,
    responses((status = 201, body = CheckoutView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<HttpState>,
    need: Need<CheckoutHolder>,
    Body(request): Body<CreateCheckoutRequest>,
) -> ApiResult<(StatusCode, Json<CheckoutView>)> {
    let new = NewCheckout {
        target: request.target,
        account: request.account.filter(|a| !a.trim().is_empty()),
        duration: TimeSpan::from_minutes(request.duration_minutes.unwrap_or(DEFAULT_MINUTES)),
        reason: request.reason,
    };
    let checkout = state.app.check_out(&need.principal, new, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(views::checkout(&checkout, state.app.now()))))
}

/// Lists check-outs, newest first: the caller's own, or all (approvers, session readers and auditors).
#[utoipa::path(get, path = "/api/v1/checkouts", tag = "checkouts", params(CheckoutListParams),
    responses((status = 200, body = CheckoutListView)))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    need: Need<CheckoutReadOrOwn>,
    Params(params): Params<CheckoutListParams>,
) -> ApiResult<Json<CheckoutListView>> {
    let scope = match params.scope.as_deref().unwrap_or_else(|| default_scope(&need.principal)) {
        "mine" => CheckoutScope::Mine,
        "all" => CheckoutScope::All,
        other => return Err(ApiError::bad_request(format!("unknown scope {other:?}; use mine or all"))),
    };
    let open = params.open.unwrap_or(false);
    let limit = params.limit.unwrap_or(100);
    let checkouts = state.app.list_checkouts(&need.principal, scope, open, limit, params.offset.unwrap_or(0)).await?;
    let now = state.app.now();
    Ok(Json(CheckoutListView { checkouts: checkouts.iter().map(|c| views::checkout(c, now)).collect() }))
}

/// A check-out by id: the holder's own, or any for approvers, session readers and auditors.
#[utoipa::path(get, path = "/api/v1/checkouts/{checkout}", tag = "checkouts", params(("checkout" = String, Path)),
    responses((status = 200, body = CheckoutView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<HttpState>,
    need: Need<CheckoutReadOrOwn>,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckoutView>> {
    let checkout = state.app.get_checkout(&need.principal, &id).await?;
    Ok(Json(views::checkout(&checkout, state.app.now())))
}

/// Shows the secret of the caller's open check-out, once. The answer is never cached.
#[utoipa::path(post, path = "/api/v1/checkouts/{checkout}/reveal", tag = "checkouts",
    params(("checkout" = String, Path)),
    responses((status = 200, body = RevealedSecretView), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub(crate) async fn reveal(
    State(state): State<HttpState>,
    need: Need<CheckoutHolder>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let secret = state.app.reveal_checkout(&need.principal, &id, &need.ctx).await?;
    let body = RevealedSecretView { checkout_id: id, secret: secret.expose().clone() };
    let mut response = Json(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Checks a check-out in before its release period ends: the holder's own, or anyone's for approvers.
#[utoipa::path(post, path = "/api/v1/checkouts/{checkout}/checkin", tag = "checkouts",
    params(("checkout" = String, Path)),
    responses((status = 200, body = CheckoutView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn check_in(
    State(state): State<HttpState>,
    need: Need<CheckoutHolder>,
    Path(id): Path<String>,
) -> ApiResult<Json<CheckoutView>> {
    let checkout = state.app.check_in(&need.principal, &id, &need.ctx).await?;
    Ok(Json(views::checkout(&checkout, state.app.now())))
}

/// The rotations queued by check-ins of "rotate after use" accounts, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/rotations", tag = "checkouts", params(QueuedRotationListParams),
    responses((status = 200, body = QueuedRotationListView)))]
pub(crate) async fn rotations(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Params(params): Params<QueuedRotationListParams>,
) -> ApiResult<Json<QueuedRotationListView>> {
    let rotation_state = params
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(RotationState::parse)
        .transpose()
        .map_err(AppError::from)?;
    let queue = state
        .app
        .list_rotation_queue(&need.principal, rotation_state, params.limit.unwrap_or(100), params.offset.unwrap_or(0))
        .await?;
    Ok(Json(QueuedRotationListView { rotations: queue.iter().map(views::queued_rotation).collect() }))
}

/// Without `scope`, those who may hold check-outs see their own; auditors see all.
fn default_scope(principal: &Principal) -> &'static str {
    let holder = match principal {
        Principal::User(_) => principal.has(Permission::RequestsWrite),
        Principal::ApiAccount(_) => principal.has(Permission::CredentialsCheckout),
    };
    if holder { "mine" } else { "all" }
}
