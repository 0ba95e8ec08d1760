//! `[[integrations]]`: incident systems that policies name (`integration = "NAME"`) to validate tickets and tasks.
//!
//! Latch asks `url` for a ticket's open tasks with `secret_file`'s content as bearer token, giving up after
//! `timeout_seconds` (default 5, at most 30); the incident system reports closed incidents to
//! `POST /api/v1/integrations/NAME/incidents/closed` with `inbound_secret_file`'s content as bearer token.

use super::dto::IntegrationSection;
use crate::UsageError;
use latch_vault::SecretString;
use std::path::Path;
use std::time::Duration;

/// One validated incident integration. `Debug` shows the URL without credentials or query.
#[derive(Clone)]
pub struct IntegrationConfig {
    pub name: String,
    pub url: String,
    /// Sent as `Authorization: Bearer …` on lookups.
    pub secret: Option<SecretString>,
    pub timeout: Duration,
    /// What the incident system presents as bearer token on the inbound route; without it the route refuses.
    pub inbound_secret: Option<SecretString>,
}

impl std::fmt::Debug for IntegrationConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationConfig")
            .field("name", &self.name)
            .field("url", &redacted_url(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("inbound_secret", &self.inbound_secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

const MAX_INTEGRATIONS: usize = 32;
const DEFAULT_TIMEOUT_SECONDS: i64 = 5;
const MAX_TIMEOUT_SECONDS: i64 = 30;
const MIN_SECRET_CHARS: usize = 16;

pub fn resolve(sections: &[IntegrationSection]) -> Result<Vec<IntegrationConfig>, UsageError> {
    if sections.len() > MAX_INTEGRATIONS {
        return Err(UsageError(format!("at most {MAX_INTEGRATIONS} [[integrations]]")));
    }
    let mut out: Vec<IntegrationConfig> = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let at = |what: &str| UsageError(format!("[[integrations]] #{}: {what}", index + 1));
        let name =
            section.name.clone().filter(|n| is_name(n)).ok_or_else(|| at("name must be 1 to 64 of a-z 0-9 - _"))?;
        if out.iter().any(|i| i.name == name) {
            return Err(at(&format!("the name {name:?} is used twice")));
        }
        let url = section.url.clone().ok_or_else(|| at("url is required"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
            return Err(at("url must be an http(s) URL"));
        }
        let seconds = section.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if !(1..=MAX_TIMEOUT_SECONDS).contains(&seconds) {
            return Err(at(&format!("timeout_seconds must be between 1 and {MAX_TIMEOUT_SECONDS}, not {seconds}")));
        }
        let timeout = Duration::from_secs(u64::try_from(seconds).unwrap_or(5));
        let secret = section.secret_file.as_deref().map(|path| read_secret(path, "secret_file", &at)).transpose()?;
        let inbound_secret = section
            .inbound_secret_file
            .as_deref()
            .map(|path| read_secret(path, "inbound_secret_file", &at))
            .transpose()?;
        out.push(IntegrationConfig { name, url, secret, timeout, inbound_secret });
    }
    Ok(out)
}

fn read_secret(path: &Path, key: &str, at: &dyn Fn(&str) -> UsageError) -> Result<SecretString, UsageError> {
    let text =
        std::fs::read_to_string(path).map_err(|err| at(&format!("cannot read {key} {}: {err}", path.display())))?;
    let text = text.trim_end_matches(['\r', '\n']).to_owned();
    if text.chars().count() < MIN_SECRET_CHARS || text.chars().any(char::is_control) {
        return Err(at(&format!("the secret in {key} must be at least {MIN_SECRET_CHARS} printable characters")));
    }
    Ok(SecretString::new(text))
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `scheme://host/path`, without user information or query.
fn redacted_url(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or_default();
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            format!("{scheme}://{host}/{path}")
        }
        None => "[unparsable URL]".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(name: &str, url: &str) -> IntegrationSection {
        IntegrationSection { name: Some(name.to_owned()), url: Some(url.to_owned()), ..IntegrationSection::default() }
    }

    #[test]
    fn integrations_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "bearer-token-0123456789\n").unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "short\n").unwrap();
        let ok = IntegrationSection {
            secret_file: Some(secret.clone()),
            inbound_secret_file: Some(secret),
            timeout_seconds: Some(30),
            ..section("itsm", "https://user:pw@itsm.example/pam/tasks?key=abc")
        };
        let resolved = resolve(&[ok]).unwrap();
        assert_eq!(resolved[0].timeout, Duration::from_secs(30));
        assert_eq!(resolved[0].secret.as_ref().unwrap().expose(), "bearer-token-0123456789");
        let debug = format!("{resolved:?}");
        assert!(!debug.contains("bearer-token") && !debug.contains("pw@") && !debug.contains("key=abc"), "{debug}");
        assert_eq!(resolve(&[section("itsm", "https://x")]).unwrap()[0].timeout, Duration::from_secs(5));
        assert!(resolve(&[section("Bad Name", "https://x")]).is_err());
        assert!(resolve(&[section("a", "ftp://x")]).is_err());
        assert!(resolve(&[section("a", "https://x"), section("a", "https://y")]).is_err());
        assert!(resolve(&[IntegrationSection { timeout_seconds: Some(31), ..section("a", "https://x") }]).is_err());
        assert!(resolve(&[IntegrationSection { timeout_seconds: Some(0), ..section("a", "https://x") }]).is_err());
        assert!(resolve(&[IntegrationSection { secret_file: Some(short), ..section("a", "https://x") }]).is_err());
    }
}
