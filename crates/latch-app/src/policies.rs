//! Access policies: created and changed by admins, read by approvers and auditors.

use crate::users::conflict_as;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AccessEvent, AuditEvent};
use latch_domain::names::{GroupName, PolicyName, Username};
use latch_domain::permission::Permission;
use latch_domain::policy::{AccountSelector, Policy, PolicyRules, PolicySpec, PolicySubject, TargetSelector};
use latch_domain::{PolicyId, UserId};
use latch_store::Db;
use uuid::Uuid;

/// A policy as entered: subjects by user and group name.
#[derive(Debug, Clone)]
pub struct PolicyDraft {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub users: Vec<String>,
    pub groups: Vec<String>,
    pub targets: Vec<TargetSelector>,
    pub accounts: AccountSelector,
    pub rules: PolicyRules,
}

/// A policy with the names of its subjects, for display.
#[derive(Debug, Clone)]
pub struct PolicyDetails {
    pub policy: Policy,
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl App {
    pub async fn create_policy(
        &self,
        principal: &Principal,
        draft: PolicyDraft,
        ctx: &RequestContext,
    ) -> Result<PolicyDetails, AppError> {
        principal.require(Permission::Admin)?;
        let now = self.now();
        let mut tx = self.store().begin().await?;
        let spec = self.policy_spec(&mut tx, draft).await?;
        let policy = Policy { id: PolicyId::from_uuid(Uuid::new_v4()), spec, created_at: now, updated_at: now };
        latch_store::policies::insert(&mut tx, &policy).await.map_err(conflict_as("policy"))?;
        let event = AccessEvent::PolicyCreated { policy_id: policy.id, name: policy.spec.name.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        let details = self.policy_details(&mut tx, policy).await?;
        tx.commit().await?;
        Ok(details)
    }

    /// Replaces every field of the policy `key` (id or name) with `draft`.
    pub async fn update_policy(
        &self,
        principal: &Principal,
        key: &str,
        draft: PolicyDraft,
        ctx: &RequestContext,
    ) -> Result<PolicyDetails, AppError> {
        principal.require(Permission::Admin)?;
        let mut tx = self.store().begin().await?;
        let current = find_policy(&mut tx, key).await?;
        let spec = self.policy_spec(&mut tx, draft).await?;
        let changes = policy_changes(&current.spec, &spec);
        let policy = Policy { spec, updated_at: self.now(), ..current };
        latch_store::policies::update(&mut tx, &policy).await.map_err(conflict_as("policy"))?;
        let event = AccessEvent::PolicyUpdated { policy_id: policy.id, changes };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        let details = self.policy_details(&mut tx, policy).await?;
        tx.commit().await?;
        Ok(details)
    }

    pub async fn delete_policy(&self, principal: &Principal, key: &str, ctx: &RequestContext) -> Result<(), AppError> {
        principal.require(Permission::Admin)?;
        let mut tx = self.store().begin().await?;
        let policy = find_policy(&mut tx, key).await?;
        latch_store::policies::delete(&mut tx, policy.id).await?;
        let event = AccessEvent::PolicyDeleted { policy_id: policy.id, name: policy.spec.name.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn list_policies(&self, principal: &Principal) -> Result<Vec<PolicyDetails>, AppError> {
        principal.require(Permission::PoliciesRead)?;
        let mut conn = self.store().read().await?;
        let mut out = Vec::new();
        for policy in latch_store::policies::list(&mut conn).await? {
            out.push(self.policy_details(&mut conn, policy).await?);
        }
        Ok(out)
    }

    pub async fn get_policy(&self, principal: &Principal, key: &str) -> Result<PolicyDetails, AppError> {
        principal.require(Permission::PoliciesRead)?;
        let mut conn = self.store().read().await?;
        let policy = find_policy(&mut conn, key).await?;
        self.policy_details(&mut conn, policy).await
    }

    async fn policy_spec(&self, db: &mut impl Db, draft: PolicyDraft) -> Result<PolicySpec, AppError> {
        let mut subjects = Vec::new();
        for name in &draft.users {
            let username = Username::parse(name)?;
            let user = latch_store::users::find_by_username(db, &username).await?;
            let user = user.ok_or_else(|| AppError::BadRequest(format!("unknown user {name:?}")))?;
            subjects.push(PolicySubject::User(user.id));
        }
        for name in &draft.groups {
            let group_name = GroupName::parse(name)?;
            let group = latch_store::groups::find_by_name(db, &group_name).await?;
            let group = group.ok_or_else(|| AppError::BadRequest(format!("unknown group {name:?}")))?;
            subjects.push(PolicySubject::Group(group.id));
        }
        if let latch_domain::policy::AccessMode::OnRequest(rule) = draft.rules.mode
            && let Some(group) = rule.approver_group
            && latch_store::groups::find(db, group).await?.is_none()
        {
            return Err(AppError::BadRequest("unknown approver group".to_owned()));
        }
        let spec = PolicySpec {
            name: PolicyName::parse(&draft.name)?,
            description: draft.description.trim().to_owned(),
            enabled: draft.enabled,
            subjects,
            targets: draft.targets,
            accounts: draft.accounts,
            rules: draft.rules,
        };
        Ok(spec.normalized()?)
    }

    /// Resolves an approver group name to its id, for front ends building a [`PolicyDraft`].
    pub async fn group_id_by_name(&self, name: &str) -> Result<latch_domain::GroupId, AppError> {
        let group_name = GroupName::parse(name)?;
        let mut conn = self.store().read().await?;
        let group = latch_store::groups::find_by_name(&mut conn, &group_name).await?;
        group.map(|g| g.id).ok_or_else(|| AppError::BadRequest(format!("unknown group {name:?}")))
    }

    /// The name of a group, for display.
    pub async fn group_name(&self, id: latch_domain::GroupId) -> Result<Option<String>, AppError> {
        let mut conn = self.store().read().await?;
        Ok(latch_store::groups::find(&mut conn, id).await?.map(|g| g.name.to_string()))
    }

    async fn policy_details(&self, db: &mut impl Db, policy: Policy) -> Result<PolicyDetails, AppError> {
        let mut users = Vec::new();
        let mut groups = Vec::new();
        for subject in &policy.spec.subjects {
            match subject {
                PolicySubject::User(id) => users.push(user_name(db, *id).await?),
                PolicySubject::Group(id) => {
                    let group = latch_store::groups::find(db, *id).await?;
                    groups.push(group.map_or_else(|| id.to_string(), |g| g.name.to_string()));
                }
            }
        }
        Ok(PolicyDetails { policy, users, groups })
    }
}

pub(crate) async fn user_name(db: &mut impl Db, id: UserId) -> Result<String, AppError> {
    let user = latch_store::users::find(db, id).await?;
    Ok(user.map_or_else(|| id.to_string(), |u| u.username.to_string()))
}

async fn find_policy(db: &mut impl Db, key: &str) -> Result<Policy, AppError> {
    let found = match key.parse::<PolicyId>() {
        Ok(id) => latch_store::policies::find(db, id).await?,
        Err(_) => match PolicyName::parse(key) {
            Ok(name) => latch_store::policies::find_by_name(db, &name).await?,
            Err(_) => None,
        },
    };
    found.ok_or(AppError::NotFound("policy"))
}

fn policy_changes(old: &PolicySpec, new: &PolicySpec) -> Vec<String> {
    let mut changes = Vec::new();
    let mut note = |changed: bool, field: &str| {
        if changed {
            changes.push(field.to_owned());
        }
    };
    note(old.name != new.name, "name");
    note(old.description != new.description, "description");
    note(old.enabled != new.enabled, "enabled");
    note(old.subjects != new.subjects, "subjects");
    note(old.targets != new.targets, "targets");
    note(old.accounts != new.accounts, "accounts");
    note(old.rules != new.rules, "rules");
    changes
}
