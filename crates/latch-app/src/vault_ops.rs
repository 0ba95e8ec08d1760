//! Unsealing, sealing and root-key rotation.

use crate::app::Unsealed;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::audit::{AuditActor, AuditEvent};
use latch_domain::permission::Permission;
use latch_store::vault::{UnsealMode, VaultMeta};
use latch_vault::{
    AuditChainKey, KdfParams, Keyring, RootKey, RootKeyId, SealedSecret, SecretBinding, SecretString, UnsealKey,
    UnsealShare,
};
use uuid::Uuid;

/// The vault binding kind and owner of the audit chain key.
pub(crate) const AUDIT_KEY_KIND: &str = "audit-chain-key";
pub(crate) const AUDIT_KEY_OWNER: Uuid = Uuid::nil();
const REWRAP_BATCH: i64 = 200;

/// What `latch status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultStatus {
    pub initialized: bool,
    pub sealed: bool,
    pub mode: Option<&'static str>,
    pub shares_received: usize,
    pub shares_threshold: Option<u8>,
}

/// Progress of a Shamir unseal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsealProgress {
    Unsealed,
    NeedMoreShares { received: usize, threshold: u8 },
}

/// The outcome of a root-key rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    pub new_root_key_id: Uuid,
    pub rewrapped: i64,
    pub retired_root_keys: usize,
}

impl App {
    pub async fn vault_status(&self) -> Result<VaultStatus, AppError> {
        let mut conn = self.store().read().await?;
        let meta = latch_store::vault::meta(&mut conn).await?;
        Ok(VaultStatus {
            initialized: meta.is_some(),
            sealed: self.is_sealed(),
            mode: meta.as_ref().map(|m| m.mode.as_str()),
            shares_received: self.pending_shares().len(),
            shares_threshold: meta.and_then(|m| m.shamir_threshold),
        })
    }

    /// Unseals with the text of a key file (`latch-unseal-key-v1:…`).
    pub async fn unseal_with_key_file_text(&self, text: &SecretString, ctx: &RequestContext) -> Result<(), AppError> {
        let key = UnsealKey::from_key_file_text(text.expose()).map_err(|_| {
            self.note_unseal_failure();
            AppError::BadRequest("the key file is not a Latch unseal key".to_owned())
        })?;
        self.unseal_with_key(key, ctx).await
    }

    /// Unseals a vault initialized with a passphrase.
    pub async fn unseal_with_passphrase(&self, passphrase: SecretString, ctx: &RequestContext) -> Result<(), AppError> {
        let meta = self.require_meta().await?;
        let encoded = match (meta.mode, meta.kdf) {
            (UnsealMode::Passphrase, Some(kdf)) => kdf,
            _ => return Err(AppError::BadRequest("this vault is not unsealed with a passphrase".to_owned())),
        };
        let kdf = KdfParams::decode(&encoded)?;
        let key = tokio::task::spawn_blocking(move || UnsealKey::from_passphrase(&passphrase, &kdf))
            .await
            .map_err(|e| AppError::Internal(format!("key derivation task failed: {e}")))??;
        self.unseal_with_key(key, ctx).await
    }

    /// Adds one Shamir share; unseals when enough have been given.
    pub async fn submit_unseal_share(
        &self,
        text: &SecretString,
        ctx: &RequestContext,
    ) -> Result<UnsealProgress, AppError> {
        let meta = self.require_meta().await?;
        let threshold = match (meta.mode, meta.shamir_threshold) {
            (UnsealMode::Shamir, Some(k)) => k,
            _ => return Err(AppError::BadRequest("this vault is not unsealed with shares".to_owned())),
        };
        if !self.is_sealed() {
            return Ok(UnsealProgress::Unsealed);
        }
        let share = UnsealShare::from_text(text.expose()).map_err(|e| AppError::BadRequest(e.to_string()))?;
        let collected = {
            let mut pending = self.pending_shares();
            if pending.iter().any(|s| s.index() == share.index()) {
                return Err(AppError::BadRequest(format!("share {} was already given", share.index())));
            }
            pending.push(share);
            if pending.len() < usize::from(threshold) {
                return Ok(UnsealProgress::NeedMoreShares { received: pending.len(), threshold });
            }
            std::mem::take(&mut *pending)
        };
        let key = match latch_vault::combine_unseal_shares(&collected) {
            Ok(key) => key,
            Err(err) => {
                self.note_unseal_failure();
                return Err(AppError::BadRequest(format!("the shares do not fit together: {err}; start again")));
            }
        };
        self.unseal_with_key(key, ctx).await?;
        Ok(UnsealProgress::Unsealed)
    }

    /// Unseals with the unseal key itself. Does nothing when already unsealed.
    pub async fn unseal_with_key(&self, kek: UnsealKey, ctx: &RequestContext) -> Result<(), AppError> {
        if !self.is_sealed() {
            return Ok(());
        }
        let meta = self.require_meta().await?;
        let unsealed = match self.open_keyring(&meta, kek).await {
            Ok(unsealed) => unsealed,
            Err(err) => {
                self.note_unseal_failure();
                return Err(err);
            }
        };
        self.install_unsealed(Some(unsealed));
        let failures = self.take_unseal_failures();
        let actor = if ctx.source.is_some() { AuditActor::Anonymous } else { AuditActor::System };
        let mut tx = self.store().begin().await?;
        if failures > 0 {
            self.audit(&mut tx, ctx, &actor, AuditEvent::VaultUnsealFailed { attempts: failures }).await?;
        }
        self.audit(&mut tx, ctx, &actor, AuditEvent::VaultUnsealed).await?;
        tx.commit().await?;
        tracing::info!("vault unsealed");
        Ok(())
    }

    /// Seals the vault: key material is dropped and every secret-using route refuses until unsealed.
    pub async fn seal(&self, principal: &Principal, ctx: &RequestContext) -> Result<(), AppError> {
        principal.require(Permission::Admin)?;
        let mut tx = self.store().begin().await?;
        self.audit(&mut tx, ctx, &principal.actor(), AuditEvent::VaultSealed).await?;
        tx.commit().await?;
        self.install_unsealed(None);
        tracing::warn!("vault sealed");
        Ok(())
    }

    /// Makes a new root key active and re-wraps every data key under it, in batches. A crash at
    /// any point leaves every secret readable: each data key is wrapped by a root key that is
    /// stored, wrapped by the same unseal key, until nothing uses the old one.
    pub async fn rotate_root_key(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<RotationReport, AppError> {
        principal.require(Permission::Admin)?;
        let current = self.unsealed()?;
        let new_id = RootKeyId::new(Uuid::new_v4());
        let new_root = RootKey::generate(new_id);
        let wrapped = latch_vault::wrap_root_key(&current.kek, &new_root);
        let old_ids: Vec<RootKeyId> = current.keyring.root_key_ids();
        let mut tx = self.store().begin().await?;
        let stored = latch_store::vault::WrappedRootKey { id: new_id.as_uuid(), wrapped };
        latch_store::vault::insert_root_key(&mut tx, &stored, self.now()).await?;
        latch_store::vault::set_active_root_key(&mut tx, new_id.as_uuid()).await?;
        let started = AuditEvent::RootKeyRotationStarted { new_key_id: new_id.to_string() };
        self.audit(&mut tx, ctx, &principal.actor(), started).await?;
        tx.commit().await?;
        let keyring = current.keyring.with_new_active(new_root.clone());
        self.install_unsealed(Some(Unsealed {
            kek: current.kek.clone(),
            keyring,
            audit_key: current.audit_key.clone(),
        }));
        let mut rewrapped = 0;
        for old in &old_ids {
            rewrapped += self.rewrap_all(*old, new_id).await?;
        }
        let mut retired = 0;
        let mut tx = self.store().begin().await?;
        for old in &old_ids {
            if latch_store::vault::delete_unused_root_key(&mut tx, old.as_uuid()).await? {
                retired += 1;
            }
        }
        let done = AuditEvent::RootKeyRotationCompleted { new_key_id: new_id.to_string(), rewrapped };
        self.audit(&mut tx, ctx, &principal.actor(), done).await?;
        tx.commit().await?;
        self.install_unsealed(Some(Unsealed {
            kek: current.kek.clone(),
            keyring: Keyring::new(new_root, Vec::new()),
            audit_key: current.audit_key.clone(),
        }));
        Ok(RotationReport { new_root_key_id: new_id.as_uuid(), rewrapped, retired_root_keys: retired })
    }

    async fn rewrap_all(&self, from: RootKeyId, to: RootKeyId) -> Result<i64, AppError> {
        let unsealed = self.unsealed()?;
        let mut count = 0;
        loop {
            let mut conn = self.store().read().await?;
            let batch = latch_store::vault::secrets_wrapped_by(&mut conn, from.as_uuid(), REWRAP_BATCH).await?;
            drop(conn);
            if batch.is_empty() {
                return Ok(count);
            }
            let mut tx = self.store().begin().await?;
            for record in &batch {
                let binding = SecretBinding { kind: &record.kind, record_id: record.owner_id };
                let sealed = SealedSecret {
                    root_key_id: from,
                    wrapped_data_key: record.wrapped_data_key.clone(),
                    ciphertext: record.ciphertext.clone(),
                };
                let moved = unsealed.keyring.rewrap(&binding, &sealed, to)?;
                let wrapped = moved.wrapped_data_key;
                if latch_store::vault::rewrap_secret(&mut tx, record.id, from.as_uuid(), to.as_uuid(), &wrapped).await?
                {
                    count += 1;
                }
            }
            tx.commit().await?;
        }
    }

    async fn require_meta(&self) -> Result<VaultMeta, AppError> {
        let mut conn = self.store().read().await?;
        latch_store::vault::meta(&mut conn).await?.ok_or(AppError::NotInitialized)
    }

    async fn open_keyring(&self, meta: &VaultMeta, kek: UnsealKey) -> Result<Unsealed, AppError> {
        let mut conn = self.store().read().await?;
        let wrapped = latch_store::vault::root_keys(&mut conn).await?;
        let mut active = None;
        let mut others = Vec::new();
        for stored in wrapped {
            let key = latch_vault::unwrap_root_key(&kek, RootKeyId::new(stored.id), &stored.wrapped)?;
            if stored.id == meta.active_root_key_id { active = Some(key) } else { others.push(key) }
        }
        let active = active.ok_or_else(|| AppError::Internal("the active root key is missing".to_owned()))?;
        let keyring = Keyring::new(active, others);
        let record = latch_store::vault::secret(&mut conn, meta.audit_key_secret_id).await?;
        let sealed = SealedSecret {
            root_key_id: RootKeyId::new(record.root_key_id),
            wrapped_data_key: record.wrapped_data_key,
            ciphertext: record.ciphertext,
        };
        let bytes = keyring.open(&SecretBinding { kind: AUDIT_KEY_KIND, record_id: AUDIT_KEY_OWNER }, &sealed)?;
        let key_bytes: [u8; 32] = bytes
            .expose()
            .as_slice()
            .try_into()
            .map_err(|_| AppError::Internal("the audit key has the wrong length".to_owned()))?;
        Ok(Unsealed { kek, keyring, audit_key: AuditChainKey::from_bytes(key_bytes) })
    }
}
