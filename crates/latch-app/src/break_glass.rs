//! Break-glass: emergency access to named targets for the members of the configured break-glass group.
//!
//! A member switches it on for some targets with a reason, for at most the configured time. While it is on, the
//! members connect to those targets through the gateway without a request or an approval: the gateway's lookup
//! makes (once per person and account, audited) a grant of origin `break_glass` that ends with the break-glass, and
//! the session records input as well as output with no opt-out. It never allows a check-out. Switching it off (by a
//! member or an admin, or by Latch when its time runs out) revokes its grants, which ends their live sessions
//! through the grants' enforcement. Every switch and every use is audited, so the webhooks hear of all of them.

use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AccessEvent, AuditActor, AuditEvent};
use latch_domain::break_glass::{BreakGlass, BreakGlassRequest, BreakGlassState};
use latch_domain::names::{GroupName, TargetName};
use latch_domain::permission::Permission;
use latch_domain::{BreakGlassId, GroupId, TimeSpan};
use latch_store::Db;
use latch_store::break_glass::BreakGlassFilter;
use uuid::Uuid;

/// Who may switch break-glass on, and for how long at most (from the binary's `[access]` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlassConfig {
    pub group: GroupName,
    pub max_duration: TimeSpan,
}

const MAX_PAGE: i64 = 500;

impl App {
    /// Switches break-glass on for `targets` with `reason`, for `duration` (default: the configured maximum). Only
    /// users in the configured group may; every target must exist and the duration may not exceed the maximum.
    pub async fn activate_break_glass(
        &self,
        principal: &Principal,
        targets: &[String],
        reason: &str,
        duration: Option<TimeSpan>,
        ctx: &RequestContext,
    ) -> Result<BreakGlass, AppError> {
        let config = self.require_break_glass_member(principal).await?;
        let duration = duration.unwrap_or(config.max_duration);
        let me = principal.as_user()?.user().id;
        let names = targets.iter().map(|t| TargetName::parse(t)).collect::<Result<Vec<_>, _>>()?;
        let request = BreakGlassRequest::new(names, reason, duration, config.max_duration)?;
        let mut tx = self.store().begin().await?;
        for name in request.targets() {
            if latch_store::targets::find_by_name(&mut tx, name).await?.is_none() {
                return Err(AppError::BadRequest(format!("there is no target named {name}")));
            }
        }
        let glass = request.activate(BreakGlassId::from_uuid(Uuid::new_v4()), me, self.now());
        latch_store::break_glass::insert(&mut tx, &glass).await?;
        let event = AccessEvent::BreakGlassActivated {
            break_glass_id: glass.id,
            targets: glass.targets.iter().map(ToString::to_string).collect(),
            reason: glass.reason.clone(),
            ends_at: glass.ends_at,
        };
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::Access(event)).await?;
        tx.commit().await?;
        let names: Vec<&str> = glass.targets.iter().map(TargetName::as_str).collect();
        tracing::warn!(break_glass_id = %glass.id, targets = %names.join(","), "break-glass switched on");
        Ok(glass)
    }

    /// Switches break-glass `id` off now (members of the group and admins) and ends the sessions under it.
    pub async fn end_break_glass(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<BreakGlass, AppError> {
        principal.as_user()?;
        principal.require(Permission::RequestsWrite)?;
        let id: BreakGlassId = id.parse().map_err(|_| AppError::NotFound("break-glass"))?;
        let glass = {
            let mut conn = self.store().read().await?;
            latch_store::break_glass::find(&mut conn, id).await?.ok_or(AppError::NotFound("break-glass"))?
        };
        if !principal.has(Permission::Admin) {
            self.require_break_glass_member(principal).await?;
        }
        let now = self.now();
        let actor = principal.actor();
        let mut tx = self.store().begin().await?;
        let current = latch_store::break_glass::find_for_update(&mut tx, id).await?.unwrap_or(glass);
        if !current.is_active(now) || !latch_store::break_glass::end(&mut tx, id, now, actor.name()).await? {
            let state = match current.state(now) {
                BreakGlassState::Active => BreakGlassState::Ended,
                other => other,
            };
            return Err(AppError::StateConflict(format!("the break-glass has already {}", state.as_str())));
        }
        latch_store::grants::revoke_for_break_glass(&mut tx, id, now, actor.name(), "break-glass ended").await?;
        let running = latch_store::break_glass::sessions_running_at(&mut tx, id, now).await?;
        let event =
            AccessEvent::BreakGlassEnded { break_glass_id: id, reason: "manual".to_owned(), sessions_ended: running };
        self.audit(&mut tx, ctx, &actor, AuditEvent::Access(event)).await?;
        tx.commit().await?;
        tracing::warn!(break_glass_id = %id, sessions = running, "break-glass switched off");
        self.enforce_grant_ends().await?;
        Ok(BreakGlass { ended_at: Some(now), ended_by: Some(actor.name().to_owned()), ..current })
    }

    /// Switches off every break-glass whose time ran out and ends the sessions still running under it. Run every
    /// few seconds by the binary (the sessions also end at their grants' end on their own).
    pub async fn end_expired_break_glass(&self) -> Result<u64, AppError> {
        let now = self.now();
        let due = {
            let mut conn = self.store().read().await?;
            latch_store::break_glass::due_to_end(&mut conn, now, MAX_PAGE).await?
        };
        let mut ended = 0;
        for glass in due {
            let mut tx = self.store().begin().await?;
            if !latch_store::break_glass::end(&mut tx, glass.id, now, AuditActor::System.name()).await? {
                continue;
            }
            latch_store::grants::revoke_for_break_glass(&mut tx, glass.id, now, "system", "break-glass expired")
                .await?;
            let running = latch_store::break_glass::sessions_running_at(&mut tx, glass.id, glass.ends_at).await?;
            let event = AccessEvent::BreakGlassEnded {
                break_glass_id: glass.id,
                reason: "expired".to_owned(),
                sessions_ended: running,
            };
            self.audit(&mut tx, &RequestContext::default(), &AuditActor::System, AuditEvent::Access(event)).await?;
            tx.commit().await?;
            tracing::warn!(break_glass_id = %glass.id, sessions = running, "break-glass expired");
            ended += 1;
        }
        if ended > 0 {
            self.enforce_grant_ends().await?;
        }
        Ok(ended)
    }

    /// Lists break-glass records, newest first; `active_only` hides those switched off. Admins, auditors and the
    /// members of the group see all; other users see those they switched on themselves.
    pub async fn list_break_glass(
        &self,
        principal: &Principal,
        active_only: bool,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<BreakGlass>, AppError> {
        let activated_by = if principal.has(Permission::AuditRead) {
            None
        } else {
            let me = principal.as_user()?.user().id;
            principal.require(Permission::RequestsWrite)?;
            match self.require_break_glass_member(principal).await {
                Ok(_) => None,
                Err(AppError::Forbidden) => Some(me),
                Err(other) => return Err(other),
            }
        };
        let filter = BreakGlassFilter {
            activated_by,
            active_at: active_only.then(|| self.now()),
            limit: limit.clamp(1, MAX_PAGE),
            offset: offset.max(0),
        };
        let mut conn = self.store().read().await?;
        Ok(latch_store::break_glass::list(&mut conn, &filter).await?)
    }

    /// The configuration, when the caller is a user allowed to request access who is in the break-glass group;
    /// `Forbidden` otherwise (also when break-glass is not configured).
    async fn require_break_glass_member(&self, principal: &Principal) -> Result<&BreakGlassConfig, AppError> {
        let me = principal.as_user()?.user().id;
        principal.require(Permission::RequestsWrite)?;
        let config = self.config().break_glass.as_ref().ok_or(AppError::Forbidden)?;
        let mut conn = self.store().read().await?;
        let group = self.break_glass_group(&mut conn).await?.ok_or(AppError::Forbidden)?;
        let groups = latch_store::groups::of_user(&mut conn, me).await?;
        if !groups.iter().any(|g| g.id == group) {
            return Err(AppError::Forbidden);
        }
        Ok(config)
    }

    /// The id of the configured break-glass group; `None` when break-glass is not configured or the group does not
    /// exist.
    pub(crate) async fn break_glass_group(&self, db: &mut impl Db) -> Result<Option<GroupId>, AppError> {
        let Some(config) = &self.config().break_glass else { return Ok(None) };
        Ok(latch_store::groups::find_by_name(db, &config.group).await?.map(|g| g.id))
    }
}
