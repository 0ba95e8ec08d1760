//! Break-glass: emergency access switched on for named targets by members of the configured group.

use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{AccessReadOrOwn, Body, Need, Params, Requester};
use crate::views::time;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::{ActivateBreakGlassRequest, BreakGlassListParams, BreakGlassListView, BreakGlassView, ErrorBody};
use latch_domain::break_glass::BreakGlass;
use latch_domain::{TimeSpan, Timestamp};

/// Switches emergency access on for the named targets. Only people in the configured break-glass group may; API
/// accounts never may.
#[utoipa::path(post, path = "/api/v1/break-glass", tag = "break-glass", request_body = ActivateBreakGlassRequest,
    responses((status = 201, body = BreakGlassView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn activate(
    State(state): State<HttpState>,
    need: Need<Requester>,
    Body(request): Body<ActivateBreakGlassRequest>,
) -> ApiResult<(StatusCode, Json<BreakGlassView>)> {
    let duration = request.duration_minutes.map(TimeSpan::from_minutes);
    let glass =
        state.app.activate_break_glass(&need.principal, &request.targets, &request.reason, duration, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(view(&glass, state.app.now()))))
}

/// Lists break-glass records, newest first: all for admins, auditors and members of the group; otherwise those the
/// caller switched on.
#[utoipa::path(get, path = "/api/v1/break-glass", tag = "break-glass", params(BreakGlassListParams),
    responses((status = 200, body = BreakGlassListView)))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    need: Need<AccessReadOrOwn>,
    Params(params): Params<BreakGlassListParams>,
) -> ApiResult<Json<BreakGlassListView>> {
    let active = params.active.unwrap_or(false);
    let limit = params.limit.unwrap_or(100);
    let found = state.app.list_break_glass(&need.principal, active, limit, params.offset.unwrap_or(0)).await?;
    let now = state.app.now();
    Ok(Json(BreakGlassListView { break_glass: found.iter().map(|g| view(g, now)).collect() }))
}

/// Switches a break-glass off now (members of the group and admins); its sessions end.
#[utoipa::path(post, path = "/api/v1/break-glass/{break_glass}/end", tag = "break-glass",
    params(("break_glass" = String, Path)),
    responses((status = 200, body = BreakGlassView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn end(
    State(state): State<HttpState>,
    need: Need<Requester>,
    Path(id): Path<String>,
) -> ApiResult<Json<BreakGlassView>> {
    let glass = state.app.end_break_glass(&need.principal, &id, &need.ctx).await?;
    Ok(Json(view(&glass, state.app.now())))
}

fn view(g: &BreakGlass, now: Timestamp) -> BreakGlassView {
    BreakGlassView {
        id: g.id.to_string(),
        targets: g.targets.iter().map(ToString::to_string).collect(),
        reason: g.reason.clone(),
        activated_by: g.activated_by.to_string(),
        activated_at: time(g.activated_at),
        ends_at: time(g.ends_at),
        state: g.state(now).as_str().to_owned(),
        ended_at: g.ended_at.map(time),
        ended_by: g.ended_by.clone(),
    }
}
