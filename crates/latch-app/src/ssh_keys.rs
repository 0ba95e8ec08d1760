//! SSH public keys registered to users: people manage their own; admins manage anyone's.

use crate::users::conflict_as;
use crate::{App, AppError, Principal, RequestContext};
use latch_domain::UserSshKeyId;
use latch_domain::audit::AuditEvent;
use latch_domain::permission::Permission;
use latch_domain::ssh_key::{MAX_KEY_NAME_CHARS, SshPublicKey, UserSshKey};
use latch_domain::user::User;
use uuid::Uuid;

/// The most keys one user may register.
pub const MAX_SSH_KEYS_PER_USER: usize = 50;

impl App {
    /// Registers `line` (a .pub file's line) to the caller, or with `user_key` to that user (admin).
    /// An empty `name` takes the key's comment.
    pub async fn add_ssh_key(
        &self,
        principal: &Principal,
        user_key: Option<&str>,
        line: &str,
        name: &str,
        ctx: &RequestContext,
    ) -> Result<UserSshKey, AppError> {
        let owner = self.ssh_key_owner(principal, user_key, Permission::Admin).await?;
        let key = SshPublicKey::parse(line)?;
        let name = UserSshKey::check_name(name)?;
        let name = if name.is_empty() { key.comment().chars().take(MAX_KEY_NAME_CHARS).collect() } else { name };
        let key = UserSshKey {
            id: UserSshKeyId::from_uuid(Uuid::new_v4()),
            user_id: owner.id,
            key,
            name,
            created_at: self.now(),
            last_used_at: None,
        };
        let mut tx = self.store().begin().await?;
        if latch_store::user_ssh_keys::list_for_user(&mut tx, owner.id).await?.len() >= MAX_SSH_KEYS_PER_USER {
            return Err(AppError::BadRequest(format!(
                "a user can have at most {MAX_SSH_KEYS_PER_USER} ssh keys; remove one first"
            )));
        }
        latch_store::user_ssh_keys::insert(&mut tx, &key).await.map_err(conflict_as("ssh key"))?;
        let event =
            AuditEvent::UserSshKeyAdded { user_id: owner.id, key_id: key.id, fingerprint: key.key.fingerprint() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(key)
    }

    /// The caller's keys, or with `user_key` that user's (needs `users:read`).
    pub async fn list_ssh_keys(
        &self,
        principal: &Principal,
        user_key: Option<&str>,
    ) -> Result<Vec<UserSshKey>, AppError> {
        let owner = self.ssh_key_owner(principal, user_key, Permission::UsersRead).await?;
        let mut conn = self.store().read().await?;
        Ok(latch_store::user_ssh_keys::list_for_user(&mut conn, owner.id).await?)
    }

    /// Removes one of the caller's keys, or with `user_key` one of that user's (admin).
    pub async fn remove_ssh_key(
        &self,
        principal: &Principal,
        user_key: Option<&str>,
        key_id: &str,
        ctx: &RequestContext,
    ) -> Result<UserSshKey, AppError> {
        let owner = self.ssh_key_owner(principal, user_key, Permission::Admin).await?;
        let key_id: UserSshKeyId = key_id.parse().map_err(|_| AppError::NotFound("ssh key"))?;
        let mut tx = self.store().begin().await?;
        let removed = latch_store::user_ssh_keys::delete(&mut tx, key_id, owner.id).await.map_err(|err| match err {
            latch_store::StoreError::NotFound(_) => AppError::NotFound("ssh key"),
            other => other.into(),
        })?;
        let event = AuditEvent::UserSshKeyRemoved { user_id: owner.id, key_id, fingerprint: removed.key.fingerprint() };
        self.audit(&mut tx, ctx, &principal.actor(), event).await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Whose keys a call is about: the caller's own (any fully logged-in user), or with `user_key`
    /// another user's, which needs `permission` unless `user_key` names the caller.
    async fn ssh_key_owner(
        &self,
        principal: &Principal,
        user_key: Option<&str>,
        permission: Permission,
    ) -> Result<User, AppError> {
        let Some(user_key) = user_key else {
            let me = principal.as_user()?;
            me.require_full_login()?;
            return Ok(me.user().clone());
        };
        if principal.has(permission) {
            return self.find_user(user_key).await;
        }
        let me = principal.as_user()?;
        me.require_full_login()?;
        let own = me.user();
        if user_key == own.id.to_string() || user_key == own.username.as_str() {
            return Ok(own.clone());
        }
        Err(AppError::Forbidden)
    }
}
