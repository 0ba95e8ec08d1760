//! Delivers webhook notifications from the outbox: one JSON POST per (audit event, webhook), signed with
//! HMAC-SHA256 when the webhook has a secret, retried with backoff by `latch-app` until it succeeds or is given up.

use crate::config::WebhookConfig;
use crate::tasks::Task;
use hmac::{Hmac, KeyInit, Mac};
use latch_app::{App, AppError, PendingNotification};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const POLL: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const BATCH: i64 = 100;

/// The delivery task.
#[derive(Debug)]
pub struct WebhookDelivery {
    pub app: App,
    pub webhooks: Vec<WebhookConfig>,
}

impl Task for WebhookDelivery {
    const NAME: &'static str = "webhook-delivery";

    async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if self.webhooks.is_empty() {
            shutdown.cancelled().await;
            return Ok(());
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("latch/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut ticks = tokio::time::interval(POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                _ = ticks.tick() => self.deliver_due(&http).await,
            }
        }
    }
}

impl WebhookDelivery {
    async fn deliver_due(&self, http: &reqwest::Client) {
        let due = match self.app.due_notifications(BATCH).await {
            Ok(due) => due,
            Err(AppError::Sealed) => return,
            Err(err) => return tracing::warn!(error = %err, "cannot read the notification outbox"),
        };
        for pending in due {
            let outcome = match self.webhooks.iter().find(|w| w.subscription.name == pending.webhook) {
                Some(webhook) => deliver(http, webhook, &pending).await,
                None => Err("the webhook is no longer configured".to_owned()),
            };
            let recorded = match &outcome {
                Ok(()) => self.app.notification_delivered(&pending.id).await,
                Err(reason) => {
                    tracing::info!(
                        webhook = pending.webhook,
                        seq = pending.record.seq,
                        reason,
                        "webhook delivery failed"
                    );
                    self.app.notification_failed(&pending, reason).await
                }
            };
            if let Err(err) = recorded {
                tracing::warn!(error = %err, "cannot record a webhook delivery");
            }
        }
    }
}

async fn deliver(http: &reqwest::Client, webhook: &WebhookConfig, pending: &PendingNotification) -> Result<(), String> {
    let body = payload(pending).to_string();
    let mut request = http
        .post(&webhook.url)
        .header("content-type", "application/json")
        .header("x-latch-event", pending.record.kind.as_str())
        .header("x-latch-delivery", pending.id.as_str());
    if let Some(secret) = &webhook.secret {
        request = request.header("x-latch-signature", signature(secret.expose().as_bytes(), body.as_bytes()));
    }
    // Errors are described by kind only: their text can contain the URL, which may carry a token.
    let response = request.body(body).send().await.map_err(|err| {
        if err.is_timeout() {
            "timed out".to_owned()
        } else if err.is_connect() {
            "cannot connect".to_owned()
        } else {
            "request failed".to_owned()
        }
    })?;
    if response.status().is_success() { Ok(()) } else { Err(format!("HTTP {}", response.status().as_u16())) }
}

/// The body: the audit record, with its details as JSON.
fn payload(pending: &PendingNotification) -> Value {
    let record = &pending.record;
    let details: Value = serde_json::from_str(&record.details).unwrap_or(Value::Null);
    json!({
        "delivery": pending.id,
        "webhook": pending.webhook,
        "seq": record.seq,
        "at_ms": record.at.as_millis(),
        "kind": record.kind,
        "actor": { "kind": record.actor_kind, "id": record.actor_id, "name": record.actor_name },
        "source": record.source,
        "details": details,
    })
}

/// `sha256=<hex of HMAC-SHA256(secret, body)>`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        let got = signature(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(got, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
