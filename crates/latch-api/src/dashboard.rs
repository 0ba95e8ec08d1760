//! The dashboard: counts and series for charts.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// How many days the dashboard covers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardParams {
    /// 1 to 90 UTC days, today included; default 14.
    pub days: Option<u32>,
}

/// A count for one UTC day.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct DayCountView {
    /// The day, `YYYY-MM-DD` (UTC).
    pub day: String,
    pub count: i64,
}

/// A count for a name (a target, a user).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct NameCountView {
    pub name: String,
    pub count: i64,
}

/// Sessions and failed logins per day, the busiest targets and users, and what is live now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DashboardView {
    /// RFC 3339: the start of the first day covered.
    pub since: String,
    pub days: u32,
    pub sessions_per_day: Vec<DayCountView>,
    pub failed_logins_per_day: Vec<DayCountView>,
    /// The ten targets with the most sessions in the period.
    pub top_targets: Vec<NameCountView>,
    /// The ten users with the most sessions in the period.
    pub top_users: Vec<NameCountView>,
    pub live_sessions: i64,
    pub active_grants: i64,
    pub pending_requests: i64,
}
