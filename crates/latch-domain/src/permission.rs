//! Roles, permissions and API scopes. API scopes are permission names, so one check serves both.

use crate::DomainError;
use std::fmt;

/// Something a principal may do. The string form is the API scope name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    InventoryRead,
    InventoryWrite,
    CredentialsCheckout,
    RequestsWrite,
    RequestsApprove,
    SessionsRead,
    SessionsTerminate,
    /// Place and release legal holds on session recordings.
    SessionsHold,
    RecordingsRead,
    AuditRead,
    UsersRead,
    PoliciesRead,
    Admin,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::InventoryRead,
        Permission::InventoryWrite,
        Permission::CredentialsCheckout,
        Permission::RequestsWrite,
        Permission::RequestsApprove,
        Permission::SessionsRead,
        Permission::SessionsTerminate,
        Permission::SessionsHold,
        Permission::RecordingsRead,
        Permission::AuditRead,
        Permission::UsersRead,
        Permission::PoliciesRead,
        Permission::Admin,
    ];

    pub const fn as_str(&self) -> &'static str {
        match self {
            Permission::InventoryRead => "inventory:read",
            Permission::InventoryWrite => "inventory:write",
            Permission::CredentialsCheckout => "credentials:checkout",
            Permission::RequestsWrite => "requests:write",
            Permission::RequestsApprove => "requests:approve",
            Permission::SessionsRead => "sessions:read",
            Permission::SessionsTerminate => "sessions:terminate",
            Permission::SessionsHold => "sessions:hold",
            Permission::RecordingsRead => "recordings:read",
            Permission::AuditRead => "audit:read",
            Permission::UsersRead => "users:read",
            Permission::PoliciesRead => "policies:read",
            Permission::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        Permission::ALL
            .into_iter()
            .find(|p| p.as_str() == value)
            .ok_or_else(|| DomainError::invalid("scope", format!("unknown scope {value:?}")))
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Built-in roles; users get them directly or through groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Admin,
    Auditor,
    Approver,
    User,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Auditor, Role::Approver, Role::User];

    pub const fn as_str(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Approver => "approver",
            Role::User => "user",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        Role::ALL.into_iter().find(|r| r.as_str() == value.trim().to_ascii_lowercase()).ok_or_else(|| {
            DomainError::invalid("role", format!("unknown role {value:?}; roles are admin, auditor, approver, user"))
        })
    }

    /// Whether this role carries `permission`.
    pub const fn permits(&self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Auditor => matches!(
                permission,
                P::InventoryRead
                    | P::SessionsRead
                    | P::SessionsTerminate
                    | P::SessionsHold
                    | P::RecordingsRead
                    | P::AuditRead
                    | P::UsersRead
                    | P::PoliciesRead
            ),
            Role::Approver => {
                matches!(
                    permission,
                    P::InventoryRead | P::RequestsWrite | P::RequestsApprove | P::UsersRead | P::PoliciesRead
                )
            }
            Role::User => matches!(permission, P::RequestsWrite),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of API scopes; `admin` includes every other scope.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(Vec<Permission>);

impl ScopeSet {
    pub fn new(mut scopes: Vec<Permission>) -> Self {
        scopes.sort();
        scopes.dedup();
        Self(scopes)
    }
    pub fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, DomainError> {
        let scopes = items.into_iter().map(Permission::parse).collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err(DomainError::invalid("scopes", "at least one scope is required"));
        }
        Ok(Self::new(scopes))
    }
    pub fn permits(&self, permission: Permission) -> bool {
        self.0.contains(&Permission::Admin) || self.0.contains(&permission)
    }
    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }
    /// The narrower set: only scopes of `self` that `requested` names (OAuth `scope` parameter).
    pub fn narrowed_to(&self, requested: &ScopeSet) -> Result<ScopeSet, DomainError> {
        if let Some(extra) = requested.iter().find(|p| !self.permits(*p)) {
            return Err(DomainError::invalid("scope", format!("scope {extra} is not granted to this api account")));
        }
        Ok(requested.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_table() {
        use Permission as P;
        let check = |role: Role, allowed: &[Permission]| {
            for p in Permission::ALL {
                assert_eq!(role.permits(p), allowed.contains(&p) || role == Role::Admin, "{role} {p}");
            }
        };
        check(Role::Admin, &Permission::ALL);
        check(
            Role::Auditor,
            &[
                P::InventoryRead,
                P::SessionsRead,
                P::SessionsTerminate,
                P::SessionsHold,
                P::RecordingsRead,
                P::AuditRead,
                P::UsersRead,
                P::PoliciesRead,
            ],
        );
        check(Role::Approver, &[P::InventoryRead, P::RequestsWrite, P::RequestsApprove, P::UsersRead, P::PoliciesRead]);
        check(Role::User, &[P::RequestsWrite]);
    }

    #[test]
    fn scopes() {
        let set = ScopeSet::parse_list(["inventory:read", "audit:read", "inventory:read"]).unwrap_or_default();
        assert_eq!(set.iter().count(), 2);
        assert!(set.permits(Permission::AuditRead));
        assert!(!set.permits(Permission::InventoryWrite));
        assert!(ScopeSet::parse_list(["nope"]).is_err());
        assert!(ScopeSet::parse_list([]).is_err());
        let admin = ScopeSet::parse_list(["admin"]).unwrap_or_default();
        assert!(admin.permits(Permission::CredentialsCheckout));
        let narrow = ScopeSet::parse_list(["audit:read"]).unwrap_or_default();
        assert!(set.narrowed_to(&narrow).is_ok());
        let wide = ScopeSet::parse_list(["inventory:write"]).unwrap_or_default();
        assert!(set.narrowed_to(&wide).is_err());
    }
}
