//! The login name a person gives the SSH gateway: who they are, and where they want to go.
//!
//! `ssh alice@root@db01@gateway` reaches the gateway with the user name `alice@root@db01`
//! (OpenSSH splits user and host at the last `@`): Latch user `alice`, account `root` on target
//! `db01`. The account may be left out (`alice@db01`) when the user's access allows exactly one
//! account there. For clients that mangle `@`, `:` works the same (`alice:root:db01`); one name
//! uses one separator.

use crate::DomainError;
use crate::names::{AccountName, TargetName, Username};

/// A parsed gateway login name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayLogin {
    pub user: Username,
    /// `None` when left out: the one account the user may use on the target.
    pub account: Option<AccountName>,
    pub target: TargetName,
}

/// The separators accepted between the parts.
pub const SEPARATORS: [char; 2] = ['@', ':'];

impl GatewayLogin {
    pub fn parse(login: &str) -> Result<GatewayLogin, DomainError> {
        let invalid = |reason: &str| DomainError::invalid("gateway login", reason.to_owned());
        if login.len() > 512 {
            return Err(invalid("is too long"));
        }
        let separator = SEPARATORS
            .into_iter()
            .find(|s| login.contains(*s))
            .ok_or_else(|| invalid("must be user@account@target or user@target"))?;
        if SEPARATORS.iter().any(|other| *other != separator && login.contains(*other)) {
            return Err(invalid("must use one separator, @ or :"));
        }
        let parts: Vec<&str> = login.split(separator).collect();
        match parts.as_slice() {
            [user, target] => {
                Ok(GatewayLogin { user: Username::parse(user)?, account: None, target: TargetName::parse(target)? })
            }
            [user, account, target] => Ok(GatewayLogin {
                user: Username::parse(user)?,
                account: Some(AccountName::parse(account)?),
                target: TargetName::parse(target)?,
            }),
            _ => Err(invalid("must be user@account@target or user@target")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_logins() {
        let check = |input: &str, expect: Option<(&str, Option<&str>, &str)>| {
            let got = GatewayLogin::parse(input)
                .ok()
                .map(|l| (l.user.to_string(), l.account.map(|a| a.to_string()), l.target.to_string()));
            let want = expect.map(|(u, a, t)| (u.to_owned(), a.map(str::to_owned), t.to_owned()));
            assert_eq!(got, want, "{input}");
        };
        check("alice@root@db01", Some(("alice", Some("root"), "db01")));
        check("alice@db01", Some(("alice", None, "db01")));
        check("alice:root:db01", Some(("alice", Some("root"), "db01")));
        check("alice:db01", Some(("alice", None, "db01")));
        check("Alice@Administrator@DB01", Some(("alice", Some("Administrator"), "db01")));
        check("alice@svc$backup@db01", Some(("alice", Some("svc$backup"), "db01")));
        check("alice", None);
        check("alice@root:db01", None);
        check("a@b@c@d", None);
        check("@root@db01", None);
        check("alice@@db01", None);
        check("alice@root@", None);
        check("al ice@db01", None);
        check(&format!("alice@{}", "x".repeat(600)), None);
    }
}
