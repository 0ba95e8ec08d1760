//! Arithmetic in GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, for Shamir sharing.
//!
//! Addition is XOR. Multiplication is done bit by bit with masks instead of lookup tables, so its
//! timing and memory accesses do not depend on the (secret) operands.

/// Product of `a` and `b`.
pub(crate) fn mul(a: u8, b: u8) -> u8 {
    let mut product = 0u8;
    let mut a = a;
    let mut b = b;
    for _ in 0..8 {
        product ^= a & 0u8.wrapping_sub(b & 1);
        let overflow = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (0x1b & overflow);
        b >>= 1;
    }
    product
}

/// Multiplicative inverse of `a` (`a^254`); the inverse of 0 is taken to be 0.
pub(crate) fn inv(a: u8) -> u8 {
    let mut result = 1u8;
    let mut power = a;
    for _ in 0..7 {
        power = mul(power, power);
        result = mul(result, power);
    }
    result
}

/// `a / b`; callers guarantee `b != 0`.
pub(crate) fn div(a: u8, b: u8) -> u8 {
    mul(a, inv(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plain reference multiplication: carry-less product, then reduction modulo 0x11b.
    fn reference_mul(a: u8, b: u8) -> u8 {
        let mut wide = 0u16;
        for bit in 0..8 {
            if b & (1 << bit) != 0 {
                wide ^= u16::from(a) << bit;
            }
        }
        for bit in (8..16).rev() {
            if wide & (1 << bit) != 0 {
                wide ^= 0x11b << (bit - 8);
            }
        }
        u8::try_from(wide).unwrap_or(0xff)
    }

    #[test]
    fn known_products_from_fips_197() {
        assert_eq!(mul(0x57, 0x83), 0xc1);
        assert_eq!(mul(0x57, 0x13), 0xfe);
        assert_eq!(mul(0x53, 0xca), 0x01);
    }

    #[test]
    fn multiplication_matches_reference_table() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mul(a, b), reference_mul(a, b), "{a} * {b}");
                assert_eq!(mul(a, b), mul(b, a));
            }
            assert_eq!(mul(a, 1), a);
            assert_eq!(mul(a, 0), 0);
        }
    }

    #[test]
    fn every_nonzero_element_has_a_unique_inverse() {
        let mut seen = [false; 256];
        for a in 1..=255u8 {
            let inverse = inv(a);
            assert_eq!(mul(a, inverse), 1, "inverse of {a}");
            assert!(!seen[usize::from(inverse)], "inverse {inverse} repeated");
            seen[usize::from(inverse)] = true;
            assert_eq!(div(mul(a, 0x42), a), 0x42);
        }
        assert_eq!(inv(0), 0);
        assert_eq!(inv(0x53), 0xca);
    }
}
