//! Just-in-time access: requests, their decisions, and the grants they give.

use crate::HttpState;
use crate::error::{ApiError, ApiResult};
use crate::guard::{AccessReadOrOwn, Approver, Body, Need, Params, Requester, RequestsWrite};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::{
    AccessRequestListView, AccessRequestView, CreateAccessRequest, DecisionRequest, ErrorBody, GrantListParams,
    GrantListView, GrantView, RequestListParams, RequestOutcomeView, RevokeGrantRequest,
};
use latch_app::{AppError, GrantScope, NewAccessRequest, RequestOutcome, RequestScope};
use latch_domain::TimeSpan;
use latch_domain::access_request::{Decision, RequestStatus};

/// Requests access to an account on a target for a window. Answers with the grant when the policy approves at once.
#[utoipa::path(post, path = "/api/v1/requests", tag = "access", request_body = CreateAccessRequest,
    responses((status = 201, body = RequestOutcomeView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn create_request(
    State(state): State<HttpState>,
    need: Need<Requester>,
    Body(request): Body<CreateAccessRequest>,
) -> ApiResult<(StatusCode, Json<RequestOutcomeView>)> {
    let new = NewAccessRequest {
        target: request.target,
        account: request.account.filter(|a| !a.trim().is_empty()),
        starts_at: request.starts_at.as_deref().map(|t| views::parse_time("starts_at", t)).transpose()?,
        ends_at: request.ends_at.as_deref().map(|t| views::parse_time("ends_at", t)).transpose()?,
        duration: request.duration_minutes.map(TimeSpan::from_minutes),
        reason: request.reason,
        ticket: request.ticket,
        task: request.task,
    };
    let outcome = state.app.request_access(&need.principal, new, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(outcome_view(&state, &outcome))))
}

/// Lists requests, newest first: the caller's own, the pending ones they may decide, or all.
#[utoipa::path(get, path = "/api/v1/requests", tag = "access", params(RequestListParams),
    responses((status = 200, body = AccessRequestListView)))]
pub(crate) async fn list_requests(
    State(state): State<HttpState>,
    need: Need<AccessReadOrOwn>,
    Params(params): Params<RequestListParams>,
) -> ApiResult<Json<AccessRequestListView>> {
    let scope = match params.scope.as_deref().unwrap_or_else(|| default_scope(&need.principal)) {
        "mine" => RequestScope::Mine,
        "to_decide" => RequestScope::ToDecide,
        "all" => RequestScope::All,
        other => return Err(ApiError::bad_request(format!("unknown scope {other:?}; use mine, to_decide or all"))),
    };
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(RequestStatus::parse)
        .transpose()
        .map_err(AppError::from)?;
    let requests = state
        .app
        .list_requests(&need.principal, scope, status, params.limit.unwrap_or(100), params.offset.unwrap_or(0))
        .await?;
    Ok(Json(AccessRequestListView { requests: requests.iter().map(views::access_request).collect() }))
}

/// A request by id: the requester's own, or any for approvers and auditors.
#[utoipa::path(get, path = "/api/v1/requests/{request}", tag = "access", params(("request" = String, Path)),
    responses((status = 200, body = AccessRequestView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_request(
    State(state): State<HttpState>,
    need: Need<AccessReadOrOwn>,
    Path(id): Path<String>,
) -> ApiResult<Json<AccessRequestView>> {
    Ok(Json(views::access_request(&state.app.get_request(&need.principal, &id).await?)))
}

/// Approves a pending request; the last approval needed creates the grant.
#[utoipa::path(post, path = "/api/v1/requests/{request}/approve", tag = "access", params(("request" = String, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = RequestOutcomeView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn approve(
    State(state): State<HttpState>,
    need: Need<Approver>,
    Path(id): Path<String>,
    Body(decision): Body<DecisionRequest>,
) -> ApiResult<Json<RequestOutcomeView>> {
    let outcome =
        state.app.decide_request(&need.principal, &id, Decision::Approve, decision.comment, &need.ctx).await?;
    Ok(Json(outcome_view(&state, &outcome)))
}

/// Denies a pending request.
#[utoipa::path(post, path = "/api/v1/requests/{request}/deny", tag = "access", params(("request" = String, Path)),
    request_body = DecisionRequest,
    responses((status = 200, body = RequestOutcomeView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn deny(
    State(state): State<HttpState>,
    need: Need<Approver>,
    Path(id): Path<String>,
    Body(decision): Body<DecisionRequest>,
) -> ApiResult<Json<RequestOutcomeView>> {
    let outcome = state.app.decide_request(&need.principal, &id, Decision::Deny, decision.comment, &need.ctx).await?;
    Ok(Json(outcome_view(&state, &outcome)))
}

/// Cancels the caller's own pending request.
#[utoipa::path(post, path = "/api/v1/requests/{request}/cancel", tag = "access", params(("request" = String, Path)),
    responses((status = 200, body = AccessRequestView), (status = 409, body = ErrorBody)))]
pub(crate) async fn cancel(
    State(state): State<HttpState>,
    need: Need<Requester>,
    Path(id): Path<String>,
) -> ApiResult<Json<AccessRequestView>> {
    Ok(Json(views::access_request(&state.app.cancel_request(&need.principal, &id, &need.ctx).await?)))
}

/// Lists grants, newest first: the caller's own, or all (approvers and session readers).
#[utoipa::path(get, path = "/api/v1/grants", tag = "access", params(GrantListParams),
    responses((status = 200, body = GrantListView)))]
pub(crate) async fn list_grants(
    State(state): State<HttpState>,
    need: Need<AccessReadOrOwn>,
    Params(params): Params<GrantListParams>,
) -> ApiResult<Json<GrantListView>> {
    let scope = match params.scope.as_deref().unwrap_or_else(|| default_scope(&need.principal)) {
        "mine" => GrantScope::Mine,
        "all" => GrantScope::All,
        other => return Err(ApiError::bad_request(format!("unknown scope {other:?}; use mine or all"))),
    };
    let grants = state
        .app
        .list_grants(
            &need.principal,
            scope,
            params.current.unwrap_or(false),
            params.limit.unwrap_or(100),
            params.offset.unwrap_or(0),
        )
        .await?;
    let now = state.app.now();
    Ok(Json(GrantListView { grants: grants.iter().map(|g| views::grant(g, now)).collect() }))
}

/// A grant by id: the holder's own, or any for approvers and session readers.
#[utoipa::path(get, path = "/api/v1/grants/{grant}", tag = "access", params(("grant" = String, Path)),
    responses((status = 200, body = GrantView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_grant(
    State(state): State<HttpState>,
    need: Need<AccessReadOrOwn>,
    Path(id): Path<String>,
) -> ApiResult<Json<GrantView>> {
    let grant = state.app.get_grant(&need.principal, &id).await?;
    Ok(Json(views::grant(&grant, state.app.now())))
}

/// Revokes a grant now and ends its sessions. Approvers revoke any grant; a holder may give up their own.
#[utoipa::path(post, path = "/api/v1/grants/{grant}/revoke", tag = "access", params(("grant" = String, Path)),
    request_body = RevokeGrantRequest,
    responses((status = 200, body = GrantView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn revoke_grant(
    State(state): State<HttpState>,
    need: Need<RequestsWrite>,
    Path(id): Path<String>,
    Body(request): Body<RevokeGrantRequest>,
) -> ApiResult<Json<GrantView>> {
    let grant = state.app.revoke_grant(&need.principal, &id, &request.reason, &need.ctx).await?;
    Ok(Json(views::grant(&grant, state.app.now())))
}

fn outcome_view(state: &HttpState, outcome: &RequestOutcome) -> RequestOutcomeView {
    let now = state.app.now();
    RequestOutcomeView {
        request: views::access_request(&outcome.request),
        grant: outcome.grant.as_ref().map(|g| views::grant(g, now)),
    }
}

/// Without `scope`, users who may request see their own; auditors and API accounts see all.
fn default_scope(principal: &latch_app::Principal) -> &'static str {
    let requester = principal.as_user().is_ok() && principal.has(latch_domain::permission::Permission::RequestsWrite);
    if requester { "mine" } else { "all" }
}
