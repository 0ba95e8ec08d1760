//! Validated names. Each constructor is the one place its rule lives.

use crate::DomainError;
use std::fmt;

fn check_identifier(field: &'static str, value: &str, max: usize, extra: &[char]) -> Result<(), DomainError> {
    if value.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    let first_ok = value.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok {
        return Err(DomainError::invalid(field, "must start with a letter or digit"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') || extra.contains(&c);
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(DomainError::invalid(field, format!("must not contain {bad:?}")));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:literal, $extra:expr, $lower:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: &str) -> Result<Self, DomainError> {
                let value = value.trim();
                let value = if $lower { value.to_ascii_lowercase() } else { value.to_owned() };
                check_identifier($field, &value, $max, $extra)?;
                Ok(Self(value))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// A Latch login name: lowercase; `@` is not allowed because the SSH gateway uses it as a separator.
    Username, "username", 64, &[], true
);
name_type!(
    /// A group name.
    GroupName, "group name", 64, &[], true
);
name_type!(
    /// A target name, unique, used in `account@target@gateway` logins.
    TargetName, "target name", 63, &[], true
);
name_type!(
    /// A tag on a target.
    TagName, "tag", 64, &[':', '='], true
);
name_type!(
    /// An API account name.
    ApiAccountName, "api account name", 64, &[], true
);
name_type!(
    /// A login name on a target; case is kept because some systems are case sensitive.
    AccountName, "account username", 128, &['$', '\\'], false
);

name_type!(
    /// An access policy's name.
    PolicyName, "policy name", 64, &[], true
);

/// A host name or IP address of a target.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostAddress(String);

impl HostAddress {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim();
        if value.parse::<std::net::IpAddr>().is_ok() {
            return Ok(Self(value.to_owned()));
        }
        if value.is_empty() || value.len() > 253 {
            return Err(DomainError::invalid("address", "must be a host name or IP address"));
        }
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !value.split('.').all(label_ok) {
            return Err(DomainError::invalid("address", "must be a host name or IP address"));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        let check = |input: &str, expect: Option<&str>| {
            assert_eq!(Username::parse(input).ok().map(|u| u.0), expect.map(str::to_owned), "{input}");
        };
        check("alice", Some("alice"));
        check(" Alice ", Some("alice"));
        check("a.b-c_d", Some("a.b-c_d"));
        check("", None);
        check("-x", None);
        check("al@ice", None);
        check("al ice", None);
        check(&"x".repeat(65), None);
    }

    #[test]
    fn addresses() {
        let check = |input: &str, ok: bool| assert_eq!(HostAddress::parse(input).is_ok(), ok, "{input}");
        check("10.0.0.1", true);
        check("::1", true);
        check("db01.example.com", true);
        check("db01", true);
        check("-bad.example", false);
        check("a..b", false);
        check("x y", false);
        check("", false);
    }
}
