//! The crate's only source of randomness: the thread-local CSPRNG of `rand`.

use rand::RngCore;

/// Fills `buffer` with cryptographically secure random bytes.
pub(crate) fn fill_random(buffer: &mut [u8]) {
    rand::rng().fill_bytes(buffer);
}

/// Returns `N` cryptographically secure random bytes (for non-secret values: nonces, salts, ids).
pub(crate) fn random_array<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    fill_random(&mut bytes);
    bytes
}
