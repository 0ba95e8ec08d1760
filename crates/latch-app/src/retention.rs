//! Recording retention: legal holds on session recordings, and the sweep that deletes the recordings whose
//! retention ran out.
//!
//! A session keeps the retention of the policy it started under; its recording becomes due that many days after the
//! session ended. Deleting removes only the recording: the session row and its indexed events stay, so reports
//! still show what happened. Recordings live on the disk of the node that ran the session, in a front end's format;
//! the binary installs a [`RecordingDeleter`], so this crate never touches files.
//!
//! Architecture Invariant: a recording on legal hold is never deleted, and every deletion is audited. The sweep
//! marks the recording deleted (conditionally: still due, not held), appends the `session.recording_deleted`
//! record, deletes the files and only then commits; a failed deletion rolls all of it back and is retried at the
//! next sweep. A hold placed meanwhile waits on the marked row and is refused once the deletion commits.

use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::gateway_session::{GatewaySession, LegalHold};
use latch_domain::permission::Permission;
use latch_domain::{GatewaySessionId, Timestamp};
use latch_store::gateway_sessions::DueRecording;
use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

/// How many due recordings the sweep reads at a time.
const SWEEP_PAGE: i64 = 100;

/// Deletes session recordings from where the gateway wrote them.
pub trait RecordingDeleter: Send + Sync + Debug {
    /// Deletes the recording at `recording` (the session's recording path). A recording that is already gone counts
    /// as deleted; an error says why it could not be deleted.
    fn delete<'a>(&'a self, recording: &'a str) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>>;
}

/// What one retention sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionSweep {
    /// Recordings deleted (and audited).
    pub deleted: usize,
    /// Recordings whose deletion failed; they stay due and are tried again at the next sweep.
    pub failed: usize,
}

/// What became of one due recording.
enum Disposal {
    Deleted,
    Failed,
    /// Held, deleted or no longer due by the time it was reached.
    Skipped,
}

impl App {
    /// Places a legal hold on session `id`'s recording: it is kept, whatever its retention says, until released.
    /// Needs `sessions:hold`. A session already held, or whose recording was deleted, is a conflict.
    pub async fn place_legal_hold(
        &self,
        principal: &Principal,
        id: &str,
        reason: &str,
        ctx: &RequestContext,
    ) -> Result<GatewaySession, AppError> {
        principal.require(Permission::SessionsHold)?;
        let id = session_id(id)?;
        let actor = principal.actor();
        let hold = LegalHold::new(reason, actor.name().to_owned(), self.now())?;
        let mut tx = self.store().begin().await?;
        let session = latch_store::gateway_sessions::find(&mut tx, id).await?.ok_or(AppError::NotFound("session"))?;
        if !latch_store::gateway_sessions::place_legal_hold(&mut tx, id, &hold).await? {
            return Err(hold_conflict(&session));
        }
        let event = AccessEvent::LegalHoldPlaced { session_id: id, reason: hold.reason.clone() };
        self.audit(&mut tx, ctx, &actor, AuditEvent::Access(event)).await?;
        tx.commit().await?;
        self.session_by_id(id).await
    }

    /// Releases the legal hold on session `id`'s recording; from then on its retention applies again (a recording
    /// already past it is deleted at the next sweep). Needs `sessions:hold`.
    pub async fn release_legal_hold(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<GatewaySession, AppError> {
        principal.require(Permission::SessionsHold)?;
        let id = session_id(id)?;
        let mut tx = self.store().begin().await?;
        let session = latch_store::gateway_sessions::find(&mut tx, id).await?.ok_or(AppError::NotFound("session"))?;
        let not_held = || AppError::StateConflict("the session's recording is not on legal hold".to_owned());
        let hold = session.retention.legal_hold.ok_or_else(not_held)?;
        if !latch_store::gateway_sessions::release_legal_hold(&mut tx, id, hold.placed_at).await? {
            return Err(not_held());
        }
        let event = AccessEvent::LegalHoldReleased {
            session_id: id,
            hold_reason: hold.reason,
            placed_by: hold.placed_by,
            placed_at: hold.placed_at,
        };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        self.session_by_id(id).await
    }

    /// Deletes the recordings of this node's sessions whose retention ran out and that are on no legal hold,
    /// through the installed [`RecordingDeleter`], a page at a time. Each deletion is audited in its own
    /// transaction; one that fails is logged, left due and retried at the next sweep. Run periodically by the
    /// binary once the vault is unsealed.
    pub async fn sweep_recordings(&self) -> Result<RetentionSweep, AppError> {
        self.unsealed()?;
        let deleter = self.recording_deleter().ok_or_else(|| {
            AppError::Internal("no recording deleter is installed, so recordings cannot be deleted".to_owned())
        })?;
        let now = self.now();
        let node = &self.config().node_name;
        let mut sweep = RetentionSweep::default();
        let mut after: Option<DueRecording> = None;
        loop {
            let page = {
                let mut conn = self.store().read().await?;
                latch_store::gateway_sessions::recordings_due(&mut conn, node, now, after.as_ref(), SWEEP_PAGE).await?
            };
            for due in &page {
                match self.dispose(deleter.as_ref(), due, now).await? {
                    Disposal::Deleted => sweep.deleted += 1,
                    Disposal::Failed => sweep.failed += 1,
                    Disposal::Skipped => {}
                }
            }
            if page.len() < SWEEP_PAGE as usize {
                return Ok(sweep);
            }
            after = page.into_iter().last();
        }
    }

    /// Marks `due` deleted and audits it, deletes its files, and commits only if that worked.
    async fn dispose(
        &self,
        deleter: &dyn RecordingDeleter,
        due: &DueRecording,
        now: Timestamp,
    ) -> Result<Disposal, AppError> {
        let mut tx = self.store().begin().await?;
        if !latch_store::gateway_sessions::mark_recording_deleted(&mut tx, due.session_id, now).await? {
            return Ok(Disposal::Skipped);
        }
        let event = AccessEvent::RecordingDeleted {
            session_id: due.session_id,
            recording: due.recording.clone(),
            retain_until: due.retain_until,
        };
        self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, AuditEvent::Access(event)).await?;
        if let Err(error) = deleter.delete(&due.recording).await {
            tracing::warn!(session_id = %due.session_id, recording = due.recording, error,
                "cannot delete a recording whose retention ran out; will retry");
            return Ok(Disposal::Failed);
        }
        tx.commit().await?;
        tracing::info!(session_id = %due.session_id, recording = due.recording, "deleted a recording after its retention");
        Ok(Disposal::Deleted)
    }

    async fn session_by_id(&self, id: GatewaySessionId) -> Result<GatewaySession, AppError> {
        let mut conn = self.store().read().await?;
        latch_store::gateway_sessions::find(&mut conn, id).await?.ok_or(AppError::NotFound("session"))
    }
}

fn session_id(id: &str) -> Result<GatewaySessionId, AppError> {
    id.parse().map_err(|_| AppError::NotFound("session"))
}

/// Why a hold could not be placed on `session` (as read before the attempt).
fn hold_conflict(session: &GatewaySession) -> AppError {
    let retention = &session.retention;
    let message = match (&retention.legal_hold, retention.deleted_at) {
        (Some(hold), _) => format!("the session's recording is already on legal hold ({})", hold.reason),
        (None, Some(_)) => "the session's recording was deleted after its retention".to_owned(),
        // Changed between the read and the update: held or deleted by someone else just now.
        (None, None) => "the session's recording was held or deleted meanwhile; try again".to_owned(),
    };
    AppError::StateConflict(message)
}
