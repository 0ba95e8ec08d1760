//! One Shamir share of the unseal key, and its typed-in text form.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::digest::{constant_time_eq, sha256};
use crate::error::VaultError;
use crate::secret::SecretString;

/// Largest number of shares (and threshold) supported.
pub(crate) const MAX_SHARES: u8 = 16;

/// One share of a k-of-n split of an [`crate::UnsealKey`]. Zeroized on drop; `Debug` is redacted.
///
/// Text form: `latch-share-v1:<k>:<index>:<set-id>:<base64 value>:<check>` where `set-id` (8 hex
/// digits) is random per split, so shares of different splits are never mixed, and `check`
/// (8 hex digits) is the start of the SHA-256 of everything before it, so a mistyped share is
/// refused instead of silently producing a wrong key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct UnsealShare {
    threshold: u8,
    index: u8,
    set_id: u32,
    value: [u8; 32],
}

const SHARE_PREFIX: &str = "latch-share-v1";

impl UnsealShare {
    /// The share's text form, to hand to its holder.
    pub fn to_text(&self) -> SecretString {
        let body = Zeroizing::new(format!(
            "{SHARE_PREFIX}:{}:{}:{:08x}:{}",
            self.threshold,
            self.index,
            self.set_id,
            STANDARD.encode(self.value)
        ));
        SecretString::new(format!("{}:{:08x}", body.as_str(), checksum(&body)))
    }

    /// Parses the text made by [`UnsealShare::to_text`]; surrounding whitespace is ignored.
    ///
    /// # Errors
    /// [`VaultError::ShareChecksum`] when the check digits do not match (a typing mistake),
    /// [`VaultError::MalformedShare`] for anything else; neither echoes the text.
    pub fn from_text(text: &str) -> Result<Self, VaultError> {
        let text = text.trim();
        let malformed = VaultError::MalformedShare("expected latch-share-v1:k:index:set:value:check");
        if !text.starts_with(SHARE_PREFIX) {
            return Err(malformed);
        }
        let (body, check) = text.rsplit_once(':').ok_or(malformed.clone())?;
        let check = parse_hex_u32(check).ok_or(malformed.clone())?;
        if !constant_time_eq(&check.to_be_bytes(), &checksum(body).to_be_bytes()) {
            return Err(VaultError::ShareChecksum);
        }
        let fields: Vec<&str> = body.split(':').collect();
        let [prefix, threshold, index, set_id, value] = fields.as_slice() else {
            return Err(malformed);
        };
        if *prefix != SHARE_PREFIX {
            return Err(malformed);
        }
        let share = Self {
            threshold: parse_count(threshold).ok_or(malformed.clone())?,
            index: parse_count(index).ok_or(malformed.clone())?,
            set_id: parse_hex_u32(set_id).ok_or(malformed.clone())?,
            value: decode_value(value).ok_or(malformed)?,
        };
        Ok(share)
    }

    /// How many shares of this split are needed to recover the key.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// This share's x coordinate, 1 to 16.
    pub fn index(&self) -> u8 {
        self.index
    }

    pub(crate) fn new(threshold: u8, index: u8, set_id: u32, value: [u8; 32]) -> Self {
        Self { threshold, index, set_id, value }
    }

    pub(crate) fn set_id(&self) -> u32 {
        self.set_id
    }

    pub(crate) fn value(&self) -> &[u8; 32] {
        &self.value
    }
}

impl fmt::Debug for UnsealShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnsealShare")
            .field("threshold", &self.threshold)
            .field("index", &self.index)
            .field("value", &format_args!("[redacted]"))
            .finish()
    }
}

/// The first four bytes of SHA-256 of the share body, as a number.
fn checksum(body: &str) -> u32 {
    let digest = sha256(body.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Exactly eight lowercase hex digits (as written by [`UnsealShare::to_text`]).
fn parse_hex_u32(text: &str) -> Option<u32> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if text.len() != 8 || !text.bytes().all(lower_hex) {
        return None;
    }
    u32::from_str_radix(text, 16).ok()
}

/// A decimal count from 1 to [`MAX_SHARES`].
fn parse_count(text: &str) -> Option<u8> {
    if text.is_empty() || text.len() > 2 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|count| (1..=MAX_SHARES).contains(count))
}

fn decode_value(text: &str) -> Option<[u8; 32]> {
    let bytes = Zeroizing::new(STANDARD.decode(text).ok()?);
    let mut value = [0u8; 32];
    if bytes.len() != value.len() {
        return None;
    }
    value.copy_from_slice(&bytes);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> UnsealShare {
        UnsealShare::new(3, 2, 0xdead_beef, [0x5a; 32])
    }

    #[test]
    fn text_round_trip() -> Result<(), VaultError> {
        let share = sample();
        let text = share.to_text();
        assert!(text.expose().starts_with("latch-share-v1:3:2:deadbeef:"), "{}", text.expose());
        let parsed = UnsealShare::from_text(&format!("  {}\n", text.expose()))?;
        assert_eq!((parsed.threshold(), parsed.index()), (3, 2));
        assert_eq!(parsed.set_id(), 0xdead_beef);
        assert_eq!(parsed.value(), share.value());
        Ok(())
    }

    #[test]
    fn any_single_typo_is_refused() {
        let text = sample().to_text();
        let original = text.expose().as_bytes();
        for position in SHARE_PREFIX.len()..original.len() {
            let mut typo = original.to_vec();
            typo[position] = if typo[position] == b'A' { b'B' } else { b'A' };
            let typo = String::from_utf8(typo).unwrap_or_default();
            assert!(UnsealShare::from_text(&typo).is_err(), "typo at {position} accepted");
        }
    }

    #[test]
    fn typo_in_value_is_a_checksum_error() {
        let text = sample().to_text();
        let typo = text.expose().replacen("WlpaWlpa", "WlpaWlpb", 1);
        assert_ne!(&typo, text.expose());
        assert_eq!(UnsealShare::from_text(&typo).err(), Some(VaultError::ShareChecksum));
    }

    #[test]
    fn malformed_texts_are_refused() {
        for text in ["", "latch-share-v1", "latch-share-v2:3:2:deadbeef:AAAA:00000000", "garbage"] {
            assert!(matches!(UnsealShare::from_text(text), Err(VaultError::MalformedShare(_))), "{text:?}");
        }
        let out_of_range = UnsealShare::new(17, 2, 1, [0; 32]).to_text();
        assert!(matches!(UnsealShare::from_text(out_of_range.expose()), Err(VaultError::MalformedShare(_))));
    }

    #[test]
    fn debug_is_redacted() {
        let share = sample();
        let debug = format!("{share:?}");
        assert!(debug.contains("redacted"), "{debug}");
        assert!(!debug.contains(&STANDARD.encode(share.value())));
        assert!(!debug.contains("5a5a"));
        assert!(!debug.contains("90, 90"));
    }
}
