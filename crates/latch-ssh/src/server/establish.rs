//! From an authorized login to a running session: the per-user limit, the recording, the vault credential, the
//! target connection (its host key checked against the pin), and the session record in Latch.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use latch_app::{ConnectionGrant, LiveSession, RequestContext, SessionStart, TargetSecret};
use latch_domain::gateway_session::SessionEndReason;
use tracing::{debug, info, warn};

use super::ServerContext;
use super::auth::Authorized;
use super::forward;
use super::recording::{Recorder, RecordingTerms};
use super::seal::Seal;
use super::session::{ActiveSession, SessionParts};
use crate::UpstreamError;
use crate::upstream::{self, UpstreamConnection, UpstreamCredential, UpstreamSecret, UpstreamTarget};
use latch_recording::ManifestSession;

/// A session that has started: the supervisor watches it until it ends.
#[derive(Debug)]
pub(crate) struct Established {
    pub(crate) session: Arc<ActiveSession>,
    pub(crate) live: LiveSession,
    /// When the grant ends by itself, from now; `None` for standing access.
    pub(crate) expires_in: Option<Duration>,
}

/// Why an authorized login did not become a session; the message is shown to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    TooManySessions,
    HostKeyMismatch,
    TargetUnreachable,
    TargetRefusedCredential,
    RecordingFailed,
    Internal,
}

impl Refusal {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::TooManySessions => "you have too many open sessions through Latch; close one first",
            Refusal::HostKeyMismatch => {
                "the target's host key does not match the pinned key; an administrator must check it"
            }
            Refusal::TargetUnreachable => "the target cannot be reached",
            Refusal::TargetRefusedCredential => "the target refused the credential Latch holds for this account",
            Refusal::RecordingFailed => SessionEndReason::RecordingFailed.message(),
            Refusal::Internal => "Latch could not start the session",
        }
    }
}

/// Starts the session for `authorized`; `client` is the connection's handle. The recording is created first, so
/// that a session that cannot be recorded never logs in to the target.
pub(crate) async fn establish(
    context: &ServerContext,
    ctx: &RequestContext,
    authorized: Authorized,
    client: russh::server::Handle,
) -> Result<Established, Refusal> {
    let Authorized { grant, consent_accepted_at } = authorized;
    let app = &context.app;
    // Held by the session until it is gone; taken before anything else, so that a burst of one user's
    // connections cannot all pass the limit.
    let user_slot = context
        .user_slots
        .take(grant.user().id, context.limits.max_sessions_per_user)
        .ok_or(Refusal::TooManySessions)?;
    let relative = grant.session_id().to_string();
    let directory = context.recordings_dir.join(&relative);
    let terms = RecordingTerms { required: grant.recording_required(), reserve: context.recordings_reserve };
    let seal = seal(context, ctx, &grant);
    let (recorder, recording) = match Recorder::start(app.clone(), directory.clone(), seal, terms).await {
        Ok(recorder) => (recorder, Some(relative)),
        Err(error) if terms.required => {
            warn!(%error, "cannot create the session recording; the policy requires it");
            remove_recording(&directory).await;
            return Err(Refusal::RecordingFailed);
        }
        Err(error) => {
            warn!(%error, "cannot create the session recording; the session goes on unrecorded");
            remove_recording(&directory).await;
            (Recorder::unrecorded(directory.clone(), error.to_string()), None)
        }
    };
    let mut upstream = match connect_to_target(context, ctx, &grant).await {
        Ok(upstream) => upstream,
        Err(refusal) => {
            discard_recording(recorder, &directory).await;
            return Err(refusal);
        }
    };
    let forwarded = upstream.take_forwarded_tcpip();
    let agent_channels = upstream.take_agent_channels();
    let start = SessionStart { recording, consent_accepted_at };
    let live = match app.start_gateway_session(&grant, start, ctx).await {
        Ok(live) => live,
        Err(error) => {
            warn!(%error, "cannot record the session start");
            discard_recording(recorder, &directory).await;
            return Err(Refusal::Internal);
        }
    };
    let expires_in = grant.valid_until().map(|until| {
        let millis = until.since(app.now()).as_millis();
        Duration::from_millis(u64::try_from(millis).unwrap_or(0))
    });
    info!(session_id = %grant.session_id(), target = %grant.target().spec.name, "gateway session started");
    let remote_forwarding = grant.forwarding().remote;
    let agent_forwarding = grant.forwarding().agent;
    let max_channels = context.limits.max_channels_per_connection;
    let watchers = live.publisher();
    let parts = SessionParts { grant, upstream, recorder, watchers, client, user_slot };
    let session = Arc::new(ActiveSession::new(app.clone(), parts, max_channels));
    if let Some(forwarded) = forwarded.filter(|_| remote_forwarding) {
        let dispatcher = forward::dispatch_remote_forwards(session.clone(), forwarded);
        session.spawn_relay(dispatcher);
    }
    if let Some(agent_channels) = agent_channels.filter(|_| agent_forwarding) {
        session.spawn_relay(forward::dispatch_agent_channels(session.clone(), agent_channels));
    }
    Ok(Established { session, live, expires_in })
}

/// What the session's signed manifest will say of it.
fn seal(context: &ServerContext, ctx: &RequestContext, grant: &ConnectionGrant) -> Seal {
    let session = ManifestSession {
        id: grant.session_id().to_string(),
        user: grant.user().username.to_string(),
        target: grant.target().spec.name.to_string(),
        account: grant.account().spec.username.to_string(),
        protocol: "ssh".to_owned(),
        source: ctx.source.map(|ip| ip.to_string()),
        node: context.app.config().node_name.clone(),
        started_at_ms: context.app.now().as_millis(),
        ended_at_ms: 0,
        end_reason: String::new(),
    };
    Seal { session, key: context.recording_key.clone() }
}

/// Logs in to the target with the account's credential from the vault. A host key other than the pinned one is
/// recorded in the audit log and refuses the session.
async fn connect_to_target(
    context: &ServerContext,
    ctx: &RequestContext,
    grant: &ConnectionGrant,
) -> Result<UpstreamConnection, Refusal> {
    let app = &context.app;
    let credential = app.open_connection_credential(grant).await.map_err(|error| {
        warn!(%error, "cannot open the account's credential");
        Refusal::Internal
    })?;
    let credential = UpstreamCredential {
        username: credential.username,
        secret: match credential.secret {
            TargetSecret::Password(password) => UpstreamSecret::Password(password),
            TargetSecret::PrivateKey(key) => UpstreamSecret::PrivateKey(key),
        },
    };
    let spec = &grant.target().spec;
    let target = UpstreamTarget {
        address: spec.address.as_str().to_owned(),
        port: spec.port,
        host_key_pin: spec.host_key_pin.clone(),
    };
    match upstream::connect(&target, &credential, &context.limits.upstream).await {
        Ok(upstream) => Ok(upstream),
        Err(UpstreamError::HostKeyMismatch { presented, .. } | UpstreamError::HostKeyNotPinned { presented }) => {
            warn!(target = %spec.name, %presented, "the target's host key does not match its pin; refused");
            if let Err(error) = app.record_host_key_mismatch(grant, &presented, ctx).await {
                warn!(%error, "cannot record the host key mismatch");
            }
            Err(Refusal::HostKeyMismatch)
        }
        Err(UpstreamError::AuthenticationFailed | UpstreamError::InvalidPrivateKey { .. }) => {
            warn!(target = %spec.name, "the target refused the account's credential");
            Err(Refusal::TargetRefusedCredential)
        }
        Err(error) => {
            warn!(target = %spec.name, %error, "cannot reach the target");
            Err(Refusal::TargetUnreachable)
        }
    }
}

/// Removes the recording of a session that never started.
async fn discard_recording(recorder: Recorder, directory: &Path) {
    drop(recorder);
    remove_recording(directory).await;
}

async fn remove_recording(directory: &Path) {
    match tokio::fs::remove_dir_all(directory).await {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => debug!(%error, "cannot remove the recording of a session that never started"),
    }
}
