use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Switching emergency access on (`POST /break-glass`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateBreakGlassRequest {
    /// Target names, 1 to 50.
    pub targets: Vec<String>,
    /// Why, 1 to 1000 characters; recorded and sent to the notification webhooks.
    pub reason: String,
    /// How long it stays on; defaults to (and may not exceed) the configured maximum.
    pub duration_minutes: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct BreakGlassView {
    pub id: String,
    pub targets: Vec<String>,
    pub reason: String,
    /// The user who switched it on.
    pub activated_by: String,
    pub activated_at: String,
    /// When it switches itself off.
    pub ends_at: String,
    /// At the time of the answer: `active`, `ended` (switched off by hand) or `expired`.
    pub state: String,
    pub ended_at: Option<String>,
    /// Who switched it off: a username, or `system` at expiry.
    pub ended_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BreakGlassListView {
    pub break_glass: Vec<BreakGlassView>,
}

/// Which break-glass records to list, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreakGlassListParams {
    /// Only those still on.
    pub active: Option<bool>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}
