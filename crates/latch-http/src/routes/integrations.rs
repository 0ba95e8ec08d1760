//! Incident integrations: the tasks open for a ticket (requesters), test mode (admins), and the inbound call by
//! which the incident system reports an incident closed (authenticated by the integration's own secret).

use crate::HttpState;
use crate::error::{ApiError, ApiResult};
use crate::guard::{Admin, Body, IncidentSystem, Need, Params, Requester};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use latch_api::{
    ErrorBody, IncidentClosedRequest, IncidentClosedView, IncidentTaskListView, IncidentTaskView, IncidentTasksParams,
    IntegrationTestRequest, IntegrationTestView,
};
use latch_app::{IncidentTask, IntegrationTest, TestVerdict};
use latch_domain::TimeSpan;

/// The tasks open for a ticket in the incident system of a policy the caller may request under.
#[utoipa::path(get, path = "/api/v1/integrations/{integration}/tasks", tag = "integrations",
    params(("integration" = String, Path), IncidentTasksParams),
    responses((status = 200, body = IncidentTaskListView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn tasks(
    State(state): State<HttpState>,
    need: Need<Requester>,
    Path(integration): Path<String>,
    Params(params): Params<IncidentTasksParams>,
) -> ApiResult<Json<IncidentTaskListView>> {
    let account = params.account.as_deref().filter(|a| !a.trim().is_empty());
    let tasks =
        state.app.incident_tasks(&need.principal, &integration, &params.target, account, &params.ticket).await?;
    Ok(Json(IncidentTaskListView {
        integration,
        ticket: params.ticket.trim().to_owned(),
        tasks: tasks.iter().map(task_view).collect(),
    }))
}

/// Test mode: runs the whole lookup and validation of a request as a user would make it, and reports what would
/// happen. Creates no request or grant.
#[utoipa::path(post, path = "/api/v1/integrations/{integration}/test", tag = "integrations",
    params(("integration" = String, Path)), request_body = IntegrationTestRequest,
    responses((status = 200, body = IntegrationTestView), (status = 404, body = ErrorBody)))]
pub(crate) async fn test(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(integration): Path<String>,
    Body(request): Body<IntegrationTestRequest>,
) -> ApiResult<Json<IntegrationTestView>> {
    let duration = match request.duration_minutes {
        Some(minutes) if minutes < 1 => return Err(ApiError::bad_request("duration_minutes must be at least 1")),
        other => other.map(TimeSpan::from_minutes),
    };
    let test = IntegrationTest {
        user: request.user,
        target: request.target,
        account: request.account.filter(|a| !a.trim().is_empty()),
        ticket: request.ticket,
        task: request.task,
        duration,
    };
    let report = state.app.test_incident_integration(&need.principal, &integration, test, &need.ctx).await?;
    let (verdict, approvals_required, message) = match &report.verdict {
        TestVerdict::WouldGrant => ("would_grant", Some(0), None),
        TestVerdict::WouldAwaitApproval { approvals_required } => {
            ("would_wait_for_approval", Some(*approvals_required), None)
        }
        TestVerdict::Refused(message) => ("refused", None, Some(message.clone())),
    };
    Ok(Json(IntegrationTestView {
        integration: report.integration,
        user: report.user,
        policy: report.policy,
        account: report.account,
        tasks: report.tasks.map(|tasks| tasks.iter().map(task_view).collect()),
        task: report.task,
        starts_at: report.window.map(|(start, _)| views::time(start)),
        ends_at: report.window.map(|(_, end)| views::time(end)),
        capped: report.capped,
        verdict: verdict.to_owned(),
        approvals_required,
        message,
    }))
}

/// The incident system reports a ticket closed: every grant bound to it under this integration is revoked at once
/// (its sessions end) and its pending requests are cancelled. The bearer token is the integration's inbound secret
/// (`inbound_secret_file` in `[[integrations]]`), not a Latch identity; anything else gets 401, whether or not the
/// integration exists.
#[utoipa::path(post, path = "/api/v1/integrations/{integration}/incidents/closed", tag = "integrations",
    params(("integration" = String, Path)), request_body = IncidentClosedRequest,
    responses((status = 200, body = IncidentClosedView), (status = 401, body = ErrorBody)))]
pub(crate) async fn incident_closed(
    State(state): State<HttpState>,
    caller: IncidentSystem,
    Body(request): Body<IncidentClosedRequest>,
) -> ApiResult<Json<IncidentClosedView>> {
    let closure = state.app.close_incident(&caller.integration, &request.ticket, &caller.ctx).await?;
    Ok(Json(IncidentClosedView {
        integration: caller.integration.name().to_owned(),
        ticket: request.ticket.trim().to_owned(),
        grants_revoked: closure.grants_revoked,
        requests_cancelled: closure.requests_cancelled,
    }))
}

fn task_view(task: &IncidentTask) -> IncidentTaskView {
    IncidentTaskView { id: task.id.clone(), title: task.title.clone(), expires_at: views::time(task.expires_at) }
}
