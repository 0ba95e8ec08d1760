//! The dashboard's counts, for auditors and admins.

use super::sessions::SessionsRead;
use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Need, Params};
use crate::views;
use axum::Json;
use axum::extract::State;
use latch_api::{DashboardParams, DashboardView, DayCountView, ErrorBody, NameCountView};
use latch_app::{DayCount, NameCount};

/// Days covered when the caller names none.
const DEFAULT_DAYS: u32 = 14;

/// Sessions and failed logins per UTC day (zero-filled, oldest first), the ten busiest targets and users, and the
/// sessions live, grants in force and requests waiting now. Needs `sessions:read`.
#[utoipa::path(get, path = "/api/v1/dashboard", tag = "sessions", params(DashboardParams),
    responses((status = 200, body = DashboardView), (status = 400, body = ErrorBody)))]
pub(crate) async fn dashboard(
    State(state): State<HttpState>,
    need: Need<SessionsRead>,
    Params(params): Params<DashboardParams>,
) -> ApiResult<Json<DashboardView>> {
    let dashboard = state.app.dashboard(&need.principal, params.days.unwrap_or(DEFAULT_DAYS)).await?;
    Ok(Json(DashboardView {
        since: views::time(dashboard.since),
        days: dashboard.days,
        sessions_per_day: dashboard.sessions_per_day.iter().map(day).collect(),
        failed_logins_per_day: dashboard.failed_logins_per_day.iter().map(day).collect(),
        top_targets: dashboard.top_targets.iter().map(name).collect(),
        top_users: dashboard.top_users.iter().map(name).collect(),
        live_sessions: dashboard.live_sessions,
        active_grants: dashboard.active_grants,
        pending_requests: dashboard.pending_requests,
    }))
}

fn day(count: &DayCount) -> DayCountView {
    DayCountView { day: views::time(count.day).chars().take(10).collect(), count: count.count }
}

fn name(count: &NameCount) -> NameCountView {
    NameCountView { name: count.name.clone(), count: count.count }
}
