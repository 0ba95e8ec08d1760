//! AES-256-GCM with a random 96-bit nonce stored in front of the ciphertext.
//!
//! Layout of a box: `nonce (12) || ciphertext || tag (16)`.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key};
use zeroize::Zeroizing;

use crate::random::random_array;

/// Length of the random nonce in front of every box.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of the GCM authentication tag at the end of every box.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a box adds to its plaintext.
pub(crate) const BOX_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Encrypts `plaintext` under `key`, authenticating `aad` too.
///
/// Fails only when the cipher refuses the input length (more than 64 GiB).
pub(crate) fn seal_box(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, ()> {
    let nonce_bytes: [u8; NONCE_LEN] = random_array();
    let ciphertext = cipher(key).encrypt(&nonce_bytes.into(), Payload { msg: plaintext, aad }).map_err(|_| ())?;
    let mut sealed = Vec::with_capacity(NONCE_LEN + ciphertext.len());
    sealed.extend_from_slice(&nonce_bytes);
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Decrypts a box made by [`seal_box`] with the same key and `aad`.
///
/// Any failure (short input, wrong key, wrong `aad`, altered byte) is the same `Err(())`.
pub(crate) fn open_box(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, ()> {
    if sealed.len() < BOX_OVERHEAD {
        return Err(());
    }
    let (nonce_bytes, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce_bytes: [u8; NONCE_LEN] = nonce_bytes.try_into().map_err(|_| ())?;
    cipher(key).decrypt(&nonce_bytes.into(), Payload { msg: ciphertext, aad }).map(Zeroizing::new).map_err(|_| ())
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    let key: &Key<Aes256Gcm> = key.into();
    Aes256Gcm::new(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper_detection() -> Result<(), ()> {
        let key = [7u8; 32];
        let sealed = seal_box(&key, b"plain", b"aad")?;
        assert_eq!(sealed.len(), 5 + BOX_OVERHEAD);
        assert_eq!(open_box(&key, &sealed, b"aad")?.as_slice(), b"plain");
        assert!(open_box(&key, &sealed, b"aae").is_err());
        assert!(open_box(&[8u8; 32], &sealed, b"aad").is_err());
        for position in 0..sealed.len() {
            let mut altered = sealed.clone();
            altered[position] ^= 0x01;
            assert!(open_box(&key, &altered, b"aad").is_err(), "byte {position}");
        }
        assert!(open_box(&key, &sealed[..BOX_OVERHEAD - 1], b"aad").is_err());
        Ok(())
    }

    #[test]
    fn nonces_differ_between_boxes() -> Result<(), ()> {
        let key = [7u8; 32];
        let first = seal_box(&key, b"same", b"")?;
        let second = seal_box(&key, b"same", b"")?;
        assert_ne!(first[..NONCE_LEN], second[..NONCE_LEN]);
        assert_ne!(first, second);
        Ok(())
    }
}
