//! Initializing a new vault and its first administrator.

use crate::app::Unsealed;
use crate::vault_ops::{AUDIT_KEY_KIND, AUDIT_KEY_OWNER};
use crate::{App, AppError, RequestContext};
use latch_domain::UserId;
use latch_domain::audit::{AuditActor, AuditEvent};
use latch_domain::lockout::LockoutState;
use latch_domain::names::Username;
use latch_domain::permission::Role;
use latch_domain::user::User;
use latch_store::vault::{UnsealMode, VaultMeta, WrappedRootKey};
use latch_vault::{AuditChainKey, KdfParams, Keyring, RootKey, RootKeyId, SecretString, UnsealKey};
use uuid::Uuid;

/// How the new vault will be unsealed.
#[derive(Debug)]
pub enum InitMode {
    /// A random key written to a key file (the embedded default).
    KeyFile,
    /// A passphrase chosen by the operator, stretched with Argon2id.
    Passphrase(SecretString),
    /// A random key split into `shares` Shamir shares, `threshold` of which unseal.
    Shamir { threshold: u8, shares: u8 },
}

/// What the operator must keep after initialization. Shown once.
#[derive(Debug)]
pub struct InitOutcome {
    pub key_file_text: Option<SecretString>,
    pub shares: Vec<SecretString>,
    pub admin_username: String,
    pub admin_one_time_password: SecretString,
}

/// The unseal key and what the metadata row records about it.
struct UnsealMaterial {
    kek: UnsealKey,
    mode: UnsealMode,
    kdf: Option<String>,
    shamir: Option<(u8, u8)>,
    key_file_text: Option<SecretString>,
    shares: Vec<SecretString>,
}

/// What `latch serve` did on start.
#[derive(Debug)]
pub enum FirstStart {
    /// The data directory was new: Latch initialized itself.
    Initialized(InitOutcome),
    /// Latch was already initialized.
    Existing,
}

impl App {
    pub async fn is_initialized(&self) -> Result<bool, AppError> {
        let mut conn = self.store().read().await?;
        Ok(latch_store::vault::meta(&mut conn).await?.is_some())
    }

    /// Creates the vault (root key, audit key) and the first admin with a one-time password, in one
    /// transaction. Leaves the vault unsealed.
    pub async fn initialize(&self, mode: InitMode, admin: &Username) -> Result<InitOutcome, AppError> {
        if self.is_initialized().await? {
            return Err(AppError::AlreadyInitialized);
        }
        let UnsealMaterial { kek, mode: meta_mode, kdf, shamir, key_file_text, shares } =
            self.unseal_material(mode).await?;
        let root_id = RootKeyId::new(Uuid::new_v4());
        let root = RootKey::generate(root_id);
        let wrapped = WrappedRootKey { id: root_id.as_uuid(), wrapped: latch_vault::wrap_root_key(&kek, &root) };
        let audit_key = AuditChainKey::generate();
        let audit_key_bytes = *audit_key.as_bytes();
        self.install_unsealed(Some(Unsealed { kek, keyring: Keyring::new(root, Vec::new()), audit_key }));
        let password = crate::tokens::one_time_password();
        let result =
            self.write_initial_state(wrapped, &audit_key_bytes, meta_mode, kdf, shamir, admin, &password).await;
        if let Err(err) = result {
            self.install_unsealed(None);
            return Err(err);
        }
        Ok(InitOutcome { key_file_text, shares, admin_username: admin.to_string(), admin_one_time_password: password })
    }

    async fn unseal_material(&self, mode: InitMode) -> Result<UnsealMaterial, AppError> {
        match mode {
            InitMode::KeyFile => {
                let kek = UnsealKey::generate();
                let text = kek.to_key_file_text();
                Ok(UnsealMaterial {
                    kek,
                    mode: UnsealMode::KeyFile,
                    kdf: None,
                    shamir: None,
                    key_file_text: Some(text),
                    shares: Vec::new(),
                })
            }
            InitMode::Passphrase(passphrase) => {
                if passphrase.expose().chars().count() < 12 {
                    return Err(AppError::BadRequest("the passphrase must be at least 12 characters".to_owned()));
                }
                let kdf = if self.config().fast_kdf_for_tests {
                    KdfParams::generate_fast_for_tests()
                } else {
                    KdfParams::generate_production()
                };
                let encoded = kdf.encode();
                let kek = tokio::task::spawn_blocking(move || UnsealKey::from_passphrase(&passphrase, &kdf))
                    .await
                    .map_err(|e| AppError::Internal(format!("key derivation task failed: {e}")))??;
                Ok(UnsealMaterial {
                    kek,
                    mode: UnsealMode::Passphrase,
                    kdf: Some(encoded),
                    shamir: None,
                    key_file_text: None,
                    shares: Vec::new(),
                })
            }
            InitMode::Shamir { threshold, shares } => {
                let kek = UnsealKey::generate();
                let split = latch_vault::split_unseal_key(&kek, threshold, shares)
                    .map_err(|e| AppError::BadRequest(e.to_string()))?;
                let texts = split.iter().map(|s| s.to_text()).collect();
                Ok(UnsealMaterial {
                    kek,
                    mode: UnsealMode::Shamir,
                    kdf: None,
                    shamir: Some((threshold, shares)),
                    key_file_text: None,
                    shares: texts,
                })
            }
        }
    }

    #[expect(clippy::too_many_arguments, reason = "one private step of initialize")]
    async fn write_initial_state(
        &self,
        root: WrappedRootKey,
        audit_key: &[u8; 32],
        mode: UnsealMode,
        kdf: Option<String>,
        shamir: Option<(u8, u8)>,
        admin: &Username,
        password: &SecretString,
    ) -> Result<(), AppError> {
        let hash = crate::users::hash_password_blocking(password.clone()).await?;
        let now = self.now();
        let ctx = RequestContext::default();
        let mut tx = self.store().begin().await?;
        latch_store::vault::insert_root_key(&mut tx, &root, now).await?;
        let audit_secret = self.seal_new_secret(&mut tx, AUDIT_KEY_KIND, AUDIT_KEY_OWNER, audit_key).await?;
        let meta = VaultMeta {
            mode,
            kdf,
            shamir_threshold: shamir.map(|(k, _)| k),
            shamir_shares: shamir.map(|(_, n)| n),
            active_root_key_id: root.id,
            audit_key_secret_id: audit_secret,
            created_at: now,
        };
        latch_store::vault::insert_meta(&mut tx, &meta).await.map_err(|err| match err {
            latch_store::StoreError::Conflict(_) => AppError::AlreadyInitialized,
            other => other.into(),
        })?;
        let user = User {
            id: UserId::from_uuid(Uuid::new_v4()),
            username: admin.clone(),
            display_name: "Initial administrator".to_owned(),
            email: None,
            roles: vec![Role::Admin],
            disabled: false,
            must_change_password: true,
            totp_enrolled: false,
            totp_required: false,
            lockout: LockoutState::default(),
            created_at: now,
            last_login_at: None,
        };
        latch_store::users::insert(&mut tx, &user, Some(&hash)).await?;
        let system = AuditActor::System;
        self.audit(&mut tx, &ctx, &system, AuditEvent::VaultInitialized { mode: mode.as_str().to_owned() }).await?;
        let created = AuditEvent::UserCreated {
            user_id: user.id,
            username: user.username.to_string(),
            roles: vec![Role::Admin.to_string()],
        };
        self.audit(&mut tx, &ctx, &system, created).await?;
        tx.commit().await?;
        Ok(())
    }
}
