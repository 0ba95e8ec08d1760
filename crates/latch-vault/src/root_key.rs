//! Root keys: the keys that wrap per-record data keys, themselves wrapped by the unseal key.

use std::fmt;

use uuid::Uuid;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::aead_box::{BOX_OVERHEAD, open_box, seal_box};
use crate::associated_data::AssociatedData;
use crate::error::VaultError;
use crate::random::fill_random;
use crate::unseal_key::UnsealKey;

/// Identifies a root key; stored next to every sealed secret so the right key can be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RootKeyId(Uuid);

impl RootKeyId {
    /// Wraps a UUID (fresh ids come from the caller, e.g. `Uuid::new_v4()`).
    pub fn new(id: Uuid) -> Self {
        Self(id)
    }

    /// The UUID, for storage.
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for RootKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A 256-bit root key and its id. Zeroized on drop; `Debug` shows only the id.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RootKey {
    #[zeroize(skip)]
    id: RootKeyId,
    key: [u8; 32],
}

impl RootKey {
    /// A fresh random root key with the given id.
    pub fn generate(id: RootKeyId) -> Self {
        let mut root = Self { id, key: [0; 32] };
        fill_random(&mut root.key);
        root
    }

    /// This key's id.
    pub fn id(&self) -> RootKeyId {
        self.id
    }

    pub(crate) fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RootKey").field("id", &self.id).field("key", &format_args!("[redacted]")).finish()
    }
}

/// Length of a wrapped root key: nonce, 32 key bytes, tag.
const WRAPPED_LEN: usize = 32 + BOX_OVERHEAD;

/// Encrypts `root` under the unseal key: AES-256-GCM, random 96-bit nonce in front, the root key
/// id bound as associated data (so a wrapped key cannot be relabelled with another id).
pub fn wrap_root_key(kek: &UnsealKey, root: &RootKey) -> Vec<u8> {
    #[expect(clippy::expect_used, reason = "AES-GCM refuses only inputs over 64 GiB; a root key is 32 bytes")]
    seal_box(kek.as_bytes(), root.key_bytes(), root_key_aad(root.id).as_bytes())
        .expect("AES-GCM encrypts a 32-byte root key")
}

/// Decrypts a root key made by [`wrap_root_key`] and checks it belongs to `id`.
///
/// # Errors
/// [`VaultError::WrongUnsealKey`] when `kek` is not the key it was wrapped with, `id` is not its
/// id or the bytes were altered; [`VaultError::MalformedWrappedRootKey`] on a wrong length.
pub fn unwrap_root_key(kek: &UnsealKey, id: RootKeyId, wrapped: &[u8]) -> Result<RootKey, VaultError> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(VaultError::MalformedWrappedRootKey);
    }
    let plain =
        open_box(kek.as_bytes(), wrapped, root_key_aad(id).as_bytes()).map_err(|()| VaultError::WrongUnsealKey)?;
    let mut root = RootKey { id, key: [0; 32] };
    if plain.len() != root.key.len() {
        return Err(VaultError::MalformedWrappedRootKey);
    }
    root.key.copy_from_slice(&plain);
    Ok(root)
}

fn root_key_aad(id: RootKeyId) -> AssociatedData {
    AssociatedData::labelled(b"latch/root-key/v1").with(id.0.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> RootKeyId {
        RootKeyId::new(Uuid::from_u128(n))
    }

    #[test]
    fn wrap_unwrap_round_trip() -> Result<(), VaultError> {
        let kek = UnsealKey::generate();
        let root = RootKey::generate(id(1));
        let wrapped = wrap_root_key(&kek, &root);
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        let unwrapped = unwrap_root_key(&kek, id(1), &wrapped)?;
        assert_eq!(unwrapped.id(), id(1));
        assert_eq!(unwrapped.key_bytes(), root.key_bytes());
        assert_ne!(wrap_root_key(&kek, &root), wrapped, "nonce must be fresh");
        Ok(())
    }

    #[test]
    fn wrong_unseal_key_is_reported() {
        let root = RootKey::generate(id(1));
        let wrapped = wrap_root_key(&UnsealKey::generate(), &root);
        let result = unwrap_root_key(&UnsealKey::generate(), id(1), &wrapped);
        assert_eq!(result.err(), Some(VaultError::WrongUnsealKey));
    }

    #[test]
    fn altered_bytes_or_other_id_are_refused() {
        let kek = UnsealKey::generate();
        let wrapped = wrap_root_key(&kek, &RootKey::generate(id(1)));
        for position in 0..wrapped.len() {
            let mut altered = wrapped.clone();
            altered[position] ^= 0x80;
            assert!(unwrap_root_key(&kek, id(1), &altered).is_err(), "byte {position}");
        }
        assert_eq!(unwrap_root_key(&kek, id(2), &wrapped).err(), Some(VaultError::WrongUnsealKey));
        assert_eq!(unwrap_root_key(&kek, id(1), &wrapped[1..]).err(), Some(VaultError::MalformedWrappedRootKey));
    }

    #[test]
    fn debug_shows_id_but_not_key() {
        let root = RootKey::generate(id(7));
        let debug = format!("{root:?}");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(debug.contains(&id(7).to_string()));
        assert!(!debug.contains(&format!("{:?}", root.key_bytes())));
        let hex: String = root.key_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert!(!debug.contains(&hex[..8]));
    }
}
