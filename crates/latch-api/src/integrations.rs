//! Incident integrations: the tasks open for a ticket, test mode, and the incident system's inbound call.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The ticket to look up (`GET /integrations/{integration}/tasks`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentTasksParams {
    /// Target name or id.
    pub target: String,
    /// The account's username on the target.
    pub account: Option<String>,
    pub ticket: String,
}

/// A task open for a ticket, as the incident system describes it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct IncidentTaskView {
    pub id: String,
    pub title: String,
    /// RFC 3339; access for this task ends then at the latest.
    pub expires_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentTaskListView {
    pub integration: String,
    pub ticket: String,
    pub tasks: Vec<IncidentTaskView>,
}

/// A request to check as a user would make it, without granting anything (`POST /integrations/{integration}/test`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegrationTestRequest {
    /// Username or id of the user to test as.
    pub user: String,
    /// Target name or id.
    pub target: String,
    #[serde(default)]
    pub account: Option<String>,
    pub ticket: String,
    /// The task to validate; without one, the open tasks are listed and the check refuses.
    #[serde(default)]
    pub task: Option<String>,
    /// The window to ask for (default 60).
    #[serde(default)]
    pub duration_minutes: Option<i64>,
}

/// What test mode found. Nothing was created.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntegrationTestView {
    pub integration: String,
    pub user: String,
    /// The policy that would decide the request.
    pub policy: Option<String>,
    pub account: Option<String>,
    /// The open tasks the integration answered; null when the lookup was not reached or failed.
    pub tasks: Option<Vec<IncidentTaskView>>,
    pub task: Option<String>,
    /// The window a request would get, its end capped at the task's expiry (when every check passed).
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    /// Whether the task's expiry cut the window short.
    pub capped: bool,
    /// `would_grant`, `would_wait_for_approval` or `refused`.
    pub verdict: String,
    pub approvals_required: Option<u8>,
    /// Why it would be refused, as the requester would read it.
    pub message: Option<String>,
}

/// The incident system reports a ticket closed (`POST /integrations/{integration}/incidents/closed`). Other fields
/// the incident system sends are ignored.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct IncidentClosedRequest {
    pub ticket: String,
}

/// What closing the incident ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentClosedView {
    pub integration: String,
    pub ticket: String,
    pub grants_revoked: u64,
    pub requests_cancelled: u64,
}
