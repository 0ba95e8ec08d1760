//! The application: a bag of cheap handles shared by every front end.

use crate::{AppError, Clock, HostKeyProbe, IncidentDirectory, LiveSessions, RecordedEvents, RecordingDeleter};
use latch_domain::audit::{AuditActor, AuditEvent};
use latch_domain::auth_session::SessionTimeouts;
use latch_domain::lockout::LockoutPolicy;
use latch_domain::notification::WebhookSubscription;
use latch_domain::{SecretId, TimeSpan, Timestamp};
use latch_store::audit::NewAuditEntry;
use latch_store::{Db, Store, Tx};
use latch_vault::{AuditChainKey, Keyring, SecretBinding, SecretBytes, UnsealKey, UnsealShare};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use uuid::Uuid;

/// Settings of the application layer, validated by the binary.
#[derive(Debug, Clone)]
pub struct AppConfig {
    pub lockout: LockoutPolicy,
    pub session_timeouts: SessionTimeouts,
    /// Shown in authenticator apps.
    pub totp_issuer: String,
    /// Lower Argon2 cost for passphrase unsealing in tests only.
    pub fast_kdf_for_tests: bool,
    /// This node's name, stored with the gateway sessions it runs.
    pub node_name: String,
    /// Webhooks and the audit events each receives (delivery details stay with the binary).
    pub webhooks: Vec<WebhookSubscription>,
    /// Who may switch emergency access on, and for how long at most; `None` turns break-glass off.
    pub break_glass: Option<crate::BreakGlassConfig>,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self {
            lockout: LockoutPolicy::default(),
            session_timeouts: SessionTimeouts::default(),
            totp_issuer: "Latch".to_owned(),
            fast_kdf_for_tests: false,
            node_name: "local".to_owned(),
            webhooks: Vec::new(),
            break_glass: None,
        }
    }
}

/// Where a call came from, for audit records and source restrictions.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub source: Option<IpAddr>,
}

impl RequestContext {
    pub fn from_ip(ip: IpAddr) -> Self {
        Self { source: Some(ip) }
    }
    pub(crate) fn source_text(&self) -> Option<String> {
        self.source.map(|ip| ip.to_string())
    }
}

/// Latch's use cases. Cheap to clone.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    config: AppConfig,
    unsealed: RwLock<Option<Arc<Unsealed>>>,
    pending_shares: Mutex<Vec<UnsealShare>>,
    unseal_failures: Mutex<i64>,
    live_sessions: LiveSessions,
    host_key_probe: std::sync::OnceLock<Arc<dyn HostKeyProbe>>,
    incident_directory: std::sync::OnceLock<Arc<dyn IncidentDirectory>>,
    recorded_events: std::sync::OnceLock<Arc<dyn RecordedEvents>>,
    recording_deleter: std::sync::OnceLock<Arc<dyn RecordingDeleter>>,
    upload_backlog: Mutex<Option<crate::recording_storage::UploadBacklog>>,
    recording_storage: std::sync::OnceLock<&'static str>,
    recording_files: std::sync::OnceLock<Arc<dyn crate::RecordingFiles>>,
}

/// Key material held while the vault is unsealed; dropped (and zeroized) on seal.
#[derive(Debug)]
pub(crate) struct Unsealed {
    pub(crate) kek: UnsealKey,
    pub(crate) keyring: Keyring,
    pub(crate) audit_key: AuditChainKey,
}

impl App {
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: AppConfig) -> App {
        App {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                unsealed: RwLock::new(None),
                pending_shares: Mutex::new(Vec::new()),
                unseal_failures: Mutex::new(0),
                live_sessions: LiveSessions::default(),
                host_key_probe: std::sync::OnceLock::new(),
                incident_directory: std::sync::OnceLock::new(),
                recorded_events: std::sync::OnceLock::new(),
                recording_deleter: std::sync::OnceLock::new(),
                upload_backlog: Mutex::new(None),
                recording_storage: std::sync::OnceLock::new(),
                recording_files: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    pub fn config(&self) -> &AppConfig {
        &self.inner.config
    }

    /// The gateway sessions running on this node.
    pub fn live_sessions(&self) -> &LiveSessions {
        &self.inner.live_sessions
    }

    /// Installs the SSH client that fetches targets' host keys (done once by the binary).
    pub fn install_host_key_probe(&self, probe: Arc<dyn HostKeyProbe>) {
        let _ = self.inner.host_key_probe.set(probe);
    }

    pub(crate) fn host_key_probe(&self) -> Option<&Arc<dyn HostKeyProbe>> {
        self.inner.host_key_probe.get()
    }

    /// Installs the reader of recorded events, with which sessions left open by a stopped node are indexed.
    pub fn install_recorded_events(&self, reader: Arc<dyn RecordedEvents>) {
        let _ = self.inner.recorded_events.set(reader);
    }

    pub(crate) fn recorded_events(&self) -> Option<&Arc<dyn RecordedEvents>> {
        self.inner.recorded_events.get()
    }

    /// Installs what deletes recordings whose retention ran out (done once by the binary).
    pub fn install_recording_deleter(&self, deleter: Arc<dyn RecordingDeleter>) {
        let _ = self.inner.recording_deleter.set(deleter);
    }

    /// Installs the reader of recording files (spool and storage), for replay and copies (done once by the binary).
    pub fn install_recording_files(&self, files: Arc<dyn crate::RecordingFiles>) {
        let _ = self.inner.recording_files.set(files);
    }

    pub(crate) fn recording_files_reader(&self) -> Option<&Arc<dyn crate::RecordingFiles>> {
        self.inner.recording_files.get()
    }

    /// Names the kind of recording storage this node copies recordings to (`s3`, `azure`, `local`; done once by
    /// the binary when one is configured).
    pub fn install_recording_storage(&self, kind: &'static str) {
        let _ = self.inner.recording_storage.set(kind);
    }

    pub(crate) fn recording_storage(&self) -> Option<&'static str> {
        self.inner.recording_storage.get().copied()
    }

    pub(crate) fn upload_backlog_slot(&self) -> &Mutex<Option<crate::recording_storage::UploadBacklog>> {
        &self.inner.upload_backlog
    }

    pub(crate) fn recording_deleter(&self) -> Option<&Arc<dyn RecordingDeleter>> {
        self.inner.recording_deleter.get()
    }

    pub(crate) fn set_incident_directory(&self, directory: Arc<dyn IncidentDirectory>) {
        let _ = self.inner.incident_directory.set(directory);
    }

    pub(crate) fn incident_directory(&self) -> Option<&Arc<dyn IncidentDirectory>> {
        self.inner.incident_directory.get()
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn is_sealed(&self) -> bool {
        self.inner.unsealed.read().map(|u| u.is_none()).unwrap_or(true)
    }

    pub(crate) fn unsealed(&self) -> Result<Arc<Unsealed>, AppError> {
        let guard = self.inner.unsealed.read().map_err(|_| AppError::Sealed)?;
        guard.clone().ok_or(AppError::Sealed)
    }

    pub(crate) fn install_unsealed(&self, unsealed: Option<Unsealed>) {
        let mut guard = match self.inner.unsealed.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = unsealed.map(Arc::new);
    }

    pub(crate) fn pending_shares(&self) -> std::sync::MutexGuard<'_, Vec<UnsealShare>> {
        match self.inner.pending_shares.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Counts a failed unseal attempt while sealed; the count is audited at the next unseal.
    pub(crate) fn note_unseal_failure(&self) {
        if let Ok(mut n) = self.inner.unseal_failures.lock() {
            *n += 1;
        }
    }

    pub(crate) fn take_unseal_failures(&self) -> i64 {
        self.inner.unseal_failures.lock().map(|mut n| std::mem::take(&mut *n)).unwrap_or(0)
    }

    /// Appends an audit event in `tx`. Any failure refuses the whole action (fail closed).
    pub(crate) async fn audit(
        &self,
        tx: &mut Tx,
        ctx: &RequestContext,
        actor: &AuditActor,
        event: AuditEvent,
    ) -> Result<(), AppError> {
        self.audit_returning_seq(tx, ctx, actor, event).await.map(|_| ())
    }

    /// Like [`App::audit`], returning the appended record's sequence number (allocated under the audit head's row
    /// lock, so numbers commit in order).
    pub(crate) async fn audit_returning_seq(
        &self,
        tx: &mut Tx,
        ctx: &RequestContext,
        actor: &AuditActor,
        event: AuditEvent,
    ) -> Result<i64, AppError> {
        let unsealed = self.unsealed()?;
        let source = ctx.source_text();
        let entry = NewAuditEntry { at: self.now(), actor, source: source.as_deref(), event: &event };
        let seq =
            latch_store::audit::append(tx, &unsealed.audit_key, entry).await.map_err(AppError::AuditUnavailable)?;
        let kind = event.kind();
        for webhook in self.config().webhooks.iter().filter(|w| w.wants(kind)) {
            let id = Uuid::new_v4().to_string();
            latch_store::notifications::enqueue(tx, &id, &webhook.name, seq, self.now())
                .await
                .map_err(AppError::AuditUnavailable)?;
        }
        Ok(seq)
    }

    /// Encrypts `plaintext` for the record `owner` and stores it; returns the new secret's id.
    pub(crate) async fn seal_new_secret(
        &self,
        tx: &mut Tx,
        kind: &str,
        owner: Uuid,
        plaintext: &[u8],
    ) -> Result<SecretId, AppError> {
        let unsealed = self.unsealed()?;
        let sealed = unsealed.keyring.seal(&SecretBinding { kind, record_id: owner }, plaintext)?;
        let id = SecretId::from_uuid(Uuid::new_v4());
        let record = latch_store::vault::SealedRecord {
            id,
            kind: kind.to_owned(),
            owner_id: owner,
            root_key_id: sealed.root_key_id.as_uuid(),
            wrapped_data_key: sealed.wrapped_data_key,
            ciphertext: sealed.ciphertext,
        };
        latch_store::vault::insert_secret(tx, &record, self.now()).await?;
        Ok(id)
    }

    /// Decrypts the secret `id`, which must belong to `owner` and be of `kind`.
    pub(crate) async fn open_secret(
        &self,
        db: &mut impl Db,
        id: SecretId,
        kind: &str,
        owner: Uuid,
    ) -> Result<SecretBytes, AppError> {
        let unsealed = self.unsealed()?;
        let record = latch_store::vault::secret(db, id).await?;
        if record.kind != kind {
            return Err(AppError::Internal("secret kind mismatch".to_owned()));
        }
        let sealed = latch_vault::SealedSecret {
            root_key_id: latch_vault::RootKeyId::new(record.root_key_id),
            wrapped_data_key: record.wrapped_data_key,
            ciphertext: record.ciphertext,
        };
        Ok(unsealed.keyring.open(&SecretBinding { kind, record_id: owner }, &sealed)?)
    }

    /// Removes expired login sessions and API tokens; run periodically by the binary.
    pub async fn sweep_expired(&self) -> Result<u64, AppError> {
        let now = self.now();
        let timeouts = self.config().session_timeouts;
        let mut tx = self.store().begin().await?;
        let sessions =
            latch_store::auth_sessions::delete_expired(&mut tx, now.minus(timeouts.idle), now.minus(timeouts.absolute))
                .await?;
        let tokens = latch_store::api_accounts::delete_expired_tokens(&mut tx, now).await?;
        tx.commit().await?;
        Ok(sessions + tokens)
    }

    /// How long a fresh API token lives when the account sets nothing else.
    pub const DEFAULT_API_TOKEN_TTL: TimeSpan = TimeSpan::from_minutes(15);
}
