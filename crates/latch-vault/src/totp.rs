//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps).

use std::fmt;

use totp_rs::{Algorithm, Builder, Totp, TotpError};

use crate::error::VaultError;
use crate::random::fill_random;
use crate::secret::SecretBytes;

/// Length of generated seeds: 160 bits, as RFC 4226 recommends.
const SEED_LEN: usize = 20;
/// Shortest seed accepted: 128 bits, the RFC 4226 minimum.
const MIN_SEED_LEN: usize = 16;
const DIGITS: u8 = 6;
const STEP_SECONDS: u64 = 30;
/// Accepted clock drift in steps, either side.
const SKEW_STEPS: u16 = 1;

/// A user's TOTP shared secret. Zeroized on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct TotpSeed(SecretBytes);

impl TotpSeed {
    /// A fresh random 20-byte seed.
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SEED_LEN];
        fill_random(&mut bytes);
        Self(SecretBytes::new(bytes))
    }

    /// Uses stored seed bytes (e.g. the opened sealed seed).
    ///
    /// # Errors
    /// [`VaultError::Totp`] when the seed is shorter than 16 bytes.
    pub fn from_bytes(bytes: impl Into<SecretBytes>) -> Result<Self, VaultError> {
        let bytes = bytes.into();
        if bytes.expose().len() < MIN_SEED_LEN {
            return Err(VaultError::Totp("seed must be at least 16 bytes"));
        }
        Ok(Self(bytes))
    }

    /// The seed bytes, for sealing them with the keyring.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.expose()
    }

    fn totp(&self) -> Totp {
        // Digits, step and seed length are valid by construction, so the unchecked build cannot
        // produce a `Totp` that panics.
        self.builder().build_noncompliant()
    }

    fn builder(&self) -> Builder {
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_step_duration(STEP_SECONDS)
            .with_skew(SKEW_STEPS)
            .with_secret(self.as_bytes())
    }
}

impl fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSeed([redacted])")
    }
}

/// The `otpauth://totp/…` URI an authenticator app enrols from.
///
/// # Errors
/// [`VaultError::Totp`] when `account` is empty or `issuer` or `account` contains `:`.
pub fn totp_otpauth_uri(seed: &TotpSeed, issuer: &str, account: &str) -> Result<String, VaultError> {
    labelled(seed, issuer, account)?.to_url().map_err(describe)
}

/// The enrolment URI as a QR code: a base64-encoded PNG (without a `data:` prefix).
///
/// # Errors
/// As [`totp_otpauth_uri`], or when the QR code cannot be drawn.
pub fn totp_qr_png_base64(seed: &TotpSeed, issuer: &str, account: &str) -> Result<String, VaultError> {
    labelled(seed, issuer, account)?.to_qr_base64().map_err(describe)
}

/// `Some(time step)` when `code` is the code of the step of `unix_seconds` or of the step just
/// before or after it. Whitespace inside the code is ignored.
///
/// The caller must remember the last accepted step per user and refuse steps `<=` it, so each
/// code is used once (RFC 6238 §5.2).
pub fn totp_verify(seed: &TotpSeed, code: &str, unix_seconds: u64) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    seed.totp().check(&code, unix_seconds)
}

/// The 6-digit code at `unix_seconds` (for tests and the CLI's test helper).
pub fn totp_code_at(seed: &TotpSeed, unix_seconds: u64) -> String {
    seed.totp().generate(unix_seconds).to_string()
}

fn labelled(seed: &TotpSeed, issuer: &str, account: &str) -> Result<Totp, VaultError> {
    seed.builder()
        .with_issuer((!issuer.is_empty()).then_some(issuer))
        .with_account_name(account)
        .build()
        .map_err(describe)
}

/// Maps `totp-rs` errors to fixed texts: some of its errors carry the URI, which holds the seed.
fn describe(error: TotpError) -> VaultError {
    match error {
        TotpError::AccountNameNotSet => VaultError::Totp("account name is empty"),
        TotpError::InvalidAccountName { .. } => VaultError::Totp("account name must not contain ':'"),
        TotpError::InvalidIssuer { .. } => VaultError::Totp("issuer must not contain ':'"),
        TotpError::SecretTooShort { .. } => VaultError::Totp("seed must be at least 16 bytes"),
        TotpError::UrlTooLong { .. } => VaultError::Totp("enrolment uri too long for a qr code"),
        _ => VaultError::Totp("invalid totp parameters"),
    }
}
