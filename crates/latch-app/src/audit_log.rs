//! Reading, exporting and verifying the audit log.

use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::AuditEvent;
use latch_domain::permission::Permission;
use latch_store::audit::{AuditFilter, AuditProblem, AuditRecord};

/// Filters for listing audit records (`kind` ending in `.` is a prefix).
pub type AuditQuery = AuditFilter;

/// A page of audit records: pass `next_after_seq` back to continue.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    pub next_after_seq: Option<i64>,
}

/// The result of verifying a stretch of the chain.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub checked: i64,
    pub last_seq: i64,
    pub head_seq: i64,
    pub reached_end: bool,
    pub problems: Vec<AuditProblem>,
}

impl App {
    pub async fn list_audit(&self, principal: &Principal, query: AuditFilter) -> Result<AuditPage, AppError> {
        principal.require(Permission::AuditRead)?;
        let limit = query.limit.clamp(1, 1000);
        let filter = AuditFilter { limit, ..query };
        let mut conn = self.store().read().await?;
        let records = latch_store::audit::list(&mut conn, &filter).await?;
        let next_after_seq = (records.len() as i64 == limit).then(|| records.last().map(|r| r.seq)).flatten();
        Ok(AuditPage { records, next_after_seq })
    }

    /// Records that an export happened (the export itself pages through [`App::list_audit`]).
    pub async fn record_audit_export(
        &self,
        principal: &Principal,
        events: i64,
        format: &str,
        ctx: &RequestContext,
    ) -> Result<(), AppError> {
        principal.require(Permission::AuditRead)?;
        if !matches!(format, "jsonl" | "csv") {
            return Err(AppError::BadRequest("format must be jsonl or csv".to_owned()));
        }
        if events < 0 {
            return Err(AppError::BadRequest("events must not be negative".to_owned()));
        }
        let mut tx = self.store().begin().await?;
        let event = AuditEvent::AuditExported { events, format: format.to_owned() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Verifies up to `limit` records after `after_seq`; at the end of the log also the head.
    /// Reaching the end is audited (the record lands after the verified head).
    pub async fn verify_audit(
        &self,
        principal: &Principal,
        after_seq: i64,
        limit: i64,
        ctx: &RequestContext,
    ) -> Result<VerifyReport, AppError> {
        principal.require(Permission::AuditRead)?;
        let unsealed = self.unsealed()?;
        let mut conn = self.store().read().await?;
        let head_seq = latch_store::audit::head_seq(&mut conn).await?;
        let chunk =
            latch_store::audit::verify_chunk(&mut conn, &unsealed.audit_key, after_seq, limit.clamp(1, 10_000)).await?;
        drop(conn);
        if chunk.reached_end {
            let mut tx = self.store().begin().await?;
            let event = AuditEvent::AuditVerified { events: chunk.last_seq, ok: chunk.problems.is_empty() };
            self.audit(&mut tx, ctx, &principal.actor(), event).await?;
            tx.commit().await?;
        }
        Ok(VerifyReport {
            checked: chunk.checked,
            last_seq: chunk.last_seq,
            head_seq,
            reached_end: chunk.reached_end,
            problems: chunk.problems,
        })
    }
}
