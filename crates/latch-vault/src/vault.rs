//! The in-memory seal state shared by the whole server.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use crate::error::VaultError;
use crate::keyring::Keyring;

/// Sealed (no keys in memory) or unsealed (holding a [`Keyring`]). Cheap to clone: clones share
/// one state, so sealing through any clone seals them all.
#[derive(Clone, Default)]
pub struct Vault {
    keyring: Arc<RwLock<Option<Arc<Keyring>>>>,
}

impl Vault {
    /// A vault without keys.
    pub fn sealed() -> Self {
        Self::default()
    }

    /// Whether the vault holds no keyring.
    pub fn is_sealed(&self) -> bool {
        self.read().is_none()
    }

    /// Unseals the vault with `keyring` (replacing any keyring it held).
    pub fn install(&self, keyring: Keyring) {
        *self.write() = Some(Arc::new(keyring));
    }

    /// Drops the keyring. Keys are zeroized once the last in-flight user of the returned
    /// `Arc<Keyring>` is done with it.
    pub fn seal(&self) {
        *self.write() = None;
    }

    /// The current keyring, for one operation (do not keep it: sealing cannot reclaim it).
    ///
    /// # Errors
    /// [`VaultError::Sealed`] when the vault is sealed.
    pub fn keyring(&self) -> Result<Arc<Keyring>, VaultError> {
        self.read().clone().ok_or(VaultError::Sealed)
    }

    /// Swaps in a new keyring (after root key rotation). A sealed vault stays sealed: the new
    /// keyring is dropped, so a rotation finishing after an emergency seal cannot unseal.
    pub fn replace_keyring(&self, keyring: Keyring) {
        let mut state = self.write();
        if state.is_some() {
            *state = Some(Arc::new(keyring));
        }
    }

    // The guarded value is a plain `Option<Arc<_>>` that is always consistent, so a panic in
    // another holder of the lock cannot have left it half-updated: recover from poisoning.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<Keyring>>> {
        self.keyring.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Keyring>>> {
        self.keyring.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault").field("sealed", &self.is_sealed()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::root_key::{RootKey, RootKeyId};
    use uuid::Uuid;

    fn keyring(n: u128) -> Keyring {
        Keyring::new(RootKey::generate(RootKeyId::new(Uuid::from_u128(n))), Vec::new())
    }

    #[test]
    fn seal_state_is_shared_between_clones() -> Result<(), VaultError> {
        let vault = Vault::sealed();
        let clone = vault.clone();
        assert!(vault.is_sealed());
        assert_eq!(vault.keyring().err(), Some(VaultError::Sealed));

        clone.install(keyring(1));
        assert!(!vault.is_sealed());
        assert_eq!(vault.keyring()?.active_id().as_uuid(), Uuid::from_u128(1));
        assert_eq!(format!("{vault:?}"), "Vault { sealed: false }");

        vault.seal();
        assert!(clone.is_sealed());
        assert_eq!(clone.keyring().err(), Some(VaultError::Sealed));
        Ok(())
    }

    #[test]
    fn replace_keyring_swaps_only_when_unsealed() -> Result<(), VaultError> {
        let vault = Vault::sealed();
        vault.replace_keyring(keyring(2));
        assert!(vault.is_sealed());

        vault.install(keyring(1));
        let in_flight = vault.keyring()?;
        vault.replace_keyring(keyring(2));
        assert_eq!(vault.keyring()?.active_id().as_uuid(), Uuid::from_u128(2));
        assert_eq!(in_flight.active_id().as_uuid(), Uuid::from_u128(1));
        Ok(())
    }

    #[test]
    fn poisoned_lock_does_not_panic() {
        let vault = Vault::sealed();
        vault.install(keyring(1));
        let poisoner = vault.clone();
        let joined = std::thread::spawn(move || {
            let _guard = poisoner.keyring.write();
            std::panic::panic_any("poison the lock");
        })
        .join();
        assert!(joined.is_err());
        assert!(vault.keyring.is_poisoned());
        assert!(!vault.is_sealed());
        vault.seal();
        assert!(vault.is_sealed());
    }
}
