//! The key of the tamper-evident audit log's hash chain.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use latch_domain::audit::ChainMac;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::random::fill_random;

/// The 256-bit HMAC key chaining audit records. Zeroized on drop; `Debug` is redacted.
///
/// Seal [`AuditChainKey::as_bytes`] with the keyring to store it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AuditChainKey {
    bytes: [u8; 32],
}

impl AuditChainKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = Self { bytes: [0; 32] };
        fill_random(&mut key.bytes);
        key
    }

    /// Uses the given bytes as the key (e.g. after opening the sealed stored key).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { bytes }
    }

    /// The raw key bytes, for sealing them with the keyring.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl ChainMac for AuditChainKey {
    /// HMAC-SHA256(key, prev || record); `prev` has a fixed length, so the input is unambiguous.
    fn link(&self, prev: &[u8; 32], record: &[u8]) -> [u8; 32] {
        // HMAC pads keys shorter than the 64-byte block with zeros; doing so here gives the same
        // MAC through the infallible fixed-size constructor.
        let mut block_key = Zeroizing::new([0u8; 64]);
        block_key[..32].copy_from_slice(&self.bytes);
        let mut mac = Hmac::<Sha256>::new((&*block_key).into());
        mac.update(prev);
        mac.update(record);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for AuditChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditChainKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_standard_hmac_sha256() {
        // Python: hmac.new(bytes(range(32)), bytes([7]*32) + b"record", hashlib.sha256).hexdigest()
        let key = AuditChainKey::from_bytes(std::array::from_fn(|i| u8::try_from(i).unwrap_or(0)));
        let link = key.link(&[7; 32], b"record");
        let hex: String = link.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "a29e0435c9a77a76e2e618c668665f759377b29554bf4365d4889fcd82294257");
    }

    #[test]
    fn link_is_deterministic_and_sensitive_to_every_input_byte() {
        let key = AuditChainKey::from_bytes([3; 32]);
        let prev = [9u8; 32];
        let record = b"latch-audit-v1 some record".to_vec();
        let link = key.link(&prev, &record);
        assert_eq!(link, key.link(&prev, &record));
        assert_eq!(link, key.clone().link(&prev, &record));

        for position in 0..prev.len() {
            let mut altered = prev;
            altered[position] ^= 1;
            assert_ne!(key.link(&altered, &record), link, "prev byte {position}");
        }
        for position in 0..record.len() {
            let mut altered = record.clone();
            altered[position] ^= 1;
            assert_ne!(key.link(&prev, &altered), link, "record byte {position}");
        }
        let mut longer = record.clone();
        longer.push(0);
        assert_ne!(key.link(&prev, &longer), link);
        for position in 0..32 {
            let mut other = *key.as_bytes();
            other[position] ^= 1;
            assert_ne!(AuditChainKey::from_bytes(other).link(&prev, &record), link, "key byte {position}");
        }
        assert_ne!(AuditChainKey::generate().link(&prev, &record), link);
    }

    #[test]
    fn debug_is_redacted() {
        let key = AuditChainKey::from_bytes([0xab; 32]);
        let debug = format!("{key:?}");
        assert!(debug.contains("redacted"));
        assert!(!debug.contains("171") && !debug.contains("abab"));
    }
}
