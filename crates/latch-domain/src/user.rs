//! Users and groups.

use crate::lockout::LockoutState;
use crate::names::{GroupName, Username};
use crate::permission::{Permission, Role};
use crate::{GroupId, Timestamp, UserId};

/// A person who logs in to Latch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub display_name: String,
    pub email: Option<String>,
    /// Roles given to the user directly; group roles add to these.
    pub roles: Vec<Role>,
    pub disabled: bool,
    /// Set for one-time passwords (the initial admin, admin resets): only a password change is allowed.
    pub must_change_password: bool,
    pub totp_enrolled: bool,
    /// When set, every login needs a TOTP code; enrolment is forced at first login.
    pub totp_required: bool,
    pub lockout: LockoutState,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

/// A group: members get the group's roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: GroupName,
    pub description: String,
    pub roles: Vec<Role>,
    pub created_at: Timestamp,
}

/// The roles a user holds: direct ones and those of every group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EffectiveRoles(Vec<Role>);

impl EffectiveRoles {
    pub fn collect<'a>(direct: &[Role], groups: impl IntoIterator<Item = &'a Group>) -> Self {
        let mut roles: Vec<Role> = direct.to_vec();
        for group in groups {
            roles.extend(group.roles.iter().copied());
        }
        roles.sort();
        roles.dedup();
        Self(roles)
    }
    pub fn from_roles(mut roles: Vec<Role>) -> Self {
        roles.sort();
        roles.dedup();
        Self(roles)
    }
    pub fn permits(&self, permission: Permission) -> bool {
        self.0.iter().any(|r| r.permits(permission))
    }
    pub fn has(&self, role: Role) -> bool {
        self.0.contains(&role)
    }
    pub fn as_slice(&self) -> &[Role] {
        &self.0
    }
}

/// Rules for a new local password.
pub fn check_password_policy(password: &str, username: &Username) -> Result<(), crate::DomainError> {
    let chars = password.chars().count();
    if chars < 12 {
        return Err(crate::DomainError::invalid("password", "must be at least 12 characters"));
    }
    if chars > 1024 {
        return Err(crate::DomainError::invalid("password", "must be at most 1024 characters"));
    }
    if password.to_ascii_lowercase().contains(username.as_str()) {
        return Err(crate::DomainError::invalid("password", "must not contain the username"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_roles_union_groups() {
        let group = |roles: Vec<Role>| Group {
            id: GroupId::from_uuid(uuid::Uuid::nil()),
            name: GroupName::parse("g").unwrap_or_else(|_| unreachable!()),
            description: String::new(),
            roles,
            created_at: Timestamp::from_millis(0),
        };
        let groups = [group(vec![Role::Auditor]), group(vec![Role::Approver, Role::Auditor])];
        let roles = EffectiveRoles::collect(&[Role::User], &groups);
        assert_eq!(roles.as_slice(), &[Role::Auditor, Role::Approver, Role::User]);
        assert!(roles.permits(Permission::AuditRead));
        assert!(roles.permits(Permission::RequestsApprove));
        assert!(!roles.permits(Permission::Admin));
    }

    #[test]
    fn password_policy() {
        let alice = Username::parse("alice").unwrap_or_else(|_| unreachable!());
        let check = |pw: &str, ok: bool| assert_eq!(check_password_policy(pw, &alice).is_ok(), ok, "{pw}");
        check("short", false);
        check("correct horse battery", true);
        check("ALICE-is-great-123", false);
        check(&"x".repeat(1025), false);
    }
}
