//! Argon2id parameters for deriving an unseal key from a passphrase, and their text form.

use crate::error::VaultError;
use crate::random::random_array;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// Argon2id parameters (and salt) of a passphrase-derived [`crate::UnsealKey`].
///
/// None of this is secret; store it next to the wrapped root key as [`KdfParams::encode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParams {
    /// Random salt, unique per deployment.
    pub salt: [u8; 16],
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism.
    pub p_cost: u32,
}

/// Prefix of the text form.
const ALGORITHM: &str = "argon2id";
/// The only Argon2 version produced and accepted (0x13).
const VERSION: u32 = 19;
/// Upper bounds accepted by [`KdfParams::decode`], so that a tampered parameter string cannot
/// make unsealing allocate unbounded memory or run forever.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 64;

impl KdfParams {
    /// Parameters for real deployments: 64 MiB, 3 passes, 1 lane, fresh random salt.
    pub fn generate_production() -> Self {
        Self { salt: random_array(), m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 }
    }

    /// The cheapest parameters Argon2 accepts (8 KiB, 1 pass), fresh random salt. Tests only.
    pub fn generate_fast_for_tests() -> Self {
        Self { salt: random_array(), m_cost_kib: 8, t_cost: 1, p_cost: 1 }
    }

    /// Compact text form, e.g. `argon2id:v=19,m=65536,t=3,p=1:<base64 salt without padding>`.
    pub fn encode(&self) -> String {
        format!(
            "{ALGORITHM}:v={VERSION},m={},t={},p={}:{}",
            self.m_cost_kib,
            self.t_cost,
            self.p_cost,
            STANDARD_NO_PAD.encode(self.salt)
        )
    }

    /// Parses the text form made by [`KdfParams::encode`] (surrounding whitespace is ignored).
    ///
    /// # Errors
    /// [`VaultError::InvalidKdfParams`] when the text is malformed or a cost is out of range.
    pub fn decode(text: &str) -> Result<Self, VaultError> {
        let mut parts = text.trim().split(':');
        let (Some(algorithm), Some(costs), Some(salt), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VaultError::InvalidKdfParams("expected algorithm:costs:salt"));
        };
        if algorithm != ALGORITHM {
            return Err(VaultError::InvalidKdfParams("algorithm must be argon2id"));
        }
        let params = Self { salt: decode_salt(salt)?, ..decode_costs(costs)? };
        params.argon2_params()?;
        Ok(params)
    }

    /// Checks the ranges and builds the `argon2` parameters producing a 32-byte output.
    pub(crate) fn argon2_params(&self) -> Result<argon2::Params, VaultError> {
        if self.m_cost_kib > MAX_M_COST_KIB {
            return Err(VaultError::InvalidKdfParams("memory cost above 4 GiB"));
        }
        if self.t_cost > MAX_T_COST {
            return Err(VaultError::InvalidKdfParams("time cost above 64"));
        }
        if self.p_cost > MAX_P_COST {
            return Err(VaultError::InvalidKdfParams("parallelism above 64"));
        }
        argon2::Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|_| VaultError::InvalidKdfParams("costs rejected by argon2"))
    }
}

/// Parses `v=19,m=…,t=…,p=…` (exactly these four, in this order) into a salt-less value.
fn decode_costs(costs: &str) -> Result<KdfParams, VaultError> {
    let mut fields = costs.split(',');
    let version = decode_field(fields.next(), "v")?;
    let m_cost_kib = decode_field(fields.next(), "m")?;
    let t_cost = decode_field(fields.next(), "t")?;
    let p_cost = decode_field(fields.next(), "p")?;
    if fields.next().is_some() {
        return Err(VaultError::InvalidKdfParams("unexpected extra cost field"));
    }
    if version != VERSION {
        return Err(VaultError::InvalidKdfParams("argon2 version must be 19"));
    }
    Ok(KdfParams { salt: [0; 16], m_cost_kib, t_cost, p_cost })
}

fn decode_field(field: Option<&str>, name: &str) -> Result<u32, VaultError> {
    let malformed = VaultError::InvalidKdfParams("costs must be v=…,m=…,t=…,p=…");
    let (key, value) = field.and_then(|f| f.split_once('=')).ok_or(malformed.clone())?;
    if key != name || value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    value.parse().map_err(|_| malformed)
}

fn decode_salt(salt: &str) -> Result<[u8; 16], VaultError> {
    let bytes = STANDARD_NO_PAD.decode(salt).map_err(|_| VaultError::InvalidKdfParams("salt is not base64"))?;
    bytes.try_into().map_err(|_| VaultError::InvalidKdfParams("salt must be 16 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() -> Result<(), VaultError> {
        let params = KdfParams::generate_production();
        let text = params.encode();
        assert!(text.starts_with("argon2id:v=19,m=65536,t=3,p=1:"), "{text}");
        assert_eq!(KdfParams::decode(&text)?, params);
        assert_eq!(KdfParams::decode(&format!("{text}\n"))?, params);
        Ok(())
    }

    #[test]
    fn salts_are_random() {
        assert_ne!(KdfParams::generate_fast_for_tests().salt, KdfParams::generate_fast_for_tests().salt);
    }

    #[test]
    fn malformed_text_is_refused() {
        let salt = STANDARD_NO_PAD.encode([1u8; 16]);
        let cases = [
            String::new(),
            format!("argon2i:v=19,m=65536,t=3,p=1:{salt}"),
            format!("argon2id:v=16,m=65536,t=3,p=1:{salt}"),
            format!("argon2id:v=19,t=3,m=65536,p=1:{salt}"),
            format!("argon2id:v=19,m=65536,t=3:{salt}"),
            format!("argon2id:v=19,m=65536,t=3,p=1,x=2:{salt}"),
            format!("argon2id:v=19,m=+65536,t=3,p=1:{salt}"),
            format!("argon2id:v=19,m=4,t=3,p=1:{salt}"),
            format!("argon2id:v=19,m=65536,t=0,p=1:{salt}"),
            format!("argon2id:v=19,m=4294967295,t=3,p=1:{salt}"),
            format!("argon2id:v=19,m=65536,t=1000,p=1:{salt}"),
            "argon2id:v=19,m=65536,t=3,p=1:AAAA".to_owned(),
            "argon2id:v=19,m=65536,t=3,p=1:!!!".to_owned(),
            format!("argon2id:v=19,m=65536,t=3,p=1:{salt}:extra"),
        ];
        for case in cases {
            assert!(matches!(KdfParams::decode(&case), Err(VaultError::InvalidKdfParams(_))), "{case:?} was accepted");
        }
    }
}
