//! API accounts: machine identities with scopes, used through OAuth 2.0 client credentials.

use crate::lockout::LockoutState;
use crate::names::ApiAccountName;
use crate::permission::ScopeSet;
use crate::{ApiAccountId, ApiTokenId, DomainError, TimeSpan, Timestamp};
use ipnet::IpNet;
use std::net::IpAddr;

/// Source addresses an API account may call from; empty means anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceRanges(Vec<IpNet>);

impl SourceRanges {
    pub fn parse_list<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, DomainError> {
        let mut nets = Vec::new();
        for item in items {
            let item = item.trim();
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    DomainError::invalid("allowed source", format!("{item:?} is not an IP address or CIDR range"))
                })?,
            };
            nets.push(net.trunc());
        }
        nets.sort();
        nets.dedup();
        Ok(Self(nets))
    }
    pub fn allows(&self, source: IpAddr) -> bool {
        let source = match source {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(source),
            v4 => v4,
        };
        self.0.is_empty() || self.0.iter().any(|net| net.contains(&source))
    }
    pub fn iter(&self) -> impl Iterator<Item = &IpNet> {
        self.0.iter()
    }
}

/// An API account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAccount {
    pub id: ApiAccountId,
    pub name: ApiAccountName,
    pub description: String,
    pub scopes: ScopeSet,
    pub allowed_sources: SourceRanges,
    pub token_ttl: TimeSpan,
    pub revoked: bool,
    pub lockout: LockoutState,
    pub created_at: Timestamp,
    pub secret_rotated_at: Timestamp,
}

/// An issued access token; the token text itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub api_account_id: ApiAccountId,
    pub scopes: ScopeSet,
    pub source: Option<String>,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

/// Bounds of a token lifetime an admin may choose.
pub fn check_token_ttl(ttl: TimeSpan) -> Result<TimeSpan, DomainError> {
    if ttl < TimeSpan::from_minutes(1) || ttl > TimeSpan::from_hours(24) {
        return Err(DomainError::invalid("token ttl", "must be between 60 seconds and 24 hours"));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ranges() {
        let ranges = SourceRanges::parse_list(["10.0.0.0/8", "192.168.1.7", "::1"]).unwrap_or_default();
        let check = |ip: &str, ok: bool| {
            assert_eq!(ranges.allows(ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))), ok, "{ip}")
        };
        check("10.1.2.3", true);
        check("192.168.1.7", true);
        check("192.168.1.8", false);
        check("::1", true);
        check("::ffff:10.9.9.9", true);
        check("11.0.0.1", false);
        assert!(SourceRanges::default().allows("8.8.8.8".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(SourceRanges::parse_list(["nope"]).is_err());
    }
}
