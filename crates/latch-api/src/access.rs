use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A request for time-bound access to an account on a target (`POST /requests`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccessRequest {
    /// Target name or id.
    pub target: String,
    /// The account's username on the target; may be left out when exactly one account there may be requested.
    pub account: Option<String>,
    /// RFC 3339; defaults to now.
    pub starts_at: Option<String>,
    /// RFC 3339 end of the window; give this or `duration_minutes`.
    pub ends_at: Option<String>,
    /// Length of the window from its start; give this or `ends_at`.
    pub duration_minutes: Option<i64>,
    pub reason: String,
    /// A ticket or incident reference (some policies require one).
    pub ticket: Option<String>,
    pub task: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ApprovalView {
    pub approver_id: String,
    pub comment: Option<String>,
    pub at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct AccessRequestView {
    pub id: String,
    pub requester_id: String,
    pub target_id: String,
    pub account_id: String,
    pub policy_id: String,
    pub starts_at: String,
    pub ends_at: String,
    pub reason: String,
    pub ticket: Option<String>,
    pub task: Option<String>,
    /// `pending`, `approved`, `denied`, `cancelled` or `expired`.
    pub status: String,
    pub approvals_required: u8,
    /// Only members of this group may decide; null means anyone with the approver role.
    pub approver_group_id: Option<String>,
    pub approvals: Vec<ApprovalView>,
    pub decided_by: Option<String>,
    pub decision_comment: Option<String>,
    pub decided_at: Option<String>,
    /// A pending request expires at this time.
    pub decide_by: String,
    pub grant_id: Option<String>,
    pub created_at: String,
}

/// A request and, once it is approved, its grant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestOutcomeView {
    pub request: AccessRequestView,
    pub grant: Option<GrantView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccessRequestListView {
    pub requests: Vec<AccessRequestView>,
}

/// Which requests to list, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequestListParams {
    /// `mine` (default), `to_decide` (pending ones the caller may decide) or `all` (approvers and auditors).
    pub scope: Option<String>,
    /// `pending`, `approved`, `denied`, `cancelled` or `expired`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// An approval or denial, with an optional comment.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct GrantView {
    pub id: String,
    pub user_id: String,
    pub target_id: String,
    pub account_id: String,
    pub policy_id: Option<String>,
    pub request_id: Option<String>,
    /// `request` or `break_glass`.
    pub origin: String,
    pub starts_at: String,
    pub ends_at: String,
    /// At the time of the answer: `scheduled`, `active`, `expired` or `revoked`.
    pub state: String,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub revoke_reason: Option<String>,
    /// When Latch ended the grant's sessions after it expired or was revoked.
    pub enforced_at: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantListView {
    pub grants: Vec<GrantView>,
}

/// Which grants to list, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GrantListParams {
    /// `mine` (default) or `all` (approvers and session readers).
    pub scope: Option<String>,
    /// Only grants that have not ended or been revoked.
    pub current: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeGrantRequest {
    /// Why, at most 500 characters.
    pub reason: String,
}
