//! Managed targets and the search over them.

use crate::names::{HostAddress, TagName, TargetName};
use crate::{DomainError, TargetId, Timestamp};

/// A protocol a target speaks through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Ssh,
    Telnet,
    Rdp,
    Postgres,
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::Ssh, Protocol::Telnet, Protocol::Rdp, Protocol::Postgres];

    pub const fn as_str(&self) -> &'static str {
        match self {
            Protocol::Ssh => "ssh",
            Protocol::Telnet => "telnet",
            Protocol::Rdp => "rdp",
            Protocol::Postgres => "postgres",
        }
    }
    pub const fn default_port(&self) -> u16 {
        match self {
            Protocol::Ssh => 22,
            Protocol::Telnet => 23,
            Protocol::Rdp => 3389,
            Protocol::Postgres => 5432,
        }
    }
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim().to_ascii_lowercase();
        Protocol::ALL.into_iter().find(|p| p.as_str() == value).ok_or_else(|| {
            DomainError::invalid("protocol", format!("unknown protocol {value:?}; use ssh, telnet, rdp or postgres"))
        })
    }
}

/// A pinned host key (SSH, `SHA256:` fingerprint) or certificate (TLS, `sha256/` hex digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyPin(String);

impl HostKeyPin {
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let value = value.trim();
        let ssh = value.strip_prefix("SHA256:").is_some_and(|b64| {
            (40..=44).contains(&b64.len())
                && b64.chars().all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=')
        });
        let tls = value
            .strip_prefix("sha256/")
            .is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()));
        if !ssh && !tls {
            return Err(DomainError::invalid(
                "host key pin",
                "must be an SSH fingerprint (SHA256:…) or a certificate digest (sha256/<64 hex>)",
            ));
        }
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The editable fields of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub name: TargetName,
    pub address: HostAddress,
    pub port: u16,
    pub protocols: Vec<Protocol>,
    pub tags: Vec<TagName>,
    pub description: String,
    pub host_key_pin: Option<HostKeyPin>,
}

impl TargetSpec {
    /// Sorts and de-duplicates protocols and tags and checks the remaining rules.
    pub fn normalized(mut self) -> Result<Self, DomainError> {
        self.protocols.sort();
        self.protocols.dedup();
        self.tags.sort();
        self.tags.dedup();
        if self.protocols.is_empty() {
            return Err(DomainError::invalid("protocols", "at least one protocol is required"));
        }
        if self.port == 0 {
            return Err(DomainError::invalid("port", "must be between 1 and 65535"));
        }
        if self.tags.len() > 64 {
            return Err(DomainError::invalid("tags", "at most 64 tags"));
        }
        if self.description.chars().count() > 2000 {
            return Err(DomainError::invalid("description", "must be at most 2000 characters"));
        }
        Ok(self)
    }
}

/// A managed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: TargetId,
    pub spec: TargetSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A search over targets, like the "jump item" search of other PAMs: every given criterion must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetQuery {
    /// Matched case-insensitively as a substring of name, address and description.
    pub text: Option<String>,
    pub tag: Option<TagName>,
    pub protocol: Option<Protocol>,
}

impl TargetQuery {
    /// Whether `target` matches; the store uses the same rules in SQL and tests compare both.
    pub fn matches(&self, target: &Target) -> bool {
        let spec = &target.spec;
        let text_ok = self.text.as_deref().is_none_or(|text| {
            let needle = text.to_lowercase();
            [spec.name.as_str(), spec.address.as_str(), spec.description.as_str()]
                .iter()
                .any(|hay| hay.to_lowercase().contains(&needle))
        });
        let tag_ok = self.tag.as_ref().is_none_or(|tag| spec.tags.contains(tag));
        let protocol_ok = self.protocol.is_none_or(|p| spec.protocols.contains(&p));
        text_ok && tag_ok && protocol_ok
    }
}
