use crate::UserView;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct GroupView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub roles: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupDetailsView {
    pub group: GroupView,
    pub members: Vec<UserView>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupListView {
    pub groups: Vec<GroupView>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupRequest {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupRequest {
    pub description: Option<String>,
    pub roles: Option<Vec<String>>,
}
