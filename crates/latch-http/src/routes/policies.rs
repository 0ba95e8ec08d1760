use crate::HttpState;
use crate::error::{ApiError, ApiResult};
use crate::guard::{Admin, Body, Need, PoliciesRead};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::{ErrorBody, PolicyListView, PolicyRequest, PolicyTargetView, PolicyView};
use latch_app::{App, AppError, PolicyDetails, PolicyDraft};
use latch_domain::TimeSpan;
use latch_domain::names::{AccountName, TagName, TargetName};
use latch_domain::policy::{
    AccessMode, AccountSelector, ApprovalRule, ForwardingRules, PolicyRules, Schedule, TargetSelector, TicketPattern,
};

/// Lists access policies.
#[utoipa::path(get, path = "/api/v1/policies", tag = "policies", responses((status = 200, body = PolicyListView)))]
pub(crate) async fn list(State(state): State<HttpState>, need: Need<PoliciesRead>) -> ApiResult<Json<PolicyListView>> {
    let mut policies = Vec::new();
    for details in state.app.list_policies(&need.principal).await? {
        policies.push(view(&state.app, &details).await?);
    }
    Ok(Json(PolicyListView { policies }))
}

/// Creates an access policy.
#[utoipa::path(post, path = "/api/v1/policies", tag = "policies", request_body = PolicyRequest,
    responses((status = 201, body = PolicyView), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Body(request): Body<PolicyRequest>,
) -> ApiResult<(StatusCode, Json<PolicyView>)> {
    let draft = draft(&state.app, request).await?;
    let details = state.app.create_policy(&need.principal, draft, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(view(&state.app, &details).await?)))
}

/// An access policy by id or name.
#[utoipa::path(get, path = "/api/v1/policies/{policy}", tag = "policies", params(("policy" = String, Path, description = "id or name")),
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<HttpState>,
    need: Need<PoliciesRead>,
    Path(key): Path<String>,
) -> ApiResult<Json<PolicyView>> {
    let details = state.app.get_policy(&need.principal, &key).await?;
    Ok(Json(view(&state.app, &details).await?))
}

/// Replaces every field of an access policy.
#[utoipa::path(put, path = "/api/v1/policies/{policy}", tag = "policies", params(("policy" = String, Path, description = "id or name")),
    request_body = PolicyRequest, responses((status = 200, body = PolicyView), (status = 400, body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
    Body(request): Body<PolicyRequest>,
) -> ApiResult<Json<PolicyView>> {
    let draft = draft(&state.app, request).await?;
    let details = state.app.update_policy(&need.principal, &key, draft, &need.ctx).await?;
    Ok(Json(view(&state.app, &details).await?))
}

/// Deletes an access policy; grants it gave stay until they end or are revoked.
#[utoipa::path(delete, path = "/api/v1/policies/{policy}", tag = "policies", params(("policy" = String, Path, description = "id or name")),
    responses((status = 204)))]
pub(crate) async fn delete(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.delete_policy(&need.principal, &key, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn view(app: &App, details: &PolicyDetails) -> Result<PolicyView, AppError> {
    let approver_group = match details.policy.spec.rules.mode {
        AccessMode::OnRequest(ApprovalRule { approver_group: Some(group), .. }) => {
            Some(app.group_name(group).await?.unwrap_or_else(|| group.to_string()))
        }
        _ => None,
    };
    Ok(views::policy(details, approver_group))
}

/// The wire body as the application's draft; names are checked here, references by the application.
async fn draft(app: &App, request: PolicyRequest) -> Result<PolicyDraft, ApiError> {
    let mode = match request.mode.as_str() {
        "standing" => {
            if request.approvals_required.is_some() || request.approver_group.is_some() {
                return Err(ApiError::bad_request("a standing policy takes no approvals_required or approver_group"));
            }
            AccessMode::Standing
        }
        "on_request" => {
            let approver_group = match request.approver_group.as_deref().map(str::trim).filter(|g| !g.is_empty()) {
                Some(name) => Some(app.group_id_by_name(name).await?),
                None => None,
            };
            AccessMode::OnRequest(ApprovalRule {
                approvals_required: request.approvals_required.unwrap_or(1),
                approver_group,
            })
        }
        other => return Err(ApiError::bad_request(format!("unknown mode {other:?}; use on_request or standing"))),
    };
    let targets = request
        .targets
        .iter()
        .map(|t| match t {
            PolicyTargetView::Name(name) => TargetName::parse(name).map(TargetSelector::Name),
            PolicyTargetView::Tag(tag) => TagName::parse(tag).map(TargetSelector::Tag),
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(AppError::from)?;
    let accounts = match &request.accounts {
        None => AccountSelector::Any,
        Some(names) => AccountSelector::Named(
            names.iter().map(|n| AccountName::parse(n)).collect::<Result<_, _>>().map_err(AppError::from)?,
        ),
    };
    let rules = PolicyRules {
        mode,
        max_duration: TimeSpan::from_minutes(request.max_duration_minutes),
        schedule: present(request.schedule).map(|s| Schedule::parse(&s)).transpose().map_err(AppError::from)?,
        mfa_to_request: request.mfa_to_request,
        mfa_to_connect: request.mfa_to_connect,
        record_input: request.record_input,
        reveal_allowed: request.reveal_allowed,
        ticket_required: request.ticket_required,
        ticket_pattern: present(request.ticket_pattern)
            .map(|p| TicketPattern::parse(&p))
            .transpose()
            .map_err(AppError::from)?,
        integration: present(request.integration),
        forwarding: ForwardingRules {
            local: request.allow_local_forwarding,
            remote: request.allow_remote_forwarding,
            agent: request.allow_agent_forwarding,
        },
        consent_banner: request.consent_banner,
        recording_retention_days: request.recording_retention_days,
        recording_required: request.recording_required,
    };
    Ok(PolicyDraft {
        name: request.name,
        description: request.description,
        enabled: request.enabled,
        users: request.users,
        groups: request.groups,
        targets,
        accounts,
        rules,
    })
}

/// An optional text, absent when empty.
fn present(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}
