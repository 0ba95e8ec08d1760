//! The HTTP client of incident integrations, installed into the app as its [`IncidentDirectory`].
//!
//! A lookup is `POST {url}` with the JSON body `{"user", "target", "account", "ticket"}` and, when the integration
//! has a `secret_file`, `Authorization: Bearer <secret>`. The incident system answers 2xx with
//! `{"tasks": [{"id", "title", "expires_at"}]}`, `expires_at` in RFC 3339. The whole exchange (connect, answer,
//! body) must finish within the integration's timeout; the answer is read up to 1 MiB and 100 tasks. Errors are
//! described by kind only, never with the URL or the secret.

use crate::config::IntegrationConfig;
use latch_app::domain::Timestamp;
use latch_app::{
    IncidentDirectory, IncidentLookupError, IncidentQuery, IncidentTask, MAX_INCIDENT_TASKS, SecretString,
};
use serde::Deserialize;
use std::future::Future;
use std::pin::Pin;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The largest answer read from an incident system.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The configured integrations and one HTTP client for all of them.
#[derive(Debug)]
pub struct HttpIncidentDirectory {
    integrations: Vec<IntegrationConfig>,
    http: reqwest::Client,
}

impl HttpIncidentDirectory {
    pub fn new(integrations: Vec<IntegrationConfig>) -> anyhow::Result<HttpIncidentDirectory> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("latch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpIncidentDirectory { integrations, http })
    }

    fn find(&self, integration: &str) -> Option<&IntegrationConfig> {
        self.integrations.iter().find(|i| i.name == integration)
    }
}

impl IncidentDirectory for HttpIncidentDirectory {
    fn lookup<'a>(
        &'a self,
        integration: &'a str,
        query: &'a IncidentQuery,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<IncidentTask>, IncidentLookupError>> + Send + 'a>> {
        Box::pin(async move {
            let config = self.find(integration).ok_or_else(|| IncidentLookupError::Unknown(integration.to_owned()))?;
            tokio::time::timeout(config.timeout, ask(&self.http, config, query))
                .await
                .unwrap_or(Err(IncidentLookupError::Timeout))
        })
    }

    fn inbound_secret(&self, integration: &str) -> Option<&SecretString> {
        self.find(integration)?.inbound_secret.as_ref()
    }
}

async fn ask(
    http: &reqwest::Client,
    config: &IntegrationConfig,
    query: &IncidentQuery,
) -> Result<Vec<IncidentTask>, IncidentLookupError> {
    let body = serde_json::json!({
        "user": query.user,
        "target": query.target,
        "account": query.account,
        "ticket": query.ticket,
    });
    let mut request = http.post(&config.url).header("accept", "application/json").json(&body);
    if let Some(secret) = &config.secret {
        request = request.bearer_auth(secret.expose());
    }
    let mut response = request.send().await.map_err(failure)?;
    let status = response.status();
    if !status.is_success() {
        return Err(IncidentLookupError::Unavailable(format!("HTTP {}", status.as_u16())));
    }
    let mut answer = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failure)? {
        if answer.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(IncidentLookupError::Invalid("the answer is larger than 1 MiB".to_owned()));
        }
        answer.extend_from_slice(&chunk);
    }
    parse_answer(&answer)
}

/// A transport error by kind: its text can contain the URL, which may carry a token.
fn failure(err: reqwest::Error) -> IncidentLookupError {
    if err.is_timeout() {
        IncidentLookupError::Timeout
    } else if err.is_connect() {
        IncidentLookupError::Unavailable("cannot connect".to_owned())
    } else {
        IncidentLookupError::Unavailable("the request failed".to_owned())
    }
}

#[derive(Deserialize)]
struct Answer {
    tasks: Vec<AnsweredTask>,
}

#[derive(Deserialize)]
struct AnsweredTask {
    id: String,
    #[serde(default)]
    title: String,
    expires_at: String,
}

fn parse_answer(bytes: &[u8]) -> Result<Vec<IncidentTask>, IncidentLookupError> {
    let invalid = |why: &str| IncidentLookupError::Invalid(why.to_owned());
    let answer: Answer = serde_json::from_slice(bytes)
        .map_err(|_| invalid("expected JSON {\"tasks\": [{\"id\", \"title\", \"expires_at\"}]}"))?;
    if answer.tasks.len() > MAX_INCIDENT_TASKS {
        return Err(invalid("more than 100 tasks"));
    }
    answer
        .tasks
        .into_iter()
        .map(|task| {
            let expires = OffsetDateTime::parse(&task.expires_at, &Rfc3339)
                .map_err(|_| invalid("a task's expires_at is not an RFC 3339 time"))?;
            let millis = i64::try_from(expires.unix_timestamp_nanos() / 1_000_000)
                .map_err(|_| invalid("a task's expires_at is out of range"))?;
            Ok(IncidentTask { id: task.id, title: task.title, expires_at: Timestamp::from_millis(millis) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_parsed_strictly() {
        let tasks =
            parse_answer(br#"{"tasks":[{"id":"T1","title":"Restart","expires_at":"2030-01-01T00:00:00Z"}]}"#).unwrap();
        assert_eq!(tasks[0].id, "T1");
        assert_eq!(tasks[0].expires_at, Timestamp::from_millis(1_893_456_000_000));
        assert!(parse_answer(br#"{"tasks":[{"id":"T1","expires_at":"tomorrow"}]}"#).is_err());
        assert!(parse_answer(br#"{"pamTasks":[]}"#).is_err());
        assert!(parse_answer(b"not json").is_err());
        let many: Vec<String> = (0..=MAX_INCIDENT_TASKS)
            .map(|i| format!(r#"{{"id":"{i}","expires_at":"2030-01-01T00:00:00Z"}}"#))
            .collect();
        assert!(parse_answer(format!(r#"{{"tasks":[{}]}}"#, many.join(",")).as_bytes()).is_err());
    }
}
