//! Delivery bookkeeping of webhook notifications; the binary does the HTTP and calls these.

use crate::{App, AppError, RequestContext};
use latch_domain::audit::{AuditActor, AuditEvent};
use latch_domain::notification::{MAX_DELIVERY_ATTEMPTS, retry_delay};
use latch_store::notifications::{AfterFailure, PendingNotification};

impl App {
    /// Notifications due for (another) delivery attempt.
    pub async fn due_notifications(&self, limit: i64) -> Result<Vec<PendingNotification>, AppError> {
        let mut conn = self.store().read().await?;
        Ok(latch_store::notifications::due(&mut conn, self.now(), limit).await?)
    }

    pub async fn notification_delivered(&self, id: &str) -> Result<(), AppError> {
        let mut tx = self.store().begin().await?;
        latch_store::notifications::mark_delivered(&mut tx, id, self.now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Schedules a retry with backoff, or gives up (audited) after the last attempt.
    pub async fn notification_failed(&self, pending: &PendingNotification, error: &str) -> Result<(), AppError> {
        let now = self.now();
        let attempts = pending.attempts + 1;
        let after = if attempts >= MAX_DELIVERY_ATTEMPTS {
            AfterFailure::Abandon(now)
        } else {
            AfterFailure::RetryAt(now.plus(retry_delay(attempts)))
        };
        let mut tx = self.store().begin().await?;
        let settled = latch_store::notifications::mark_failed(&mut tx, &pending.id, error, after).await?;
        if settled && matches!(after, AfterFailure::Abandon(_)) {
            let event = AuditEvent::NotificationAbandoned {
                webhook: pending.webhook.clone(),
                audit_seq: pending.record.seq,
                attempts,
            };
            self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, event).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
