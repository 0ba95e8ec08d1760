//! Groups and their mapping to roles.

use crate::users::conflict_as;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::GroupId;
use latch_domain::audit::AuditEvent;
use latch_domain::names::GroupName;
use latch_domain::permission::{Permission, Role};
use latch_domain::user::{Group, User};
use uuid::Uuid;

/// A new group.
#[derive(Debug)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
    pub roles: Vec<Role>,
}

/// Fields to change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct GroupChange {
    pub description: Option<String>,
    pub roles: Option<Vec<Role>>,
}

/// A group with its members.
#[derive(Debug, Clone)]
pub struct GroupDetails {
    pub group: Group,
    pub members: Vec<User>,
}

impl App {
    pub async fn create_group(
        &self,
        principal: &Principal,
        new: NewGroup,
        ctx: &RequestContext,
    ) -> Result<Group, AppError> {
        principal.require(Permission::Admin)?;
        let mut roles = new.roles;
        roles.sort();
        roles.dedup();
        let group = Group {
            id: GroupId::from_uuid(Uuid::new_v4()),
            name: GroupName::parse(&new.name)?,
            description: check_description(&new.description)?,
            roles,
            created_at: self.now(),
        };
        let mut tx = self.store().begin().await?;
        latch_store::groups::insert(&mut tx, &group).await.map_err(conflict_as("group"))?;
        let event = AuditEvent::GroupCreated {
            group_id: group.id,
            name: group.name.to_string(),
            roles: group.roles.iter().map(ToString::to_string).collect(),
        };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn list_groups(&self, principal: &Principal) -> Result<Vec<Group>, AppError> {
        principal.require(Permission::UsersRead)?;
        let mut conn = self.store().read().await?;
        Ok(latch_store::groups::list(&mut conn).await?)
    }

    pub async fn get_group(&self, principal: &Principal, key: &str) -> Result<GroupDetails, AppError> {
        principal.require(Permission::UsersRead)?;
        let group = self.find_group(key).await?;
        let mut conn = self.store().read().await?;
        let ids = latch_store::groups::members(&mut conn, group.id).await?;
        let mut members = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(user) = latch_store::users::find(&mut conn, id).await? {
                members.push(user);
            }
        }
        Ok(GroupDetails { group, members })
    }

    pub async fn update_group(
        &self,
        principal: &Principal,
        key: &str,
        change: GroupChange,
        ctx: &RequestContext,
    ) -> Result<Group, AppError> {
        principal.require(Permission::Admin)?;
        let mut group = self.find_group(key).await?;
        let mut changes = Vec::new();
        if let Some(description) = change.description {
            group.description = check_description(&description)?;
            changes.push("description".to_owned());
        }
        if let Some(mut roles) = change.roles {
            roles.sort();
            roles.dedup();
            group.roles = roles;
            changes
                .push(format!("roles={}", group.roles.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")));
        }
        let mut tx = self.store().begin().await?;
        latch_store::groups::update(&mut tx, &group).await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::GroupUpdated { group_id: group.id, changes }).await?;
        tx.commit().await?;
        Ok(group)
    }

    pub async fn delete_group(&self, principal: &Principal, key: &str, ctx: &RequestContext) -> Result<(), AppError> {
        principal.require(Permission::Admin)?;
        let group = self.find_group(key).await?;
        let mut tx = self.store().begin().await?;
        latch_store::groups::delete(&mut tx, group.id).await?;
        let event = AuditEvent::GroupDeleted { group_id: group.id, name: group.name.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds (`member = true`) or removes a user from a group.
    pub async fn set_group_member(
        &self,
        principal: &Principal,
        group_key: &str,
        user_key: &str,
        member: bool,
        ctx: &RequestContext,
    ) -> Result<bool, AppError> {
        principal.require(Permission::Admin)?;
        let group = self.find_group(group_key).await?;
        let user = self.find_user(user_key).await?;
        let mut tx = self.store().begin().await?;
        let changed = if member {
            latch_store::groups::add_member(&mut tx, group.id, user.id).await?
        } else {
            latch_store::groups::remove_member(&mut tx, group.id, user.id).await?
        };
        if changed {
            let event = if member {
                AuditEvent::GroupMemberAdded { group_id: group.id, user_id: user.id }
            } else {
                AuditEvent::GroupMemberRemoved { group_id: group.id, user_id: user.id }
            };
            self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn find_group(&self, key: &str) -> Result<Group, AppError> {
        let mut conn = self.store().read().await?;
        let found = match key.parse::<GroupId>() {
            Ok(id) => latch_store::groups::find(&mut conn, id).await?,
            Err(_) => match GroupName::parse(key) {
                Ok(name) => latch_store::groups::find_by_name(&mut conn, &name).await?,
                Err(_) => None,
            },
        };
        found.ok_or(AppError::NotFound("group"))
    }
}

pub(crate) fn check_description(text: &str) -> Result<String, AppError> {
    let text = text.trim();
    if text.chars().count() > 2000 {
        return Err(latch_domain::DomainError::invalid("description", "must be at most 2000 characters").into());
    }
    Ok(text.to_owned())
}
