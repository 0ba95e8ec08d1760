use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Need, Params, SessionsReadOrOwn, SessionsTerminate, Signed};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use latch_api::{ErrorBody, SessionListParams, SessionListView, SessionView};

/// Lists gateway sessions, newest first; without `sessions:read`, only the caller's own.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", params(SessionListParams),
    responses((status = 200, body = SessionListView)))]
pub(crate) async fn list(
    State(state): State<HttpState>,
    need: Need<SessionsReadOrOwn>,
    Params(params): Params<SessionListParams>,
) -> ApiResult<Json<SessionListView>> {
    let sessions = state
        .app
        .list_sessions(
            &need.principal,
            params.live.unwrap_or(false),
            params.limit.unwrap_or(100),
            params.offset.unwrap_or(0),
        )
        .await?;
    Ok(Json(SessionListView { sessions: sessions.iter().map(views::session).collect() }))
}

/// A gateway session by id: the caller's own, or any with `sessions:read`.
#[utoipa::path(get, path = "/api/v1/sessions/{session}", tag = "sessions", params(("session" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<HttpState>,
    need: Need<Signed>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(views::session(&state.app.get_session(&need.principal, &id).await?)))
}

/// Ends a live session now; answers with the session as it ended.
#[utoipa::path(post, path = "/api/v1/sessions/{session}/terminate", tag = "sessions", params(("session" = String, Path)),
    responses((status = 200, body = SessionView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub(crate) async fn terminate(
    State(state): State<HttpState>,
    need: Need<SessionsTerminate>,
    Path(id): Path<String>,
) -> ApiResult<Json<SessionView>> {
    Ok(Json(views::session(&state.app.terminate_session(&need.principal, &id, &need.ctx).await?)))
}
