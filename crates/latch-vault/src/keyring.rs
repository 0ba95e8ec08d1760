//! Envelope encryption: a fresh data key per record, wrapped by a root key of the keyring.

use std::collections::HashMap;
use std::fmt;

use uuid::Uuid;
use zeroize::Zeroizing;

use crate::aead_box::{open_box, seal_box};
use crate::associated_data::AssociatedData;
use crate::error::VaultError;
use crate::random::fill_random;
use crate::root_key::{RootKey, RootKeyId};
use crate::secret::SecretBytes;

/// What a sealed secret belongs to. Both parts are authenticated, so a sealed secret copied to
/// another record, or read as another kind of secret, does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretBinding<'a> {
    /// The kind of secret, e.g. `"account-password"` or `"totp-seed"`.
    pub kind: &'a str,
    /// The id of the record that owns the secret.
    pub record_id: Uuid,
}

/// An encrypted secret as stored: root key id, wrapped data key and ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSecret {
    /// The root key that wraps `wrapped_data_key`.
    pub root_key_id: RootKeyId,
    /// `nonce || AES-256-GCM(root key, data key) || tag`.
    pub wrapped_data_key: Vec<u8>,
    /// `nonce || AES-256-GCM(data key, plaintext) || tag`.
    pub ciphertext: Vec<u8>,
}

/// The unsealed root keys; one is active and used for new seals, the others still open old ones.
pub struct Keyring {
    active: RootKeyId,
    keys: HashMap<RootKeyId, RootKey>,
}

impl Keyring {
    /// A keyring sealing with `active` and also opening with `others`. If `others` holds a key
    /// with the active id, `active` wins.
    pub fn new(active: RootKey, others: Vec<RootKey>) -> Self {
        let active_id = active.id();
        let mut keys: HashMap<RootKeyId, RootKey> = others.into_iter().map(|key| (key.id(), key)).collect();
        keys.insert(active_id, active);
        Self { active: active_id, keys }
    }

    /// The id of the key used by [`Keyring::seal`].
    pub fn active_id(&self) -> RootKeyId {
        self.active
    }

    /// Whether the keyring holds the root key `id`.
    pub fn contains(&self, id: RootKeyId) -> bool {
        self.keys.contains_key(&id)
    }

    /// Ids of all root keys held, sorted.
    pub fn root_key_ids(&self) -> Vec<RootKeyId> {
        let mut ids: Vec<RootKeyId> = self.keys.keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// A new keyring with `active` as its active key and all keys of this one kept for opening
    /// (root key rotation: install it, then [`Keyring::rewrap`] records at leisure).
    pub fn with_new_active(&self, active: RootKey) -> Self {
        Self::new(active, self.keys.values().cloned().collect())
    }

    /// Encrypts `plaintext` under a fresh random data key, wrapped by the active root key.
    ///
    /// # Errors
    /// [`VaultError::Encrypt`] only for inputs over 64 GiB.
    pub fn seal(&self, binding: &SecretBinding, plaintext: &[u8]) -> Result<SealedSecret, VaultError> {
        let mut data_key = Zeroizing::new([0u8; 32]);
        fill_random(data_key.as_mut_slice());
        let ciphertext =
            seal_box(&data_key, plaintext, ciphertext_aad(binding).as_bytes()).map_err(|()| VaultError::Encrypt)?;
        let wrapped_data_key = self.wrap_data_key(self.active, binding, &data_key)?;
        Ok(SealedSecret { root_key_id: self.active, wrapped_data_key, ciphertext })
    }

    /// Decrypts a sealed secret for `binding`.
    ///
    /// # Errors
    /// [`VaultError::Decrypt`] for an unknown root key, a wrong binding or altered bytes alike.
    pub fn open(&self, binding: &SecretBinding, sealed: &SealedSecret) -> Result<SecretBytes, VaultError> {
        let data_key = self.unwrap_data_key(binding, sealed)?;
        let mut plaintext = open_box(&data_key, &sealed.ciphertext, ciphertext_aad(binding).as_bytes())
            .map_err(|()| VaultError::Decrypt)?;
        Ok(SecretBytes::new(std::mem::take(&mut *plaintext)))
    }

    /// Re-wraps only the data key under root key `to`; the ciphertext is left unchanged.
    ///
    /// # Errors
    /// [`VaultError::Decrypt`] when the data key cannot be unwrapped for `binding`,
    /// [`VaultError::UnknownRootKey`] when `to` is not in the keyring.
    pub fn rewrap(
        &self,
        binding: &SecretBinding,
        sealed: &SealedSecret,
        to: RootKeyId,
    ) -> Result<SealedSecret, VaultError> {
        if !self.contains(to) {
            return Err(VaultError::UnknownRootKey(to));
        }
        let data_key = self.unwrap_data_key(binding, sealed)?;
        let wrapped_data_key = self.wrap_data_key(to, binding, &data_key)?;
        Ok(SealedSecret { root_key_id: to, wrapped_data_key, ciphertext: sealed.ciphertext.clone() })
    }

    fn wrap_data_key(
        &self,
        root_id: RootKeyId,
        binding: &SecretBinding,
        data_key: &[u8; 32],
    ) -> Result<Vec<u8>, VaultError> {
        let root = self.keys.get(&root_id).ok_or(VaultError::UnknownRootKey(root_id))?;
        seal_box(root.key_bytes(), data_key, data_key_aad(root_id, binding).as_bytes())
            .map_err(|()| VaultError::Encrypt)
    }

    fn unwrap_data_key(
        &self,
        binding: &SecretBinding,
        sealed: &SealedSecret,
    ) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let root = self.keys.get(&sealed.root_key_id).ok_or(VaultError::Decrypt)?;
        let aad = data_key_aad(sealed.root_key_id, binding);
        let plain =
            open_box(root.key_bytes(), &sealed.wrapped_data_key, aad.as_bytes()).map_err(|()| VaultError::Decrypt)?;
        let mut data_key = Zeroizing::new([0u8; 32]);
        if plain.len() != data_key.len() {
            return Err(VaultError::Decrypt);
        }
        data_key.copy_from_slice(&plain);
        Ok(data_key)
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("root_key_ids", &self.root_key_ids())
            .finish_non_exhaustive()
    }
}

fn data_key_aad(root_id: RootKeyId, binding: &SecretBinding) -> AssociatedData {
    AssociatedData::labelled(b"latch/dk/v1")
        .with(root_id.as_uuid().as_bytes())
        .with(binding.kind.as_bytes())
        .with(binding.record_id.as_bytes())
}

fn ciphertext_aad(binding: &SecretBinding) -> AssociatedData {
    AssociatedData::labelled(b"latch/ct/v1").with(binding.kind.as_bytes()).with(binding.record_id.as_bytes())
}
