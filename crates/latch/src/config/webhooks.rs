//! `[[webhooks]]`: where notifications go, which audit events each webhook receives, and how they are signed.

use super::dto::WebhookSection;
use crate::UsageError;
use latch_domain::notification::{EventPattern, WebhookSubscription};
use latch_vault::SecretString;

/// One validated webhook.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub subscription: WebhookSubscription,
    pub url: String,
    /// Signs each body (`X-Latch-Signature: sha256=<hex HMAC>`) when set.
    pub secret: Option<SecretString>,
}

const MAX_WEBHOOKS: usize = 32;

pub fn resolve(sections: &[WebhookSection]) -> Result<Vec<WebhookConfig>, UsageError> {
    if sections.len() > MAX_WEBHOOKS {
        return Err(UsageError(format!("at most {MAX_WEBHOOKS} [[webhooks]]")));
    }
    let mut out: Vec<WebhookConfig> = Vec::new();
    for (index, section) in sections.iter().enumerate() {
        let at = |what: &str| UsageError(format!("[[webhooks]] #{}: {what}", index + 1));
        let name =
            section.name.clone().filter(|n| is_name(n)).ok_or_else(|| at("name must be 1 to 64 of a-z 0-9 - _"))?;
        if out.iter().any(|w| w.subscription.name == name) {
            return Err(at(&format!("the name {name:?} is used twice")));
        }
        let url = section.url.clone().ok_or_else(|| at("url is required"))?;
        if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
            return Err(at("url must be an http(s) URL"));
        }
        let events = section.events.clone().unwrap_or_else(|| vec!["*".to_owned()]);
        let events = events
            .iter()
            .map(|e| EventPattern::parse(e).map_err(|err| at(&err.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let secret = match &section.secret_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|err| at(&format!("cannot read secret_file {}: {err}", path.display())))?;
                let text = text.trim_end_matches(['\r', '\n']).to_owned();
                if text.len() < 16 {
                    return Err(at("the secret must be at least 16 characters"));
                }
                Some(SecretString::new(text))
            }
            None => None,
        };
        out.push(WebhookConfig { subscription: WebhookSubscription { name, events }, url, secret });
    }
    Ok(out)
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_are_validated() {
        let section = |name: &str, url: &str| WebhookSection {
            name: Some(name.to_owned()),
            url: Some(url.to_owned()),
            secret_file: None,
            events: Some(vec!["request.".to_owned()]),
        };
        let ok = resolve(&[section("siem", "https://siem.example/hook")]).unwrap();
        assert!(ok[0].subscription.wants("request.created"));
        assert!(!ok[0].subscription.wants("grant.ended"));
        assert!(resolve(&[section("Bad Name", "https://x")]).is_err());
        assert!(resolve(&[section("a", "ftp://x")]).is_err());
        assert!(resolve(&[section("a", "https://x"), section("a", "https://y")]).is_err());
    }
}
