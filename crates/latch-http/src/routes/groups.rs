use super::users::roles;
use crate::HttpState;
use crate::error::ApiResult;
use crate::guard::{Admin, Body, Need, UsersRead};
use crate::views;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use latch_api::{CreateGroupRequest, GroupDetailsView, GroupListView, GroupView, UpdateGroupRequest};
use latch_app::{GroupChange, NewGroup};

/// Lists groups.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups", responses((status = 200, body = GroupListView)))]
pub(crate) async fn list(State(state): State<HttpState>, need: Need<UsersRead>) -> ApiResult<Json<GroupListView>> {
    let groups = state.app.list_groups(&need.principal).await?;
    Ok(Json(GroupListView { groups: groups.iter().map(views::group).collect() }))
}

/// Creates a group mapped to roles.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups", request_body = CreateGroupRequest, responses((status = 201, body = GroupView)))]
pub(crate) async fn create(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Body(request): Body<CreateGroupRequest>,
) -> ApiResult<(StatusCode, Json<GroupView>)> {
    let new = NewGroup { name: request.name, description: request.description, roles: roles(&request.roles)? };
    let group = state.app.create_group(&need.principal, new, &need.ctx).await?;
    Ok((StatusCode::CREATED, Json(views::group(&group))))
}

/// A group with its members.
#[utoipa::path(get, path = "/api/v1/groups/{group}", tag = "groups", params(("group" = String, Path, description = "id or name")),
    responses((status = 200, body = GroupDetailsView)))]
pub(crate) async fn get(
    State(state): State<HttpState>,
    need: Need<UsersRead>,
    Path(key): Path<String>,
) -> ApiResult<Json<GroupDetailsView>> {
    let details = state.app.get_group(&need.principal, &key).await?;
    Ok(Json(GroupDetailsView {
        group: views::group(&details.group),
        members: details.members.iter().map(views::user).collect(),
    }))
}

/// Changes a group's description or roles.
#[utoipa::path(patch, path = "/api/v1/groups/{group}", tag = "groups", params(("group" = String, Path)), request_body = UpdateGroupRequest,
    responses((status = 200, body = GroupView)))]
pub(crate) async fn update(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
    Body(request): Body<UpdateGroupRequest>,
) -> ApiResult<Json<GroupView>> {
    let change =
        GroupChange { description: request.description, roles: request.roles.as_deref().map(roles).transpose()? };
    Ok(Json(views::group(&state.app.update_group(&need.principal, &key, change, &need.ctx).await?)))
}

/// Deletes a group (its members keep their direct roles).
#[utoipa::path(delete, path = "/api/v1/groups/{group}", tag = "groups", params(("group" = String, Path)), responses((status = 204)))]
pub(crate) async fn delete(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    state.app.delete_group(&need.principal, &key, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Adds a user to a group.
#[utoipa::path(put, path = "/api/v1/groups/{group}/members/{user}", tag = "groups",
    params(("group" = String, Path), ("user" = String, Path)), responses((status = 204)))]
pub(crate) async fn add_member(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path((group, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.app.set_group_member(&need.principal, &group, &user, true, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user from a group.
#[utoipa::path(delete, path = "/api/v1/groups/{group}/members/{user}", tag = "groups",
    params(("group" = String, Path), ("user" = String, Path)), responses((status = 204)))]
pub(crate) async fn remove_member(
    State(state): State<HttpState>,
    need: Need<Admin>,
    Path((group, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.app.set_group_member(&need.principal, &group, &user, false, &need.ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}
