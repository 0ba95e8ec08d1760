//! Shamir secret sharing of the unseal key over GF(256), k of n with 1 <= k <= n <= 16.

use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::gf256;
use crate::random::{fill_random, random_array};
use crate::unseal_key::UnsealKey;
use crate::unseal_share::{MAX_SHARES, UnsealShare};

/// Splits `key` into `shares` shares of which any `threshold` recover it and fewer reveal
/// nothing about it. All shares of one split carry the same random set id.
///
/// # Errors
/// [`VaultError::InvalidShareCount`] unless `1 <= threshold <= shares <= 16`.
pub fn split_unseal_key(key: &UnsealKey, threshold: u8, shares: u8) -> Result<Vec<UnsealShare>, VaultError> {
    if threshold == 0 || threshold > shares || shares > MAX_SHARES {
        return Err(VaultError::InvalidShareCount { threshold, shares });
    }
    // One random polynomial per key byte: coefficients[d][byte] is the coefficient of x^(d+1).
    let mut coefficients = Zeroizing::new(vec![[0u8; 32]; usize::from(threshold - 1)]);
    for coefficient in coefficients.iter_mut() {
        fill_random(coefficient);
    }
    let set_id = u32::from_be_bytes(random_array());
    let split = (1..=shares)
        .map(|x| {
            let value = evaluate(key.as_bytes(), &coefficients, x);
            UnsealShare::new(threshold, x, set_id, *value)
        })
        .collect();
    Ok(split)
}

/// Recovers the unseal key from at least `threshold` shares of one split.
///
/// A wrong but well-formed quorum cannot be detected here; it shows up as
/// [`VaultError::WrongUnsealKey`] when the recovered key fails to unwrap a root key.
///
/// # Errors
/// [`VaultError::TooFewShares`], [`VaultError::DuplicateShare`] or [`VaultError::MixedShares`].
pub fn combine_unseal_shares(shares: &[UnsealShare]) -> Result<UnsealKey, VaultError> {
    let Some(first) = shares.first() else {
        return Err(VaultError::TooFewShares { given: 0, threshold: 1 });
    };
    for (position, share) in shares.iter().enumerate() {
        if share.set_id() != first.set_id() || share.threshold() != first.threshold() {
            return Err(VaultError::MixedShares);
        }
        if shares[..position].iter().any(|earlier| earlier.index() == share.index()) {
            return Err(VaultError::DuplicateShare { index: share.index() });
        }
    }
    if shares.len() < usize::from(first.threshold()) {
        return Err(VaultError::TooFewShares { given: shares.len(), threshold: first.threshold() });
    }
    let secret = interpolate_at_zero(shares);
    Ok(UnsealKey::from_bytes(*secret))
}

/// Evaluates the polynomial with constant term `secret` at `x`, byte by byte (Horner's rule).
fn evaluate(secret: &[u8; 32], coefficients: &[[u8; 32]], x: u8) -> Zeroizing<[u8; 32]> {
    let mut value = Zeroizing::new([0u8; 32]);
    for (byte, out) in value.iter_mut().enumerate() {
        let mut accumulator = 0u8;
        for coefficient in coefficients.iter().rev() {
            accumulator = gf256::mul(accumulator, x) ^ coefficient[byte];
        }
        *out = gf256::mul(accumulator, x) ^ secret[byte];
    }
    value
}

/// Lagrange interpolation at x = 0 through all given shares (indices must be distinct and
/// nonzero). With fewer points than the threshold the result is unrelated to the key.
pub(crate) fn interpolate_at_zero(shares: &[UnsealShare]) -> Zeroizing<[u8; 32]> {
    let mut secret = Zeroizing::new([0u8; 32]);
    for share in shares {
        let basis = shares.iter().filter(|other| other.index() != share.index()).fold(1u8, |product, other| {
            let factor = gf256::div(other.index(), other.index() ^ share.index());
            gf256::mul(product, factor)
        });
        for (out, y) in secret.iter_mut().zip(share.value()) {
            *out ^= gf256::mul(basis, *y);
        }
    }
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subsets(items: usize, size: usize) -> Vec<Vec<usize>> {
        if size == 0 {
            return vec![Vec::new()];
        }
        (0..items)
            .flat_map(|last| {
                subsets(last, size - 1).into_iter().map(move |mut subset| {
                    subset.push(last);
                    subset
                })
            })
            .collect()
    }

    fn pick(shares: &[UnsealShare], indices: &[usize]) -> Vec<UnsealShare> {
        indices.iter().map(|&i| shares[i].clone()).collect()
    }

    #[test]
    fn every_three_of_five_subset_recovers_the_key() -> Result<(), VaultError> {
        let key = UnsealKey::generate();
        let shares = split_unseal_key(&key, 3, 5)?;
        assert_eq!(shares.len(), 5);
        let all = subsets(5, 3);
        assert_eq!(all.len(), 10);
        for subset in all {
            let recovered = combine_unseal_shares(&pick(&shares, &subset))?;
            assert_eq!(recovered.as_bytes(), key.as_bytes(), "subset {subset:?}");
        }
        let recovered = combine_unseal_shares(&shares)?;
        assert_eq!(recovered.as_bytes(), key.as_bytes());
        Ok(())
    }

    #[test]
    fn shares_survive_their_text_form() -> Result<(), VaultError> {
        let key = UnsealKey::generate();
        let shares = split_unseal_key(&key, 2, 3)?;
        let typed: Vec<UnsealShare> = shares
            .iter()
            .rev()
            .take(2)
            .map(|share| UnsealShare::from_text(share.to_text().expose()))
            .collect::<Result<_, _>>()?;
        assert_eq!(combine_unseal_shares(&typed)?.as_bytes(), key.as_bytes());
        Ok(())
    }

    #[test]
    fn fewer_than_threshold_shares_do_not_recover_the_key() -> Result<(), VaultError> {
        let key = UnsealKey::generate();
        let shares = split_unseal_key(&key, 3, 5)?;
        for subset in subsets(5, 2) {
            let two = pick(&shares, &subset);
            assert_eq!(combine_unseal_shares(&two).err(), Some(VaultError::TooFewShares { given: 2, threshold: 3 }));
            assert_ne!(*interpolate_at_zero(&two), *key.as_bytes(), "subset {subset:?}");
        }
        Ok(())
    }

    #[test]
    fn duplicate_and_mixed_shares_are_refused() -> Result<(), VaultError> {
        let key = UnsealKey::generate();
        let shares = split_unseal_key(&key, 2, 3)?;
        let duplicated = pick(&shares, &[0, 0, 1]);
        assert_eq!(combine_unseal_shares(&duplicated).err(), Some(VaultError::DuplicateShare { index: 1 }));
        let other_split = split_unseal_key(&key, 2, 3)?;
        let mixed = vec![shares[0].clone(), other_split[1].clone()];
        assert_eq!(combine_unseal_shares(&mixed).err(), Some(VaultError::MixedShares));
        assert!(matches!(combine_unseal_shares(&[]), Err(VaultError::TooFewShares { given: 0, .. })));
        Ok(())
    }

    #[test]
    fn invalid_counts_are_refused() {
        let key = UnsealKey::generate();
        for (threshold, shares) in [(0, 3), (4, 3), (2, 17), (17, 17), (0, 0)] {
            assert_eq!(
                split_unseal_key(&key, threshold, shares).err(),
                Some(VaultError::InvalidShareCount { threshold, shares })
            );
        }
    }

    #[test]
    fn edge_counts_work() -> Result<(), VaultError> {
        let key = UnsealKey::generate();
        let single = split_unseal_key(&key, 1, 1)?;
        assert_eq!(combine_unseal_shares(&single)?.as_bytes(), key.as_bytes());
        let wide = split_unseal_key(&key, 16, 16)?;
        assert_eq!(wide.iter().map(UnsealShare::index).collect::<Vec<_>>(), (1..=16).collect::<Vec<_>>());
        assert_eq!(combine_unseal_shares(&wide)?.as_bytes(), key.as_bytes());
        Ok(())
    }

    #[test]
    fn shares_do_not_contain_the_key_in_clear() -> Result<(), VaultError> {
        let key = UnsealKey::generate();
        for share in split_unseal_key(&key, 2, 5)? {
            assert_ne!(share.value(), key.as_bytes());
        }
        Ok(())
    }
}
