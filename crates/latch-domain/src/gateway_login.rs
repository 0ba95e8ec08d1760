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

/// A routing hint a client sends before the SSH protocol starts (`latch ssh-proxy`, used by the ssh_config block
/// of `latch ssh-config`), so that a plain `ssh root@db01` reaches account `root` on target `db01` as Latch user
/// `alice`: the SSH user name is then only the account. It names; it never authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteHint {
    pub user: Username,
    pub target: TargetName,
}

/// The first bytes of a route hint line: `LATCH-ROUTE 1 <user> <target>\r\n`.
pub const ROUTE_HINT_PREFIX: &str = "LATCH-ROUTE ";
/// The longest route hint line accepted, with its line ending.
pub const MAX_ROUTE_HINT_LINE: usize = 256;

impl RouteHint {
    /// Parses one hint line (with or without its line ending).
    pub fn parse_line(line: &str) -> Result<RouteHint, DomainError> {
        let invalid = || DomainError::invalid("route hint", "must be LATCH-ROUTE 1 <user> <target>".to_owned());
        let rest = line.trim_end_matches(['\r', '\n']).strip_prefix(ROUTE_HINT_PREFIX).ok_or_else(invalid)?;
        match rest.split(' ').collect::<Vec<_>>().as_slice() {
            ["1", user, target] => Ok(RouteHint { user: Username::parse(user)?, target: TargetName::parse(target)? }),
            _ => Err(invalid()),
        }
    }

    /// The line a client sends.
    pub fn line(&self) -> String {
        format!("{ROUTE_HINT_PREFIX}1 {} {}\r\n", self.user, self.target)
    }
}

impl GatewayLogin {
    /// The login for the SSH user name `ssh_user` on a connection that sent `hint`: a full login name
    /// (`alice@root@db01`) is taken as it is; a bare name is the account on the hinted target as the hinted user.
    pub fn with_hint(ssh_user: &str, hint: Option<&RouteHint>) -> Result<GatewayLogin, DomainError> {
        match hint {
            Some(hint) if !SEPARATORS.iter().any(|s| ssh_user.contains(*s)) => Ok(GatewayLogin {
                user: hint.user.clone(),
                account: Some(AccountName::parse(ssh_user)?),
                target: hint.target.clone(),
            }),
            _ => GatewayLogin::parse(ssh_user),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_hints() {
        let hint = RouteHint::parse_line("LATCH-ROUTE 1 alice db01\r\n").unwrap();
        assert_eq!((hint.user.as_str(), hint.target.as_str()), ("alice", "db01"));
        assert_eq!(RouteHint::parse_line(&hint.line()), Ok(hint.clone()));
        for bad in ["LATCH-ROUTE 2 alice db01", "LATCH-ROUTE 1 alice", "SSH-2.0-OpenSSH", "LATCH-ROUTE 1 a@b db01"] {
            assert!(RouteHint::parse_line(bad).is_err(), "{bad}");
        }
        let via_hint = GatewayLogin::with_hint("root", Some(&hint)).unwrap();
        assert_eq!(via_hint, GatewayLogin::parse("alice@root@db01").unwrap());
        let explicit = GatewayLogin::with_hint("bob@db02", Some(&hint)).unwrap();
        assert_eq!(explicit, GatewayLogin::parse("bob@db02").unwrap());
        assert!(GatewayLogin::with_hint("root", None).is_err());
    }

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
